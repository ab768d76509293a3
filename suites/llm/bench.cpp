// llm.bench: llama-bench's tests on a Llama decoder (DESIGN.md §5). `pp N` processes a prompt
// of N tokens in steps of `ubatch` tokens; `tg N` generates N tokens greedily, one step per
// token for each of `sequences` sequences decoded together; `pg` is pp (for each sequence)
// then tg. All start at KV depth `depth` (that many positions already in the cache; filling
// them is not timed, as in llama-bench). One sample is one whole test; tokens/s = tokens / device time of its steps.
//
// Derived figures for generation: the bytes a step must read (every weight once, plus each
// sequence's KV cache up to its position), the effective bandwidth that implies, and the
// share of the memory roofline (decode is bound by it: tokens/s <= bandwidth / bytes per
// token). The roofline is the read bandwidth of the weights' own memory: after each decode
// sample, untimed in it, one pass of read_bytes over every weight on the same threads, so each
// decode sample has a bandwidth sample from the same pages at the same moment (on a virtual
// machine bandwidth moves with where pages land and with the neighbours' load, minute to
// minute) and no second array as large as the model is needed. A device without read_bytes
// gets memory.bandwidth's read figure, measured once per session. The weights are made once
// on the device and bound into the benchmark's engine and its conformance twin (and into
// ref's, which can read the cpu's memory): one copy of the model in memory.
#include <algorithm>
#include <cmath>
#include <fstream>

#include "conformance.hpp"
#include "llama_engine.hpp"
#include "llm_common.hpp"
#include "model_weights.hpp"
#include "workload_common.hpp"
#include "xpubench/parse.hpp"
#include "xpubench/error.hpp"
#include "xpubench/registry.hpp"

namespace xpb::llm {
namespace {

struct TestSpec {
  std::string test;  // pp, tg, pg
  int n_prompt = 0, n_gen = 0, depth = 0, ubatch = 512, sequences = 1;
};

// Runs llama-bench's tests on an engine: prompt chunks and generation steps. Every step
// looks at `cancel` first, so Ctrl-C stops a long test (a deep KV fill, thousands of
// generated tokens) within one step; the result then says `interrupted`.
class TestDriver {
 public:
  TestDriver(LlamaEngine& e, TestSpec spec, std::uint64_t prompt_seed, ClockKind clock)
      : e_(e), spec_(std::move(spec)), seed_(prompt_seed), clock_(clock),
        last_(static_cast<std::size_t>(spec_.sequences), 0) {}

  // One whole test (the unit of a sample).
  RunResult test(const std::atomic<bool>* cancel) {
    RunResult total = empty();
    total.iterations = 1;
    if (spec_.test != "tg")
      for (int q = 0; q < spec_.sequences && going(total); ++q)
        accumulate(total, prompt(spec_.depth, spec_.n_prompt, q, cancel));
    if (spec_.test != "pp" && going(total))
      accumulate(total, generate(spec_.depth + (spec_.test == "pg" ? spec_.n_prompt : 0), cancel));
    return total;
  }

  // Prompt tokens [from, from + count) of sequence `seq`, in steps of ubatch rows.
  RunResult prompt(int from, int count, int seq, const std::atomic<bool>* cancel) {
    const auto tokens = prompt_tokens(seed_ + static_cast<std::uint64_t>(seq), static_cast<std::size_t>(from + count),
                                      e_.config().vocab);
    RunResult t = empty();
    for (int at = from; at < from + count && going(t, cancel); at += spec_.ubatch) {
      const int n = std::min(spec_.ubatch, from + count - at);
      StepInput in;
      for (int i = 0; i < n; ++i) {
        in.tokens.push_back(tokens[static_cast<std::size_t>(at + i)]);
        in.positions.push_back(at + i);
        in.sequences.push_back(seq);
      }
      in.output_rows = {n - 1};
      accumulate(t, e_.step(in, cancel));
      last_[static_cast<std::size_t>(seq)] = e_.next_tokens()[0];
    }
    return t;
  }

