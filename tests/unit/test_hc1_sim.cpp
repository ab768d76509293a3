// hc1-sim: its description (every parameter with unit, kind and source; errors naming the
// place), its timing and energy model against the figures it is built from, refusing what the
// chip could not run, functional mode's 3/6-bit weights and their check against ref, and
// timing-only mode giving the same simulated time without the math.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "grid_rounding.hpp"
#include "hc1_model.hpp"
#include "llama_engine.hpp"
#include "llm_common.hpp"
#include "model_weights.hpp"
#include "sim_description.hpp"
#include "test_devices.hpp"
#include "xpubench/error.hpp"
#include "xpubench/quant.hpp"
#include "xpubench/system_probe.hpp"

namespace xpb::hc1 {
const std::string& builtin_description();
}

namespace {

using xpb::DType;
using xpb::test::open_device;

const std::string kTiny = std::string(XPB_TEST_DATA_DIR) + "/sim/hc1-tiny.yaml";

xpb::sim::SimDescription builtin() {
  return xpb::sim::parse_description(xpb::hc1::builtin_description(), "hc1.yaml", xpb::hc1::parameter_specs());
}

// The built-in text with one line replaced: for descriptions that are wrong in one place.
std::string builtin_with(const std::string& from, const std::string& to) {
  std::string s = xpb::hc1::builtin_description();
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

std::string error_of(const std::string& text) {
  try {
    xpb::sim::parse_description(text, "chip.yaml", xpb::hc1::parameter_specs());
  } catch (const xpb::InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Hc1Description, EveryParameterHasAUnitAKindAndACitedSource) {
  const auto d = builtin();
  EXPECT_EQ(d.parameters.size(), xpb::hc1::parameter_specs().size());
  for (const auto& [name, p] : d.parameters) {
    EXPECT_FALSE(p.unit.empty()) << name;
    EXPECT_TRUE(d.sources.count(p.source)) << name;
  }
  // The vendor's figures are claims; what nobody published is an assumption, never a claim.
  EXPECT_EQ(d.parameters.at("decode_tokens_per_s").kind, "claim");
  EXPECT_EQ(d.parameters.at("card_power_w").kind, "claim");
  EXPECT_EQ(d.parameters.at("prefill_tokens_per_s").kind, "assumption");
  EXPECT_EQ(d.parameters.at("kv_sram_bytes").kind, "assumption");
  const auto j = d.to_json();
  EXPECT_EQ(j["parameters"]["decode_tokens_per_s"]["value"], 17000.0);
  EXPECT_TRUE(j["sources"].contains("taalas-2026"));
}

TEST(Hc1Description, MistakesNameTheFileLineAndWhatWasExpected) {
  EXPECT_NE(error_of(builtin_with("unit: tokens/s, kind: claim", "unit: t/s, kind: claim")).find("is in tokens/s, not 't/s'"),
            std::string::npos);
  EXPECT_NE(error_of(builtin_with("kind: claim, source: taalas-2026, note: \"one user", "kind: rumour, source: taalas-2026, note: \"one user"))
                .find("kind 'rumour'"),
            std::string::npos);
  EXPECT_NE(error_of(builtin_with("  server_cards: {value: 10,", "  server_card: {value: 10,")).find("unknown parameter 'server_card'"),
            std::string::npos);
  const auto missing = error_of(builtin_with("  server_cards: {value: 10, unit: cards, kind: claim, source: taalas-2026}\n", ""));
  EXPECT_NE(missing.find("missing parameters: server_cards"), std::string::npos) << missing;
  const auto range = error_of(builtin_with("card_power_w: {value: 200,", "card_power_w: {value: -5,"));
  EXPECT_NE(range.find("chip.yaml:"), std::string::npos) << range;
  EXPECT_NE(range.find("outside"), std::string::npos) << range;
  EXPECT_NE(error_of(builtin_with("source: meta-llama-3.1}", "source: nobody}")).find("source 'nobody' is not listed"),
            std::string::npos);
  EXPECT_NE(error_of("name: [unclosed").find("chip.yaml:"), std::string::npos);
  // Text goes into JSON results: bytes that are not UTF-8 are refused (found by the fuzzer).
  EXPECT_NE(error_of(builtin_with("name: Taalas HC1 (simulated)", "name: Taalas \x8a")).find("expected UTF-8 text"),
            std::string::npos);
}

TEST(Hc1Description, AUserFileThatIsWrongIsRefusedAtOpenWithItsPlace) {
  const auto dir = std::filesystem::temp_directory_path() / ("xpb-hc1-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto bad = (dir / "chip.yaml").string();
  std::ofstream(bad) << builtin_with("decode_tokens_per_s: {value: 17000,", "decode_tokens_per_s: {value: fast,");
  std::shared_ptr<xpb::Driver> driver = xpb::DriverRegistry::instance().create("hc1-sim");
  const auto info = driver->enumerate().devices.at(0);
  auto r = driver->open(info, {{"description", bad}});
  EXPECT_EQ(r.outcome.status, xpb::Status::invalid);
  EXPECT_NE(r.outcome.reason.find(bad + ":"), std::string::npos) << r.outcome.reason;
  EXPECT_NE(r.outcome.reason.find("expected a number"), std::string::npos) << r.outcome.reason;
  // A directory (or a FIFO) is not read: it is refused by what it is.
  r = driver->open(info, {{"description", dir.string()}});
  EXPECT_EQ(r.outcome.status, xpb::Status::invalid);
  EXPECT_EQ(driver->open(info, {{"mode", "fast"}}).outcome.status, xpb::Status::invalid);
  EXPECT_EQ(driver->open(info, {{"colour", "red"}}).outcome.status, xpb::Status::invalid);
  std::filesystem::remove_all(dir);
}

// --- the timing and energy model -----------------------------------------------------------

TEST(Hc1Model, ReproducesTheVendorRatesItIsBuiltFrom) {
  const xpb::hc1::Hc1Model m(builtin());
  EXPECT_NEAR(1.0 / m.token_seconds(1024), 17000.0, 1e-6);  // claim: ~17k t/s at about 1k context
  EXPECT_NEAR(1.0 / m.token_seconds(0), 20000.0, 1e-6);     // bursts near 20k, at short context
  // One user decoding at position 1023 (context 1024), no new request: exactly t(1024).
  const std::vector<std::int32_t> pos{1023}, seq{0};
  const auto c = m.step(pos, seq);
  EXPECT_DOUBLE_EQ(c.seconds, m.token_seconds(1024));
  EXPECT_DOUBLE_EQ(c.joules, c.seconds * 200.0);  // card power while busy
  // A request's first step pays the host/PCIe overhead.
  const std::vector<std::int32_t> first{0};
  EXPECT_DOUBLE_EQ(m.step(first, seq).seconds, m.token_seconds(1) + 50e-6);
  // KV: 32 layers x K and V x 8 heads x 128 at 8 bits = 64 KiB per position.
  EXPECT_DOUBLE_EQ(m.kv_bytes_per_position(), 65536.0);
  EXPECT_EQ(m.kv_capacity_positions(), 4096u);
  EXPECT_EQ(m.model_parameters(), 8030261248u);  // as the llama-3.1-8b preset counts them
}

TEST(Hc1Model, SequencesShareThePipelineUntilItIsFull) {
  const xpb::hc1::Hc1Model m(builtin());
  auto time_of = [&](int sequences) {
    std::vector<std::int32_t> pos(static_cast<std::size_t>(sequences), 511), seq;
    for (int s = 0; s < sequences; ++s) seq.push_back(s);
    return m.step(pos, seq).seconds;
  };
  const double one = time_of(1);
  EXPECT_DOUBLE_EQ(time_of(2), one);        // two users: each still at the per-user rate
  EXPECT_DOUBLE_EQ(time_of(32), one);       // up to pipeline_slots
  EXPECT_NEAR(time_of(64), 2 * one, 1e-15);  // beyond: the aggregate rate stays at 32 users'
}

TEST(Hc1Model, APromptStreamsAndItsLastTokenTraversesTheChip) {
  const xpb::hc1::Hc1Model m(builtin());
  std::vector<std::int32_t> pos, seq;
  for (int i = 0; i < 100; ++i) pos.push_back(i), seq.push_back(0);
  EXPECT_NEAR(m.step(pos, seq).seconds, 99.0 / 640000 + m.token_seconds(100) + 50e-6, 1e-15);
}

TEST(Hc1Model, WideTensorsAreTheOnesTheDescriptionNames) {
  const xpb::hc1::Hc1Model m(builtin());
  EXPECT_EQ(m.weight_bits("blk.3.attn_v.weight"), 6);
  EXPECT_EQ(m.weight_bits("blk.3.ffn_down.weight"), 6);
  EXPECT_EQ(m.weight_bits("output.weight"), 6);
  EXPECT_EQ(m.weight_bits("blk.0.attn_output.weight"), 3);  // not "output"
  EXPECT_EQ(m.weight_bits("blk.0.attn_q.weight"), 3);
}

TEST(GridRounding, ThreeBitsLeaveSevenLevelsPerBlock) {
  std::vector<float> x(64);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = xpb::synthetic_value(5, i, 1.0f);
  auto y = x;
  xpb::sim::round_to_grid(y, 3, 32);
  for (std::size_t b = 0; b < 64; b += 32) {
    float amax = 0;
    for (std::size_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(x[i]));
    std::set<float> levels;
    for (std::size_t i = b; i < b + 32; ++i) {
      const float q = y[i] / (amax / 3);
      EXPECT_NEAR(q, std::nearbyint(q), 1e-5);
      EXPECT_LE(std::fabs(y[i] - x[i]), amax / 6 * 1.0001f);  // half a step
      levels.insert(y[i]);
    }
    EXPECT_LE(levels.size(), 7u);
  }
}

// --- the device ---------------------------------------------------------------------------

xpb::llm::ModelChoice tiny(DType dtype = DType::f32) {
  return xpb::llm::resolve_model({{"model", "tiny"}, {"dtype", std::string(xpb::name(dtype))}, {"weight_seed", 1}});
}

xpb::llm::GraphShape shape(std::int64_t slots = 1, std::int64_t context = 64) {
  xpb::llm::GraphShape s;
  s.max_rows = 8;
  s.slots = slots;
  s.context = context;
  s.max_outputs = slots;
  return s;
}

TEST(Hc1Device, RefusesEveryModelButTheOneItHardwires) {
  auto dev = open_device("hc1-sim");  // the built-in chip: Llama 3.1 8B
  ASSERT_TRUE(dev);
  const auto m = tiny();
  const auto g = xpb::llm::build_graph(m.config, m.source, shape());
  auto c = dev->compile(g.graph, {});
  EXPECT_EQ(c.outcome.status, xpb::Status::unsupported);
  EXPECT_NE(c.outcome.reason.find("this HC1 hardwires Llama 3.1 8B"), std::string::npos) << c.outcome.reason;
  EXPECT_NE(c.outcome.reason.find("got llama dim=64"), std::string::npos) << c.outcome.reason;
  xpb::Graph copy("memory.bandwidth copy");
  const auto a = copy.add_tensor({"a", {64}, DType::f32, xpb::TensorRole::input, xpb::TensorInit::filled(1)});
  const auto b = copy.add_tensor({"b", {64}, DType::f32, xpb::TensorRole::output, {}});
  copy.add_node(xpb::Op::copy, {a}, {b});
  c = dev->compile(copy, {});
  EXPECT_EQ(c.outcome.status, xpb::Status::unsupported);
  EXPECT_NE(c.outcome.reason.find("which is no model"), std::string::npos) << c.outcome.reason;
}

TEST(Hc1Device, AKvCacheLargerThanItsSramIsRefusedWithTheReason) {
  auto dev = open_device("hc1-sim", {{"description", kTiny}});
  ASSERT_TRUE(dev);
  const auto m = tiny();
  // tiny: 2 layers x K,V x 32 at 8 bits = 128 bytes per position; 256 MiB hold 2^21.
  auto c = dev->compile(xpb::llm::build_graph(m.config, m.source, shape(1, 64)).graph, {});
  EXPECT_TRUE(c.outcome.passed()) << c.outcome.reason;
  c = dev->compile(xpb::llm::build_graph(m.config, m.source, shape(64, 40000)).graph, {});
  EXPECT_EQ(c.outcome.status, xpb::Status::unsupported);
  EXPECT_NE(c.outcome.reason.find("KV SRAM"), std::string::npos) << c.outcome.reason;
}

// Steps of a prompt then decoding on an engine; the simulated seconds and joules of each.
std::vector<xpb::RunResult> drive(xpb::Device& dev, const xpb::llm::ModelChoice& m) {
  auto [o, w] = xpb::llm::ModelWeights::load(dev, m.config, m.source, {});
  EXPECT_TRUE(w) << o.reason;
  auto [eo, e] = xpb::llm::LlamaEngine::create(dev, w, shape(2, 64), {});
  EXPECT_TRUE(e) << eo.reason;
  std::vector<xpb::RunResult> out;
  if (!e) return out;
  xpb::llm::StepInput in;
  for (int i = 0; i < 6; ++i) in.tokens.push_back(i + 3), in.positions.push_back(i), in.sequences.push_back(0);
  in.output_rows = {5};
  out.push_back(e->step(in));
  for (int s = 0; s < 5; ++s) {
    in = {};
    in.tokens = {7, 9};
    in.positions = {6 + s, s};
    in.sequences = {0, 1};
    in.output_rows = {0, 1};
    out.push_back(e->step(in));
  }
  return out;
}

TEST(Hc1Device, TimingOnlyAndFunctionalGiveTheSameSimulatedTimeAndEnergy) {
  auto functional = open_device("hc1-sim", {{"description", kTiny}, {"mode", "functional"}});
  auto timing = open_device("hc1-sim", {{"description", kTiny}, {"mode", "timing-only"}});
  ASSERT_TRUE(functional && timing);
  EXPECT_FALSE(functional->caps().timing_only);
  EXPECT_TRUE(timing->caps().timing_only);
  const auto a = drive(*functional, tiny()), b = drive(*timing, tiny());
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].clock, xpb::ClockKind::simulated);
    EXPECT_EQ(a[i].energy_source, xpb::EnergySource::modeled);
    EXPECT_GT(a[i].seconds, 0);
    EXPECT_DOUBLE_EQ(a[i].seconds, b[i].seconds) << "step " << i;
    EXPECT_DOUBLE_EQ(a[i].energy_joules, b[i].energy_joules) << "step " << i;
  }
  // The prompt step: 5 streamed rows, the last at context 6, and the request's overhead.
  const xpb::hc1::Hc1Model model(xpb::sim::load_description(kTiny, xpb::hc1::parameter_specs()));
  EXPECT_DOUBLE_EQ(a[0].seconds, 5.0 / 640000 + model.token_seconds(6) + 50e-6);
}

TEST(Hc1Device, TheClockIsDeterministicUnlessTheDescriptionAddsSeededJitter) {
  auto dev = open_device("hc1-sim", {{"description", kTiny}, {"mode", "timing-only"}});
  ASSERT_TRUE(dev);
  EXPECT_TRUE(dev->clock().deterministic);
  EXPECT_EQ(dev->clock().kind, xpb::ClockKind::simulated);
  const auto a = drive(*dev, tiny()), b = drive(*dev, tiny());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].seconds, b[i].seconds);

  const auto dir = std::filesystem::temp_directory_path() / ("xpb-hc1-jitter-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string text;
  {
    std::ifstream in(kTiny);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string from = "clock_jitter_cv: {value: 0,";
  text.replace(text.find(from), from.size(), "clock_jitter_cv: {value: 0.1,");
  const auto path = (dir / "jitter.yaml").string();
  std::ofstream(path) << text;
  auto j1 = open_device("hc1-sim", {{"description", path}, {"mode", "timing-only"}});
  auto j2 = open_device("hc1-sim", {{"description", path}, {"mode", "timing-only"}});
  ASSERT_TRUE(j1 && j2);
  EXPECT_FALSE(j1->clock().deterministic);
  const auto x = drive(*j1, tiny()), y = drive(*j2, tiny());
  std::set<double> ratios;
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(x[i].seconds, y[i].seconds);  // the same seed, the same spread
    ratios.insert(x[i].seconds / a[i].seconds);
  }
  EXPECT_GT(ratios.size(), 1u);  // real spread
  std::filesystem::remove_all(dir);
}

