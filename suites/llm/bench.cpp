// llm.bench: llama-bench's tests on a Llama decoder (DESIGN.md §5). `pp N` processes a prompt
// of N tokens in steps of `ubatch` tokens; `tg N` generates N tokens greedily, one step per
// token for each of `sequences` sequences decoded together; `pg` is pp (for each sequence)
// then tg. All start at KV depth `depth` (that many positions already in the cache; filling
// them is not timed, as in llama-bench). One sample is one whole test; tokens/s = tokens / device time of its steps.
//
// Derived figures for generation: the bytes a step must read (every weight once, plus each
// sequence's KV cache up to its position), the effective bandwidth that implies, and the
// share of the memory roofline: the read bandwidth memory.bandwidth measures in the same
// process, on the same threads, over as many bytes as the weights (decode is bound by it:
// tokens/s <= bandwidth / bytes per token).
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <tuple>

#include "conformance.hpp"
#include "llama_engine.hpp"
#include "llm_common.hpp"
#include "suites/workload_common.hpp"
#include "xpubench/error.hpp"
#include "xpubench/registry.hpp"

namespace xpb::llm {
namespace {

// Adds a step's time to a test's.
void add_time(Timing& total, const Timing& step) {
  total.seconds += step.seconds;
  total.source = step.source;
}

struct TestSpec {
  std::string test;  // pp, tg, pg
  int n_prompt = 0, n_gen = 0, depth = 0, ubatch = 512, sequences = 1;
};

// One sample = one whole test, so the runner's warm-up, stop rules and statistics apply to
// tests as they do to single graph runs.
class TestRun final : public Executable {
 public:
  TestRun(LlamaEngine& e, TestSpec spec, std::uint64_t seed)
      : e_(e), spec_(std::move(spec)), seed_(seed), last_(static_cast<std::size_t>(spec_.sequences), 3) {}

  Timing run(std::uint64_t iterations) override {
    Timing total{0.0, ClockKind::host};
    for (std::uint64_t i = 0; i < iterations; ++i) {
      if (spec_.test != "tg")
        for (int q = 0; q < spec_.sequences; ++q) add_time(total, prompt(spec_.depth, spec_.n_prompt, q));
      if (spec_.test != "pp") add_time(total, generate(spec_.depth + (spec_.test == "pg" ? spec_.n_prompt : 0)));
    }
    return total;
  }
  void read(TensorId, std::span<std::byte>) const override {}
  void write(TensorId, std::span<const std::byte>) override {}

  // Prompt tokens [from, from + count) of sequence `seq`, in steps of ubatch rows.
  Timing prompt(int from, int count, int seq) {
    const auto tokens = prompt_tokens(seed_ + static_cast<std::uint64_t>(seq), static_cast<std::size_t>(from + count),
                                      e_.config().vocab);
    Timing t{0.0, ClockKind::host};
    for (int at = from; at < from + count; at += spec_.ubatch) {
      const int n = std::min(spec_.ubatch, from + count - at);
      StepInput in;
      for (int i = 0; i < n; ++i) {
        in.tokens.push_back(tokens[static_cast<std::size_t>(at + i)]);
        in.positions.push_back(at + i);
        in.sequences.push_back(seq);
      }
      in.output_rows = {n - 1};
      add_time(t, e_.step(in));
      last_[static_cast<std::size_t>(seq)] = e_.next_tokens()[0];
    }
    return t;
  }

  // n_gen greedy steps of every sequence together, from position `from`.
  Timing generate(int from) {
    Timing t{0.0, ClockKind::host};
    for (int s = 0; s < spec_.n_gen; ++s) {
      StepInput in;
      for (int q = 0; q < spec_.sequences; ++q) {
        in.tokens.push_back(last_[static_cast<std::size_t>(q)]);
        in.positions.push_back(from + s);
        in.sequences.push_back(q);
        in.output_rows.push_back(q);
      }
      add_time(t, e_.step(in));
      const auto next = e_.next_tokens();
      for (int q = 0; q < spec_.sequences; ++q) last_[static_cast<std::size_t>(q)] = next[static_cast<std::size_t>(q)];
    }
    return t;
  }

