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
    q["steps"] = whole_number(p["steps"], "steps", 1, std::int64_t{1} << 40);
    if (q["stride"].get<int>() % 8 != 0) throw InputError("parameter 'stride' must be a multiple of 8 bytes");
    if (!q["huge_pages"].is_boolean()) throw InputError("parameter 'huge_pages' expects true or false");
    return {q};
  }

  BenchmarkRecord run(const nlohmann::json& p, RunContext& ctx) override {
    BenchmarkRecord record;
    const auto bytes = p["size"].get<std::uint64_t>();
    const auto stride = p["stride"].get<std::uint64_t>();
    const int chains = p["chains"].get<int>();
    const auto steps = p["steps"].get<std::uint64_t>();
    if (bytes / stride < static_cast<std::uint64_t>(chains) * 2) {
      record.outcome = Outcome::with(Status::invalid, "the cycle needs at least two lines per chain");
      return record;
    }
    if (!check_memory(ctx, bytes, record)) return record;
    auto chase = chase_graph(bytes, stride, chains, steps, 0xc4a5e);
    CompileOptions opts;
    opts.threads = 1;
    opts.huge_pages = p["huge_pages"].get<bool>();
    auto exe = compile(ctx, chase.graph, opts, record);
    if (!exe) return record;
    auto m = measure_into(ctx, *exe, record);
    if (!m) return record;
    const double loads = static_cast<double>(steps);
    record.metrics.push_back(Metric::from(*m, "latency", "ns/load", Direction::lower_is_better,
                                          [=](double s) { return s / loads * 1e9; }));
    auto rate = Metric::from(*m, "bandwidth", "GB/s", Direction::higher_is_better, [=](double s) {
      return loads * chains * static_cast<double>(stride) / s / kGB;
    });
    rate.note = "one line (stride bytes) per load, all chains together";
    record.metrics.push_back(std::move(rate));

    record.conformance = check_chase_against_ref(ctx, chase.graph, *exe, chase.out);
    const bool ok = record.conformance["status"] != "failed";
    record.details = {{"lines", chase.lines},
                      {"fits_in", fits_in(ctx.system, bytes)},
                      {"executable", exe->describe()}};
    record.outcome = ok ? Outcome::ok() : Outcome::with(Status::failed, "chain end positions differ from ref");
    return record;
  }
};

}  // namespace
}  // namespace xpb::memory

XPB_REGISTER_WORKLOAD("memory.latency", xpb::memory::Latency);
