// memory.latency: dependent loads over one random cycle at cache-line stride, beyond the
// last-level cache (ns per load), and memory-level parallelism: 1..N independent chains
// interleaved, whose combined rate shows how many misses the core keeps in flight.
// Huge pages (THP) are asked for by default so TLB misses do not add to the figure; the
// record says how much of the ring the OS actually backed with huge pages.
#include <algorithm>

#include "memory_common.hpp"
#include "xpubench/error.hpp"
#include "xpubench/registry.hpp"

namespace xpb::memory {
namespace {

class Latency final : public Workload {
 public:
  std::string name() const override { return "memory.latency"; }
  std::string description() const override {
    return "pointer-chase latency (ns/load) over a random cycle beyond the last-level cache, "
           "and memory-level parallelism with 1..N independent chains";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"size", "bytes of the cycle, or \"auto\" (4x the last-level cache)", "auto", {}},
        {"chains", "independent chains walked at once (memory-level parallelism)", 1, {}},
        {"stride", "bytes per line of the cycle", 64, {}},
        {"huge_pages", "ask the OS for transparent huge pages", true, {}},
        {"steps", "loads per chain per run", 1 << 20, {}},
    };
  }

  std::vector<nlohmann::json> expand(const nlohmann::json& p, const SystemInfo& system) const override {
    auto q = p;
    q["size"] = size_param(p["size"], beyond_cache_bytes(system), "size");
    q["chains"] = whole_number(p["chains"], "chains", 1, 1024);
    q["stride"] = whole_number(p["stride"], "stride", 8, 1 << 20);
    // 2^30 loads take about 3 minutes at DRAM latency; ref walks them once more to check.
    q["steps"] = whole_number(p["steps"], "steps", 1, std::int64_t{1} << 30);
    if (q["stride"].get<int>() % 8 != 0) throw InputError("parameter 'stride' must be a multiple of 8 bytes");
    const auto lines = q["size"].get<std::uint64_t>() / q["stride"].get<std::uint64_t>();
    if (lines < q["chains"].get<std::uint64_t>() * 2)
      throw InputError("parameter 'size' (" + std::to_string(q["size"].get<std::uint64_t>()) + " bytes) holds " +
                       std::to_string(lines) + " lines of " + std::to_string(q["stride"].get<std::uint64_t>()) +
                       " bytes; the cycle needs at least two lines per chain (" +
                       std::to_string(q["chains"].get<std::uint64_t>() * 2) + ")");
    if (!q["huge_pages"].is_boolean()) throw InputError("parameter 'huge_pages' expects true or false");
    return {q};
  }

  Outcome check(const nlohmann::json& p, RunContext& ctx) override {
    bytes_ = p["size"].get<std::uint64_t>();
    stride_ = p["stride"].get<std::uint64_t>();
    chains_ = p["chains"].get<int>();
    steps_ = p["steps"].get<std::uint64_t>();
    huge_pages_ = p["huge_pages"].get<bool>();
    return memory_fits(ctx, chase_build_bytes(bytes_, stride_));
  }

  BuildResult build(const nlohmann::json&, RunContext&) override {
    chase_ = chase_graph(bytes_, stride_, chains_, steps_, 0xc4a5e);
    Stage stage{"", chase_.graph, {}, {}, std::nullopt};
    stage.options.threads = 1;
    stage.options.huge_pages = huge_pages_;
    BuildResult r;
    r.stages.push_back(std::move(stage));
    return r;
  }

  nlohmann::json verify(std::size_t, Executable& exe, RunContext& ctx) override {
    return check_chase_against_ref(ctx, chase_.graph, exe, chase_.out);
  }

  void metrics(const std::vector<Measurement>& m, BenchmarkRecord& record, RunContext& ctx) override {
    const double loads = static_cast<double>(steps_);
    auto latency = Metric::from(m[0], "latency", "ns/load", Direction::lower_is_better,
                                [=](double s) { return s / loads * 1e9; });
    latency.note = "time per step of the chase: the latency of one load while `chains` loads are in flight "
                   "(each chain advances once per step)";
    record.metrics.push_back(std::move(latency));
    const double per_load = static_cast<double>(chains_) * static_cast<double>(stride_);
    auto rate = Metric::from(m[0], "bandwidth", "GB/s", Direction::higher_is_better,
                             [=](double s) { return loads * per_load / s / kGB; });
    rate.note = "one line (stride bytes) per load, all chains together";
    const auto where = working_set(ctx.system, bytes_, 1);
    if (where.contains("note")) rate.note += "; " + where["note"].get<std::string>();
    record.metrics.push_back(std::move(rate));
    record.details = {{"lines", chase_.lines}, {"fits_in", where["fits_in"]}, {"working_set", where}};
  }

 private:
  std::uint64_t bytes_ = 0, stride_ = 64, steps_ = 0;
  int chains_ = 1;
  bool huge_pages_ = true;
  ChaseGraph chase_;
};

}  // namespace
}  // namespace xpb::memory

XPB_REGISTER_WORKLOAD("memory.latency", xpb::memory::Latency);
