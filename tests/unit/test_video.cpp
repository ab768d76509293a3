// The video workloads: the DiT's shapes and schedule, causality and the rolling KV window on the
// cpu driver, video.stream end to end (frames against deadlines, conformance against ref), and
// the simulators' answers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "dit_model.hpp"
#include "test_devices.hpp"
#include "xpubench/error.hpp"
#include "xpubench/quant.hpp"

namespace {

using xpb::DType;
using xpb::video::DitConfig;

xpb::SystemInfo two_pus() {
  xpb::SystemInfo s;
  s.topology.pus = 2;
  s.topology.cores = 2;
  return s;
}

TEST(DitModel, TheWanPresetHasSelfForcingsShape) {
  const DitConfig c = *xpb::video::preset("wan2.1-1.3b");
  EXPECT_EQ(c.tokens_per_frame(), 1560);  // 832 x 480 pixels / (8 x 8 VAE) / (2 x 2 patches)
  EXPECT_EQ(c.tokens_per_chunk(), 4680);
  EXPECT_EQ(c.window_tokens(), 32760);    // 21 latent frames
  EXPECT_EQ(c.patch_values(), 64);
  EXPECT_GT(c.parameters(), 1'300'000'000u);  // "1.3B" (the checkpoint holds 1.42e9 with its embedders)
  EXPECT_LT(c.parameters(), 1'500'000'000u);
  const auto g = xpb::video::build_chunk_graph(c, DType::bf16, DType::f16, 1, 1);
  EXPECT_EQ(g.graph.check(), std::nullopt);
  // K and V of 30 blocks at 1536 x 2 bytes: ~184 KB a token, ~6 GB for the window (DESIGN.md §10).
  EXPECT_EQ(g.kv_bytes / 32760, 30u * 2 * 1536 * 2);
  EXPECT_EQ(g.graph.identity().architecture, "wan-dit");
}

TEST(DitModel, EveryPresetAndDtypeBuildsAWellFormedGraph) {
  for (const auto& name : xpb::video::preset_names())
    for (DType t : {DType::f32, DType::f16, DType::bf16, DType::q8_0}) {
      const DitConfig c = *xpb::video::preset(name);
      ASSERT_EQ(c.problem(t), "") << name;
      EXPECT_EQ(xpb::video::build_chunk_graph(c, t, DType::f32, 1, 1).graph.check(), std::nullopt) << name;
    }
  DitConfig bad = *xpb::video::preset("dit-tiny");
  bad.window_frames = 3;  // not whole chunks of 2
  EXPECT_NE(bad.problem(DType::f32), "");
  EXPECT_NE(xpb::video::preset("dit-tiny")->problem(DType::q4_K), "");  // rows of 64 are not super-blocks of 256
}

TEST(DitModel, TheScheduleIsWansShiftedFlowMatching) {
  const DitConfig c = *xpb::video::preset("wan2.1-1.3b");
  EXPECT_DOUBLE_EQ(xpb::video::sigma_of(c, 1000), 1.0);
  EXPECT_DOUBLE_EQ(xpb::video::sigma_of(c, 750), 0.9375);  // 5 x 0.75 / (1 + 4 x 0.75)
  EXPECT_NEAR(xpb::video::sigma_of(c, 500), 5.0 / 6.0, 1e-15);
  EXPECT_DOUBLE_EQ(xpb::video::sigma_of(c, 250), 0.625);
  EXPECT_DOUBLE_EQ(xpb::video::sigma_of(c, 0), 0.0);
  EXPECT_EQ(xpb::video::pixel_frames(0), 1);
  EXPECT_EQ(xpb::video::pixel_frames(1), 4);
}

// The chunk graph of dit-tiny compiled on the cpu (16 tokens a chunk, a window of two chunks).
struct TinyStream {
  DitConfig c = *xpb::video::preset("dit-tiny");
  xpb::video::DitGraph g = xpb::video::build_chunk_graph(c, DType::f32, DType::f16, 1, 1);
  std::shared_ptr<xpb::Device> cpu = xpb::test::open_device("cpu");
  std::shared_ptr<xpb::Executable> exe;

  TinyStream() {
    xpb::CompileOptions o;
    o.threads = 2;
    auto r = cpu->compile(g.graph, o);
    EXPECT_TRUE(r.outcome.passed()) << r.outcome.reason;
    exe = r.exe;
  }
  // Chunk `c` of the stream; returns its frames.
  std::vector<float> chunk(int c) {
    const std::int64_t T = this->c.tokens_per_chunk();
    std::vector<std::int32_t> pos(static_cast<std::size_t>(T));
    for (std::int64_t i = 0; i < T; ++i) pos[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(c * T + i);
    xpb::test::write(*exe, g.positions, pos);
    const std::int64_t context = std::min<std::int64_t>(this->c.window_tokens(), (c + 1) * T);
    xpb::RunArgs args;
    args.dims = std::span<const std::int64_t>(&context, 1);
    const auto r = exe->run(args);
    EXPECT_EQ(r.error, "");
    return xpb::test::read<float>(*exe, g.graph, g.frames);
  }
  // Overwrites cache slots [first, first + count) of every block with a value (f16 bits).
  void poison(std::int64_t first, std::int64_t count) {
    for (auto ids : {g.k_caches, g.v_caches})
      for (auto id : ids) {
        auto bits = xpb::test::read<std::uint16_t>(*exe, g.graph, id);
        const auto w = static_cast<std::size_t>(c.dim);
        std::fill(bits.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(first) * w),
                  bits.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(first + count) * w),
                  xpb::f32_to_f16(3.0f));
        xpb::test::write(*exe, id, bits);
      }
  }
};

double rms_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return std::sqrt(s / static_cast<double>(a.size()));
}

TEST(VideoStream, ALaterChunkNeverChangesAnEarlierOneButDependsOnIt) {
  TinyStream s;
  ASSERT_TRUE(s.exe);
  const std::int64_t T = s.c.tokens_per_chunk();
  const auto first = s.chunk(0);
  std::vector<std::vector<std::uint16_t>> kept;
  for (auto id : s.g.k_caches) kept.push_back(xpb::test::read<std::uint16_t>(*s.exe, s.g.graph, id));
  const auto second = s.chunk(1);
  // Chunk 1 wrote its own slots and left chunk 0's keys as they were, in every block.
  for (std::size_t b = 0; b < s.g.k_caches.size(); ++b) {
    const auto now = xpb::test::read<std::uint16_t>(*s.exe, s.g.graph, s.g.k_caches[b]);
    const std::size_t chunk0 = static_cast<std::size_t>(T * s.c.dim);
    EXPECT_TRUE(std::equal(now.begin(), now.begin() + static_cast<std::ptrdiff_t>(chunk0), kept[b].begin())) << b;
    EXPECT_FALSE(std::equal(now.begin() + static_cast<std::ptrdiff_t>(chunk0), now.begin() + static_cast<std::ptrdiff_t>(2 * chunk0),
                            kept[b].begin() + static_cast<std::ptrdiff_t>(chunk0)))
        << b;
  }
  // The same stream again gives the same frames (deterministic); chunk 1 after another chunk 0
  // (other noise) gives other frames: it attends chunk 0's cache.
  EXPECT_EQ(s.chunk(0), first);
  EXPECT_EQ(s.chunk(1), second);
  auto noise = xpb::test::read<float>(*s.exe, s.g.graph, s.g.noise);
  auto other = noise;
  for (auto& v : other) v = -v;
  xpb::test::write(*s.exe, s.g.noise, other);
  const auto first_other = s.chunk(0);
  xpb::test::write(*s.exe, s.g.noise, noise);
  const auto second_after_other = s.chunk(1);
  EXPECT_GT(rms_difference(first_other, first), 1e-3);
  EXPECT_GT(rms_difference(second_after_other, second), 1e-3);
  for (float v : first) ASSERT_TRUE(std::isfinite(v));
}

TEST(VideoStream, TheKvWindowRollsByWholeChunks) {
  TinyStream s;
  ASSERT_TRUE(s.exe);
  const std::int64_t T = s.c.tokens_per_chunk();  // the window holds two chunks: slots [0, T) and [T, 2T)
  for (int c = 0; c < 3; ++c) s.chunk(c);
  const auto fourth = s.chunk(3);
  // Chunk 3 overwrites chunk 1's slots before it attends: what they held does not matter...
  for (int c = 0; c < 3; ++c) s.chunk(c);
  s.poison(T, T);
  EXPECT_EQ(s.chunk(3), fourth);
  // ...while chunk 2's (slots [0, T), still in the window) does.
  for (int c = 0; c < 3; ++c) s.chunk(c);
  s.poison(0, T);
  EXPECT_GT(rms_difference(s.chunk(3), fourth), 1e-3);
}

double median_of(const xpb::BenchmarkRecord& r, const std::string& metric) {
  for (const auto& m : r.metrics)
    if (m.name == metric) return m.stats.median.value_or(NAN);
  ADD_FAILURE() << "no metric " << metric;
  return NAN;
}

TEST(VideoStream, RunsAStreamCheckedAgainstRefWithFramesAgainstDeadlines) {
  auto cpu = xpb::test::open_device("cpu");
  auto ref = xpb::test::open_device("ref");
  const auto system = two_pus();
  // 3 chunks of 2 latent frames: 1 + 4, then 8 and 8 output frames.
  auto recs = xpb::test::run_workload("video.stream", {{"model", "dit-tiny"}, {"chunks", 3}, {"threads", 2}}, *cpu,
                                      ref.get(), system);
  ASSERT_EQ(recs.size(), 1u);
  const auto& r = recs[0];
  ASSERT_TRUE(r.outcome.passed()) << r.outcome.reason;
  EXPECT_EQ(r.conformance["status"], "passed") << r.conformance.dump();
  EXPECT_LT(r.conformance["rms_rel_error"].get<double>(), 1e-5);
  EXPECT_EQ(r.details["stream"]["frames"], 21);
  EXPECT_EQ(r.details["stream"]["not_covered"].get<std::string>().rfind("VAE decoding", 0), 0u);
  for (const char* m : {"ttff", "frame_latency", "sustained_fps", "overall_fps", "jitter", "deadline_miss_rate",
                        "chunk_device_time", "chunk_e2e_time", "gflops"})
    EXPECT_GT(median_of(r, m), m == std::string("deadline_miss_rate") || m == std::string("jitter") ? -1 : 0) << m;
  EXPECT_LE(median_of(r, "ttff"), median_of(r, "chunk_e2e_time") * 3);
  // At a million frames a second every frame after the first chunk's 5 is late; with the
  // buffer at the last frame, or at a frame in 1000 seconds, none is.
  auto late = xpb::test::run_workload("video.stream", {{"model", "dit-tiny"}, {"chunks", 3}, {"threads", 2},
                                                       {"fps", 1e6}, {"check", "off"}}, *cpu, ref.get(), system);
  EXPECT_NEAR(median_of(late.at(0), "deadline_miss_rate"), 100.0 * 16 / 21, 1e-9);
  EXPECT_EQ(late.at(0).details["stream"]["frames_missed"], 16);
  auto buffered = xpb::test::run_workload("video.stream", {{"model", "dit-tiny"}, {"chunks", 3}, {"threads", 2},
                                                           {"fps", 1e6}, {"buffer_frames", 20}, {"check", "off"}},
                                          *cpu, ref.get(), system);
  EXPECT_EQ(median_of(buffered.at(0), "deadline_miss_rate"), 0.0);
  auto slow = xpb::test::run_workload("video.stream", {{"model", "dit-tiny"}, {"chunks", 3}, {"threads", 2},
                                                       {"fps", 1e-3}, {"check", "off"}}, *cpu, ref.get(), system);
  EXPECT_EQ(median_of(slow.at(0), "deadline_miss_rate"), 0.0);
}

TEST(VideoStream, EveryWeightDtypePassesItsConformanceOnDitSmall) {
  auto cpu = xpb::test::open_device("cpu");
  auto ref = xpb::test::open_device("ref");
  for (const char* t : {"f16", "q8_0"}) {
    auto recs = xpb::test::run_workload("video.stream", {{"model", "dit-small"}, {"dtype", t}, {"chunks", 2},
                                                         {"threads", 2}}, *cpu, ref.get(), two_pus());
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].conformance["status"], "passed") << t << recs[0].conformance.dump();
    // The device's rounding of activations shows: the check is not vacuous.
    EXPECT_GT(recs[0].conformance["rms_rel_error"].get<double>(), 1e-5) << t;
  }
}

