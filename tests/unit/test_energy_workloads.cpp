// Energy as a figure (issue 13): the fit of energy against work, the idle baseline, energy per
// unit of work on other workloads, the energy workloads on a sensor made for the test (a
// constant draw, so every expected value is known) and on a simulator's model, and the
// int8_dot_loop op they measure. The sensors themselves are tested in test_energy*.cpp.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <map>

#include "test_devices.hpp"
#include "xpubench/conformance.hpp"
#include "xpubench/energy.hpp"
#include "xpubench/error.hpp"
#include "xpubench/op_catalogue.hpp"
#include "xpubench/stats.hpp"
#include "xpubench/system_probe.hpp"

namespace {

using xpb::Op;

// A machine that draws `watts` whatever it does: an interval's energy is watts x its seconds.
// Its idle baseline is the same draw, so every figure net of idle is about zero.
class ConstantDraw final : public xpb::EnergySensor {
 public:
  explicit ConstantDraw(double watts, std::string why = "") : watts_(watts), why_(std::move(why)) {}
  std::string name() const override { return "test-draw"; }
  std::string covers() const override { return "a test's constant draw"; }
  std::string unavailable_reason() const override { return why_; }
  xpb::EnergySnapshot snapshot() const override {
    xpb::EnergySnapshot s;
    s.when = std::chrono::steady_clock::now();
    s.ok = why_.empty();
    return s;
  }
  xpb::EnergyReading since(const xpb::EnergySnapshot& before) const override {
    xpb::EnergyReading r;
    r.source = name();
    if (!why_.empty()) {
      r.reason = why_;
      return r;
    }
    r.available = true;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - before.when).count();
    r.joules = watts_ * r.seconds;
    r.domains = {{"all", r.joules}};
    return r;
  }
  double update_interval_s() const override { return 1e-4; }

 private:
  double watts_;
  std::string why_;
};

const xpb::Metric* find(const xpb::BenchmarkRecord& r, const std::string& name) {
  for (const auto& m : r.metrics)
    if (m.name == name) return &m;
  return nullptr;
}

const xpb::SystemInfo& machine() {
  static const xpb::SystemInfo s = xpb::describe_system();
  return s;
}

// --- the fit -----------------------------------------------------------------------------------

TEST(FitLine, RecoversAnExactLine) {
  const std::vector<double> x = {1, 2, 3, 4, 5}, y = {3.5, 5.5, 7.5, 9.5, 11.5};  // 1.5 + 2x
  const auto f = xpb::fit_line(x, y);
  ASSERT_TRUE(f);
  EXPECT_DOUBLE_EQ(f->slope, 2.0);
  EXPECT_NEAR(f->intercept, 1.5, 1e-12);
  EXPECT_DOUBLE_EQ(f->r2, 1.0);
  EXPECT_NEAR(f->slope_se, 0.0, 1e-12);
  EXPECT_EQ(f->n, 5u);
}

TEST(FitLine, NoisyPointsGiveAnIntervalThatHoldsTheSlope) {
  // y = 10 + 3x with alternating +-1 noise: slope and R^2 known in closed form.
  std::vector<double> x, y;
  for (int i = 0; i < 8; ++i) {
    x.push_back(i);
    y.push_back(10 + 3.0 * i + (i % 2 == 0 ? 1.0 : -1.0));
  }
  const auto f = xpb::fit_line(x, y);
  ASSERT_TRUE(f);
  EXPECT_NEAR(f->slope, 3.0 - 4.0 / 42.0, 1e-12);  // 3 + sum((x - mean) e) / Sxx
  EXPECT_GT(f->r2, 0.95);
  EXPECT_LT(f->r2, 1.0);
  EXPECT_GT(f->slope_se, 0.0);
  EXPECT_LT(f->slope_ci95_lo, 3.0);
  EXPECT_GT(f->slope_ci95_hi, 3.0);
  // t(0.975, 6 df) = 2.447.
  EXPECT_NEAR((f->slope_ci95_hi - f->slope) / f->slope_se, 2.447, 1e-9);
}

TEST(FitLine, RefusesWhatHasNoSlope) {
  EXPECT_FALSE(xpb::fit_line(std::vector<double>{1, 2}, std::vector<double>{1, 2}));           // 2 points
  EXPECT_FALSE(xpb::fit_line(std::vector<double>{3, 3, 3}, std::vector<double>{1, 2, 3}));     // no spread
  EXPECT_FALSE(xpb::fit_line(std::vector<double>{1, 2, NAN}, std::vector<double>{1, 2, 3}));  // not finite
}

// --- idle and per-unit figures ------------------------------------------------------------------

