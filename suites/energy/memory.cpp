// energy.memory: energy per byte moved at each level of the memory hierarchy. Per level, a
// read (read_sum over f64 ones) or a copy (f64) over `points` working sets that all fit that
// level and not the one below it, thread shares spread over cores as memory.sweep places
// them; energy per run fitted against the bytes the code moves per run (the op cost model:
// copy counts its reads and writes, not the write-allocate reads), so the slope is pJ/byte at
// that level and the per-run cost stays in the intercept. Without a sensor or a model the
// benchmark is skipped with the sensor's reason.
#include <algorithm>

#include "energy_fit.hpp"
#include "memory_common.hpp"
#include "workload_common.hpp"
#include "xpubench/error.hpp"
#include "xpubench/registry.hpp"

namespace xpb::energy {
namespace {

constexpr double kCopyValue = 1.5;  // what copy's source holds, and so its destination after

// The data and unified caches, lowest level first.
std::vector<CacheLevel> data_caches(const SystemInfo& system) {
  std::vector<CacheLevel> out;
  for (const auto& c : system.topology.caches)
    if (c.type != "instruction") out.push_back(c);
  std::sort(out.begin(), out.end(), [](const CacheLevel& a, const CacheLevel& b) { return a.level < b.level; });
  return out;
}

// The working sets of a level: `points` sizes from above the level below (or an eighth of
// an L1) to 80% of the level (the rest is the code's, the stack's, the other array's
// neighbours'), each kept only where memory.sweep's placement says it fits that level; main
// memory from 4x to 8x the last-level cache.
std::vector<std::uint64_t> level_sizes(const SystemInfo& system, const std::string& level, int threads, int points) {
  const auto caches = data_caches(system);
  auto capacity = [&](const CacheLevel& c) {
    return c.size_bytes * static_cast<std::uint64_t>(std::clamp(threads, 1, std::max(1, c.instances)));
  };
  std::uint64_t lo = 0, hi = 0;
  if (level == "memory") {
    lo = memory::beyond_cache_bytes(system);
    hi = 2 * lo;
  } else {
    for (std::size_t i = 0; i < caches.size(); ++i)
      if ("L" + std::to_string(caches[i].level) == level) {
        lo = i == 0 ? capacity(caches[0]) / 8 : capacity(caches[i - 1]) * 5 / 4;
        hi = capacity(caches[i]) * 4 / 5;
      }
  }
  std::vector<std::uint64_t> out;
  if (hi <= lo) return out;
  for (int p = 0; p < points; ++p) {
    const std::uint64_t bytes = (lo + (hi - lo) * static_cast<std::uint64_t>(p) / static_cast<std::uint64_t>(points - 1)) / 64 * 64;
    if (memory::working_set(system, bytes, threads)["fits_in"] == level) out.push_back(bytes);
  }
  return out;
}

class Memory final : public Workload {
 public:
  std::string name() const override { return "energy.memory"; }
  std::string description() const override {
    return "energy per byte moved (pJ/B) at each cache level and main memory: read or copy over several working "
           "sets of one level under the device's sensor, the slope of energy against bytes";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"kernel", "read (read_sum of f64) or copy (f64)", "read", {"read", "copy"}},
        {"level", "L1, L2, ... (a cache level of this machine), memory, or \"auto\" (every one)", "auto", {}},
        {"threads", "thread count or \"all\"", "all", {}},
        {"points", "working sets fitted per level (at least 3)", 4, {}},
    };
  }

  std::vector<nlohmann::json> expand(const nlohmann::json& p, const SystemInfo& system) const override {
    std::vector<std::string> levels;
    const auto level = p["level"].get<std::string>();
    if (level == "auto") {
      for (const auto& c : data_caches(system)) levels.push_back("L" + std::to_string(c.level));
      levels.push_back("memory");
    } else {
      bool known = level == "memory";
      for (const auto& c : data_caches(system)) known = known || level == "L" + std::to_string(c.level);
      if (!known) throw InputError("parameter 'level' is '" + level + "': this machine has no such cache level");
      levels.push_back(level);
    }
    const auto points = whole_number(p["points"], "points", 3, 64);
    std::vector<nlohmann::json> out;
    for (int t : thread_counts(p["threads"], system, "threads"))
      for (const auto& l : levels) {
        auto q = p;
        q["level"] = l;
        q["threads"] = t;
        q["points"] = points;
        out.push_back(std::move(q));
      }
    return out;
  }

