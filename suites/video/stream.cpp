// video.stream: streaming autoregressive video generation (DESIGN.md §5), as a viewer sees it.
// A sample is one live stream: `chunks` chunks generated one after another from an empty KV
// cache, each by one run of the chunk graph (dit_model.hpp), its latent frames read back to the
// host when it is done. A chunk's frames are released together when the chunk is done; playback
// at `fps` starts when frame `buffer_frames` (0-based) is out, and frame k is due k / fps after
// that start. Figures: time to first frame, per-frame latency (each frame: the time its chunk
// took, from the stream's start for the first chunk), sustained FPS after the first chunk,
// jitter of the chunk intervals, deadline misses, GFLOP/s, J/frame where energy exists, and
// each chunk's device time beside the host's end-to-end time; KV-cache bytes in the details.
//
// The timeline is the host's clock around each chunk's run and the read of its frames
// (transfers included: what a viewer waits for), except on a simulated device, whose own
// (virtual) clock is the timeline: its host time says nothing about the device it models.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "dit_model.hpp"
#include "workload_common.hpp"
#include "xpubench/error.hpp"
#include "xpubench/parse.hpp"
#include "xpubench/quant.hpp"
#include "xpubench/registry.hpp"

namespace xpb::video {
namespace {

// One stream as it happened: per chunk, its device time and its end-to-end time.
struct StreamRun {
  std::vector<double> device_s, e2e_s;
};

// The frames-against-deadline figures of one stream (times in seconds from the stream's start).
struct Playback {
  double ttff = 0;                    // release of the first frame
  std::vector<double> frame_latency;  // per frame: its chunk's time (the first chunk's from 0)
  double sustained_fps = NAN;         // frames after the first chunk / time after it
  double overall_fps = NAN;           // every frame / the stream's duration
  double jitter = NAN;                // standard deviation of the chunk intervals after the first
  std::size_t frames = 0, missed = 0;
  double start = 0;                   // when playback starts
};

Playback playback(const std::vector<double>& chunk_s, const std::vector<int>& frames_of_chunk, double fps, int buffer) {
  Playback p;
  std::vector<double> release;  // per frame
  double t = 0;
  for (std::size_t c = 0; c < chunk_s.size(); ++c) {
    t += chunk_s[c];
    for (int f = 0; f < frames_of_chunk[c]; ++f) {
      release.push_back(t);
      p.frame_latency.push_back(chunk_s[c]);
    }
  }
  p.frames = release.size();
  if (release.empty()) return p;
  p.ttff = release.front();
  p.overall_fps = static_cast<double>(p.frames) / t;
  if (chunk_s.size() >= 2) {
    const auto first = static_cast<std::size_t>(frames_of_chunk[0]);
    p.sustained_fps = static_cast<double>(p.frames - first) / (t - chunk_s[0]);
    const double mean = (t - chunk_s[0]) / static_cast<double>(chunk_s.size() - 1);
    double var = 0;
    for (std::size_t c = 1; c < chunk_s.size(); ++c) var += (chunk_s[c] - mean) * (chunk_s[c] - mean);
    p.jitter = std::sqrt(var / static_cast<double>(chunk_s.size() - 1));
  }
  p.start = release[std::min(static_cast<std::size_t>(buffer), release.size() - 1)];
  for (std::size_t k = 0; k < release.size(); ++k)
    if (release[k] > p.start + static_cast<double>(k) / fps + 1e-9) ++p.missed;
  return p;
}

class Stream final : public Workload {
 public:
  std::string name() const override { return "video.stream"; }
  std::string description() const override {
    return "streaming video generation with a chunk-causal DiT (Wan2.1 / Self-Forcing shape) and a rolling KV "
           "cache: time to first frame, frame latency percentiles, sustained FPS, jitter, deadline misses at a "
           "target FPS, KV bytes, J/frame";
  }
  std::vector<ParamSpec> params() const override {
    std::string presets;
    for (const auto& m : preset_names()) presets += (presets.empty() ? "" : ", ") + m;
    return {
        {"model", "a preset: " + presets, "dit-small", preset_names()},
        {"dtype", "weight dtype of the matrices", "f32", {"f32", "f16", "bf16", "q8_0"}},
        {"kv_dtype", "KV cache element type", "f16", {"f32", "f16"}},
        {"chunks", "chunks generated per stream (each frames_per_chunk latent frames)", 4, {}},
        {"fps", "target playback rate, frames per second (Self-Forcing's output: 16)", 16, {}},
        {"buffer_frames", "playback starts when this frame (0-based) is out: 0 = with the first frame", 0, {}},
        {"streams", "streams measured (each one sample, from an empty cache)", 1, {}},
        {"threads", "worker threads: a number, \"all\" or \"scaling\" (1, 2, 4, ... all)", "all", {}},
        {"weight_seed", "seed of the synthetic weights", 1, {}},
        {"noise_seed", "seed of the noise and the text embeddings", 1, {}},
        {"check", "two chunks against ref: auto (models up to 50M parameters), on, off", "auto", {"auto", "on", "off"}},
    };
  }

