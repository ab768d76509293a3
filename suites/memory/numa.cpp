// memory.numa: the initiator x target matrix. For every pair of NUMA nodes (i, j) the threads
// run on node i's PUs and the memory sits on node j: read bandwidth and load latency per pair.
// On a machine with one node there is no matrix to measure, and the record says so.
#include <algorithm>

#include "memory_common.hpp"
#include "xpubench/error.hpp"
#include "xpubench/registry.hpp"

namespace xpb::memory {
namespace {

// The device must confirm that it put the memory where it was asked to; a figure measured
// with the memory elsewhere would be labelled with the wrong target.
bool placed_as_asked(const Executable& exe, const CompileOptions& opts, BenchmarkRecord& record) {
  const auto d = exe.describe();
  if (d.contains("memory_node") && d["memory_node"] == opts.memory_node) return true;
  record.outcome = Outcome::with(Status::unsupported, "the device did not confirm placing memory on node " +
                                                          std::to_string(opts.memory_node) +
                                                          (d.contains("memory_binding_error")
                                                               ? ": " + d["memory_binding_error"].get<std::string>()
                                                               : ""));
  return false;
}

class Numa final : public Workload {
 public:
  std::string name() const override { return "memory.numa"; }
  std::string description() const override {
    return "NUMA initiator x target matrix of read bandwidth (GB/s) and latency (ns/load)";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"size", "bytes per array / cycle, or \"auto\" (4x the last-level cache)", "auto", {}},
        {"initiator", "node whose PUs run the threads, or \"each\"", "each", {}},
        {"target", "node that holds the memory, or \"each\"", "each", {}},
    };
  }

  std::vector<nlohmann::json> expand(const nlohmann::json& p, const SystemInfo& system) const override {
    const auto& nodes = system.topology.numa_nodes;
    const auto bytes = size_param(p["size"], beyond_cache_bytes(system), "size");
    auto pick = [&](const nlohmann::json& v, const char* key) {
      std::vector<int> out;
      if (v.is_string() && v == "each") {
        for (const auto& n : nodes) out.push_back(n.os_index);
        if (out.empty()) out.push_back(0);
        return out;
      }
      if (v.is_string()) throw InputError(std::string("parameter '") + key + "' expects a node number or \"each\"");
      out.push_back(static_cast<int>(whole_number(v, key, 0, 1 << 16)));
      return out;
    };
    std::vector<nlohmann::json> out;
    for (int i : pick(p["initiator"], "initiator"))
      for (int j : pick(p["target"], "target")) out.push_back({{"size", bytes}, {"initiator", i}, {"target", j}});
    return out;
  }

  BenchmarkRecord run(const nlohmann::json& p, RunContext& ctx) override {
    BenchmarkRecord record;
    const auto& nodes = ctx.system.topology.numa_nodes;
    record.details = {{"numa_nodes", nodes.size()}};
    if (nodes.size() < 2) {
      record.outcome = Outcome::with(
          Status::skipped, "this machine has " + std::to_string(nodes.size()) +
                               " NUMA node; an initiator x target matrix needs at least two");
      return record;
    }
    const int initiator = p["initiator"].get<int>();
    const int target = p["target"].get<int>();
    auto node = std::find_if(nodes.begin(), nodes.end(), [&](const NumaNode& n) { return n.os_index == initiator; });
    if (node == nodes.end() || std::none_of(nodes.begin(), nodes.end(), [&](const NumaNode& n) { return n.os_index == target; })) {
      record.outcome = Outcome::with(Status::invalid, "no such NUMA node");
      return record;
    }
    const auto bytes = p["size"].get<std::uint64_t>();
    CompileOptions opts;
    opts.threads = std::max<int>(1, static_cast<int>(node->pus.size()));
    opts.cpu_node = initiator;
    opts.memory_node = target;

    auto executable = measure_read_and_latency(ctx, bytes, opts, record, &placed_as_asked);
    if (!executable) return record;
    record.details["executable"] = *executable;
    return record;
  }
};

}  // namespace
}  // namespace xpb::memory

XPB_REGISTER_WORKLOAD("memory.numa", xpb::memory::Numa);