TEST(Hc1Device, FunctionalWeightsLieOnTheChipsGrid) {
  auto dev = open_device("hc1-sim", {{"description", kTiny}});  // auto: a tiny model runs functional
  ASSERT_TRUE(dev);
  EXPECT_EQ(dev->info().properties.at("mode"), "functional");
  const auto m = tiny();
  auto [o, w] = xpb::llm::ModelWeights::load(*dev, m.config, m.source, {});
  ASSERT_TRUE(w) << o.reason;
  const auto g = xpb::llm::build_graph(m.config, m.source, shape());
  const auto bound = w->bindings(g);
  auto levels_per_block = [&](const std::string& name) {
    const auto id = g.weights.at(name);
    const auto& t = g.graph.tensor(id);
    const auto* v = reinterpret_cast<const float*>(bound.at(id)->host_data());
    std::size_t most = 0;
    for (std::size_t b = 0; b + 32 <= t.elements(); b += 32) most = std::max(most, std::set<float>(v + b, v + b + 32).size());
    return most;
  };
  EXPECT_LE(levels_per_block("blk.0.attn_q.weight"), 7u);    // 3 bits: -3..3
  EXPECT_GT(levels_per_block("blk.0.attn_v.weight"), 7u);    // 6 bits: up to 63 levels
  EXPECT_LE(levels_per_block("blk.0.attn_v.weight"), 63u);
  // The norms are no matrices: as given.
  const auto norm = g.weights.at("blk.0.attn_norm.weight");
  EXPECT_EQ(reinterpret_cast<const float*>(bound.at(norm)->host_data())[0], 1.0f);
}