  std::vector<nlohmann::json> expand(const nlohmann::json& p, const SystemInfo& system) const override {
    auto q = p;
    const auto cfg = preset(p["model"].get<std::string>());
    if (!cfg) throw InputError("parameter 'model': '" + json_text(p["model"]) + "' is not a video preset");
    const auto dt = parse_dtype(p["dtype"].get<std::string>());
    if (auto why = cfg->problem(*dt); !why.empty())
      throw InputError("model " + cfg->name + " at " + p["dtype"].get<std::string>() + ": " + why);
    q["chunks"] = whole_number(p["chunks"], "chunks", 1, 100000);
    q["buffer_frames"] = whole_number(p["buffer_frames"], "buffer_frames", 0, 1 << 20);
    q["streams"] = whole_number(p["streams"], "streams", 1, 10000);
    for (const char* k : {"weight_seed", "noise_seed"}) q[k] = whole_number(p[k], k, 0, std::int64_t{1} << 53);
    if (!p["fps"].is_number() || !(p["fps"].get<double>() > 0) || !std::isfinite(p["fps"].get<double>()))
      throw InputError("parameter 'fps' expects a positive number, got " + json_text(p["fps"]));
    std::vector<nlohmann::json> out;
    for (int t : thread_counts(p["threads"], system, "threads")) {
      q["threads"] = t;
      out.push_back(q);
    }
    return out;
  }

  Outcome check(const nlohmann::json& p, RunContext& ctx) override {
    cfg_ = *preset(p["model"].get<std::string>());
    dtype_ = *parse_dtype(p["dtype"].get<std::string>());
    kv_dtype_ = *parse_dtype(p["kv_dtype"].get<std::string>());
    chunks_ = p["chunks"].get<int>();
    fps_ = p["fps"].get<double>();
    buffer_ = p["buffer_frames"].get<int>();
    streams_ = p["streams"].get<int>();
    threads_ = p["threads"].get<int>();
    weight_seed_ = p["weight_seed"].get<std::uint64_t>();
    noise_seed_ = p["noise_seed"].get<std::uint64_t>();
    check_ = p["check"] == "on" || (p["check"] == "auto" && cfg_.parameters() <= 50'000'000ull);
    check_why_ = p["check"] == "off" ? "check=off"
                                     : "the model has " + std::to_string(cfg_.parameters()) +
                                           " parameters; the scalar reference checks models up to 50M (check=on "
                                           "forces it; dit-small checks the same kernels)";
    if (auto o = threads_fit(ctx, threads_); !o.passed()) return o;
    return memory_fits(ctx, footprint_bytes(cfg_, dtype_, kv_dtype_));
  }

  BuildResult build(const nlohmann::json&, RunContext&) override {
    graph_ = build_chunk_graph(cfg_, dtype_, kv_dtype_, weight_seed_, noise_seed_);
    Stage s;
    s.graph = graph_.graph;
    s.options.threads = threads_;
    s.policy = RunPolicy::fixed(static_cast<std::uint64_t>(streams_));
    BuildResult r;
    r.stages.push_back(std::move(s));
    return r;
  }

