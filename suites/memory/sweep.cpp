// memory.sweep: read bandwidth and load latency for working sets from 4 KiB to beyond the
// last-level cache. Each size is one benchmark whose details name the cache level that holds
// it, and the record carries the machine's cache levels, so a report can draw the plateaus.
#include <algorithm>
#include <cmath>

#include "memory_common.hpp"
#include "xpubench/parse.hpp"
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
      if (bytes < 128) throw InputError("parameter 'size' must be at least 128 bytes (two cache lines), got " + json_text(p["size"]));
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

  Outcome check(const nlohmann::json& p, RunContext& ctx) override {
    bytes_ = p["size"].get<std::uint64_t>();
    threads_ = p["threads"].get<int>();
    if (auto o = threads_fit(ctx, threads_); !o.passed()) return o;
    return memory_fits(ctx, chase_build_bytes(bytes_, kLine));  // one array, then a ring as large
  }

  BuildResult build(const nlohmann::json&, RunContext&) override {
    BuildResult r;
    read_ = read_graph(bytes_);
    Stage read{"read_bandwidth", read_.graph, {}, {}, std::nullopt};
    read.options.threads = threads_;
    r.stages.push_back(std::move(read));
    // Enough steps per run that a run is dominated by steady-state loads (runs go on around
    // the cycle, so over a measurement every line is visited), capped so a run beyond the
    // caches stays near 30 ms and a quick policy's minimum of samples fits in its budget.
    steps_ = std::clamp<std::uint64_t>(bytes_ / kLine * 4, 1 << 14, 1 << 17);
    chase_ = chase_graph(bytes_, kLine, 1, steps_, 0x5eed);
    Stage latency{"latency", chase_.graph, {}, {}, std::nullopt};
    latency.options.threads = 1;
    r.stages.push_back(std::move(latency));
    return r;
  }

  nlohmann::json verify(std::size_t stage, Executable& exe, RunContext& ctx) override {
    return stage == 0 ? check_read_sum(read_, exe) : check_chase_against_ref(ctx, chase_.graph, exe, chase_.out);
  }

  void metrics(const std::vector<Measurement>& m, BenchmarkRecord& record, RunContext& ctx) override {
    const double read_bytes = static_cast<double>(read_.elements) * 8;
    auto bw = Metric::from(m[0], "read_bandwidth", "GB/s", Direction::higher_is_better,
                           [=](double s) { return read_bytes / s / kGB; });
    const auto where = working_set(ctx.system, bytes_, threads_);
    bw.note = "read_sum over the working set on " + std::to_string(threads_) + " thread(s)";
    record.metrics.push_back(std::move(bw));
    const double steps = static_cast<double>(steps_);
    auto lat = Metric::from(m[1], "latency", "ns/load", Direction::lower_is_better,
                            [=](double s) { return s / steps * 1e9; });
    lat.note = "one chain over a random cycle at 64-byte stride, one thread";
    record.metrics.push_back(std::move(lat));
    record.details = {{"size_bytes", bytes_},
                      {"fits_in", where["fits_in"]},
                      {"working_set", where},
                      {"cache_levels", cache_levels(ctx.system)},
                      {"chase_steps_per_iteration", steps_}};
  }

 private:
  static constexpr std::uint64_t kLine = 64;
  std::uint64_t bytes_ = 0, steps_ = 0;
  int threads_ = 1;
  ReadGraph read_;
  ChaseGraph chase_;
};

}  // namespace
}  // namespace xpb::memory

XPB_REGISTER_WORKLOAD("memory.sweep", xpb::memory::Sweep);