TEST(IdlePower, IsTheDrawAtRest) {
  ConstantDraw draw(42.0);
  const auto idle = xpb::measure_idle_power(draw, 0.02);
  ASSERT_TRUE(idle.available) << idle.reason;
  EXPECT_NEAR(idle.watts, 42.0, 1e-6);
  EXPECT_GE(idle.seconds, 0.02);
}

TEST(IdlePower, UnreadableSensorSaysWhy) {
  ConstantDraw broken(1.0, "energy_uj is readable only by root");
  const auto idle = xpb::measure_idle_power(broken, 0.01);
  EXPECT_FALSE(idle.available);
  EXPECT_EQ(idle.reason, "energy_uj is readable only by root");
}

TEST(EnergyPerUnit, GrossAndNetPerSample) {
  xpb::Measurement m;
  m.iterations = 2;
  m.sample_seconds = {1.0, 2.0};
  m.sample_joules = {30.0, 50.0};
  m.energy.available = true;
  m.energy.source = "rapl";
  xpb::IdlePower idle;
  idle.available = true;
  idle.watts = 10.0;
  xpb::BenchmarkRecord r;
  xpb::add_energy_per_unit(r, m, idle, 5.0, "energy_per_token", "J/token");  // 10 tokens a sample
  const auto* gross = find(r, "energy_per_token");
  const auto* net = find(r, "energy_per_token_net");
  ASSERT_TRUE(gross && net);
  EXPECT_EQ(gross->samples, (std::vector<double>{3.0, 5.0}));
  EXPECT_EQ(net->samples, (std::vector<double>{2.0, 3.0}));  // (30 - 10) / 10, (50 - 20) / 10
  EXPECT_EQ(gross->unit, "J/token");
  EXPECT_EQ(gross->source, xpb::Source::measured);
  EXPECT_EQ(gross->direction, xpb::Direction::lower_is_better);
}

TEST(EnergyPerUnit, ModeledEnergyHasNoNetAndSaysModeled) {
  xpb::Measurement m;
  m.sample_seconds = {1.0};
  m.sample_joules = {4.0};
  m.energy.available = true;
  m.energy.source = "modeled";
  xpb::IdlePower idle;
  idle.available = true;
  idle.watts = 1.0;
  xpb::BenchmarkRecord r;
  xpb::add_energy_per_unit(r, m, idle, 2.0, "energy_per_frame", "J/frame");
  ASSERT_NE(find(r, "energy_per_frame"), nullptr);
  EXPECT_EQ(find(r, "energy_per_frame")->source, xpb::Source::modeled);
  EXPECT_EQ(find(r, "energy_per_frame_net"), nullptr);
}

TEST(EnergyPerUnit, NothingWithoutEnergyPerSample) {
  xpb::Measurement m;
  m.sample_seconds = {1.0};
  m.energy.available = true;  // a window reading alone: no per-sample figure
  xpb::BenchmarkRecord r;
  xpb::add_energy_per_unit(r, m, {}, 2.0, "energy_per_gb", "J/GB");
  EXPECT_TRUE(r.metrics.empty());
}

// --- int8_dot_loop ------------------------------------------------------------------------------

TEST(Int8DotLoop, CostAndShapesFollowTheDefinition) {
  xpb::Graph g;
  const auto x = g.add_tensor({"x", {10, 4}, xpb::DType::i8, xpb::TensorRole::input, {}});
  const auto w = g.add_tensor({"w", {4}, xpb::DType::i8, xpb::TensorRole::input, {}});
  const auto y = g.add_tensor({"y", {10}, xpb::DType::i32, xpb::TensorRole::output, {}});
  g.add_node(Op::int8_dot_loop, {x, w}, {y}, xpb::Attrs{{"chain", std::int64_t{3}}});
  EXPECT_DOUBLE_EQ(xpb::graph_work(g, {}).flops, 8.0 * 3 * 10);
  xpb::Graph bad;
  const auto bx = bad.add_tensor({"x", {10, 3}, xpb::DType::i8, xpb::TensorRole::input, {}});
  const auto bw = bad.add_tensor({"w", {4}, xpb::DType::i8, xpb::TensorRole::input, {}});
  const auto by = bad.add_tensor({"y", {10}, xpb::DType::i32, xpb::TensorRole::output, {}});
  bad.add_node(Op::int8_dot_loop, {bx, bw}, {by}, xpb::Attrs{{"chain", std::int64_t{1}}});
  const auto problem = bad.check();
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("x i8 [n, 4]"), std::string::npos) << *problem;
}

