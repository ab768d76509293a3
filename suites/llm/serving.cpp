// llm.serving: a serving scenario in the manner of vLLM's benchmark_serving (DESIGN.md §5).
// N requests with prompt and output lengths around given means arrive as a Poisson process
// (or all at once); at most `concurrency` are in flight; every step of the device is one
// continuously batched forward pass (decodes first, then prompt chunks, within
// `max_batch_tokens`). The scheduler's clock advances by the measured device time of each
// step (serving_sim.hpp), so TTFT, TPOT, ITL and end-to-end latency are what this device
// would give those requests, without the host's idle time in them.
#include <cmath>
#include <limits>

#include "llama_engine.hpp"
#include "llm_common.hpp"
#include "serving_sim.hpp"
#include "xpubench/error.hpp"
#include "suites/workload_common.hpp"
#include "xpubench/registry.hpp"

namespace xpb::llm {
namespace {

// Feeds the scheduler's steps to the decoder: prompt rows get seeded prompt tokens, a decode
// row the token the sequence generated last.
class EngineSteps final : public StepEngine {
 public:
  EngineSteps(LlamaEngine& e, std::uint64_t seed, int slots) : e_(e), seed_(seed), pending_(static_cast<std::size_t>(slots)) {}

  double step(const std::vector<SeqWork>& work) override {
    StepInput in;
    for (const auto& w : work) {
      auto& p = pending_[static_cast<std::size_t>(w.slot)];
      if (w.first_pos == 0) p = {-1, 0};  // a new request in this slot
      for (int i = 0; i < w.tokens; ++i) {
        const int pos = w.first_pos + i;
        const auto prompt = prompt_tokens(seed_ + static_cast<std::uint64_t>(w.slot) * 7919u + static_cast<std::uint64_t>(pos), 1, e_.config().vocab);
        in.tokens.push_back(pos == p.position ? p.token : prompt[0]);
        in.positions.push_back(pos);
        in.sequences.push_back(w.slot);
      }
      in.output_rows.push_back(static_cast<std::int32_t>(in.tokens.size()) - 1);
    }
    const double s = e_.step(in).seconds;
    const auto next = e_.next_tokens();
    for (std::size_t i = 0; i < work.size(); ++i)
      pending_[static_cast<std::size_t>(work[i].slot)] = {work[i].first_pos + work[i].tokens, next[i]};
    return s;
  }
  void release(int slot) override { pending_[static_cast<std::size_t>(slot)] = {-1, 0}; }

 private:
  struct Pending {
    int position = -1;
    std::int32_t token = 0;
  };
  LlamaEngine& e_;
  std::uint64_t seed_;
  std::vector<Pending> pending_;
};

Metric latency_metric(const char* name, const std::vector<RequestOutcome>& rs, double RequestOutcome::*field) {
  Metric m;
  m.name = name;
  m.unit = "ms";
  m.direction = Direction::lower_is_better;
  for (const auto& r : rs)
    if (std::isfinite(r.*field)) m.samples.push_back(r.*field * 1e3);
  m.stats = summarize(m.samples);
  m.note = "one sample per request";
  return m;
}

Metric single(const char* name, const char* unit, double v, const char* note) {
  Metric m;
  m.name = name;
  m.unit = unit;
  m.samples = {v};
  m.stats = summarize(m.samples);
  m.note = note;
  return m;
}

class Serving final : public Workload {
 public:
  std::string name() const override { return "llm.serving"; }
  std::string description() const override {
    return "serving scenario: Poisson arrivals, concurrency cap, continuous batching; TTFT, TPOT, "
           "ITL, end-to-end latency percentiles, throughput and goodput under SLOs";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"model", "a preset or the path of a llama GGUF file", "stories-15m", {}},
        {"dtype", "weight dtype of a preset", "q8_0", {"f32", "f16", "bf16", "q8_0", "q4_0"}},
        {"requests", "number of requests", 32, {}},
        {"rate", "arrivals per second (Poisson), or \"inf\": all at once", "inf", {}},
        {"input_tokens", "mean prompt length", 128, {}},
        {"output_tokens", "mean output length", 64, {}},
        {"length_jitter", "lengths uniform in mean x [1 - r, 1 + r]; 0 = fixed", 0.0, {}},
        {"concurrency", "requests in flight at once", 8, {}},
        {"max_batch_tokens", "tokens per step (longer prompts are split across steps)", 256, {}},
        {"slo_ttft_ms", "goodput: time to first token at most this (ms), or \"none\"", 1000, {}},
        {"slo_tpot_ms", "goodput: time per output token at most this (ms), or \"none\"", 100, {}},
        {"threads", "worker threads: a number, \"all\" or \"scaling\"", "all", {}},
        {"kv_dtype", "KV cache element type", "f16", {"f32", "f16"}},
        {"seed", "seed of weights, arrivals, lengths and prompts", 1, {}},
    };
  }

