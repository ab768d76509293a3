#include "workload_common.hpp"

#include <algorithm>

#include "xpubench/error.hpp"
#include "xpubench/parse.hpp"

namespace xpb {
namespace {

// More threads than any machine has PUs; bounds what a parameter may ask for.
constexpr std::int64_t kMaxThreads = 1 << 16;

}  // namespace

std::vector<int> thread_counts(const nlohmann::json& value, const SystemInfo& system, const std::string& param) {
  const int all = std::max(1, system.topology.pus);
  if (value.is_string() && value.get<std::string>() == "all") return {all};
  if (value.is_string() && value.get<std::string>() == "scaling") {
    std::vector<int> out;
    for (int t = 1; t < all; t *= 2) out.push_back(t);
    out.push_back(all);
    return out;
  }
  try {
    return {static_cast<int>(parse_whole(value, "parameter '" + param + "'", 1, kMaxThreads))};
  } catch (const InputError&) {
    throw InputError("parameter '" + param + "' expects a thread count in [1, " + std::to_string(kMaxThreads) +
                     "], \"all\" or \"scaling\", got " + json_text(value));
  }
}

std::int64_t whole_number(const nlohmann::json& value, const std::string& param, std::int64_t lo, std::int64_t hi) {
  return parse_whole(value, "parameter '" + param + "'", lo, hi);
}

Outcome threads_fit(RunContext& ctx, int threads) {
  const int max = ctx.device.caps().max_threads;
  if (max == 0 || threads <= max) return Outcome::ok();  // 0: the device schedules its own work
  return Outcome::with(Status::skipped, "the device runs at most " + std::to_string(max) + " threads; " +
                                            std::to_string(threads) + " asked for");
}

int vector_width_param(const nlohmann::json& value, const std::string& param) {
  if (value.is_string() && value.get<std::string>() == "auto") return 0;
  const auto w = whole_number(value, param, 1, 16);
  if (w != 1 && w != 2 && w != 4 && w != 8 && w != 16)
    throw InputError("parameter '" + param + "' expects \"auto\", 1, 2, 4, 8 or 16, got " + std::to_string(w));
  return static_cast<int>(w);
}

Outcome vector_width_fits(RunContext& ctx, int width) {
  if (width == 0) return Outcome::ok();
  const auto widths = ctx.device.caps().vector_widths;
  if (widths.empty()) return Outcome::with(Status::unsupported, "the device picks its own vector width (vector_width: auto)");
  if (std::find(widths.begin(), widths.end(), width) == widths.end())
    return Outcome::with(Status::unsupported, "the device takes no vector width of " + std::to_string(width));
  return Outcome::ok();
}

Outcome memory_fits(RunContext& ctx, std::uint64_t bytes) {
  const std::uint64_t free = ctx.device.caps().memory_bytes;
  if (free == 0 || static_cast<double>(bytes) <= 0.9 * static_cast<double>(free)) return Outcome::ok();
  return Outcome::with(Status::skipped, "needs " + std::to_string(bytes >> 20) + " MiB of memory; the device has " +
                                            std::to_string(free >> 20) + " MiB free, and at most 90% of it is used");
}

nlohmann::json check_skipped(const std::string& method, const std::string& reason) {
  return {{"status", "skipped"}, {"method", method}, {"reason", reason}};
}

}  // namespace xpb