TEST(Int8DotLoop, RefWrapsIn32Bits) {
  // x bytes 255 (as unsigned), w -128: dot = 4 * 255 * -128 = -130560; times 70000 wraps.
  auto ref = xpb::test::open_device("ref");
  xpb::Graph g;
  std::vector<std::byte> xb(4, static_cast<std::byte>(0xff));
  const auto x = g.add_tensor({"x", {1, 4}, xpb::DType::i8, xpb::TensorRole::input, xpb::TensorInit::values(std::move(xb))});
  std::vector<std::byte> wb(4, static_cast<std::byte>(0x80));
  const auto w = g.add_tensor({"w", {4}, xpb::DType::i8, xpb::TensorRole::input, xpb::TensorInit::values(std::move(wb))});
  const auto y = g.add_tensor({"y", {1}, xpb::DType::i32, xpb::TensorRole::output, {}});
  g.add_node(Op::int8_dot_loop, {x, w}, {y}, xpb::Attrs{{"chain", std::int64_t{70000}}});
  auto c = ref->compile(g, {}, {});
  ASSERT_TRUE(c.outcome.passed()) << c.outcome.reason;
  ASSERT_TRUE(c.exe->run(1).error.empty());
  const auto out = xpb::test::read<std::int32_t>(*c.exe, g, y);
  const std::uint32_t want = 70000u * static_cast<std::uint32_t>(-130560);
  EXPECT_EQ(static_cast<std::uint32_t>(out[0]), want);
}

TEST(Int8DotLoop, CpuMatchesRefOrRefusesWithoutVnni) {
  auto cpu = xpb::test::open_device("cpu");
  auto ref = xpb::test::open_device("ref");
  const bool claims = cpu->caps().claims(Op::int8_dot_loop, xpb::DType::i8);
  for (const auto& c : xpb::conformance_cases(Op::int8_dot_loop)) {
    xpb::CompileOptions opts;
    opts.threads = 2;
    const auto res = xpb::run_conformance_case(*cpu, *ref, c, opts);
    if (claims) {
      EXPECT_TRUE(res.outcome.passed()) << c.name << ": " << res.outcome.reason;
    } else {
      EXPECT_EQ(res.outcome.status, xpb::Status::unsupported) << c.name;
      EXPECT_NE(res.outcome.reason.find("VNNI"), std::string::npos) << res.outcome.reason;
    }
  }
}

// --- the energy workloads -----------------------------------------------------------------------

TEST(EnergyCompute, SkippedWithTheSensorsReasonWhenThereIsNoFigure) {
  auto cpu = xpb::test::open_device("cpu");
  ConstantDraw broken(1.0, "no powercap interface at /sys/class/powercap");
  for (xpb::EnergySensor* sensor : {static_cast<xpb::EnergySensor*>(nullptr), static_cast<xpb::EnergySensor*>(&broken)}) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto records = xpb::test::run_workload("energy.compute", {{"threads", 1}, {"elements", 4096}}, *cpu, nullptr,
                                                 machine(), nullptr, sensor);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].outcome.status, xpb::Status::skipped);
    EXPECT_NE(records[0].outcome.reason.find(sensor ? "no powercap interface" : "no energy sensor"), std::string::npos)
        << records[0].outcome.reason;
    EXPECT_TRUE(records[0].metrics.empty());
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);  // nothing ran
  }
}

TEST(EnergyCompute, FmaLoopOnASensorGivesPicojoulesPerFlopGrossAndNet) {
  auto cpu = xpb::test::open_device("cpu");
  ConstantDraw draw(20.0);
  xpb::IdlePower idle;
  idle.available = true;
  idle.watts = 20.0;
  const auto records = xpb::test::run_workload(
      "energy.compute", {{"threads", 1}, {"elements", 16384}, {"chain", 256}, {"points", 3}}, *cpu, nullptr, machine(),
      nullptr, &draw, idle);
  ASSERT_EQ(records.size(), 1u);
  const auto& r = records[0];
  ASSERT_TRUE(r.outcome.passed()) << r.outcome.reason;
  const auto* gross = find(r, "energy_per_flop");
  const auto* net = find(r, "energy_per_flop_net");
  const auto* mac = find(r, "energy_per_mac");
  ASSERT_TRUE(gross && net && mac);
  EXPECT_EQ(gross->unit, "pJ/FLOP");
  EXPECT_EQ(gross->source, xpb::Source::measured);
  // 20 W over a rate somewhere between 2 MFLOP/s (a loaded machine) and 1000 GFLOP/s: 0.02 to
  // 10,000 pJ/FLOP. (The figure itself is the machine's: wall time under a constant draw, so a
  // busy machine moves it; these tests check the arithmetic, not the rate.)
  EXPECT_GT(gross->samples[0], 0.02);
  EXPECT_LT(gross->samples[0], 1e4);
  EXPECT_NEAR(mac->samples[0], 2 * gross->samples[0], 1e-9 * gross->samples[0]);
  // The draw is all idle: net of it is below gross, by about all of it on a quiet machine.
  EXPECT_LT(net->samples[0], gross->samples[0]);
  const auto& fit = r.details.at("energy_fit");
  EXPECT_EQ(fit.at("stages").size(), 3u);
  const double r2 = fit.at("gross").at("r2").get<double>();
  EXPECT_TRUE(r2 >= 0.0 && r2 <= 1.0) << r2;
  EXPECT_EQ(fit.at("idle_watts"), 20.0);
  EXPECT_EQ(r.conformance.at("status"), "passed");
  EXPECT_EQ(r.energy.at("idle").at("watts"), 20.0);
  EXPECT_EQ(r.energy.at("covers"), "a test's constant draw");
  ASSERT_NE(find(r, "average_power"), nullptr);
  EXPECT_NEAR(find(r, "average_power")->stats.median.value(), 20.0, 1.0);
}