TEST(VideoStream, TheHardwiredChipRefusesAndThePhotonicSimulatorStreams) {
  auto hc1 = xpb::test::open_device("hc1-sim");
  auto ref = xpb::test::open_device("ref");
  auto r = xpb::test::run_workload("video.stream", {{"model", "dit-tiny"}, {"threads", 1}}, *hc1, ref.get(), two_pus());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].outcome.status, xpb::Status::unsupported);
  EXPECT_NE(r[0].outcome.reason.find("hardwires"), std::string::npos) << r[0].outcome.reason;
  EXPECT_NE(r[0].outcome.reason.find("wan-dit"), std::string::npos) << r[0].outcome.reason;
  auto photonic = xpb::test::open_device("photonic-sim");
  auto p = xpb::test::run_workload("video.stream", {{"model", "dit-tiny"}, {"threads", 1}}, *photonic, ref.get(), two_pus());
  ASSERT_EQ(p.size(), 1u);
  ASSERT_TRUE(p[0].outcome.passed()) << p[0].outcome.reason;
  EXPECT_EQ(p[0].conformance["status"], "passed") << p[0].conformance.dump();
  EXPECT_TRUE(p[0].conformance.contains("accuracy_cost"));
  // Time on the simulated clock; J/frame from the device's energy model.
  for (const auto& m : p[0].metrics)
    EXPECT_EQ(m.source, m.name.rfind("energy_", 0) == 0 ? xpb::Source::modeled : xpb::Source::simulated) << m.name;
}

