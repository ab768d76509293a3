// memory.capacity: fill a requested fraction of the memory that is *available* (MemAvailable,
// and the cgroup's memory.max headroom) with memtester/stressapptest-style patterns, verify
// every word, and report every error found with its offset and the bits that flipped.
//
// Each pass writes and verifies each pattern and then its complement, so every bit of the
// buffer is tested at 0 and at 1. The buffer is locked (mlock) when the OS permits, so the
// test covers resident pages rather than swap; the record says whether it was.
#include <algorithm>
#include <bit>
#include <sstream>

#include "memory_common.hpp"
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
        {"max_errors", "errors listed per verification (all are counted)", 64, {}},
    };
  }

  std::vector<nlohmann::json> expand(const nlohmann::json& p, const SystemInfo& system) const override {
    auto q = p;
    const auto usable = system.memory.usable_bytes();
    if (!p["fraction"].is_number() || p["fraction"].get<double>() <= 0 || p["fraction"].get<double>() > kMaxFraction)
      throw InputError("parameter 'fraction' expects a number in (0, 0.9], got " + p["fraction"].dump());
    const auto bytes = size_param(p["bytes"], static_cast<std::uint64_t>(p["fraction"].get<double>() *
                                                                         static_cast<double>(usable)),
                                  "bytes");
    if (bytes > static_cast<std::uint64_t>(kMaxFraction * static_cast<double>(usable)))
      throw InputError("parameter 'bytes' asks for " + std::to_string(bytes >> 20) + " MiB, more than 90% of the " +
                       std::to_string(usable >> 20) + " MiB available (MemAvailable and cgroup memory.max)");
    q["bytes"] = bytes / 4096 * 4096;
    parse_patterns(p["patterns"]);
    q["threads"] = thread_counts(p["threads"], system, "threads").back();
    q["passes"] = whole_number(p["passes"], "passes", 1, 1'000'000);
    q["max_errors"] = whole_number(p["max_errors"], "max_errors", 1, 1'000'000);
    q["seed"] = whole_number(p["seed"], "seed", 0, INT64_MAX);
    if (!q["lock"].is_boolean()) throw InputError("parameter 'lock' expects true or false");
    return {q};
  }

  BenchmarkRecord run(const nlohmann::json& p, RunContext& ctx) override {
    BenchmarkRecord record;
    const auto bytes = p["bytes"].get<std::uint64_t>();
    const auto patterns = parse_patterns(p["patterns"]);
    const int threads = p["threads"].get<int>();
    const auto passes = p["passes"].get<std::uint64_t>();
    const auto max_errors = p["max_errors"].get<std::int64_t>();
    const auto seed = p["seed"].get<std::int64_t>();
    if (bytes < 4096) {
      record.outcome = Outcome::with(Status::invalid, "bytes must be at least 4 KiB");
      return record;
    }
    if (!check_threads(ctx, threads, record)) return record;
    if (!check_memory(ctx, bytes, record)) return record;

    // One graph: for each pattern, fill and verify it, then its complement.
    Graph g;
    auto buf = g.add_tensor({"buffer", {static_cast<std::int64_t>(bytes / 8)}, DType::u64, TensorRole::state, {}});
    struct Check {
      Pattern pattern;
      bool invert;
      TensorId count, list;
    };
    std::vector<Check> checks;
    for (auto pat : patterns)
      for (bool invert : {false, true}) {
        const Attrs attrs{{"pattern", std::string(xpb::name(pat))}, {"seed", seed}, {"invert", invert},
                          {"max_errors", max_errors}};
        g.add_node(Op::fill_pattern, {}, {buf}, attrs);
        auto count = g.add_tensor({"errors", {1}, DType::u64, TensorRole::output, {}});
        auto list = g.add_tensor({"error_list", {max_errors, 3}, DType::u64, TensorRole::output, {}});
        g.add_node(Op::verify_pattern, {buf}, {count, list}, attrs);
        checks.push_back({pat, invert, count, list});
      }

    CompileOptions opts;
    opts.threads = threads;
    opts.lock_memory = p["lock"].get<bool>();
    auto exe = compile(ctx, g, opts, record);
    if (!exe) return record;

    // A capacity test is a fixed amount of work, not a figure sampled to a confidence level:
    // one timed run per pass.
    Measurement m;
    std::uint64_t total_errors = 0;
    auto errors = nlohmann::json::array();
    std::vector<double> errors_per_pass;
    for (std::uint64_t pass = 0; pass < passes; ++pass) {
      if (ctx.cancelled()) {
        m.interrupted = true;
        break;
      }
      const Timing t = exe->run(1);
      m.source = t.source;
      m.sample_seconds.push_back(t.seconds);
      std::uint64_t pass_errors = 0;
      for (const auto& c : checks) {
        const auto count = read_tensor<std::uint64_t>(*exe, g, c.count)[0];
        pass_errors += count;
        const auto list = read_tensor<std::uint64_t>(*exe, g, c.list);
        for (std::uint64_t e = 0; e < std::min<std::uint64_t>(count, static_cast<std::uint64_t>(max_errors)); ++e) {
          const std::uint64_t word = list[e * 3], want = list[e * 3 + 1], got = list[e * 3 + 2];
          auto bits = nlohmann::json::array();
          for (std::uint64_t diff = want ^ got; diff != 0; diff &= diff - 1) bits.push_back(std::countr_zero(diff));
          errors.push_back({{"pass", pass},
                            {"pattern", xpb::name(c.pattern)},
                            {"inverted", c.invert},
                            {"offset", word * 8},
                            {"expected", want},
                            {"actual", got},
                            {"bits", bits}});
        }
      }
      total_errors += pass_errors;
      errors_per_pass.push_back(static_cast<double>(pass_errors));
    }
    m.stop_reason = m.interrupted ? "interrupted" : "passes_done";
    record.timing = m.to_json();
    record.energy = {{"available", false}, {"reason", "not measured for capacity stress"}};
    if (m.sample_seconds.empty()) {
      record.outcome = Outcome::with(Status::interrupted, "stopped by the user before the first pass");
      return record;
    }
    // Per pattern and complement: one write of the buffer and one read.
    const double moved = static_cast<double>(bytes) * 2.0 * 2.0 * static_cast<double>(patterns.size());
    record.metrics.push_back(Metric::from(m, "throughput", "GB/s", Direction::higher_is_better,
                                          [=](double s) { return moved / s / kGB; }));
    Metric err;
    err.name = "errors";
    err.unit = "words";
    err.direction = Direction::lower_is_better;
    err.source = "measured";
    err.samples = errors_per_pass;
    err.stats = summarize(err.samples);
    record.metrics.push_back(std::move(err));

    const auto described = exe->describe();
    record.details = {{"bytes_tested", bytes},
                      {"passes_done", m.sample_seconds.size()},
                      {"patterns", p["patterns"]},
                      {"usable_bytes", ctx.system.memory.usable_bytes()},
                      {"errors_total", total_errors},
                      {"errors", errors},
                      {"executable", described}};
    record.conformance = {{"status", total_errors == 0 ? "passed" : "failed"},
                          {"method", "every word read back and compared with the pattern written"}};
    if (m.interrupted)
      record.outcome = Outcome::with(Status::interrupted, "stopped by the user after " +
                                                              std::to_string(m.sample_seconds.size()) + " passes");
    else if (total_errors != 0)
      record.outcome = Outcome::with(Status::failed, std::to_string(total_errors) + " memory errors found");
    return record;
  }
};

}  // namespace
}  // namespace xpb::memory

XPB_REGISTER_WORKLOAD("memory.capacity", xpb::memory::Capacity);
