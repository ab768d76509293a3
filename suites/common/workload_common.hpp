// Helpers every workload family shares: parameters checked against their ranges (an
// InputError names the parameter), benchmarks skipped with the reason when the device lacks
// the threads or the free memory, and tensors read back from an executable.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/result.hpp"
#include "xpubench/workload.hpp"

namespace xpb {

// "all" -> every PU this process may use; "scaling" -> 1, 2, 4, ... and all; a number ->
// itself. Throws InputError naming `param` for anything else.
std::vector<int> thread_counts(const nlohmann::json& value, const SystemInfo& system, const std::string& param);

// A whole number in [lo, hi] (parse_whole, naming the parameter).
std::int64_t whole_number(const nlohmann::json& value, const std::string& param, std::int64_t lo, std::int64_t hi);

// Skipped, saying why, when the device has fewer threads than asked for; else passed.
Outcome threads_fit(RunContext& ctx, int threads);

// A `vector_width` parameter: "auto" -> 0 (the device's own choice), or 1, 2, 4, 8 or 16 (the
// widths OpenCL C has vector types for). Throws InputError naming `param` for anything else.
int vector_width_param(const nlohmann::json& value, const std::string& param);

// Passed for width 0 or a width the device can be told to use (DeviceCaps::vector_widths);
// else unsupported, saying why (a device that picks its own width, as the cpu's SIMD does).
Outcome vector_width_fits(RunContext& ctx, int width);

// Skipped, saying why, when tensors of `bytes` in all would take more than 90% of the memory
// the device has free (so a large setting cannot push the host into the OOM killer); passed
// when they fit or the device does not know its memory.
Outcome memory_fits(RunContext& ctx, std::uint64_t bytes);

// A whole tensor read back from the device.
template <class T>
std::vector<T> read_tensor(const Executable& exe, const Graph& g, TensorId id) {
  std::vector<T> out(g.tensor(id).bytes() / sizeof(T));
  exe.read(id, {reinterpret_cast<std::byte*>(out.data()), out.size() * sizeof(T)});
  return out;
}

// {status: skipped, method, reason} for a check that cannot run.
nlohmann::json check_skipped(const std::string& method, const std::string& reason);

}  // namespace xpb