TEST(VideoStream, StreamsOnOpenClCheckedAgainstRef) {
  std::string why;
  auto cl = xpb::test::open_opencl(why);
  if (!cl) GTEST_SKIP() << why;
  auto ref = xpb::test::open_device("ref");
  for (const char* t : {"f32", "q8_0"}) {
    auto r = xpb::test::run_workload("video.stream", {{"model", "dit-tiny"}, {"dtype", t}, {"chunks", 3}, {"threads", 1}},
                                     *cl, ref.get(), two_pus());
    ASSERT_EQ(r.size(), 1u);
    ASSERT_TRUE(r[0].outcome.passed()) << r[0].outcome.reason;
    EXPECT_EQ(r[0].conformance["status"], "passed") << t << r[0].conformance.dump();
    EXPECT_GT(median_of(r[0], "chunk_device_time"), 0) << t;
  }
}

TEST(VideoStream, BadParametersAreInputErrorsNamingTheParameter) {
  auto w = xpb::WorkloadRegistry::instance().create("video.stream");
  auto p = nlohmann::json::object();
  for (const auto& spec : w->params()) p[spec.name] = spec.default_value;
  for (auto [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"model", "nope"}, {"fps", 0}, {"chunks", 0}, {"buffer_frames", -1}, {"streams", 1.5}}) {
    auto q = p;
    q[key] = value;
    try {
      w->expand(q, two_pus());
      ADD_FAILURE() << key << " accepted " << value;
    } catch (const xpb::InputError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
}

}  // namespace
