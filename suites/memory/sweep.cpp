// memory.sweep: read bandwidth and load latency for working sets from 4 KiB to beyond the
// last-level cache. Each size is one benchmark whose details name the cache level that holds
// it, and the record carries the machine's cache levels, so a report can draw the plateaus.
#include <algorithm>
#include <cmath>

#include "memory_common.hpp"
#include "xpubench/error.hpp"
#include "xpubench/registry.hpp"

namespace xpb::memory {
namespace {

class Sweep final : public Workload {
 public:
  std::string name() const override { return "memory.sweep"; }
  std::string description() const override {
    return "working-set sweep: read bandwidth (GB/s) and dependent-load latency (ns/load) per size, "
           "from 4 KiB to 4x the last-level cache, with the cache levels marked";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"size", "working-set bytes, or \"auto\" for the whole sweep", "auto", {}},
        {"min_bytes", "smallest size of an automatic sweep", "4KiB", {}},
        {"max_bytes", "largest size of an automatic sweep, or \"auto\" (4x the last-level cache)", "auto", {}},
        {"points_per_octave", "sizes per doubling in an automatic sweep", 2, {}},
        {"threads", "thread count for the bandwidth figure, \"all\" or \"scaling\" (latency uses one)", 1, {}},
    };
  }

  std::vector<nlohmann::json> expand(const nlohmann::json& p, const SystemInfo& system) const override {
    // Each size is measured at every thread count asked for (latency always uses one).
    const auto threads = thread_counts(p["threads"], system, "threads");
    std::vector<nlohmann::json> out;
    auto add = [&](std::uint64_t bytes) {
      for (int t : threads) out.push_back({{"size", bytes}, {"threads", t}});
    };
    if (!(p["size"].is_string() && p["size"] == "auto")) {
      const auto bytes = size_param(p["size"], 0, "size");
      if (bytes < 128) throw InputError("parameter 'size' must be at least 128 bytes (two cache lines), got " + p["size"].dump());
      add(bytes);
      return out;
    }
    const auto lo = std::max<std::uint64_t>(size_param(p["min_bytes"], 4096, "min_bytes"), 4096);
    const auto hi = size_param(p["max_bytes"], beyond_cache_bytes(system), "max_bytes");
    const auto per_octave = whole_number(p["points_per_octave"], "points_per_octave", 1, 64);
    if (hi < lo) throw InputError("max_bytes is smaller than min_bytes");
    const double step = std::pow(2.0, 1.0 / static_cast<double>(per_octave));
    std::uint64_t last = 0;
    for (double s = static_cast<double>(lo); s <= static_cast<double>(hi) * 1.0001; s *= step) {
      // Whole 4 KiB pages, so every size is a whole number of lines and of f64 elements.
      const auto bytes = std::max<std::uint64_t>(4096, static_cast<std::uint64_t>(std::llround(s / 4096)) * 4096);
      if (bytes != last) add(bytes);
      last = bytes;
    }
    return out;
  }

  BenchmarkRecord run(const nlohmann::json& p, RunContext& ctx) override {
    BenchmarkRecord record;
    const auto bytes = p["size"].get<std::uint64_t>();
    const int threads = p["threads"].get<int>();
    if (bytes < 128) {
      record.outcome = Outcome::with(Status::invalid, "size must be at least two cache lines");
      return record;
    }
    if (!check_threads(ctx, threads, record)) return record;

    CompileOptions opts;
    opts.threads = threads;
    auto executable = measure_read_and_latency(ctx, bytes, opts, record);
    if (!executable) return record;
    record.details = {{"size_bytes", bytes},
                      {"fits_in", fits_in(ctx.system, bytes)},
                      {"cache_levels", cache_levels(ctx.system)},
                      {"executable", *executable}};
    return record;
  }
};

}  // namespace
}  // namespace xpb::memory

XPB_REGISTER_WORKLOAD("memory.sweep", xpb::memory::Sweep);
