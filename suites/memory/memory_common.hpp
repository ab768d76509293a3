// Pieces every memory workload shares: parameter resolution against the machine, compiling
// with the outcome recorded, measuring into a record, and the cache levels a report draws.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/device.hpp"
#include "xpubench/result.hpp"
#include "xpubench/runner.hpp"
#include "xpubench/system.hpp"
#include "xpubench/workload.hpp"
#include "suites/workload_common.hpp"

namespace xpb::memory {

// Helpers every workload family shares (suites/workload_common.hpp).
using xpb::check_memory;
using xpb::check_threads;
using xpb::measure_into;
using xpb::thread_counts;
using xpb::whole_number;

// Arrays of at least 4x the last-level cache (all instances together), so no level of the
// cache hierarchy can hold them; 64 MiB when no cache size is known.
std::uint64_t beyond_cache_bytes(const SystemInfo& system);

// "auto" -> `fallback`; otherwise a size (4096, "64MiB"). Throws InputError naming `param`.
std::uint64_t size_param(const nlohmann::json& value, std::uint64_t fallback, const std::string& param);

// The cache levels of the machine for a report to mark plateaus: [{level, type, size_bytes, ...}].
nlohmann::json cache_levels(const SystemInfo& system);
// The innermost cache level whose one instance holds `bytes` ("L1", "L2", ...) or "memory".
std::string fits_in(const SystemInfo& system, std::uint64_t bytes);

// Compiles `g` on the device; when it cannot, records why (unsupported / invalid) in
// `record` and returns null.
std::unique_ptr<Executable> compile(RunContext& ctx, const Graph& g, const CompileOptions& opts,
                                    BenchmarkRecord& record);

// Reads a whole tensor back from the device.
template <class T>
std::vector<T> read_tensor(const Executable& exe, const Graph& g, TensorId id) {
  std::vector<T> out(g.tensor(id).bytes() / sizeof(T));
  exe.read(id, {reinterpret_cast<std::byte*>(out.data()), out.size() * sizeof(T)});
  return out;
}

// Checks a chase executable against the reference device: one more run on the device from
// the positions its chains stand on, and one run of ref's copy of the same cycle from those
// positions, must end on the same lines. Returns the conformance object for the record.
nlohmann::json check_chase_against_ref(RunContext& ctx, const Graph& g, Executable& exe, TensorId out);

// A chase graph: a random cycle over `bytes` at `stride` bytes per line, `chains` chains of
// `steps` loads each. Returns the graph and the ids of the ring and the output.
struct ChaseGraph {
  Graph graph;
  TensorId ring = 0;
  TensorId out = 0;
  std::uint64_t lines = 0;
};
ChaseGraph chase_graph(std::uint64_t bytes, std::uint64_t stride, int chains, std::uint64_t steps,
                       std::uint64_t seed);

// Read bandwidth (read_sum over `bytes` of f64 on opts.threads threads) and then load latency
// (one chain over a random cycle of `bytes` at 64-byte stride, one thread), both measured into
// `record` as the metrics "read_bandwidth" (GB/s) and "latency" (ns/load), with both outputs
// checked (exact sum; chase end against ref). `placed`, when given, vets each executable
// before it is measured (e.g. that memory sits on the NUMA node asked for) and records why
// not. Returns the description of the chase executable, or nothing when the record already
// says why the benchmark ended.
using PlacementCheck = bool (*)(const Executable& exe, const CompileOptions& opts, BenchmarkRecord& record);
std::optional<nlohmann::json> measure_read_and_latency(RunContext& ctx, std::uint64_t bytes, CompileOptions opts,
                                                       BenchmarkRecord& record, PlacementCheck placed = nullptr);

inline constexpr double kGB = 1e9;  // GB/s means 1e9 bytes per second, as STREAM reports

}  // namespace xpb::memory
