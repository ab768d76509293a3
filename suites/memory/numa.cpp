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
Outcome placed_as_asked(const Executable& exe, int memory_node) {
  const auto d = exe.describe();
  if (d.contains("memory_node") && d["memory_node"] == memory_node) return Outcome::ok();
  return Outcome::with(Status::unsupported, "the device did not confirm placing memory on node " +
                                                std::to_string(memory_node) +
                                                (d.contains("memory_binding_error")
                                                     ? ": " + d["memory_binding_error"].get<std::string>()
                                                     : ""));
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

  Outcome check(const nlohmann::json& p, RunContext& ctx) override {
    const auto& nodes = ctx.system.topology.numa_nodes;
    if (nodes.size() < 2)
      return Outcome::with(Status::skipped, "this machine has " + std::to_string(nodes.size()) +
                                                " NUMA node; an initiator x target matrix needs at least two");
    initiator_ = p["initiator"].get<int>();
    target_ = p["target"].get<int>();
    auto node = std::find_if(nodes.begin(), nodes.end(), [&](const NumaNode& n) { return n.os_index == initiator_; });
    if (node == nodes.end() ||
        std::none_of(nodes.begin(), nodes.end(), [&](const NumaNode& n) { return n.os_index == target_; }))
      return Outcome::with(Status::invalid, "no such NUMA node");
    threads_ = std::max<int>(1, static_cast<int>(node->pus.size()));
    bytes_ = p["size"].get<std::uint64_t>();
    return memory_fits(ctx, chase_build_bytes(bytes_, kLine));  // one array, then a ring as large
  }

  BuildResult build(const nlohmann::json&, RunContext&) override {
    BuildResult r;
    read_ = read_graph(bytes_);
    Stage read{"read_bandwidth", read_.graph, {}, {}, std::nullopt};
    read.options.threads = threads_;
    read.options.cpu_node = initiator_;
    read.options.memory_node = target_;
    r.stages.push_back(std::move(read));
    // As memory.sweep: a run beyond the caches near 30 ms.
    steps_ = std::clamp<std::uint64_t>(bytes_ / 64 * 4, 1 << 14, 1 << 17);
    chase_ = chase_graph(bytes_, kLine, 1, steps_, 0x5eed);
    Stage latency{"latency", chase_.graph, {}, {}, std::nullopt};
    latency.options.threads = 1;
    latency.options.cpu_node = initiator_;
    latency.options.memory_node = target_;
    r.stages.push_back(std::move(latency));
    return r;
  }

  Outcome prepare(std::size_t, const std::shared_ptr<Executable>& exe, RunContext&) override {
    return placed_as_asked(*exe, target_);
  }

  nlohmann::json verify(std::size_t stage, Executable& exe, RunContext& ctx) override {
    return stage == 0 ? check_read_sum(read_, exe) : check_chase_against_ref(ctx, chase_.graph, exe, chase_.out);
  }

  void metrics(const std::vector<Measurement>& m, BenchmarkRecord& record, RunContext& ctx) override {
    const double read_bytes = static_cast<double>(read_.elements) * 8;
    record.metrics.push_back(Metric::from(m[0], "read_bandwidth", "GB/s", Direction::higher_is_better,
                                          [=](double s) { return read_bytes / s / kGB; }));
    const double steps = static_cast<double>(steps_);
    record.metrics.push_back(Metric::from(m[1], "latency", "ns/load", Direction::lower_is_better,
                                          [=](double s) { return s / steps * 1e9; }));
    record.details = {{"numa_nodes", ctx.system.topology.numa_nodes.size()},
                      {"initiator", initiator_},
                      {"target", target_},
                      {"chase_steps_per_iteration", steps_}};
  }

 private:
  int initiator_ = 0, target_ = 0, threads_ = 1;
  static constexpr std::uint64_t kLine = 64;  // chase stride: one cache line per load
  std::uint64_t bytes_ = 0, steps_ = 0;
  ReadGraph read_;
  ChaseGraph chase_;
};

}  // namespace
}  // namespace xpb::memory

XPB_REGISTER_WORKLOAD("memory.numa", xpb::memory::Numa);