  std::vector<nlohmann::json> expand(const nlohmann::json& p, const SystemInfo& system) const override {
    auto q = p;
    for (const char* key : {"requests", "input_tokens", "output_tokens"}) q[key] = whole_number(p[key], key, 1, 1 << 20);
    q["concurrency"] = whole_number(p["concurrency"], "concurrency", 1, 1024);
    q["max_batch_tokens"] = whole_number(p["max_batch_tokens"], "max_batch_tokens", 1, 8192);
    q["seed"] = whole_number(p["seed"], "seed", 0, std::int64_t{1} << 53);
    if (!(p["rate"] == "inf" || (p["rate"].is_number() && p["rate"].get<double>() > 0)))
      throw InputError("parameter 'rate' expects a positive number of requests per second or \"inf\", got " + p["rate"].dump());
    if (!p["length_jitter"].is_number() || p["length_jitter"].get<double>() < 0 || p["length_jitter"].get<double>() >= 1)
      throw InputError("parameter 'length_jitter' expects a number in [0, 1), got " + p["length_jitter"].dump());
    for (const char* k : {"slo_ttft_ms", "slo_tpot_ms"})
      if (!(p[k] == "none" || (p[k].is_number() && p[k].get<double>() > 0)))
        throw InputError(std::string("parameter '") + k + "' expects a positive number of ms or \"none\", got " + p[k].dump());
    const auto model = resolve_model(q);
    if (model.source.file) q["dtype"] = std::string(xpb::name(model.source.dtype));
    std::vector<nlohmann::json> points;
    for (int t : thread_counts(p["threads"], system, "threads")) {
      q["threads"] = t;
      points.push_back(q);
    }
    return points;
  }

