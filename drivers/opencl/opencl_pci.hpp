// The PCI address of an OpenCL device, which is how its energy sensor (NVML, AMD SMI) finds
// the same GPU.
#pragma once
#include <optional>

#include "opencl_context.hpp"
#include "xpubench/energy.hpp"

namespace xpb::opencl {

// From the first of these the device answers:
//   cl_khr_pci_bus_info (CL_DEVICE_PCI_BUS_INFO_KHR): domain, bus, device and function;
//   cl_nv_device_attribute_query (CL_DEVICE_PCI_BUS_ID_NV, _SLOT_ID_NV, _DOMAIN_ID_NV): only
//     when the slot is 0, the one value whose meaning does not depend on the undocumented
//     encoding of the slot;
//   cl_amd_device_attribute_query (CL_DEVICE_TOPOLOGY_AMD): bus, device and function, with
//     domain 0 (the extension has no domain).
// nullopt when none does (a CPU device, PoCL) or what it says is not a PCI address.
std::optional<PciAddress> pci_address_of(cl_device_id device);

}  // namespace xpb::opencl
