#include "gpu_match.hpp"

namespace xpb {

namespace {

std::string describe_gpu(const ListedGpu& g, std::size_t index) {
  std::string s = g.pci ? g.pci->to_string() : "GPU " + std::to_string(index) + " (PCI address unknown)";
  s += g.name.empty() ? " (name unknown)" : " '" + g.name + "'";
  if (!g.problem.empty()) s += " (" + g.problem + ")";
  return s;
}

}  // namespace

std::string describe_gpus(const std::vector<ListedGpu>& gpus) {
  if (gpus.empty()) return "none";
  std::string s;
  for (std::size_t i = 0; i < gpus.size(); ++i) s += (i == 0 ? "" : ", ") + describe_gpu(gpus[i], i);
  return s;
}

std::optional<std::size_t> choose_gpu(const std::vector<ListedGpu>& gpus, const std::optional<PciAddress>& pci,
                                      const std::string& name, const std::string& library, std::string& why) {
  if (gpus.empty()) {
    why = library + " lists no GPU";
    return std::nullopt;
  }
  std::vector<std::size_t> hits;
  for (std::size_t i = 0; i < gpus.size(); ++i) {
    const bool hit = pci ? (gpus[i].pci && *gpus[i].pci == *pci) : (!name.empty() && gpus[i].name == name);
    if (hit) hits.push_back(i);
  }
  if (hits.size() == 1) return hits.front();
  if (pci) {
    // Two GPUs at one address would be a library fault: refused like an absent one.
    why = library + (hits.empty() ? " lists no GPU at " : " lists several GPUs at ") + pci->to_string() +
          " (it lists " + describe_gpus(gpus) + ")";
    return std::nullopt;
  }
  if (hits.empty()) {
    why = library + " lists no GPU named '" + name + "' (it lists " + describe_gpus(gpus) + ")";
    return std::nullopt;
  }
  std::vector<ListedGpu> same;
  for (auto i : hits) same.push_back(gpus[i]);
  why = library + " lists " + std::to_string(hits.size()) + " GPUs named '" + name + "' (" + describe_gpus(same) +
        "): which one is meant cannot be told without the device's PCI address";
  return std::nullopt;
}

}  // namespace xpb
