// memory.numa: the initiator x target matrix. For every pair of NUMA nodes (i, j) the threads
// run on node i's PUs and the memory sits on node j: read bandwidth and load latency per pair.
// On a machine with one node there is no matrix to measure, and the record says so.
#include <algorithm>

#include "memory_common.hpp"
#include "xpubench/error.hpp"
#include "xpubench/registry.hpp"

namespace xpb::memory {
namespace {

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
      if (!v.is_number_integer()) throw InputError(std::string("parameter '") + key + "' expects a node number or \"each\"");
      out.push_back(v.get<int>());
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

    Graph g;
    const auto n = static_cast<std::int64_t>(bytes / 8);
    auto a = g.add_tensor({"a", {n}, DType::f64, TensorRole::input, TensorInit::filled(1.0)});
    auto sum = g.add_tensor({"sum", {1}, DType::f64, TensorRole::output, {}});
    g.add_node(Op::read_sum, {a}, {sum});
    auto exe = compile(ctx, g, opts, record);
    if (!exe) return record;
    const auto placement = exe->describe();
    if (!placement.contains("memory_node") || placement["memory_node"] != target) {
      record.outcome = Outcome::with(Status::unsupported, "the device did not confirm placing memory on node " +
                                                              std::to_string(target));
      return record;
    }
    auto m = measure_into(ctx, *exe, record);
    if (!m) return record;
    const double read_bytes = static_cast<double>(n) * 8;
    record.metrics.push_back(Metric::from(*m, "read_bandwidth", "GB/s", Direction::higher_is_better,
                                          [=](double s) { return read_bytes / s / kGB; }));
    const bool sum_ok = read_tensor<double>(*exe, g, sum)[0] == static_cast<double>(n);
    auto timing_read = record.timing;
    exe.reset();

    const std::uint64_t steps = 1 << 20;
    auto chase = chase_graph(bytes, 64, 1, steps, 0x4e0a);
    opts.threads = 1;
    auto chase_exe = compile(ctx, chase.graph, opts, record);
    if (!chase_exe) return record;
    m = measure_into(ctx, *chase_exe, record);
    if (!m) return record;
    record.metrics.push_back(Metric::from(*m, "latency", "ns/load", Direction::lower_is_better,
                                          [=](double s) { return s / static_cast<double>(steps) * 1e9; }));
    record.timing = {{"read_bandwidth", timing_read}, {"latency", record.timing}};
    auto chase_check = check_chase_against_ref(ctx, chase.graph, *chase_exe, chase.out);
    const bool ok = sum_ok && chase_check["status"] != "failed";
    record.conformance = {{"status", ok ? "passed" : "failed"},
                          {"method", "read sum compared with the exact sum; chase end positions with ref"},
                          {"chase", chase_check}};
    record.details["executable"] = placement;
    record.outcome = ok ? Outcome::ok() : Outcome::with(Status::failed, "output differs from the expected value");
    return record;
  }
};

}  // namespace
}  // namespace xpb::memory

XPB_REGISTER_WORKLOAD("memory.numa", xpb::memory::Numa);
