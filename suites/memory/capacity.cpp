// memory.capacity: fill a requested fraction of the memory that is *available* (MemAvailable,
// and the cgroup's memory.max headroom) with memtester/stressapptest-style patterns, verify
// every word, and report every error found with its offset and the bits that flipped. A device
// with memory of its own (a GPU) is tested on that fraction of its memory, in one buffer no
// larger than the largest it allocates.
//
// Each pass writes and verifies each pattern and then its complement, so every bit of the
// buffer is tested at 0 and at 1. The buffer is locked (mlock) when the OS permits, so the
// test covers resident pages rather than swap; the record says whether it was.
#include <algorithm>
#include <bit>
#include <sstream>

#include "memory_common.hpp"
#include "xpubench/parse.hpp"
#include "xpubench/error.hpp"
#include "xpubench/registry.hpp"

namespace xpb::memory {
namespace {

// Past this share of what is available, the page cache and other processes would be squeezed
// hard enough to risk the OOM killer.
constexpr double kMaxFraction = 0.9;

std::vector<Pattern> parse_patterns(const nlohmann::json& v) {
  if (!v.is_string()) throw InputError("parameter 'patterns' expects \"all\" or a comma-separated list of patterns");
  std::vector<Pattern> out;
  const auto text = v.get<std::string>();
  if (text == "all") {
    for (auto p : {Pattern::walking_ones, Pattern::walking_zeros, Pattern::checkerboard, Pattern::random,
                   Pattern::address})
      out.push_back(p);
    return out;
  }
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto p = parse_pattern(item);
    if (!p)
      throw InputError("unknown pattern '" + item +
                       "' (expected walking_ones, walking_zeros, checkerboard, random, address)");
    out.push_back(*p);
  }
  if (out.empty()) throw InputError("parameter 'patterns' names no pattern");
  return out;
}

class Capacity final : public Workload {
 public:
  std::string name() const override { return "memory.capacity"; }
  std::string description() const override {
    return "capacity stress: fill a fraction of available memory with test patterns, verify, "
           "and report every error with its offset and bit";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"fraction", "share of available memory to test (at most 0.9)", 0.5, {}},
        {"bytes", "bytes to test instead of a fraction, or \"auto\"", "auto", {}},
        {"patterns", "\"all\" or a comma-separated list of patterns", "all", {}},
        {"passes", "times the whole set of patterns is written and verified", 1, {}},
        {"threads", "thread count or \"all\"", "all", {}},
        {"lock", "mlock the buffer when permitted", true, {}},
        {"seed", "seed of the random pattern", 1, {}},
        {"max_errors", "errors listed in the record, per verification and in all (every error is counted)", 64, {}},
    };
  }

  std::vector<nlohmann::json> expand(const nlohmann::json& p, const SystemInfo& system) const override {
    auto q = p;
    const auto usable = system.memory.usable_bytes();
    if (!p["fraction"].is_number() || p["fraction"].get<double>() <= 0 || p["fraction"].get<double>() > kMaxFraction)
      throw InputError("parameter 'fraction' expects a number in (0, 0.9], got " + json_text(p["fraction"]));
    const auto bytes = size_param(p["bytes"], static_cast<std::uint64_t>(p["fraction"].get<double>() *
                                                                         static_cast<double>(usable)),
                                  "bytes");
    if (bytes > static_cast<std::uint64_t>(kMaxFraction * static_cast<double>(usable)))
      throw InputError("parameter 'bytes' asks for " + std::to_string(bytes >> 20) + " MiB, more than 90% of the " +
                       std::to_string(usable >> 20) + " MiB available (MemAvailable and cgroup memory.max)");
    if (bytes < 4096)
      throw InputError("parameter 'bytes' is " + std::to_string(bytes) + " bytes; a capacity test needs at least 4 KiB");
    q["bytes"] = bytes / 4096 * 4096;
    parse_patterns(p["patterns"]);
    q["threads"] = thread_counts(p["threads"], system, "threads").back();
    q["passes"] = whole_number(p["passes"], "passes", 1, 1'000'000);
    q["max_errors"] = whole_number(p["max_errors"], "max_errors", 1, 1'000'000);
    q["seed"] = whole_number(p["seed"], "seed", 0, INT64_MAX);
    if (!q["lock"].is_boolean()) throw InputError("parameter 'lock' expects true or false");
    return {q};
  }

  Outcome check(const nlohmann::json& p, RunContext& ctx) override {
    bytes_ = p["bytes"].get<std::uint64_t>();
    patterns_ = parse_patterns(p["patterns"]);
    threads_ = p["threads"].get<int>();
    passes_ = p["passes"].get<std::uint64_t>();
    max_errors_ = p["max_errors"].get<std::int64_t>();
    seed_ = p["seed"].get<std::int64_t>();
    lock_ = p["lock"].get<bool>();
    if (auto o = threads_fit(ctx, threads_); !o.passed()) return o;
    // A device with memory of its own is tested on `fraction` of that memory rather than of the
    // host's; every device in one buffer no larger than the largest it allocates (a GPU's is
    // often a quarter of its memory): the record says which limit applied.
    const auto caps = ctx.device.caps();
    if (!caps.shares_host_memory && caps.memory_bytes != 0) {
      const auto share = static_cast<std::uint64_t>(p["fraction"].get<double>() * static_cast<double>(caps.memory_bytes));
      if (share < bytes_) {
        bytes_ = share;
        limited_by_ = "fraction of the device's memory";
      }
    }
    if (caps.max_buffer_bytes != 0 && caps.max_buffer_bytes < bytes_) {
      bytes_ = caps.max_buffer_bytes;
      limited_by_ = "the device's largest allocation";
    }
    bytes_ = bytes_ / 4096 * 4096;
    if (bytes_ == 0) return Outcome::with(Status::unsupported, "the device allocates less than 4 KiB in one buffer");
    // The buffer, and each verification's error list (three words per error listed).
    const std::uint64_t lists = patterns_.size() * 2 * static_cast<std::uint64_t>(max_errors_) * 3 * 8;
    return memory_fits(ctx, bytes_ + lists);
  }

  // One graph: for each pattern, fill and verify it, then its complement.
  BuildResult build(const nlohmann::json&, RunContext&) override {
    Graph& g = graph_;
    g.set_name("memory.capacity");
    auto buf = g.add_tensor({"buffer", {static_cast<std::int64_t>(bytes_ / 8)}, DType::u64, TensorRole::state, {}});
    for (auto pat : patterns_)
      for (bool invert : {false, true}) {
        Attrs attrs{{"pattern", std::string(xpb::name(pat))}, {"seed", seed_}, {"invert", invert}};
        g.add_node(Op::fill_pattern, {}, {buf}, attrs);
        auto count = g.add_tensor({"errors", {1}, DType::u64, TensorRole::output, {}});
        auto list = g.add_tensor({"error_list", {max_errors_, 3}, DType::u64, TensorRole::output, {}});
        attrs.set("max_errors", max_errors_);
        g.add_node(Op::verify_pattern, {buf}, {count, list}, attrs);
        checks_.push_back({pat, invert, count, list});
      }
    Stage stage{"", g, {}, {}, std::nullopt};
    stage.options.threads = threads_;
    stage.options.lock_memory = lock_;
    // A capacity test is a fixed amount of work: one timed run per pass.
    stage.policy = RunPolicy::fixed(passes_);
    BuildResult r;
    r.stages.push_back(std::move(stage));
    return r;
  }

  // One pass, and the errors it found (read after every pass, so a pass's errors are its own).
  RunResult sample(std::size_t, Executable& exe, const RunArgs& args) override {
    RunResult r = exe.run(args);
    if (!r.error.empty() || r.interrupted) return r;
    std::uint64_t pass_errors = 0;
    for (const auto& c : checks_) {
      const auto count = read_tensor<std::uint64_t>(exe, graph_, c.count)[0];
      pass_errors += count;
      const auto list = read_tensor<std::uint64_t>(exe, graph_, c.list);
      // Listed up to max_errors in all, however many passes find them (each is still counted).
      const auto room = static_cast<std::uint64_t>(max_errors_) - std::min<std::uint64_t>(errors_.size(), max_errors_);
      for (std::uint64_t e = 0; e < std::min({count, static_cast<std::uint64_t>(max_errors_), room}); ++e) {
        const std::uint64_t word = list[e * 3], want = list[e * 3 + 1], got = list[e * 3 + 2];
        auto bits = nlohmann::json::array();
        for (std::uint64_t diff = want ^ got; diff != 0; diff &= diff - 1) bits.push_back(std::countr_zero(diff));
        errors_.push_back({{"pass", errors_per_pass_.size()},
                           {"pattern", xpb::name(c.pattern)},
                           {"inverted", c.invert},
                           {"offset", word * 8},
                           {"expected", want},
                           {"actual", got},
                           {"bits", bits}});
      }
    }
    errors_per_pass_.push_back(static_cast<double>(pass_errors));
    total_errors_ += pass_errors;
    return r;
  }

  nlohmann::json verify(std::size_t, Executable&, RunContext&) override {
    nlohmann::json j = {{"status", total_errors_ == 0 ? "passed" : "failed"},
                        {"method", "every word read back and compared with the pattern written"}};
    if (total_errors_ != 0) j["reason"] = std::to_string(total_errors_) + " memory errors found";
    return j;
  }

  void metrics(const std::vector<Measurement>& m, BenchmarkRecord& record, RunContext& ctx) override {
    // Per pattern and complement: one write of the buffer and one read.
    const double moved = static_cast<double>(bytes_) * 2.0 * 2.0 * static_cast<double>(patterns_.size());
    record.metrics.push_back(Metric::from(m[0], "throughput", "GB/s", Direction::higher_is_better,
                                          [=](double s) { return moved / s / kGB; }));
    // Counted by the device's own compare: as trustworthy as its clock is real.
    record.metrics.push_back(Metric::of("errors", "words", Direction::lower_is_better, m[0].time_source(),
                                        errors_per_pass_, "mismatching words per pass"));
    record.details = {{"bytes_tested", bytes_},
                      {"bytes_limited_by", limited_by_},
                      {"device_max_buffer_bytes", ctx.device.caps().max_buffer_bytes},
                      {"passes_done", m[0].sample_seconds.size()},
                      {"patterns", patterns_text()},
                      {"usable_bytes", ctx.system.memory.usable_bytes()},
                      {"errors_total", total_errors_},
                      {"errors", errors_}};
    if (total_errors_ != 0) record.outcome = Outcome::with(Status::failed, std::to_string(total_errors_) + " memory errors found");
  }

 private:
  struct Check {
    Pattern pattern;
    bool invert;
    TensorId count, list;
  };
  std::string patterns_text() const {
    std::string out;
    for (auto p : patterns_) out += (out.empty() ? "" : ",") + std::string(xpb::name(p));
    return out;
  }

  std::uint64_t bytes_ = 0, passes_ = 1, total_errors_ = 0;
  std::string limited_by_ = "the bytes asked for";
  std::vector<Pattern> patterns_;
  int threads_ = 1;
  std::int64_t max_errors_ = 64, seed_ = 1;
  bool lock_ = true;
  Graph graph_;
  std::vector<Check> checks_;
  std::vector<double> errors_per_pass_;
  nlohmann::json errors_ = nlohmann::json::array();
};

}  // namespace
}  // namespace xpb::memory

XPB_REGISTER_WORKLOAD("memory.capacity", xpb::memory::Capacity);
