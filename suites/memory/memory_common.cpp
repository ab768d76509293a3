#include "memory_common.hpp"

#include <algorithm>

#include "xpubench/error.hpp"
#include "xpubench/suite.hpp"

namespace xpb::memory {

std::uint64_t beyond_cache_bytes(const SystemInfo& system) {
  const std::uint64_t llc = system.topology.llc_total_bytes();
  return llc == 0 ? std::uint64_t{64} << 20 : 4 * llc;
}

std::uint64_t size_param(const nlohmann::json& value, std::uint64_t fallback, const std::string& param) {
  if (value.is_string() && value.get<std::string>() == "auto") return fallback;
  return parse_bytes(value, "parameter '" + param + "'");
}

nlohmann::json cache_levels(const SystemInfo& system) {
  auto out = nlohmann::json::array();
  for (const auto& c : system.topology.caches)
    out.push_back({{"level", c.level},
                   {"name", "L" + std::to_string(c.level) + (c.type == "data" ? "d" : "")},
                   {"type", c.type},
                   {"size_bytes", c.size_bytes},
                   {"instances", c.instances},
                   {"pus_sharing", c.pus_sharing}});
  return out;
}

std::string fits_in(const SystemInfo& system, std::uint64_t bytes) {
  for (const auto& c : system.topology.caches)
    if (c.type != "instruction" && bytes <= c.size_bytes) return "L" + std::to_string(c.level);
  return "memory";
}

std::unique_ptr<Executable> compile(RunContext& ctx, const Graph& g, const CompileOptions& opts,
                                    BenchmarkRecord& record) {
  auto result = ctx.device.compile(g, opts);
  if (!result.outcome.passed() || !result.exe) {
    record.outcome = result.outcome.passed()
                         ? Outcome::with(Status::failed, "the device compiled the graph but returned no executable")
                         : result.outcome;
    return nullptr;
  }
  return std::move(result.exe);
}

ChaseGraph chase_graph(std::uint64_t bytes, std::uint64_t stride, int chains, std::uint64_t steps,
                       std::uint64_t seed) {
  ChaseGraph c;
  c.lines = std::max<std::uint64_t>(bytes / stride, static_cast<std::uint64_t>(chains));
  const auto words = static_cast<std::int64_t>(stride / 8);
  c.ring = c.graph.add_tensor({"ring", {static_cast<std::int64_t>(c.lines), words}, DType::u64,
                               TensorRole::input, TensorInit::cycle(seed)});
  c.out = c.graph.add_tensor({"positions", {chains}, DType::u64, TensorRole::output, {}});
  c.graph.add_node(Op::chase, {c.ring}, {c.out},
                   Attrs{{"steps", static_cast<std::int64_t>(steps)}, {"chains", std::int64_t{chains}}});
  return c;
}

nlohmann::json check_chase_against_ref(RunContext& ctx, const Graph& g, Executable& exe, TensorId out) {
  const std::string method = "one more run from the chains' positions, compared with ref walking the same cycle";
  if (ctx.reference == nullptr || ctx.reference == &ctx.device)
    return {{"status", "skipped"}, {"method", method}, {"reason", "this is the reference device"}};
  auto ref = ctx.reference->compile(g, CompileOptions{});
  if (!ref.outcome.passed()) return {{"status", "skipped"}, {"method", method}, {"reason", ref.outcome.reason}};
  const auto from = read_tensor<std::uint64_t>(exe, g, out);
  exe.run(1);
  const auto got = read_tensor<std::uint64_t>(exe, g, out);
  ref.exe->write(out, {reinterpret_cast<const std::byte*>(from.data()), from.size() * sizeof(std::uint64_t)});
  ref.exe->run(1);
  const auto want = read_tensor<std::uint64_t>(*ref.exe, g, out);
  std::uint64_t wrong = 0;
  for (std::size_t i = 0; i < want.size(); ++i) wrong += want[i] != got[i];
  return {{"status", wrong == 0 ? "passed" : "failed"}, {"method", method}, {"chains_wrong", wrong}};
}

std::optional<nlohmann::json> measure_read_and_latency(RunContext& ctx, std::uint64_t bytes, CompileOptions opts,
                                                       BenchmarkRecord& record, PlacementCheck placed) {
  if (!check_memory(ctx, bytes, record)) return std::nullopt;  // one array, then one ring as large
  Graph g;
  const auto n = static_cast<std::int64_t>(bytes / 8);
  auto a = g.add_tensor({"a", {n}, DType::f64, TensorRole::input, TensorInit::filled(1.0)});
  auto sum = g.add_tensor({"sum", {1}, DType::f64, TensorRole::output, {}});
  g.add_node(Op::read_sum, {a}, {sum});
  auto exe = compile(ctx, g, opts, record);
  if (!exe || (placed != nullptr && !placed(*exe, opts, record))) return std::nullopt;
  auto m = measure_into(ctx, *exe, record);
  if (!m) return std::nullopt;
  const double read_bytes = static_cast<double>(n) * 8;
  record.metrics.push_back(Metric::from(*m, "read_bandwidth", "GB/s", Direction::higher_is_better,
                                        [=](double s) { return read_bytes / s / kGB; }));
  const bool sum_ok = read_tensor<double>(*exe, g, sum)[0] == static_cast<double>(n);
  const auto timing_read = record.timing;
  const auto energy_read = record.energy;
  exe.reset();  // give its memory back before the ring takes as much again

  // Enough steps per run to touch every line a few times (so a run is dominated by
  // steady-state loads), capped so a run beyond the caches stays near 0.1 s and several
  // samples fit in a quick policy.
  constexpr std::uint64_t kLine = 64;
  const std::uint64_t steps = std::clamp<std::uint64_t>(bytes / kLine * 4, 1 << 14, 1 << 20);
  auto chase = chase_graph(bytes, kLine, 1, steps, 0x5eed);
  opts.threads = 1;
  auto chase_exe = compile(ctx, chase.graph, opts, record);
  if (!chase_exe || (placed != nullptr && !placed(*chase_exe, opts, record))) return std::nullopt;
  m = measure_into(ctx, *chase_exe, record);
  if (!m) return std::nullopt;
  record.metrics.push_back(Metric::from(*m, "latency", "ns/load", Direction::lower_is_better,
                                        [=](double s) { return s / static_cast<double>(steps) * 1e9; }));
  // Two measurements on one device: the clock is the same for both, so a reader that only
  // looks at timing.source (a report, the validator) sees it at the top as for any record.
  record.timing = {{"source", record.timing["source"]}, {"read_bandwidth", timing_read}, {"latency", record.timing}};
  record.energy = energy_read;  // energy per byte read is the figure worth having

  const auto chase_check = check_chase_against_ref(ctx, chase.graph, *chase_exe, chase.out);
  const bool ok = sum_ok && chase_check["status"] != "failed";
  record.conformance = {{"status", ok ? "passed" : "failed"},
                        {"method", "read sum compared with the exact sum; chase end positions with ref"},
                        {"read_sum_exact", sum_ok},
                        {"chase", chase_check}};
  record.outcome = ok ? Outcome::ok() : Outcome::with(Status::failed, "output differs from the expected value");
  auto description = chase_exe->describe();
  description["chase_steps_per_iteration"] = steps;
  return description;
}

}  // namespace xpb::memory
