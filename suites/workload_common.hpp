// Helpers every workload family shares: parameters checked against their ranges (an
// InputError names the parameter), benchmarks skipped with the reason when the device lacks
// the threads or the free memory, and a measurement stored into a record.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/result.hpp"
#include "xpubench/runner.hpp"
#include "xpubench/workload.hpp"

namespace xpb {

// "all" -> every PU; "scaling" -> 1, 2, 4, ... and every PU; a number -> itself. Throws
// InputError naming `param` for anything else.
std::vector<int> thread_counts(const nlohmann::json& value, const SystemInfo& system,
                               const std::string& param);

// A whole number in [lo, hi]; throws InputError naming `param` for anything else (a string,
// a fraction, a value that would not fit).
std::int64_t whole_number(const nlohmann::json& value, const std::string& param, std::int64_t lo,
                          std::int64_t hi);

// Skips the benchmark (in `record`) when the device has fewer threads than asked for.
bool check_threads(RunContext& ctx, int threads, BenchmarkRecord& record);

// Skips the benchmark (in `record`) when its tensors (`bytes` in all) would take more than
// 90% of the memory the device has free, so a large setting cannot push the host into the
// OOM killer. Passes when the device does not know its memory.
bool check_memory(RunContext& ctx, std::uint64_t bytes, BenchmarkRecord& record);

// Runs the measurement and stores timing and energy in `record`; marks it interrupted and
// returns nothing when the user stopped the run.
std::optional<Measurement> measure_into(RunContext& ctx, Executable& exe, BenchmarkRecord& record);

}  // namespace xpb
