#include "suites/workload_common.hpp"

#include <algorithm>

#include "xpubench/error.hpp"

namespace xpb {

namespace {

// More threads than any machine has PUs; bounds what a parameter may ask for.
constexpr std::int64_t kMaxThreads = 1 << 16;

bool in_range(const nlohmann::json& v, std::int64_t lo, std::int64_t hi) {
  // An unsigned JSON number above INT64_MAX would wrap when read as signed.
  if (v.is_number_unsigned()) return v.get<std::uint64_t>() <= static_cast<std::uint64_t>(INT64_MAX) &&
                                     v.get<std::int64_t>() >= lo && v.get<std::int64_t>() <= hi;
  return v.is_number_integer() && v.get<std::int64_t>() >= lo && v.get<std::int64_t>() <= hi;
}

}  // namespace

std::vector<int> thread_counts(const nlohmann::json& value, const SystemInfo& system,
                               const std::string& param) {
  const int all = std::max(1, system.topology.pus);
  if (value.is_string() && value.get<std::string>() == "all") return {all};
  if (value.is_string() && value.get<std::string>() == "scaling") {
    std::vector<int> out;
    for (int t = 1; t < all; t *= 2) out.push_back(t);
    out.push_back(all);
    return out;
  }
  if (in_range(value, 1, kMaxThreads)) return {value.get<int>()};
  throw InputError("parameter '" + param + "' expects a thread count in [1, " + std::to_string(kMaxThreads) +
                   "], \"all\" or \"scaling\", got " + value.dump());
}

std::int64_t whole_number(const nlohmann::json& value, const std::string& param, std::int64_t lo,
                          std::int64_t hi) {
  if (in_range(value, lo, hi)) return value.get<std::int64_t>();
  throw InputError("parameter '" + param + "' expects a whole number >= " + std::to_string(lo) +
                   " and <= " + std::to_string(hi) + ", got " + value.dump());
}

bool check_threads(RunContext& ctx, int threads, BenchmarkRecord& record) {
  const int max = ctx.device.caps().max_threads;
  if (threads <= max) return true;
  record.outcome = Outcome::with(Status::skipped, "the device runs at most " + std::to_string(max) +
                                                      " threads; " + std::to_string(threads) + " asked for");
  return false;
}

bool check_memory(RunContext& ctx, std::uint64_t bytes, BenchmarkRecord& record) {
  const std::uint64_t free = ctx.device.caps().memory_bytes;
  if (free == 0 || static_cast<double>(bytes) <= 0.9 * static_cast<double>(free)) return true;
  record.outcome = Outcome::with(Status::skipped, "needs " + std::to_string(bytes >> 20) + " MiB of memory; the device has " +
                                                      std::to_string(free >> 20) + " MiB free, and at most 90% of it is used");
  return false;
}

std::optional<Measurement> measure_into(RunContext& ctx, Executable& exe, BenchmarkRecord& record) {
  Measurement m = measure(exe, ctx.policy, ctx.energy, ctx.cancel);
  record.timing = m.to_json();
  record.energy = to_json(m.energy);
  if (m.energy.available && !m.sample_seconds.empty())
    record.energy["joules_per_iteration"] =
        m.energy.joules / static_cast<double>(m.sample_seconds.size() * m.iterations);
  if (m.interrupted) {
    record.outcome = Outcome::with(Status::interrupted, "stopped by the user before the stop rules were met");
    return std::nullopt;
  }
  return m;
}

}  // namespace xpb
