// PCI addresses as the vendor libraries write them, read back into xpb::PciAddress.
#pragma once
#include <optional>
#include <string_view>

#include "xpubench/energy.hpp"

namespace xpb {

// "domain:bus:device.function" in hexadecimal, either case: the domain 4 to 8 digits (sysfs
// and NVML's busIdLegacy write 4, NVML's busId 8: "00000000:17:00.0"), the bus and the device
// 2 digits, the function 1. The device must be at most 0x1f and the function at most 7 (the
// PCI limits); anything else, surrounding spaces included, is nullopt.
std::optional<PciAddress> parse_pci_address(std::string_view text);

}  // namespace xpb