 private:
  LlamaEngine& e_;
  TestSpec spec_;
  std::uint64_t seed_;
  std::vector<std::int32_t> last_;  // per sequence: the token it generated last
};

// Read bandwidth on `threads` threads, measured once per process by memory.bandwidth: its
// median, with the parameters and samples it came from in `how`.
struct ReadBandwidth {
  double gbps = 0;
  nlohmann::json how;
};
// The array is as large as the model's weights (at least 4x the last-level cache): on a
// virtual machine, bandwidth depends on where in host memory the pages land, and a region as
// large as the weights is the fairer stand-in for them. When that does not fit in free
// memory, the default size is used.
std::optional<ReadBandwidth> measured_read_bandwidth(RunContext& ctx, int threads, std::uint64_t weight_bytes,
                                                     std::string& why) {
  static std::mutex mu;
  static std::map<std::tuple<std::string, int, std::uint64_t>, ReadBandwidth> cache;
  std::lock_guard lock(mu);
  const auto key = std::make_tuple(ctx.device.info().id(), threads, weight_bytes);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  auto bw = WorkloadRegistry::instance().create("memory.bandwidth");
  if (!bw) {
    why = "memory.bandwidth is not built in";
    return std::nullopt;
  }
  nlohmann::json p = nlohmann::json::object();
  for (const auto& spec : bw->params()) p[spec.name] = spec.default_value;
  p["kernel"] = "read";
  p["stores"] = "regular";
  p["threads"] = threads;
  // Its own policy, not the run's (a quick llm policy takes 3 samples, too few for a figure
  // every decode result is divided by): the median of at least 10 samples over 0.5-2 s.
  RunContext sub = ctx;
  sub.policy = RunPolicy{};
  sub.policy.min_samples = 10;
  sub.policy.max_samples = 200;
  sub.policy.min_seconds = 0.5;
  sub.policy.max_seconds = 2.0;
  auto points = bw->expand(p, ctx.system);
  if (points.empty()) {
    why = "memory.bandwidth gave no read benchmark";
    return std::nullopt;
  }
  auto point = points[0];
  if (point["array_bytes"].get<std::uint64_t>() < weight_bytes) point["array_bytes"] = weight_bytes;
  auto rec = bw->run(point, sub);
  if (rec.outcome.status == Status::skipped && point != points[0]) {
    point = points[0];
    rec = bw->run(point, sub);
  }
  for (const auto& m : rec.metrics)
    if (rec.outcome.passed() && m.unit == "GB/s" && m.stats.n > 0)
      return cache[key] = ReadBandwidth{m.stats.median, {{"params", point},
                                                         {"samples_gbps", m.samples}}};
  why = "memory.bandwidth read did not pass: " + rec.outcome.reason;
  return std::nullopt;
}

class Bench final : public Workload {
 public:
  std::string name() const override { return "llm.bench"; }
  std::string description() const override {
    return "llama-bench-style tests of a Llama decoder: prompt processing (pp), generation (tg), "
           "both (pg), at a KV depth, over batch sizes and threads; tokens/s, and for generation "
           "bytes/token, effective GB/s and % of the measured memory roofline";
  }
  std::vector<ParamSpec> params() const override {
    std::vector<std::string> models = preset_names();
    return {
        {"model", "a preset (" + [&] { std::string s; for (auto& m : models) s += (s.empty() ? "" : ", ") + m; return s; }() +
                      ") or the path of a llama GGUF file", "stories-15m", {}},
        {"dtype", "weight dtype of a preset (a GGUF file has its own)", "q8_0", {"f32", "f16", "bf16", "q8_0", "q4_0"}},
        {"test", "pp (prompt), tg (generation) or pg (prompt then generation)", "tg", {"pp", "tg", "pg"}},
        {"n_prompt", "prompt tokens of pp and pg", 512, {}},
        {"n_gen", "generated tokens of tg and pg", 128, {}},
        {"depth", "KV cache positions filled before the test (not timed)", 0, {}},
        {"ubatch", "tokens per step while processing a prompt", 512, {}},
        {"sequences", "sequences generated together (tg batch size)", 1, {}},
        {"threads", "worker threads: a number, \"all\" or \"scaling\" (1, 2, 4, ... all)", "all", {}},
        {"kv_dtype", "KV cache element type", "f16", {"f32", "f16"}},
        {"seed", "seed of the synthetic weights and prompt tokens", 1, {}},
        {"check", "conformance against ref: auto (models up to 120M parameters), on, off", "auto", {"auto", "on", "off"}},
        {"roofline", "\"measure\" (memory.bandwidth read, same threads), \"off\", or a read bandwidth in GB/s", "measure", {}},
    };
  }

