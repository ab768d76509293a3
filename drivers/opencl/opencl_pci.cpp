// The queries and layouts, from the extensions' specifications:
//   cl_khr_pci_bus_info (Khronos OpenCL Extension Specification, "PCI Bus Information
//     Query"): CL_DEVICE_PCI_BUS_INFO_KHR 0x410F gives cl_device_pci_bus_info_khr, four
//     cl_uint: pci_domain, pci_bus, pci_device, pci_function.
//   cl_nv_device_attribute_query (NVIDIA): CL_DEVICE_PCI_BUS_ID_NV 0x4008,
//     CL_DEVICE_PCI_SLOT_ID_NV 0x4009, CL_DEVICE_PCI_DOMAIN_ID_NV 0x400A (drivers since CUDA
//     10.2), each a cl_uint. NVIDIA does not document the slot's encoding: hwloc reads it as
//     device << 3 | function ("non-documented but used in many other projects"), others as
//     the device number alone; both agree only on 0.
//   cl_amd_device_attribute_query (AMD): CL_DEVICE_TOPOLOGY_AMD 0x4037 gives
//     cl_device_topology_amd, a 24-byte union whose first cl_uint is the type
//     (CL_DEVICE_TOPOLOGY_TYPE_PCIE_AMD 1) and whose PCIe view has bus, device and function
//     as the chars at bytes 21, 22 and 23; no domain (hwloc also takes 0).
// The constants are defined here: Debian's headers lack the NVIDIA ones.
#include "opencl_pci.hpp"

#include <cstddef>
#include <string>

namespace xpb::opencl {

namespace {

constexpr cl_device_info kPciBusInfoKhr = 0x410F;
constexpr cl_device_info kPciBusIdNv = 0x4008;
constexpr cl_device_info kPciSlotIdNv = 0x4009;
constexpr cl_device_info kPciDomainIdNv = 0x400A;
constexpr cl_device_info kTopologyAmd = 0x4037;
constexpr cl_uint kTopologyTypePcieAmd = 1;

struct PciBusInfoKhr {
  cl_uint pci_domain;
  cl_uint pci_bus;
  cl_uint pci_device;
  cl_uint pci_function;
};
static_assert(sizeof(PciBusInfoKhr) == 16);

// cl_device_topology_amd as raw bytes: the PCIe view's fields are read at their offsets.
struct TopologyAmd {
  cl_uint type;
  unsigned char bytes[20];
};
static_assert(sizeof(TopologyAmd) == 24);
constexpr std::size_t kAmdBus = 21 - sizeof(cl_uint);
constexpr std::size_t kAmdDevice = 22 - sizeof(cl_uint);
constexpr std::size_t kAmdFunction = 23 - sizeof(cl_uint);

bool has_extension(const std::string& extensions, const char* name) {
  const std::string padded = " " + extensions + " ";
  return padded.find(std::string(" ") + name + " ") != std::string::npos;
}

// A fixed-size answer, taken only when the call succeeds and says it wrote exactly that size.
template <class T>
bool query(cl_device_id d, cl_device_info what, T& value) {
  std::size_t written = 0;
  return clGetDeviceInfo(d, what, sizeof value, &value, &written) == CL_SUCCESS && written == sizeof value;
}

std::optional<PciAddress> checked(std::uint32_t domain, std::uint32_t bus, std::uint32_t device, std::uint32_t function) {
  if (bus > 0xff || device > 0x1f || function > 7) return std::nullopt;
  return PciAddress{domain, bus, device, function};
}

}  // namespace

std::optional<PciAddress> pci_address_of(cl_device_id device) {
  const std::string ext = device_string(device, CL_DEVICE_EXTENSIONS);
  if (has_extension(ext, "cl_khr_pci_bus_info")) {
    PciBusInfoKhr info{};
    if (query(device, kPciBusInfoKhr, info)) return checked(info.pci_domain, info.pci_bus, info.pci_device, info.pci_function);
  }
  if (has_extension(ext, "cl_nv_device_attribute_query")) {
    cl_uint bus = 0;
    cl_uint slot = 0;
    cl_uint domain = 0;
    if (query(device, kPciBusIdNv, bus) && query(device, kPciSlotIdNv, slot) && query(device, kPciDomainIdNv, domain) &&
        slot == 0)
      return checked(domain, bus, 0, 0);
    return std::nullopt;
  }
  if (has_extension(ext, "cl_amd_device_attribute_query")) {
    TopologyAmd topo{};
    if (query(device, kTopologyAmd, topo) && topo.type == kTopologyTypePcieAmd)
      return checked(0, topo.bytes[kAmdBus], topo.bytes[kAmdDevice], topo.bytes[kAmdFunction]);
  }
  return std::nullopt;
}

}  // namespace xpb::opencl