  // n_gen greedy steps of every sequence together, from position `from`. A test without a
  // prompt (tg at depth 0) starts each sequence from a seeded prompt token, as llama-bench
  // starts from a random one.
  RunResult generate(int from, const std::atomic<bool>* cancel) {
    if (from == 0)
      for (int q = 0; q < spec_.sequences; ++q)
        last_[static_cast<std::size_t>(q)] = prompt_tokens(seed_ + static_cast<std::uint64_t>(q), 1, e_.config().vocab)[0];
    RunResult t = empty();
    for (int s = 0; s < spec_.n_gen && going(t, cancel); ++s) {
      StepInput in;
      for (int q = 0; q < spec_.sequences; ++q) {
        in.tokens.push_back(last_[static_cast<std::size_t>(q)]);
        in.positions.push_back(from + s);
        in.sequences.push_back(q);
        in.output_rows.push_back(q);
      }
      accumulate(t, e_.step(in, cancel));
      const auto next = e_.next_tokens();
      for (int q = 0; q < spec_.sequences; ++q) last_[static_cast<std::size_t>(q)] = next[static_cast<std::size_t>(q)];
    }
    return t;
  }

 private:
  // A result on the device's clock with nothing in it yet.
  RunResult empty() const {
    RunResult r;
    r.clock = clock_;
    return r;
  }
  // Whether to take another step: no error, not interrupted (and, with a flag, not asked to).
  static bool going(RunResult& r, const std::atomic<bool>* cancel = nullptr) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) r.interrupted = true;
    return r.error.empty() && !r.interrupted;
  }

  LlamaEngine& e_;
  TestSpec spec_;
  std::uint64_t seed_;
  ClockKind clock_;
  std::vector<std::int32_t> last_;  // per sequence: the token it generated last
};