  BenchmarkRecord run(const nlohmann::json& p, RunContext& ctx) override {
    BenchmarkRecord record;
    const ModelChoice model = resolve_model(p);
    RequestSpec spec;
    spec.count = p["requests"].get<int>();
    spec.rate_per_s = p["rate"] == "inf" ? std::numeric_limits<double>::infinity() : p["rate"].get<double>();
    spec.input_tokens = p["input_tokens"].get<int>();
    spec.output_tokens = p["output_tokens"].get<int>();
    spec.length_jitter = p["length_jitter"].get<double>();
    spec.seed = p["seed"].get<std::uint64_t>();
    const auto requests = make_requests(spec);
    int longest = 1;
    for (const auto& r : requests) longest = std::max(longest, r.input_tokens + r.output_tokens);
    SchedulerConfig sc;
    sc.max_concurrency = p["concurrency"].get<int>();
    sc.max_batch_tokens = p["max_batch_tokens"].get<int>();
    sc.max_context = longest;
    Slo slo;
    if (p["slo_ttft_ms"].is_number()) slo.ttft_s = p["slo_ttft_ms"].get<double>() / 1e3;
    if (p["slo_tpot_ms"].is_number()) slo.tpot_s = p["slo_tpot_ms"].get<double>() / 1e3;

    GraphShape shape;
    shape.max_rows = sc.max_batch_tokens;
    shape.slots = sc.max_concurrency;
    shape.max_outputs = sc.max_concurrency;
    shape.context = longest;
    shape.kv_dtype = *parse_dtype(p["kv_dtype"].get<std::string>());
    record.details["model"] = describe(model);
    const std::uint64_t need = footprint_bytes(model.config, model.source.dtype, shape);
    record.details["memory_needed_bytes"] = need;
    const int threads = p["threads"].get<int>();
    if (!check_memory(ctx, need, record) || !check_threads(ctx, threads, record)) return record;
    CompileOptions opts;
    opts.threads = threads;
    auto [outcome, engine] = LlamaEngine::create(ctx.device, model.config, model.source, shape, opts);
    if (!engine) {
      record.outcome = outcome;
      return record;
    }
    EngineSteps steps(*engine, spec.seed, sc.max_concurrency);
    // Warm-up: one full-size step (first touch of the activations), not part of the scenario.
    std::vector<SeqWork> warm;
    for (int s = 0, left = sc.max_batch_tokens; s < sc.max_concurrency && left > 0; ++s) {
      const int n = std::min(left, std::max(1, sc.max_batch_tokens / sc.max_concurrency));
      warm.push_back({s, 0, n});
      left -= n;
    }
    steps.step(warm);
    for (int s = 0; s < sc.max_concurrency; ++s) steps.release(s);

    const ServingMetrics m = simulate(requests, sc, slo, steps, ctx.cancel);
    record.metrics.push_back(latency_metric("ttft", m.requests, &RequestOutcome::ttft_s));
    record.metrics.push_back(latency_metric("tpot", m.requests, &RequestOutcome::tpot_s));
    Metric itl;
    itl.name = "itl";
    itl.unit = "ms";
    itl.direction = Direction::lower_is_better;
    for (double v : m.itls_s) itl.samples.push_back(v * 1e3);
    itl.stats = summarize(itl.samples);
    itl.note = "every gap between consecutive tokens of a request";
    record.metrics.push_back(itl);
    record.metrics.push_back(latency_metric("e2e_latency", m.requests, &RequestOutcome::e2e_s));
    record.metrics.push_back(single("request_throughput", "req/s", m.request_throughput, "completed requests / duration"));
    record.metrics.push_back(single("output_throughput", "t/s", m.output_throughput, "output tokens / duration"));
    record.metrics.push_back(single("total_token_throughput", "t/s", m.total_token_throughput, "(input + output tokens) / duration"));
    record.metrics.push_back(single("goodput", "req/s", m.goodput, "requests meeting both SLOs / duration"));
    record.details["scenario"] = {{"completed", m.completed},          {"rejected", m.rejected},
                                  {"unfinished", m.unfinished},        {"duration_s", m.duration_s},
                                  {"device_busy_s", m.busy_s},         {"steps", m.steps},
                                  {"mean_batch_sequences", m.mean_batch_seqs},
                                  {"mean_batch_tokens", m.mean_batch_tokens},
                                  {"good_fraction", m.good_fraction},
                                  {"timeline", "virtual: arrivals as scheduled, each step as long as the device took"}};
    record.details["executable"] = engine->executable().describe();
    record.timing = {{"source", std::string(xpb::name(ctx.device.clock()))}, {"steps", m.steps}};
    record.conformance = {{"status", "skipped"}, {"method", "none in this workload"}, {"reason", "llm.bench checks this model's kernels against ref"}};
    if (m.interrupted) record.outcome = Outcome::with(Status::interrupted, "stopped by the user before every request completed");
    else record.outcome = Outcome::ok();
    return record;
  }
};

}  // namespace
}  // namespace xpb::llm

XPB_REGISTER_WORKLOAD("llm.serving", xpb::llm::Serving);
