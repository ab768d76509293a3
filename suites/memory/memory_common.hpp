// Pieces the memory workloads share: sizes resolved against the machine, where a working set
// lives in the cache hierarchy, the pointer-chase graph and its check against ref, and the
// read stage of the sweep and NUMA workloads.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "workload_common.hpp"
#include "xpubench/device.hpp"
#include "xpubench/quant.hpp"
#include "xpubench/system.hpp"
#include "xpubench/workload.hpp"

namespace xpb::memory {

inline constexpr double kGB = 1e9;  // GB/s means 1e9 bytes per second, as STREAM reports

// Arrays of at least 4x the last-level cache (all instances together), so no level of the
// cache hierarchy can hold them; 64 MiB when no cache size is known.
std::uint64_t beyond_cache_bytes(const SystemInfo& system);

// "auto" -> `fallback`; otherwise a size (4096, "64MiB"). Throws InputError naming `param`.
std::uint64_t size_param(const nlohmann::json& value, std::uint64_t fallback, const std::string& param);

// The cache levels of the machine for a report to mark plateaus: [{level, type, size_bytes, ...}].
nlohmann::json cache_levels(const SystemInfo& system);

// Where a working set of `bytes`, split evenly over `threads` threads spread across cores,
// lives: {"working_set_bytes", "fits_in": "L1".."memory", "note"} where the note (present when
// the set is below 4x the last-level cache) says the figure is not one of main memory.
nlohmann::json working_set(const SystemInfo& system, std::uint64_t bytes, int threads);

// A chase graph: a random cycle over `bytes` at `stride` bytes per line, `chains` chains of
// `steps` loads each.
struct ChaseGraph {
  Graph graph;
  TensorId ring = 0;
  TensorId out = 0;
  std::uint64_t lines = 0;
};
ChaseGraph chase_graph(std::uint64_t bytes, std::uint64_t stride, int chains, std::uint64_t steps, std::uint64_t seed);
// The most memory making one such ring takes at once: the ring, and the order of its lines
// (8 bytes a line) while the random cycle is drawn.
std::uint64_t chase_build_bytes(std::uint64_t bytes, std::uint64_t stride);

// Checks a chase executable against the reference device: one more run on the device from
// the positions its chains stand on, and one run of ref's copy of the same cycle from those
// positions, must end on the same lines. The conformance object for the record (skipped when
// ref's copy of the ring would not fit in the memory free then).
nlohmann::json check_chase_against_ref(RunContext& ctx, const Graph& g, Executable& exe, TensorId out);

// The read stage: read_sum over `bytes` of f64 ones (its output, exactly bytes / 8, is the
// check), on opts.threads threads.
struct ReadGraph {
  Graph graph;
  TensorId sum = 0;
  std::uint64_t elements = 0;
};
ReadGraph read_graph(std::uint64_t bytes);
nlohmann::json check_read_sum(const ReadGraph& r, const Executable& exe);

// n seeded random values in [1, 2) with every mantissa bit random (1 + m / 2^digits): data a
// memory system that compresses cannot store in fewer bytes, whose sums and products by small
// integers stay far from overflow and underflow. T is float or double.
template <class T>
std::shared_ptr<std::vector<T>> random_array(std::size_t n, std::uint64_t seed) {
  constexpr int kBits = std::numeric_limits<T>::digits - 1;  // 23 (f32) or 52 (f64)
  auto v = std::make_shared<std::vector<T>>(n);
  std::uint64_t z = seed;
  for (auto& x : *v) {
    // splitmix64 (quant.hpp): every output bit random.
    z += kGoldenGamma;
    const std::uint64_t r = mix64(z);
    x = static_cast<T>(1) + std::ldexp(static_cast<T>(r >> (64 - kBits)), -kBits);
  }
  return v;
}

}  // namespace xpb::memory