  Outcome check(const nlohmann::json& p, RunContext& ctx) override {
    copy_ = p["kernel"] == "copy";
    threads_ = p["threads"].get<int>();
    level_ = p["level"].get<std::string>();
    if (auto o = op_offered(ctx, copy_ ? Op::copy : Op::read_sum, DType::f64); !o.passed()) return o;
    if (auto o = threads_fit(ctx, threads_); !o.passed()) return o;
    if (auto o = energy_available(ctx); !o.passed()) return o;
    sizes_ = level_sizes(ctx.system, level_, threads_, static_cast<int>(p["points"].get<std::int64_t>()));
    if (sizes_.size() < 3)
      return Outcome::with(Status::unsupported, "fewer than 3 working sets fit " + level_ + " and not the level below "
                                                "it on " + std::to_string(threads_) + " thread(s): no fit");
    return memory_fits(ctx, sizes_.back());
  }

  BuildResult build(const nlohmann::json&, RunContext& ctx) override {
    BuildResult r;
    for (std::uint64_t ws : sizes_) {
      Stage stage;
      stage.name = std::to_string(ws) + " B";
      stage.options.threads = threads_;
      stage.policy = sample_policy(ctx);
      if (copy_) {
        const auto n = static_cast<std::int64_t>(ws / 16);  // two arrays of f64
        Graph& g = stage.graph;
        g.set_name("energy.memory copy");
        const auto a = g.add_tensor({"a", {n}, DType::f64, TensorRole::input, TensorInit::filled(kCopyValue)});
        outs_.push_back(g.add_tensor({"b", {n}, DType::f64, TensorRole::output, TensorInit::filled(0)}));
        g.add_node(Op::copy, {a}, {outs_.back()});
        graphs_.push_back(g);
      } else {
        reads_.push_back(memory::read_graph(ws));
        stage.graph = reads_.back().graph;
      }
      r.stages.push_back(std::move(stage));
    }
    return r;
  }

  nlohmann::json verify(std::size_t stage, Executable& exe, RunContext&) override {
    if (!copy_) return memory::check_read_sum(reads_[stage], exe);
    const auto b = read_tensor<double>(exe, graphs_[stage], outs_[stage]);
    const auto wrong = static_cast<std::uint64_t>(std::count_if(b.begin(), b.end(), [](double v) { return v != kCopyValue; }));
    nlohmann::json j = {{"status", wrong == 0 ? "passed" : "failed"},
                        {"method", "every element of the destination compared with the source's value"},
                        {"elements_wrong", wrong}};
    if (wrong != 0) j["reason"] = std::to_string(wrong) + " elements were not copied";
    return j;
  }

  void metrics(const std::vector<Measurement>& measured, BenchmarkRecord& record, RunContext& ctx) override {
    std::vector<double> bytes;
    for (const auto& m : measured) bytes.push_back(m.work_per_iteration.bytes_read + m.work_per_iteration.bytes_written);
    add_fit(measured, bytes, {{"energy_per_byte", "pJ/B", 1e12, "bytes moved per run"}}, ctx, record);
    auto sets = nlohmann::json::array();
    for (std::uint64_t ws : sizes_) sets.push_back(memory::working_set(ctx.system, ws, threads_));
    record.details["working_sets"] = sets;
    record.details["cache_levels"] = memory::cache_levels(ctx.system);
    record.details["bytes_counted"] = copy_ ? "reads and writes as the code makes them; the destination's "
                                              "write-allocate reads are not counted (their energy is in the figure)"
                                            : "every byte read once per run";
  }

 private:
  bool copy_ = false;
  int threads_ = 1;
  std::string level_;
  std::vector<std::uint64_t> sizes_;
  std::vector<memory::ReadGraph> reads_;
  std::vector<Graph> graphs_;
  std::vector<TensorId> outs_;
};

}  // namespace
}  // namespace xpb::energy

XPB_REGISTER_WORKLOAD("energy.memory", xpb::energy::Memory);
