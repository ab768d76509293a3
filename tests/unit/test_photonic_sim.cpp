// photonic-sim (timing-only): its description, the model's arithmetic against hand-computed
// figures, where the energy per MAC falls with the array's width and where it stops, refusing
// what it does not model with the reason, and the LLM workload on it, labelled simulated.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "llm_common.hpp"
#include "photonic_model.hpp"
#include "sim_description.hpp"
#include "test_devices.hpp"
#include "xpubench/error.hpp"
#include "xpubench/session.hpp"
#include "xpubench/system_probe.hpp"

namespace xpb::photonic {
const std::string& builtin_description();
}

namespace {

using xpb::DType;
using xpb::test::open_device;

xpb::sim::SimDescription described(const std::map<std::string, double>& changes = {}) {
  auto d = xpb::sim::parse_description(xpb::photonic::builtin_description(), "photonic.yaml",
                                       xpb::photonic::parameter_specs());
  for (const auto& [k, v] : changes) d.parameters.at(k).value = v;
  return d;
}

// x [m, k] times W [n, k].
xpb::Graph matmul(std::int64_t m, std::int64_t k, std::int64_t n) {
  xpb::Graph g("gemm");
  const auto x = g.add_tensor({"x", {m, k}, DType::f32, xpb::TensorRole::input, xpb::TensorInit::filled(1)});
  const auto w = g.add_tensor({"w", {n, k}, DType::f32, xpb::TensorRole::weight, xpb::TensorInit::filled(1)});
  const auto y = g.add_tensor({"y", {m, n}, DType::f32, xpb::TensorRole::output, {}});
  g.add_node(xpb::Op::matmul, {x, w}, {y});
  return g;
}

TEST(PhotonicDescription, EveryParameterHasAUnitAKindAndACitedSource) {
  const auto d = described();
  EXPECT_EQ(d.parameters.size(), xpb::photonic::parameter_specs().size());
  for (const auto& [name, p] : d.parameters) EXPECT_TRUE(d.sources.count(p.source)) << name;
  EXPECT_EQ(d.parameters.at("dac_energy_j").source, "simphony");
  EXPECT_EQ(d.parameters.at("output_noise").value, 0.06);
}

TEST(PhotonicModel, OneResidentTileMatchesTheEquationsByHand) {
  // One 64x64 tile, 1000 input vectors: resident (1 tile, 1 array), no reprogramming.
  const xpb::photonic::PhotonicModel m(described());
  const auto c = m.run(matmul(1000, 64, 64), {});
  const double t_optical = 1000 / 1e9 + 3e-9;
  const double bytes = (1000.0 * 64 + 64 * 64) * 4 + 1000.0 * 64 * 4;  // x and W read, y written
  EXPECT_NEAR(c.optical_seconds, t_optical, 1e-18);
  EXPECT_NEAR(c.seconds, std::max(t_optical, bytes / 1e12), 1e-18);
  EXPECT_DOUBLE_EQ(c.macs, 1000.0 * 64 * 64);
  EXPECT_NEAR(c.energy.dac, 1000.0 * 64 * 3.6e-12, 1e-18);
  EXPECT_NEAR(c.energy.modulator, 1000.0 * 64 * 8 * 450e-15, 1e-18);
  EXPECT_NEAR(c.energy.adc, 1000.0 * 64 * 1.5e-12, 1e-18);
  EXPECT_EQ(c.energy.weight_load, 0.0);
  EXPECT_EQ(c.energy.digital, 0.0);  // one tile along K: no partial sums to add
  EXPECT_NEAR(c.energy.laser, 0.1 / 0.2 * t_optical, 1e-18);
  EXPECT_NEAR(c.energy.tuning, 64 * 64 * 0.015 * c.seconds, 1e-15);
  EXPECT_NEAR(c.energy.memory, bytes * 31.2e-12, 1e-15);
}

TEST(PhotonicModel, WeightsThatDoNotStayOnTheArrayAreReloadedEveryPass) {
  const xpb::photonic::PhotonicModel m(described());
  // 128 x 128 weights on one 64x64 array: 4 tiles, 4 passes, each reprogrammed (10 us).
  const auto c = m.run(matmul(1, 128, 128), {});
  EXPECT_NEAR(c.optical_seconds, 4 * (10e-6 + 1e-9 + 3e-9), 1e-15);
  EXPECT_NEAR(c.energy.weight_load, 4 * 64 * 64 * 3.6e-12, 1e-18);
  EXPECT_GT(c.energy.digital, 0.0);  // two tiles along K: partial sums added digitally
}

TEST(PhotonicModel, ConversionEnergyPerMacFallsAsOneOverWidthUntilStaticPowerDominates) {
  // A large resident GEMM on one array as wide as the matrix: DAC and modulator samples per MAC
  // are 1/rows, ADC samples per MAC 1/cols, so doubling the width halves them; the static power
  // that holds every cell grows with the cells and sets the floor.
  double previous = 0;
  for (double width : {16.0, 32.0, 64.0, 128.0}) {
    const xpb::photonic::PhotonicModel m(described({{"array_rows", width}, {"array_cols", width}}));
    const auto n = static_cast<std::int64_t>(width);
    const auto c = m.run(matmul(100000, n, n), {});
    const double conversion = (c.energy.dac + c.energy.modulator + c.energy.adc) / c.macs;
    if (previous > 0) {
      EXPECT_NEAR(conversion / previous, 0.5, 1e-9) << width;
    }
    previous = conversion;
    // Holding the cells costs the same per MAC at every width while the arrays set the pace
    // (cells x power x time / MACs), and more once memory cannot feed them: at 128 wide, x and
    // y move 102 MB per 100 us of optics, past the 1 TB/s the description gives.
    EXPECT_NEAR(c.energy.tuning / c.macs, 0.015 / 1e9 * c.seconds / c.optical_seconds, 1e-15);
    EXPECT_EQ(c.seconds > c.optical_seconds * 1.001, width == 128.0) << width;
  }
}

TEST(PhotonicModel, LightmatterLikeParametersLandOnThePublishedThroughputAndPower) {
  // Lightmatter (Nature 2025): 65.5 TOPS ABFP16 at 78 W electrical (+ 1.6 W optical). A large
  // GEMM whose weights stay on the four arrays: the band is +-10% on both.
  const auto d = xpb::sim::load_description(std::string(XPB_TEST_DATA_DIR) + "/sim/photonic-lightmatter.yaml",
                                            xpb::photonic::parameter_specs());
  const xpb::photonic::PhotonicModel m(d);
  const auto c = m.run(matmul(100000, 256, 256), {});
  const double tops = 2 * c.macs / c.seconds / 1e12, watts = c.energy.total() / c.seconds;
  EXPECT_NEAR(tops, 65.5, 6.55) << tops;
  EXPECT_NEAR(watts, 78.0, 7.8) << watts;
  // What the model breaks down (converters, modulators, lasers at the wall, partial sums,
  // buffers) is the 11.8 W the description's static_w note subtracts from the published total.
  EXPECT_NEAR(watts - d.number("static_w"), 11.8, 0.6);
  // The arrays, not memory, set the pace here.
  EXPECT_NEAR(c.seconds, c.optical_seconds, 1e-12);
}

TEST(PhotonicDevice, RefusesWhatItDoesNotModelWithTheReason) {
  auto dev = open_device("photonic-sim");
  ASSERT_TRUE(dev);
  xpb::Graph copy("copy");
  const auto a = copy.add_tensor({"a", {64}, DType::f32, xpb::TensorRole::input, xpb::TensorInit::filled(1)});
  const auto b = copy.add_tensor({"b", {64}, DType::f32, xpb::TensorRole::output, {}});
  copy.add_node(xpb::Op::copy, {a}, {b});
  auto c = dev->compile(copy, {});
  EXPECT_EQ(c.outcome.status, xpb::Status::unsupported);
  EXPECT_NE(c.outcome.reason.find("models no memory system"), std::string::npos) << c.outcome.reason;
  std::shared_ptr<xpb::Driver> driver = xpb::DriverRegistry::instance().create("photonic-sim");
  EXPECT_EQ(driver->open(driver->enumerate().devices.at(0), {{"mode", "fast"}}).outcome.status, xpb::Status::invalid);
}

nlohmann::json bench_on(xpb::Device& dev, xpb::Device& ref, const std::string& model) {
  const auto records = xpb::test::run_workload(
      "llm.bench", {{"model", model}, {"dtype", "f32"}, {"n_gen", 8}, {"check", "on"}, {"roofline", "off"}}, dev, &ref,
      xpb::describe_system());
  EXPECT_EQ(records.size(), 1u);
  return records.empty() ? nlohmann::json() : records[0].to_json();
}

TEST(PhotonicDevice, FunctionalOutputsFollowRefWithinTheirAnalogCostAndTimeEqualsTimingOnly) {
  auto functional = open_device("photonic-sim");  // auto: a tiny model runs functional
  auto timing = open_device("photonic-sim", {{"mode", "timing-only"}});
  auto ref = open_device("ref");
  ASSERT_TRUE(functional && timing && ref);
  const auto f = bench_on(*functional, *ref, "tiny"), t = bench_on(*timing, *ref, "tiny");
  EXPECT_EQ(f["status"], "passed") << f.dump(1);
  EXPECT_EQ(f["details"]["executable"]["mode"], "functional");
  const auto& c = f["conformance"];
  EXPECT_EQ(c["status"], "passed");
  // 8-bit converters and noise of 0.06 full scale move the logits, but not to unrelated ones.
  EXPECT_GT(c["rms_logit_error"].get<double>(), 1e-3);
  EXPECT_LT(c["rms_logit_error"].get<double>(), 1.0);
  EXPECT_EQ(c["accuracy_cost"]["status"], "measured");
  EXPECT_EQ(t["conformance"]["status"], "skipped");
  EXPECT_EQ(t["details"]["executable"]["mode"], "timing-only");
  // The same simulated time and energy: both come from the model of the graph as given.
  EXPECT_EQ(f["metrics"][0]["stats"]["median"], t["metrics"][0]["stats"]["median"]);
  EXPECT_DOUBLE_EQ(f["energy"]["joules"].get<double>(), t["energy"]["joules"].get<double>());
  EXPECT_EQ(f["metrics"][0]["source"], "simulated");
  EXPECT_EQ(f["energy"]["source"], "modeled");
  const auto& e = f["details"]["executable"]["at_largest_dims"]["energy"];
  EXPECT_NEAR(e["total_j"].get<double>(),
              e["dac_j"].get<double>() + e["modulator_j"].get<double>() + e["adc_j"].get<double>() +
                  e["weight_load_j"].get<double>() + e["laser_j"].get<double>() + e["tuning_j"].get<double>() +
                  e["digital_j"].get<double>() + e["memory_j"].get<double>() + e["static_j"].get<double>(),
              1e-12);
}

TEST(PhotonicDevice, MoreConverterBitsAndLessNoiseCostLessAccuracy) {
  auto ref = open_device("ref");
  auto errors = [&](double noise, double bits) {
    const auto dir = std::filesystem::temp_directory_path() / ("xpb-photonic-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::string text = xpb::photonic::builtin_description();
    auto set = [&](const std::string& key, double v) {
      const auto at = text.find("  " + key + ": {value: ");
      const auto from = text.find("value: ", at) + 7, to = text.find(',', from);
      text.replace(from, to - from, std::to_string(v));
    };
    set("output_noise", noise);
    set("dac_bits", bits);
    set("adc_bits", bits);
    const auto path = (dir / "engine.yaml").string();
    std::ofstream(path) << text;
    auto dev = open_device("photonic-sim", {{"description", path}});
    std::filesystem::remove_all(dir);
    return bench_on(*dev, *ref, "tiny")["conformance"]["rms_logit_error"].get<double>();
  };
  const double coarse = errors(0.06, 6), fine = errors(0.001, 12);
  EXPECT_LT(fine, coarse / 5) << fine << " vs " << coarse;
  EXPECT_LT(fine, 0.02);
}

TEST(PhotonicDevice, DeviceOptionsSetParametersAndSayThatTheyDid) {
  std::shared_ptr<xpb::Driver> driver = xpb::DriverRegistry::instance().create("photonic-sim");
  const auto info = driver->enumerate().devices.at(0);
  auto r = driver->open(info, {{"dac_bits", "6"}, {"array_rows", "128"}});
  ASSERT_TRUE(r.outcome.passed()) << r.outcome.reason;
  const auto sim = r.device->describe();
  EXPECT_EQ(sim["parameters"]["dac_bits"]["value"], 6.0);
  EXPECT_EQ(sim["parameters"]["dac_bits"]["kind"], "assumption");
  EXPECT_EQ(sim["parameters"]["dac_bits"]["source"], "device-option");
  EXPECT_TRUE(sim["sources"].contains("device-option"));
  EXPECT_NE(sim["parameters"]["dac_bits"]["note"].get<std::string>().find("the description said 8"), std::string::npos);
  r = driver->open(info, {{"dac_bits", "many"}});
  EXPECT_EQ(r.outcome.status, xpb::Status::invalid);
  EXPECT_NE(r.outcome.reason.find("dac_bits=many: expected a number"), std::string::npos) << r.outcome.reason;
  EXPECT_EQ(driver->open(info, {{"dac_bits", "99"}}).outcome.status, xpb::Status::invalid);
  EXPECT_EQ(driver->open(info, {{"output_nosie", "0.1"}}).outcome.status, xpb::Status::invalid);  // misspelt: refused
  // Deterministic unless jitter is asked for; then seeded: the same seed, the same times.
  EXPECT_TRUE(driver->open(info, {}).device->clock().deterministic);
  auto j1 = driver->open(info, {{"clock_jitter_cv", "0.1"}, {"mode", "timing-only"}}).device;
  auto j2 = driver->open(info, {{"clock_jitter_cv", "0.1"}, {"mode", "timing-only"}}).device;
  ASSERT_TRUE(j1 && j2);
  EXPECT_FALSE(j1->clock().deterministic);
  const auto g = matmul(8, 64, 64);
  auto e1 = j1->compile(g, {}).exe, e2 = j2->compile(g, {}).exe;
  ASSERT_TRUE(e1 && e2);
  const double a = e1->run(1).seconds, b = e1->run(1).seconds;
  EXPECT_NE(a, b);
  EXPECT_EQ(a, e2->run(1).seconds);
  EXPECT_EQ(b, e2->run(1).seconds);
}

TEST(PhotonicDevice, OneSimulatorAtSeveralDesignPointsIsOneDeviceEach) {
  const auto opened = xpb::open_devices({"photonic-sim", "photonic-sim,dac_bits=6", "photonic-sim,dac_bits=6", "cpu"});
  ASSERT_EQ(opened.size(), 3u);
  EXPECT_EQ(opened[0].id, "photonic-sim");
  EXPECT_EQ(opened[1].id, "photonic-sim,dac_bits=6");
  EXPECT_EQ(opened[2].id, "cpu");
  EXPECT_EQ(opened[1].device->describe()["parameters"]["dac_bits"]["value"], 6.0);
  // Named once, a device keeps its plain id whatever its options.
  EXPECT_EQ(xpb::open_devices({"photonic-sim,dac_bits=6"}).at(0).id, "photonic-sim");
}

}  // namespace