  std::vector<nlohmann::json> expand(const nlohmann::json& p, const SystemInfo& system) const override {
    auto q = p;
    q["n_prompt"] = whole_number(p["n_prompt"], "n_prompt", 1, 1 << 20);
    q["n_gen"] = whole_number(p["n_gen"], "n_gen", 1, 1 << 20);
    q["depth"] = whole_number(p["depth"], "depth", 0, 1 << 22);
    q["ubatch"] = whole_number(p["ubatch"], "ubatch", 1, 8192);
    q["sequences"] = whole_number(p["sequences"], "sequences", 1, 1024);
    q["seed"] = whole_number(p["seed"], "seed", 0, std::int64_t{1} << 53);
    if (!(p["roofline"] == "measure" || p["roofline"] == "off" || (p["roofline"].is_number() && p["roofline"].get<double>() > 0)))
      throw InputError("parameter 'roofline' expects \"measure\", \"off\" or a bandwidth in GB/s, got " + p["roofline"].dump());
    // Parameters a test does not use are left out, so one test is not listed several times.
    if (q["test"] == "tg") q.erase("n_prompt"), q.erase("ubatch");
    if (q["test"] == "pp") q.erase("n_gen"), q.erase("sequences");
    return model_points(q, system);
  }

  BenchmarkRecord run(const nlohmann::json& p, RunContext& ctx) override {
    BenchmarkRecord record;
    const ModelChoice model = resolve_model(p);
    TestSpec spec;
    spec.test = p["test"].get<std::string>();
    spec.n_prompt = p.value("n_prompt", 0);
    spec.n_gen = p.value("n_gen", 0);
    spec.depth = p["depth"].get<int>();
    spec.ubatch = p.value("ubatch", 512);
    spec.sequences = p.value("sequences", 1);
    const int threads = p["threads"].get<int>();
    if (!check_threads(ctx, threads, record)) return record;
    GraphShape shape;
    shape.slots = spec.sequences;
    shape.max_rows = std::max(spec.sequences, std::min(spec.ubatch, std::max({spec.n_prompt, spec.depth, 1})));
    shape.max_outputs = spec.sequences;
    shape.context = spec.depth + spec.n_prompt + spec.n_gen + 1;
    shape.kv_dtype = *parse_dtype(p["kv_dtype"].get<std::string>());
    record.details["model"] = describe(model);
    record.details["graph"] = {{"max_rows", shape.max_rows}, {"slots", shape.slots}, {"context", shape.context},
                               {"kv_dtype", std::string(xpb::name(shape.kv_dtype))}};
    const std::uint64_t need = footprint_bytes(model.config, model.source, shape);
    record.details["memory_needed_bytes"] = need;
    if (!check_memory(ctx, need, record)) return record;
    CompileOptions opts;
    opts.threads = threads;
    auto [outcome, engine] = LlamaEngine::create(ctx.device, model.config, model.source, shape, opts);
    if (!engine) {
      record.outcome = outcome;
      return record;
    }
    TestRun test(*engine, spec, model.source.seed);
    // Depth: every sequence's cache filled up to `depth`, once, untimed.
    for (int q = 0; q < spec.sequences && spec.depth > 0; ++q) {
      test.prompt(0, spec.depth, q);
    }
    const auto measured = measure_into(ctx, test, record);
    if (!measured) return record;
    const Measurement& m = *measured;
    // pp has one sequence; pg gives each of its sequences the prompt, then generates for all.
    const double tokens = static_cast<double>(spec.sequences) *
                          ((spec.test == "tg" ? 0 : spec.n_prompt) + (spec.test == "pp" ? 0 : spec.n_gen));
    record.metrics.push_back(Metric::from(m, "tokens_per_second", "t/s", Direction::higher_is_better,
                                          [=](double s) { return tokens / s; }));
    if (m.energy.available && !m.sample_seconds.empty())
      record.energy["joules_per_token"] = m.energy.joules / (static_cast<double>(m.sample_seconds.size() * m.iterations) * tokens);

    if (spec.test == "tg") add_roofline(p, ctx, *engine, spec, m, record);

    const bool check = p["check"] == "on" || (p["check"] == "auto" && model.config.parameters() <= 120'000'000ull);
    if (check) {
      record.conformance = check_against_ref(ctx, model, threads, 8, 32);
    } else {
      record.conformance = {{"status", "skipped"},
                            {"method", "greedy tokens and logits against ref (not run)"},
                            {"reason", p["check"] == "off" ? "check=off"
                                                           : "the model has " + std::to_string(model.config.parameters()) +
                                                                 " parameters; the scalar reference checks models up to "
                                                                 "120M (check=on forces it; tiny presets check the same kernels)"}};
    }
    record.details["executable"] = engine->executable().describe();
    const auto st = record.conformance.value("status", "skipped");
    if (st == "failed") record.outcome = Outcome::with(Status::failed, record.conformance.value("reason", "conformance failed"));
    else if (st == "mistrusted") record.outcome = Outcome::with(Status::mistrusted, record.conformance.value("reason", ""));
    else record.outcome = Outcome::ok();
    return record;
  }