TEST(EnergyCompute, Int8DotLoopIsCheckedAndFittedOrRefused) {
  auto cpu = xpb::test::open_device("cpu");
  ConstantDraw draw(5.0);
  const auto records = xpb::test::run_workload(
      "energy.compute", {{"kernel", "int8_dot_loop"}, {"threads", 1}, {"elements", 4099}, {"chain", 128}, {"points", 3}},
      *cpu, nullptr, machine(), nullptr, &draw);
  ASSERT_EQ(records.size(), 1u);
  const auto& r = records[0];
  EXPECT_EQ(r.params.at("dtype"), "i8");
  if (!cpu->caps().claims(Op::int8_dot_loop, xpb::DType::i8)) {
    EXPECT_EQ(r.outcome.status, xpb::Status::unsupported);
    return;
  }
  ASSERT_TRUE(r.outcome.passed()) << r.outcome.reason;
  EXPECT_EQ(r.conformance.at("status"), "passed") << r.conformance.dump();
  ASSERT_NE(find(r, "energy_per_op"), nullptr);
  EXPECT_EQ(find(r, "energy_per_op")->unit, "pJ/op");
  EXPECT_EQ(find(r, "energy_per_op_net"), nullptr);  // no idle baseline given
  EXPECT_NE(r.details.at("energy_fit").at("net_reason").get<std::string>().find("no idle baseline"), std::string::npos);
}

TEST(EnergyCompute, MatmulOnPhotonicSimIsModeledAndLinear) {
  auto photonic = xpb::test::open_device("photonic-sim");
  ASSERT_TRUE(photonic->caps().models_energy);
  const auto records = xpb::test::run_workload(
      "energy.compute", {{"kernel", "matmul"}, {"rows", 8}, {"k", 256}, {"n", 256}, {"threads", 1}}, *photonic, nullptr,
      machine());
  ASSERT_EQ(records.size(), 1u);
  const auto& r = records[0];
  ASSERT_TRUE(r.outcome.passed()) << r.outcome.reason;
  const auto* mac = find(r, "energy_per_mac");
  ASSERT_NE(mac, nullptr);
  EXPECT_EQ(mac->source, xpb::Source::modeled);
  EXPECT_EQ(mac->unit, "pJ/MAC");
  EXPECT_GT(mac->samples[0], 0.0);
  EXPECT_EQ(find(r, "energy_per_mac_net"), nullptr);  // a model has no idle to take off
  // A deterministic model of rows that cost the same each: the points lie on a line.
  EXPECT_GT(r.details.at("energy_fit").at("gross").at("r2").get<double>(), 0.999);
  EXPECT_EQ(r.energy.at("covers").get<std::string>().find("energy model") != std::string::npos, true);
  EXPECT_EQ(r.conformance.at("status"), "skipped");  // analog outputs: no digital tolerance
}

TEST(EnergyCompute, MatmulOnCpuIsCheckedAgainstRef) {
  auto cpu = xpb::test::open_device("cpu");
  auto ref = xpb::test::open_device("ref");
  ConstantDraw draw(3.0);
  const auto records = xpb::test::run_workload(
      "energy.compute", {{"kernel", "matmul"}, {"dtype", "q8_0"}, {"rows", 4}, {"k", 256}, {"n", 64}, {"threads", 1}},
      *cpu, ref.get(), machine(), nullptr, &draw);
  ASSERT_EQ(records.size(), 1u);
  ASSERT_TRUE(records[0].outcome.passed()) << records[0].outcome.reason;
  EXPECT_EQ(records[0].conformance.at("status"), "passed") << records[0].conformance.dump();
}