TEST(Hc1Device, LlmBenchChecksOnTheChipsWeightsAndReportsWhatTheyCost) {
  auto dev = open_device("hc1-sim", {{"description", kTiny}});
  auto ref = open_device("ref");
  ASSERT_TRUE(dev && ref);
  const auto system = xpb::describe_system();
  const auto records = xpb::test::run_workload(
      "llm.bench", {{"model", "tiny"}, {"dtype", "f32"}, {"n_gen", 8}, {"check", "on"}, {"roofline", "off"}}, *dev,
      ref.get(), system);
  ASSERT_EQ(records.size(), 1u);
  const nlohmann::json j = records[0].to_json();
  EXPECT_EQ(j["status"], "passed") << j.dump(1);
  const auto& c = j["conformance"];
  EXPECT_EQ(c["status"], "passed");
  EXPECT_LT(c["rms_logit_error"].get<double>(), 1e-4);  // the same (rounded) weights on both
  EXPECT_EQ(c["token_agreement"], 1.0);
  // The rounding's cost against the weights as given: 3 bits move the logits a lot.
  const auto& cost = c["accuracy_cost"];
  EXPECT_EQ(cost["status"], "measured") << cost.dump();
  EXPECT_GT(cost["rms_logit_error"].get<double>(), 0.05);
  EXPECT_LT(cost["token_agreement"].get<double>(), 1.0);
  // Simulated time, modeled energy: J/token from the model, never a measurement.
  EXPECT_EQ(j["metrics"][0]["source"], "simulated");
  EXPECT_EQ(j["energy"]["source"], "modeled");
  ASSERT_TRUE(j["energy"].contains("joules_per_token")) << j["energy"].dump();
  EXPECT_GT(j["energy"]["joules_per_token"].get<double>(), 0);
}

TEST(Hc1Device, TimingOnlyRunsAnEightBillionParameterModelWithoutItsWeights) {
  auto dev = open_device("hc1-sim");  // auto: 8B runs timing-only
  auto ref = open_device("ref");
  ASSERT_TRUE(dev && ref);
  EXPECT_EQ(dev->info().properties.at("mode"), "timing-only");
  const auto system = xpb::describe_system();
  const auto records = xpb::test::run_workload(
      "llm.bench", {{"model", "llama-3.1-8b"}, {"dtype", "q8_0"}, {"n_gen", 1000}, {"check", "on"}, {"roofline", "off"}},
      *dev, ref.get(), system);
  ASSERT_EQ(records.size(), 1u);
  const nlohmann::json j = records[0].to_json();
  EXPECT_EQ(j["status"], "passed") << j.dump(1);
  EXPECT_EQ(j["conformance"]["status"], "skipped");
  EXPECT_NE(j["conformance"]["reason"].get<std::string>().find("timing-only"), std::string::npos);
  // 1000 tokens from context 1: between the short-context and the 1k-context rate.
  const double tps = j["metrics"][0]["stats"]["median"].get<double>();
  EXPECT_GT(tps, 17000);
  EXPECT_LT(tps, 20000);
}

}  // namespace