 private:
  static void add_roofline(const nlohmann::json& p, RunContext& ctx, LlamaEngine& engine, const TestSpec& spec,
                           const Measurement& m, BenchmarkRecord& record) {
    // Per step: every weight once (an untied embedding table only at the rows looked up),
    // and each sequence's K and V over the positions it attends (depth + 1 .. depth + n_gen,
    // so on average depth + (n_gen + 1) / 2).
    const double weights = static_cast<double>(engine.graph().decode_weight_bytes(spec.sequences));
    const double kv = static_cast<double>(engine.graph().kv_bytes_per_token) * spec.sequences *
                      (spec.depth + (spec.n_gen + 1) / 2.0);
    const double per_token = (weights + kv) / spec.sequences;
    const double tokens = static_cast<double>(spec.n_gen) * spec.sequences;
    auto eff = Metric::from(m, "effective_bandwidth", "GB/s", Direction::higher_is_better,
                            [=](double s) { return per_token * tokens / s / 1e9; });
    eff.note = "bytes a step must read (weights once, an untied embedding only at the rows looked up, "
               "plus each sequence's KV cache) x steps / time";
    record.metrics.push_back(eff);
    record.details["bytes_per_token"] = per_token;
    std::string why;
    std::optional<double> roof;
    if (p["roofline"].is_number()) {
      roof = p["roofline"].get<double>();
      record.details["roofline"] = {{"read_bandwidth_gbps", *roof}, {"source", "given as a parameter"}};
    } else if (p["roofline"] == "measure") {
      if (auto bw = measured_read_bandwidth(ctx, p["threads"].get<int>(), engine.graph().weight_bytes, why)) {
        roof = bw->gbps;
        record.details["roofline"] = {{"read_bandwidth_gbps", bw->gbps},
                                      {"source", "memory.bandwidth kernel=read, same device and threads, this run"},
                                      {"measurement", bw->how}};
      }
    } else {
      why = "roofline=off";
    }
    if (!roof) {
      record.details["roofline"] = {{"status", "roofline unknown"}, {"reason", why}};
      return;
    }
    auto pct = Metric::from(m, "roofline_fraction", "%", Direction::higher_is_better,
                            [=](double s) { return per_token * tokens / s / 1e9 / *roof * 100.0; });
    pct.note = "effective bandwidth over the measured read bandwidth";
    record.metrics.push_back(pct);
    record.details["roofline"]["tokens_per_second_bound"] = *roof * 1e9 / per_token;
    if (pct.stats.median > 100.0)
      record.details["roofline"]["above_100_percent"] =
          "the weights were read faster than the array memory.bandwidth measured: where memory "
          "bandwidth depends on placement (a virtual machine's pages over the host's memory), "
          "the two regions can differ, and this fraction is not reliable";
    const std::uint64_t llc = ctx.system.topology.llc_total_bytes();
    if (llc != 0 && engine.graph().weight_bytes <= llc)
      record.details["roofline"]["note"] =
          "the weights fit in the last-level cache: decode reads them from cache, not memory, so this "
          "fraction does not say how close decode is to the memory bound";
  }
};

}  // namespace
}  // namespace xpb::llm

XPB_REGISTER_WORKLOAD("llm.bench", xpb::llm::Bench);
