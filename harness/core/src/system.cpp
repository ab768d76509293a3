// The plain description of a machine (system.hpp): the figures derived from what was read.
#include <algorithm>

#include "xpubench/system.hpp"

namespace xpb {
namespace {

// The last level before memory; instruction caches never hold a working set. 0 when none.
int outermost_level(const std::vector<CacheLevel>& caches) {
  int outer = 0;
  for (const auto& c : caches)
    if (c.type != "instruction") outer = std::max(outer, c.level);
  return outer;
}

}  // namespace

std::uint64_t Topology::llc_bytes() const {
  const int outer = outermost_level(caches);
  std::uint64_t largest = 0;
  for (const auto& c : caches)
    if (c.level == outer && c.type != "instruction") largest = std::max(largest, c.size_bytes);
  return largest;
}

std::uint64_t Topology::llc_total_bytes() const {
  const int outer = outermost_level(caches);
  std::uint64_t total = 0;
  for (const auto& c : caches)
    if (c.level == outer && c.type != "instruction")
      total += c.size_bytes * static_cast<std::uint64_t>(std::max(0, c.instances));
  return total;
}

std::uint64_t MemoryInfo::usable_bytes() const {
  if (!cgroup_limit_bytes) return available_bytes;
  // Usage includes page cache the kernel could reclaim, so this errs on the safe side.
  const std::uint64_t used = cgroup_usage_bytes.value_or(0);
  const std::uint64_t headroom = *cgroup_limit_bytes > used ? *cgroup_limit_bytes - used : 0;
  return std::min(available_bytes, headroom);
}

nlohmann::json SystemInfo::to_json() const {
  auto numa = nlohmann::json::array();
  for (const auto& n : topology.numa_nodes)
    numa.push_back({{"os_index", n.os_index}, {"memory_bytes", n.memory_bytes}, {"pus", n.pus}});
  auto caches = nlohmann::json::array();
  for (const auto& c : topology.caches)
    caches.push_back({{"level", c.level},
                      {"type", c.type},
                      {"size_bytes", c.size_bytes},
                      {"line_bytes", c.line_bytes},
                      {"instances", c.instances},
                      {"pus_sharing", c.pus_sharing}});
  auto optional = [](const std::optional<std::uint64_t>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  return {{"hostname", hostname},
          {"os", os},
          {"kernel", kernel},
          {"arch", arch},
          {"cpu_model", cpu_model},
          {"cpu_vendor", cpu_vendor},
          {"isa_flags", isa_flags},
          {"topology",
           {{"packages", topology.packages},
            {"cores", topology.cores},
            {"pus", topology.pus},
            {"allowed_pus", topology.allowed_pus},
            {"machine_pus", topology.machine_pus},
            {"numa_nodes", numa},
            {"caches", caches},
            {"source", topology.source}}},
          {"memory",
           {{"total_bytes", memory.total_bytes},
            {"available_bytes", memory.available_bytes},
            {"cgroup_limit_bytes", optional(memory.cgroup_limit_bytes)},
            {"cgroup_usage_bytes", optional(memory.cgroup_usage_bytes)},
            {"usable_bytes", memory.usable_bytes()}}},
          {"governor", governor},
          {"thp", thp},
          {"compiler", compiler},
          {"compile_flags", compile_flags},
          {"build_type", build_type},
          {"git_revision", git_revision},
          {"xpubench_version", xpubench_version}};
}

}  // namespace xpb