  // Warm-up, untimed: one chunk (first touch of every activation). A stream starts at position
  // 0, whose chunk sees only itself, so what the warm-up left in the cache is never read.
  Outcome prepare(std::size_t, const std::shared_ptr<Executable>& exe, RunContext& ctx) override {
    exe_ = exe;
    clock_ = ctx.device.clock().kind;
    frames_host_.resize(graph_.graph.tensor(graph_.frames).bytes());
    const RunResult r = run_chunk(0, ctx.cancel, nullptr);
    if (r.interrupted) return Outcome::with(Status::interrupted, "stopped by the user during the warm-up chunk");
    if (!r.error.empty()) return Outcome::with(Status::failed, "the warm-up chunk failed: " + r.error);
    return Outcome::ok();
  }

  RunResult sample(std::size_t, Executable&, const RunArgs& args) override {
    RunResult total;
    total.clock = clock_;
    StreamRun run;
    for (int c = 0; c < chunks_ && total.error.empty() && !total.interrupted; ++c) {
      double e2e = 0;
      const RunResult r = run_chunk(c, args.cancel, &e2e);
      accumulate(total, r);
      if (!r.error.empty() || r.interrupted) break;
      run.device_s.push_back(r.seconds);
      run.e2e_s.push_back(clock_ == ClockKind::simulated ? r.seconds : e2e);
    }
    total.iterations = 1;
    if (total.error.empty() && !total.interrupted) runs_.push_back(std::move(run));
    return total;
  }

  nlohmann::json verify(std::size_t, Executable& exe, RunContext& ctx) override;
  void metrics(const std::vector<Measurement>& measured, BenchmarkRecord& record, RunContext& ctx) override;

 private:
  // Chunk c of a stream: its positions written, one run, its frames read back. `e2e` (when
  // given) gets the host time of all three.
  RunResult run_chunk(int c, const std::atomic<bool>* cancel, double* e2e) {
    const std::int64_t T = cfg_.tokens_per_chunk();
    std::vector<std::int32_t> pos(static_cast<std::size_t>(T));
    std::iota(pos.begin(), pos.end(), static_cast<std::int32_t>(c * T));
    const std::int64_t context = std::min<std::int64_t>(cfg_.window_tokens(), (c + 1) * T);
    const auto t0 = std::chrono::steady_clock::now();
    exe_->write(graph_.positions, {reinterpret_cast<const std::byte*>(pos.data()), pos.size() * 4});
    RunArgs args;
    args.dims = std::span<const std::int64_t>(&context, 1);
    args.cancel = cancel;
    RunResult r = exe_->run(args);
    if (r.error.empty() && !r.interrupted) exe_->read(graph_.frames, frames_host_);
    if (e2e != nullptr) *e2e = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
  }
  std::vector<int> frames_per_chunk() const {
    std::vector<int> out;
    for (int c = 0; c < chunks_; ++c) {
      int n = 0;
      for (std::int64_t f = 0; f < cfg_.frames_per_chunk; ++f) n += pixel_frames(c * cfg_.frames_per_chunk + f);
      out.push_back(n);
    }
    return out;
  }