// VmRSS and VmHWM of this process, in bytes (0 when /proc cannot tell).
std::pair<std::uint64_t, std::uint64_t> resident_bytes() {
  std::ifstream in("/proc/self/status");
  std::string key;
  std::uint64_t rss = 0, peak = 0, kib = 0;
  while (in >> key) {
    if (key == "VmRSS:" && in >> kib) rss = kib * 1024;
    else if (key == "VmHWM:" && in >> kib) peak = kib * 1024;
  }
  return {rss, peak};
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
    auto p = model_params();
    for (ParamSpec s : std::vector<ParamSpec>{
             {"test", "pp (prompt), tg (generation) or pg (prompt then generation)", "tg", {"pp", "tg", "pg"}},
             {"n_prompt", "prompt tokens of pp and pg", 512, {}},
             {"n_gen", "generated tokens of tg and pg", 128, {}},
             {"depth", "KV cache positions filled before the test (not timed)", 0, {}},
             {"ubatch", "tokens per step while processing a prompt", 512, {}},
             {"sequences", "sequences generated together (tg batch size)", 1, {}},
             {"check", "conformance against ref: auto (models up to 120M parameters), on, off", "auto", {"auto", "on", "off"}},
             {"roofline",
              "\"measure\" (a read of the weights after each decode sample, same threads; memory.bandwidth read where "
              "the device has no read_bytes), \"off\", or a read bandwidth in GB/s",
              "measure", {}},
         })
      p.push_back(std::move(s));
    return p;
  }

  std::vector<nlohmann::json> expand(const nlohmann::json& p, const SystemInfo& system) const override {
    auto q = p;
    q["n_prompt"] = whole_number(p["n_prompt"], "n_prompt", 1, 1 << 20);
    q["n_gen"] = whole_number(p["n_gen"], "n_gen", 1, 1 << 20);
    q["depth"] = whole_number(p["depth"], "depth", 0, 1 << 22);
    q["ubatch"] = whole_number(p["ubatch"], "ubatch", 1, 8192);
    q["sequences"] = whole_number(p["sequences"], "sequences", 1, 1024);
    if (!(p["roofline"] == "measure" || p["roofline"] == "off" || (p["roofline"].is_number() && p["roofline"].get<double>() > 0)))
      throw InputError("parameter 'roofline' expects \"measure\", \"off\" or a bandwidth in GB/s, got " + json_text(p["roofline"]));
    // Parameters a test does not use are left out, so one test is not listed several times.
    if (q["test"] == "tg") q.erase("n_prompt"), q.erase("ubatch");
    if (q["test"] == "pp") q.erase("n_gen"), q.erase("sequences");
    return model_points(q, system);
  }

  Outcome check(const nlohmann::json& p, RunContext& ctx) override {
    model_ = resolve_model(p);
    spec_.test = p["test"].get<std::string>();
    spec_.n_prompt = p.value("n_prompt", 0);
    spec_.n_gen = p.value("n_gen", 0);
    spec_.depth = p["depth"].get<int>();
    spec_.ubatch = p.value("ubatch", 512);
    spec_.sequences = p.value("sequences", 1);
    threads_ = p["threads"].get<int>();
    prompt_seed_ = p["prompt_seed"].get<std::uint64_t>();
    check_ = p["check"] == "on" || (p["check"] == "auto" && model_.config.parameters() <= 120'000'000ull);
    check_why_ = p["check"] == "off" ? "check=off"
                                     : "the model has " + std::to_string(model_.config.parameters()) +
                                           " parameters; the scalar reference checks models up to 120M (check=on "
                                           "forces it; tiny presets check the same kernels)";
    roofline_ = p["roofline"];
    shape_.slots = spec_.sequences;
    shape_.max_rows = std::max(spec_.sequences, std::min(spec_.ubatch, std::max({spec_.n_prompt, spec_.depth, 1})));
    shape_.max_outputs = spec_.sequences;
    shape_.context = spec_.depth + spec_.n_prompt + spec_.n_gen + 1;
    shape_.kv_dtype = *parse_dtype(p["kv_dtype"].get<std::string>());
    if (auto o = threads_fit(ctx, threads_); !o.passed()) return o;
    return memory_fits(ctx, footprint_bytes(model_.config, model_.source, shape_));
  }

  BuildResult build(const nlohmann::json&, RunContext& ctx) override {
    auto m = model_stage(ctx, model_.config, model_.source, shape_, threads_);
    if (!m.weights) return {m.outcome, {}};
    weights_ = std::move(m.weights);
    graph_ = std::move(m.graph);
    BuildResult r;
    r.stages.push_back(std::move(m.stage));
    return r;
  }

  // Depth: every sequence's cache filled up to `depth`, once, untimed.
  Outcome prepare(std::size_t, const std::shared_ptr<Executable>& exe, RunContext& ctx) override {
    engine_ = std::make_unique<LlamaEngine>(model_.config, shape_, graph_, exe);
    clock_ = ctx.device.clock().kind;
    driver_ = std::make_unique<TestDriver>(*engine_, spec_, prompt_seed_, clock_);
    if (auto o = prepare_read_pass(ctx); !o.passed()) return o;
    for (int q = 0; q < spec_.sequences && spec_.depth > 0; ++q) {
      const auto r = driver_->prompt(0, spec_.depth, q, ctx.cancel);
      if (r.interrupted) return Outcome::with(Status::interrupted, "stopped by the user while the KV cache was filled");
      if (!r.error.empty())
        return Outcome::with(Status::failed, "filling the KV cache to depth " + std::to_string(spec_.depth) + " failed: " + r.error);
    }
    return Outcome::ok();
  }

  // One sample is one whole test, as one repetition of llama-bench.
  RunResult sample(std::size_t, Executable&, const RunArgs& args) override {
    RunResult total;
    total.clock = clock_;
    for (std::uint64_t i = 0; i < args.iterations && total.error.empty() && !total.interrupted; ++i) {
      accumulate(total, driver_->test(args.cancel));
      if (!total.interrupted) ++total.iterations;
    }
    if (read_pass_ && total.error.empty() && !total.interrupted) {
      RunArgs once;
      once.cancel = args.cancel;
      const RunResult r = read_pass_->run(once);
      if (r.interrupted) {
        total.interrupted = true;
      } else if (!r.error.empty()) {  // the decode sample stands; the roofline falls back
        read_pass_why_ = "the read of the weights failed: " + r.error;
        read_pass_.reset();
        read_seconds_.clear();
      } else {
        read_seconds_.push_back(r.seconds);
      }
    }
    return total;
  }

  nlohmann::json verify(std::size_t, Executable&, RunContext& ctx) override {
    if (!check_)
      return {{"status", "skipped"}, {"method", "greedy tokens and logits against ref (not run)"}, {"reason", check_why_}};
    auto out = check_against_ref(ctx, weights_, threads_, 8, 32, prompt_seed_);
    ref_copied_weights_ = !out.value("weights_shared", true);
    return out;
  }

  void metrics(const std::vector<Measurement>& measured, BenchmarkRecord& record, RunContext& ctx) override {
    const Measurement& m = measured[0];
    // pp has one sequence; pg gives each of its sequences the prompt, then generates for all.
    const double tokens = static_cast<double>(spec_.sequences) *
                          ((spec_.test == "tg" ? 0 : spec_.n_prompt) + (spec_.test == "pp" ? 0 : spec_.n_gen));
    record.metrics.push_back(Metric::from(m, "tokens_per_second", "t/s", Direction::higher_is_better,
                                          [=](double s) { return tokens / s; }));
    if (const auto joules = m.sampled_joules()) {
      const double per_token = *joules / (static_cast<double>(m.sample_seconds.size() * m.iterations) * tokens);
      record.energy["joules_per_token"] = per_token;
      if (per_token > 0) record.energy["tokens_per_joule"] = 1.0 / per_token;  // = tokens/s per W
    }
    add_energy_per_unit(record, m, ctx.idle, tokens, "energy_per_token", "J/token");
    record.details["model"] = describe(model_);
    record.details["graph"] = {{"max_rows", shape_.max_rows},
                               {"slots", shape_.slots},
                               {"context", shape_.context},
                               {"kv_dtype", std::string(xpb::name(shape_.kv_dtype))}};
    record.details["memory_needed_bytes"] = footprint_bytes(model_.config, model_.source, shape_);
    const auto [rss, peak] = resident_bytes();
    record.details["memory"] = {{"weight_bytes", weights_->bytes()},
                                {"weight_copies", ref_copied_weights_ ? 2 : 1},
                                {"process_rss_bytes", rss},
                                {"process_peak_rss_bytes", peak},
                                {"note", "the weights are made once on the device and bound into the engine and its "
                                         "conformance twin (and into ref where it can address them; else ref holds a "
                                         "second copy); peak RSS is the process's over the whole run so far"}};
    const int last = spec_.depth + spec_.n_prompt + spec_.n_gen - 1;
    if (const auto note = beyond_context_note(model_.config, last); !note.empty()) record.details["context_note"] = note;
    if (spec_.test == "tg") add_roofline(ctx, m, record);
  }

 private:
  void add_roofline(RunContext& ctx, const Measurement& m, BenchmarkRecord& record) {
    // Per step: every weight once (an untied embedding table only at the rows looked up),
    // and each sequence's K and V over the positions it attends (depth + 1 .. depth + n_gen,
    // so on average depth + (n_gen + 1) / 2).
    const double weights = static_cast<double>(graph_.decode_weight_bytes(spec_.sequences));
    const double kv = static_cast<double>(graph_.kv_bytes_per_token) * spec_.sequences * (spec_.depth + (spec_.n_gen + 1) / 2.0);
    const double per_token = (weights + kv) / spec_.sequences;
    const double tokens = static_cast<double>(spec_.n_gen) * spec_.sequences;
    const double per_sample = per_token * tokens;  // bytes one test reads
    auto eff = Metric::from(m, "effective_bandwidth", "GB/s", Direction::higher_is_better,
                            [=](double s) { return per_sample / s / 1e9; });
    eff.note = "bytes a step must read (weights once, an untied embedding only at the rows looked up, "
               "plus each sequence's KV cache) x steps / time";
    record.metrics.push_back(eff);
    record.details["bytes_per_token"] = per_token;

    // The roofline: the weights' read after each sample, else one figure for all samples.
    std::optional<double> roof;
    auto pct = read_pass_ && !read_seconds_.empty() ? roofline_per_sample(m, per_sample, record, roof)
                                                    : roofline_once(ctx, m, per_sample, record, roof);
    if (!pct) return;
    if (roof) record.details["roofline"]["tokens_per_second_bound"] = *roof * 1e9 / per_token;
    if (pct->stats.median && *pct->stats.median > 100.0)
      record.details["roofline"]["above_100_percent"] =
          "the weights were read faster during decode than by the read that measured the bandwidth: where memory "
          "bandwidth depends on placement and on other load (a virtual machine's pages over the host's memory), "
          "this fraction is not reliable";
    const std::uint64_t llc = ctx.system.topology.llc_total_bytes();
    if (llc != 0 && graph_.weight_bytes <= llc)
      record.details["roofline"]["note"] =
          "the weights fit in the last-level cache: decode reads them from cache, not memory, so this "
          "fraction does not say how close decode is to the memory bound";
    record.metrics.push_back(std::move(*pct));
  }

  // The fraction per sample: each decode sample over the read of the weights that followed it
  // (the kept samples are the last ones taken: warm-up runs come first, and every sample that
  // ended well has its read).
  std::optional<Metric> roofline_per_sample(const Measurement& m, double per_sample, BenchmarkRecord& record,
                                            std::optional<double>& roof) {
    const auto decode = m.per_iteration_seconds();
    const std::size_t n = std::min(decode.size(), read_seconds_.size());
    std::vector<double> read_gbps, fraction;
    for (std::size_t i = 0; i < n; ++i) {
      const double read = static_cast<double>(weights_->bytes()) / read_seconds_[read_seconds_.size() - n + i] / 1e9;
      read_gbps.push_back(read);
      fraction.push_back(per_sample / decode[decode.size() - n + i] / 1e9 / read * 100.0);
    }
    auto bw = Metric::of("weights_read_bandwidth", "GB/s", Direction::higher_is_better, m.time_source(), read_gbps,
                         "read_bytes over every weight once, on the benchmark's threads, right after each decode sample");
    roof = bw.stats.median;
    record.details["roofline"] = {{"read_bandwidth_gbps", roof ? nlohmann::json(*roof) : nlohmann::json()},
                                  {"source", "read_bytes over the model's own weights (" + std::to_string(weights_->bytes()) +
                                                 " bytes), same device and threads, one pass after each decode sample"}};
    record.metrics.push_back(std::move(bw));
    return Metric::of("roofline_fraction", "%", Direction::higher_is_better, m.time_source(), std::move(fraction),
                      "per sample: its effective bandwidth over the read bandwidth of the weights measured right after it");
  }

  // One bandwidth for every sample: given as a parameter, or memory.bandwidth's read measured
  // once per session. Nothing (with the reason in the record) when there is none.
  std::optional<Metric> roofline_once(RunContext& ctx, const Measurement& m, double per_sample, BenchmarkRecord& record,
                                      std::optional<double>& roof) {
    std::string why;
    if (roofline_.is_number()) {
      roof = roofline_.get<double>();
      record.details["roofline"] = {{"read_bandwidth_gbps", *roof}, {"source", "given as a parameter"}};
    } else if (roofline_ == "measure") {
      if (ctx.facts == nullptr) why = "no session to measure it in";
      else if (auto bw = ctx.facts->read_bandwidth(ctx.device, threads_, graph_.weight_bytes, why)) {
        roof = bw->gbps;
        record.details["roofline"] = {{"read_bandwidth_gbps", bw->gbps},
                                      {"source", "memory.bandwidth kernel=read, same device and threads, measured "
                                                 "once per session (the device has no read_bytes)"},
                                      {"measurement", bw->how}};
      }
    } else {
      why = "roofline=off";
    }
    if (!read_pass_why_.empty()) record.details["roofline"]["read_bytes"] = read_pass_why_;
    if (!roof) {
      record.details["roofline"]["status"] = "roofline unknown";
      record.details["roofline"]["reason"] = why;
      return std::nullopt;
    }
    const double r = *roof;
    auto pct = Metric::from(m, "roofline_fraction", "%", Direction::higher_is_better,
                            [=](double s) { return per_sample / s / 1e9 / r * 100.0; });
    pct.note = "effective bandwidth over the measured read bandwidth";
    return pct;
  }

  // tg with roofline=measure: the read pass over the weights, compiled beside the engine
  // where the device runs read_bytes on every weight's dtype. Where it cannot be compiled the
  // roofline falls back to memory.bandwidth, saying why; the benchmark goes on.
  Outcome prepare_read_pass(RunContext& ctx) {
    if (spec_.test != "tg" || roofline_ != "measure") return Outcome::ok();
    const auto caps = ctx.device.caps();
    auto pass = weights_->read_pass();
    for (const auto& t : pass.graph.tensors())
      if (t.role == TensorRole::weight && !caps.claims(Op::read_bytes, t.dtype)) return Outcome::ok();
    CompileOptions opts;
    opts.threads = threads_;
    opts.cancel = ctx.cancel;
    auto c = ctx.device.compile(pass.graph, pass.bindings, opts);
    if (c.outcome.status == Status::interrupted) return c.outcome;
    if (!c.outcome.passed()) read_pass_why_ = "the read of the weights was refused: " + c.outcome.reason;
    else read_pass_ = std::move(c.exe);
    return Outcome::ok();
  }

  ModelChoice model_;
  TestSpec spec_;
  GraphShape shape_;
  int threads_ = 1;
  std::uint64_t prompt_seed_ = 1;
  bool check_ = false;
  std::string check_why_;
  nlohmann::json roofline_;
  std::shared_ptr<ModelWeights> weights_;
  LlamaGraph graph_;
  std::unique_ptr<LlamaEngine> engine_;
  std::unique_ptr<TestDriver> driver_;
  std::shared_ptr<Executable> read_pass_;  // tg, roofline=measure: see prepare_read_pass
  std::vector<double> read_seconds_;       // one per sample that ended well, in order
  std::string read_pass_why_;              // why there is none, when it was refused or failed
  ClockKind clock_ = ClockKind::host;  // the device's: every result a sample gives is on it
  bool ref_copied_weights_ = false;    // the conformance check's ref could not bind the weights
};

}  // namespace
}  // namespace xpb::llm

XPB_REGISTER_WORKLOAD("llm.bench", xpb::llm::Bench);
