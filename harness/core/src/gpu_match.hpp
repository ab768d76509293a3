// Which of the GPUs a vendor library (NVML, AMD SMI) lists is the device being measured:
// the one at its PCI address when that is known, else the only one with its name. A wrong
// match would put another GPU's energy in the record, so anything short of one clear match
// is refused, with what the library listed.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "xpubench/energy.hpp"

namespace xpb {

// One GPU as a vendor library lists it.
struct ListedGpu {
  std::optional<PciAddress> pci;  // nullopt when the library did not give a readable one
  std::string name;               // "" when the library did not give one
  std::string problem;            // what could not be read about it; "" when all was read
};

// "0000:17:00.0 'NVIDIA H200', 0000:65:00.0 'NVIDIA H200'", each GPU with what could be
// read about it; "none" for an empty list.
std::string describe_gpus(const std::vector<ListedGpu>& gpus);

// The index in `gpus` of the GPU at `pci` when given, else of the only one named exactly
// `name`. nullopt with `why` set when there is none or, matching by name, more than one;
// `library` names the lister in `why` ("NVML").
std::optional<std::size_t> choose_gpu(const std::vector<ListedGpu>& gpus, const std::optional<PciAddress>& pci,
                                      const std::string& name, const std::string& library, std::string& why);

}  // namespace xpb