  DitConfig cfg_;
  DType dtype_ = DType::f32, kv_dtype_ = DType::f16;
  int chunks_ = 1, buffer_ = 0, streams_ = 1, threads_ = 1;
  double fps_ = 16;
  std::uint64_t weight_seed_ = 1, noise_seed_ = 1;
  bool check_ = false;
  std::string check_why_;
  DitGraph graph_;
  std::shared_ptr<Executable> exe_;
  ClockKind clock_ = ClockKind::host;
  std::vector<std::byte> frames_host_;  // where each chunk's frames are read back to
  std::vector<StreamRun> runs_;         // every stream that ended well, in order
};

// Two chunks (the second attends the first's cache) on the device and on ref, the latent
// frames compared. The tolerance is the dtype's: what the device's own rounding of
// activations (Q8_0, f16) does through every block and pass, measured on dit-small (docs/VIDEO.md).
// An analog device (photonic-sim) has no digital tolerance: its error is the accuracy cost.
nlohmann::json Stream::verify(std::size_t, Executable& exe, RunContext& ctx) {
  const std::string method = "chunks 0 and 1 of a stream on the device and on ref, latent frames compared";
  if (!check_) return check_skipped(method, check_why_);
  if (!exe.computes_outputs()) return check_skipped(method, "the device models time only (timing-only mode)");
  if (ctx.reference == nullptr) return check_skipped(method, "no ref device in this session");
  const auto caps = ctx.device.caps();
  // ref reads the device's own copy of the weights where it can (no second copy), unless the
  // device holds them altered: then ref makes the weights as given from the same seeds.
  Bindings weights;
  for (TensorId id = 0; id < graph_.graph.tensors().size() && !caps.analog_outputs && !caps.alters_weights; ++id)
    if (graph_.graph.tensor(id).role == TensorRole::weight) {
      auto b = exe.buffer(id);
      if (b && ctx.reference->can_bind(*b)) weights[id] = b;
    }
  CompileOptions opts;
  opts.cancel = ctx.cancel;
  auto ref = ctx.reference->compile(graph_.graph, weights, opts);
  if (!ref.outcome.passed()) return check_skipped(method, "ref could not compile the chunk graph: " + ref.outcome.reason);
  double worst = 0, err_sq = 0, want_sq = 0;
  bool all_zero = true, finite = true;
  for (int c = 0; c < 2; ++c) {
    const RunResult got = run_chunk(c, ctx.cancel, nullptr);
    if (!got.error.empty()) return {{"status", "failed"}, {"method", method}, {"reason", "the device's run failed: " + got.error}};
    const auto mine = read_tensor<float>(exe, graph_.graph, graph_.frames);
    const std::int64_t T = cfg_.tokens_per_chunk();
    std::vector<std::int32_t> pos(static_cast<std::size_t>(T));
    std::iota(pos.begin(), pos.end(), static_cast<std::int32_t>(c * T));
    ref.exe->write(graph_.positions, {reinterpret_cast<const std::byte*>(pos.data()), pos.size() * 4});
    const std::int64_t context = std::min<std::int64_t>(cfg_.window_tokens(), (c + 1) * T);
    RunArgs args;
    args.dims = std::span<const std::int64_t>(&context, 1);
    args.cancel = ctx.cancel;
    const RunResult want_run = ref.exe->run(args);
    if (!want_run.error.empty()) return check_skipped(method, "ref's run failed: " + want_run.error);
    const auto want = read_tensor<float>(*ref.exe, graph_.graph, graph_.frames);
    for (std::size_t i = 0; i < want.size(); ++i) {
      if (!std::isfinite(mine[i])) finite = false;
      if (mine[i] != 0) all_zero = false;
      const double e = std::fabs(double(mine[i]) - want[i]);
      worst = std::max(worst, e);
      err_sq += e * e;
      want_sq += double(want[i]) * want[i];
    }
  }
  const double rms_rel = want_sq > 0 ? std::sqrt(err_sq / want_sq) : INFINITY;
  // Observed on the cpu driver (dit-small, two chunks, docs/VIDEO.md): f32 and bf16 (f32
  // activations, bf16 weights widened exactly) 7e-7, f16 (activations rounded to f16, as
  // llama.cpp does) 2.7e-4, q8_0 (activations rounded to Q8_0) 7e-3. Bounds: 1e-4, 5e-3, 0.1.
  // Analog: frames unrelated to ref's (of equal RMS) differ by sqrt(2) of it; below 1 they follow.
  const double bound = caps.analog_outputs ? 1.0 : dtype_ == DType::q8_0 ? 0.1 : dtype_ == DType::f16 ? 5e-3 : 1e-4;
  const std::string why =
      caps.analog_outputs
          ? "analog outputs (converter rounding, noise): RMS error of the latent frames below 1 of ref's RMS "
            "(unrelated frames differ by 1.41); the error itself is the accuracy cost"
          : "RMS error of the latent frames relative to ref's RMS: f32 sums against ref's f64 through every block "
            "and pass; for f16 and q8_0 weights the device may round activations to f16 or Q8_0 before each product "
            "(llama.cpp's method), which five passes of every block carry into the frames";
  nlohmann::json out = {{"method", method},
                        {"rms_rel_error", rms_rel},
                        {"max_abs_error", worst},
                        {"tolerance", {{"rms_rel", bound}, {"why", why}}}};
  if (caps.analog_outputs)
    out["accuracy_cost"] = {{"status", "measured"},
                            {"rms_rel_error", rms_rel},
                            {"what", "the frames against ref's on the weights as given"}};
  if (!finite || all_zero) {
    out["status"] = "mistrusted";
    out["reason"] = !finite ? "the device's frames hold NaN or infinite values" : "the device's frames are all zero";
  } else if (!(rms_rel <= bound)) {
    out["status"] = "failed";
    out["reason"] = "RMS error " + std::to_string(rms_rel) + " of ref's RMS exceeds " + std::to_string(bound);
  } else {
    out["status"] = "passed";
  }
  return out;
}

void Stream::metrics(const std::vector<Measurement>& measured, BenchmarkRecord& record, RunContext& ctx) {
  const Measurement& m = measured[0];
  const Source src = m.time_source();
  const auto per_chunk_frames = frames_per_chunk();
  std::vector<double> ttff, latency, sustained, overall, jitter, miss_rate, device_chunk, e2e_chunk;
  std::size_t frames = 0, missed = 0;
  // The streams kept are the last ones taken (a stream interrupted midway keeps none).
  const std::size_t kept = std::min(runs_.size(), m.sample_seconds.size());
  for (std::size_t i = runs_.size() - kept; i < runs_.size(); ++i) {
    const StreamRun& r = runs_[i];
    const Playback p = playback(r.e2e_s, per_chunk_frames, fps_, buffer_);
    ttff.push_back(p.ttff * 1e3);
    for (double x : p.frame_latency) latency.push_back(x * 1e3);
    if (std::isfinite(p.sustained_fps)) sustained.push_back(p.sustained_fps);
    overall.push_back(p.overall_fps);
    if (std::isfinite(p.jitter)) jitter.push_back(p.jitter * 1e3);
    miss_rate.push_back(100.0 * static_cast<double>(p.missed) / static_cast<double>(p.frames));
    frames += p.frames;
    missed += p.missed;
    for (double x : r.device_s) device_chunk.push_back(x * 1e3);
    for (double x : r.e2e_s) e2e_chunk.push_back(x * 1e3);
  }
  const std::string timeline = clock_ == ClockKind::simulated ? "on the simulated device's clock"
                                                              : "on the host clock, the frames' read-back included";
  record.metrics.push_back(Metric::of("ttff", "ms", Direction::lower_is_better, src, ttff,
                                      "time to first frame: from the stream's start to its first chunk's frames, " + timeline));
  record.metrics.push_back(Metric::of("frame_latency", "ms", Direction::lower_is_better, src, latency,
                                      "one value per output frame: the time its chunk took (a chunk's frames are "
                                      "released together when it is done), " + timeline));
  record.metrics.push_back(Metric::of("sustained_fps", "frames/s", Direction::higher_is_better, src, sustained,
                                      "output frames after the first chunk over the time after it (needs 2 chunks)"));
  record.metrics.push_back(Metric::of("overall_fps", "frames/s", Direction::higher_is_better, src, overall,
                                      "every output frame over the stream's whole time"));
  record.metrics.push_back(Metric::of("jitter", "ms", Direction::lower_is_better, src, jitter,
                                      "standard deviation of the chunk intervals after the first (needs 2 chunks)"));
  record.metrics.push_back(Metric::of("deadline_miss_rate", "%", Direction::lower_is_better, src, miss_rate,
                                      "frames released after their playback deadline: playback at fps from the release "
                                      "of frame buffer_frames, frame k due k / fps after that"));
  record.metrics.push_back(Metric::of("chunk_device_time", "ms", Direction::lower_is_better, src, device_chunk,
                                      "each chunk's runs on the device's clock (no transfers)"));
  record.metrics.push_back(Metric::of("chunk_e2e_time", "ms", Direction::lower_is_better, src, e2e_chunk,
                                      "each chunk " + timeline));
  // The work per chunk from the op cost model, at each chunk's attended context.
  double flops = 0;
  for (int c = 0; c < chunks_; ++c) {
    const std::int64_t context = std::min<std::int64_t>(cfg_.window_tokens(), (c + 1) * cfg_.tokens_per_chunk());
    flops += graph_work(graph_.graph, std::span<const std::int64_t>(&context, 1)).flops;
  }
  std::vector<double> gflops;
  for (std::size_t i = m.sample_seconds.size() - kept; i < m.sample_seconds.size(); ++i)
    gflops.push_back(flops / m.sample_seconds[i] / 1e9);
  record.metrics.push_back(Metric::of("gflops", "GFLOP/s", Direction::higher_is_better, src, gflops,
                                      "the stream's FLOPs (op cost model) over its device time"));
  if (const auto joules = m.sampled_joules(); joules && frames > 0)
    record.energy["joules_per_frame"] = *joules / static_cast<double>(frames);
  // A sample is one stream (one iteration) of frames / kept frames.
  if (kept > 0)
    add_energy_per_unit(record, m, ctx.idle, static_cast<double>(frames) / static_cast<double>(kept * m.iterations),
                        "energy_per_frame", "J/frame");
  record.details["model"] = {{"preset", cfg_.name},
                             {"shape", cfg_.shape_text()},
                             {"parameters", cfg_.parameters()},
                             {"dtype", std::string(xpb::name(dtype_))},
                             {"weight_bytes", graph_.weight_bytes},
                             {"identity", graph_.graph.identity().fingerprint},
                             {"timesteps", cfg_.timesteps},
                             {"timestep_shift", cfg_.shift}};
  record.details["kv_cache"] = {{"bytes", graph_.kv_bytes},
                                {"dtype", std::string(xpb::name(kv_dtype_))},
                                {"window_latent_frames", cfg_.window_frames},
                                {"window_tokens", cfg_.window_tokens()},
                                {"note", "every block's K and V over the window, a ring: chunks older than the window "
                                         "are overwritten and never attended"}};
  record.details["stream"] = {
      {"chunks", chunks_},
      {"latent_frames_per_chunk", cfg_.frames_per_chunk},
      {"tokens_per_chunk", cfg_.tokens_per_chunk()},
      {"output_frames_per_stream", std::accumulate(per_chunk_frames.begin(), per_chunk_frames.end(), 0)},
      {"output_frames_per_latent_frame", "1 for the first latent frame, 4 for each later one (Wan's causal VAE: 4x "
                                         "temporal compression, the first frame alone)"},
      {"target_fps", fps_},
      // The deadline a frame-latency chart draws: a chunk that takes longer than its frames
      // play for falls behind (the first chunk, with fewer frames, is the TTFF's business).
      {"chunk_deadline_ms", 1e3 * per_chunk_frames.back() / fps_},
      {"buffer_frames", buffer_},
      {"frames_missed", missed},
      {"frames", frames},
      {"frame_release", "a chunk's frames are released together when the chunk is done"},
      {"timeline", timeline},
      {"flops_per_stream", flops},
      {"covers", "the DiT's denoising passes and KV refresh of each chunk, its text cross-attention keys and values "
                 "(made once per chunk from the text embeddings), the unpatchify to latent frames and their read-back "
                 "to the host"},
      {"not_covered", "VAE decoding (latent frames to pixels): TTFF and frame latency exclude it; the text encoder "
                      "(umT5): its output is a seeded input"},
      {"simplifications", "RoPE is the catalogue's 1-D rotation by token index where Wan rotates by frame, row and "
                          "column (the same arithmetic, other angles); weights, noise and text embeddings are "
                          "seeded synthetic values"}};
  if (frames > 0 && chunks_ < 2)
    record.details["stream"]["sustained_note"] = "one chunk per stream: no sustained FPS or jitter (set chunks >= 2)";
}

}  // namespace
}  // namespace xpb::video

XPB_REGISTER_WORKLOAD("video.stream", xpb::video::Stream);
