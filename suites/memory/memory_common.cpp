#include "memory_common.hpp"

#include <algorithm>

#include "xpubench/error.hpp"
#include "xpubench/parse.hpp"

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

nlohmann::json working_set(const SystemInfo& system, std::uint64_t bytes, int threads) {
  std::string level = "memory";
  for (const auto& c : system.topology.caches) {
    if (c.type == "instruction") continue;
    // Threads are spread over cores first, so they use up to `threads` instances of a cache,
    // each holding its share of the set.
    const auto used = static_cast<std::uint64_t>(std::clamp(threads, 1, std::max(1, c.instances)));
    if ((bytes + used - 1) / used <= c.size_bytes) {
      level = "L" + std::to_string(c.level);
      break;
    }
  }
  nlohmann::json j = {{"working_set_bytes", bytes}, {"fits_in", level}};
  const std::uint64_t llc = system.topology.llc_total_bytes();
  if (llc != 0 && bytes < 4 * llc)
    j["note"] = "the working set (" + format_bytes(bytes) + ") is below 4x the last-level cache (" + format_bytes(llc) +
                "): " + (level == "memory" ? "part of it" : "all of it") + " can be served from " +
                (level == "memory" ? "the caches" : level) + ", so this is not a main-memory figure";
  return j;
}

ChaseGraph chase_graph(std::uint64_t bytes, std::uint64_t stride, int chains, std::uint64_t steps, std::uint64_t seed) {
  ChaseGraph c;
  c.graph.set_name("pointer chase");
  c.lines = std::max<std::uint64_t>(bytes / stride, static_cast<std::uint64_t>(chains));
  const auto words = static_cast<std::int64_t>(stride / 8);
  c.ring = c.graph.add_tensor({"ring", {static_cast<std::int64_t>(c.lines), words}, DType::u64, TensorRole::input,
                               TensorInit::cycle(seed)});
  c.out = c.graph.add_tensor({"positions", {chains}, DType::u64, TensorRole::output, {}});
  c.graph.add_node(Op::chase, {c.ring}, {c.out},
                   Attrs{{"steps", static_cast<std::int64_t>(steps)}, {"chains", std::int64_t{chains}}});
  return c;
}

nlohmann::json check_chase_against_ref(RunContext& ctx, const Graph& g, Executable& exe, TensorId out) {
  const std::string method = "one more run from the chains' positions, compared with ref walking the same cycle";
  if (ctx.reference == nullptr || ctx.reference == &ctx.device) return check_skipped(method, "this is the reference device");
  const TensorDesc& ring = g.tensor(g.nodes().at(0).inputs.at(0));  // the chase node's ring
  if (auto room = memory_fits(ctx, chase_build_bytes(ring.bytes(), static_cast<std::uint64_t>(ring.shape[1]) * 8));
      !room.passed())
    return check_skipped(method, "ref's copy of the ring: " + room.reason);
  auto ref = ctx.reference->compile(g, CompileOptions{});
  if (!ref.outcome.passed()) return check_skipped(method, ref.outcome.reason);
  const auto from = read_tensor<std::uint64_t>(exe, g, out);
  exe.run(1);
  const auto got = read_tensor<std::uint64_t>(exe, g, out);
  ref.exe->write(out, {reinterpret_cast<const std::byte*>(from.data()), from.size() * sizeof(std::uint64_t)});
  ref.exe->run(1);
  const auto want = read_tensor<std::uint64_t>(*ref.exe, g, out);
  std::uint64_t wrong = 0;
  for (std::size_t i = 0; i < want.size(); ++i) wrong += want[i] != got[i];
  nlohmann::json j = {{"status", wrong == 0 ? "passed" : "failed"}, {"method", method}, {"chains_wrong", wrong}};
  if (wrong != 0) j["reason"] = std::to_string(wrong) + " chains end on other lines than ref's";
  return j;
}

std::uint64_t chase_build_bytes(std::uint64_t bytes, std::uint64_t stride) { return bytes + bytes / stride * 8; }

ReadGraph read_graph(std::uint64_t bytes) {
  ReadGraph r;
  r.graph.set_name("read sum");
  r.elements = bytes / 8;
  const auto a = r.graph.add_tensor(
      {"a", {static_cast<std::int64_t>(r.elements)}, DType::f64, TensorRole::input, TensorInit::filled(1.0)});
  r.sum = r.graph.add_tensor({"sum", {1}, DType::f64, TensorRole::output, {}});
  r.graph.add_node(Op::read_sum, {a}, {r.sum});
  return r;
}

nlohmann::json check_read_sum(const ReadGraph& r, const Executable& exe) {
  const double sum = read_tensor<double>(exe, r.graph, r.sum)[0];
  const bool ok = sum == static_cast<double>(r.elements);
  nlohmann::json j = {{"status", ok ? "passed" : "failed"},
                      {"method", "the sum of the array's ones compared with its exact value"},
                      {"sum", sum},
                      {"expected", static_cast<double>(r.elements)}};
  if (!ok) j["reason"] = "the read sum differs from the exact sum";
  return j;
}

}  // namespace xpb::memory