TEST(EnergyCompute, BadParametersAreRefusedBeforeAnythingRuns) {
  auto w = xpb::WorkloadRegistry::instance().create("energy.compute");
  auto p = nlohmann::json::object();
  for (const auto& spec : w->params()) p[spec.name] = spec.default_value;
  auto bad = p;
  bad["points"] = 2;
  EXPECT_THROW(w->expand(bad, machine()), xpb::InputError);
  bad = p;
  bad["dtype"] = "q4_0";  // fma_loop has no q4_0
  EXPECT_THROW(w->expand(bad, machine()), xpb::InputError);
  bad = p;
  bad["kernel"] = "matmul";
  bad["dtype"] = "i32";
  EXPECT_THROW(w->expand(bad, machine()), xpb::InputError);
}

TEST(EnergyMemory, EachLevelIsFittedOverWorkingSetsThatFitIt) {
  auto cpu = xpb::test::open_device("cpu");
  ConstantDraw draw(8.0);
  const auto levels = xpb::test::run_workload("energy.memory", {{"threads", 1}, {"points", 3}, {"level", "L1"}}, *cpu,
                                              nullptr, machine(), nullptr, &draw);
  ASSERT_EQ(levels.size(), 1u);
  const auto& r = levels[0];
  if (r.outcome.status == xpb::Status::unsupported) GTEST_SKIP() << r.outcome.reason;  // a machine without cache info
  ASSERT_TRUE(r.outcome.passed()) << r.outcome.reason;
  EXPECT_EQ(r.conformance.at("status"), "passed");
  const auto* per_byte = find(r, "energy_per_byte");
  ASSERT_NE(per_byte, nullptr);
  EXPECT_EQ(per_byte->unit, "pJ/B");
  for (const auto& ws : r.details.at("working_sets")) EXPECT_EQ(ws.at("fits_in"), "L1") << ws.dump();
}

TEST(EnergyMemory, AnUnknownLevelIsAnInputError) {
  auto w = xpb::WorkloadRegistry::instance().create("energy.memory");
  auto p = nlohmann::json::object();
  for (const auto& spec : w->params()) p[spec.name] = spec.default_value;
  p["level"] = "L9";
  EXPECT_THROW(w->expand(p, machine()), xpb::InputError);
}

// --- energy on the other workloads --------------------------------------------------------------

TEST(EnergyEverywhere, MemoryBandwidthGivesJoulesPerGigabyte) {
  auto cpu = xpb::test::open_device("cpu");
  ConstantDraw draw(10.0);
  xpb::IdlePower idle;
  idle.available = true;
  idle.watts = 4.0;
  const auto records = xpb::test::run_workload("memory.bandwidth", {{"kernel", "read"}, {"threads", 1}, {"array_bytes", "8MiB"}},
                                               *cpu, nullptr, machine(), nullptr, &draw, idle);
  ASSERT_EQ(records.size(), 1u);
  const auto* gross = find(records[0], "energy_per_gb");
  const auto* net = find(records[0], "energy_per_gb_net");
  const auto* bw = find(records[0], "bandwidth");
  ASSERT_TRUE(gross && net && bw);
  // 10 W at B GB/s is 10 / B J/GB; 6 W of it above idle.
  const double gbps = bw->stats.median.value();
  EXPECT_NEAR(gross->stats.median.value(), 10.0 / gbps, 0.1 * 10.0 / gbps);
  EXPECT_NEAR(net->stats.median.value(), 6.0 / gbps, 0.1 * 6.0 / gbps);
}

TEST(EnergyEverywhere, LlmBenchGivesJoulesPerToken) {
  auto cpu = xpb::test::open_device("cpu");
  ConstantDraw draw(10.0);
  const auto records = xpb::test::run_workload(
      "llm.bench", {{"model", "tiny"}, {"test", "tg"}, {"n_gen", 4}, {"threads", 1}, {"check", "off"}}, *cpu, nullptr,
      machine(), nullptr, &draw);
  ASSERT_EQ(records.size(), 1u);
  ASSERT_TRUE(records[0].outcome.passed()) << records[0].outcome.reason;
  const auto* per_token = find(records[0], "energy_per_token");
  const auto* tps = find(records[0], "tokens_per_second");
  ASSERT_TRUE(per_token && tps);
  EXPECT_NEAR(per_token->stats.median.value(), 10.0 / tps->stats.median.value(),
              0.15 * 10.0 / tps->stats.median.value());
  EXPECT_EQ(records[0].energy.at("source"), "test-draw");
}

}  // namespace
