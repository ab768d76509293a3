// `xpubench compare`: the Mann-Whitney U test against scipy's figures, and verdicts on
// synthetic sample sets whose outcome is known (equal, shifted 2% in noise, shifted 30%).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "xpubench/compare.hpp"
#include "xpubench/mann_whitney.hpp"

namespace xpb {
namespace {

using json = nlohmann::json;

// --- Mann-Whitney U -----------------------------------------------------------------------------

// The figures scipy.stats.mannwhitneyu(x, y, alternative="two-sided") gives (scipy 1.17.1).
TEST(MannWhitney, MatchesScipyExactAndAsymptotic) {
  struct Case {
    std::vector<double> x, y;
    double u1, p;
    bool exact;
  };
  std::vector<double> large_x, large_y;
  for (int i = 0; i < 30; ++i) large_x.push_back(std::fmod(i * 0.37, 5.0));
  for (int i = 0; i < 40; ++i) large_y.push_back(1 + std::fmod(i * 0.53, 5.0));
  const Case cases[] = {
      {{1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}, 0.0, 0.007936507936507936, true},
      {{1.1, 2.5, 3.2, 4.8, 6.0, 7.1}, {2.0, 3.9, 5.5, 8.2, 9.1, 10.3, 11.0}, 10.0, 0.13752913752913754, true},
      {{1, 2, 2, 3, 4, 5, 5, 6, 7, 8}, {2, 3, 3, 4, 6, 6, 7, 8, 9, 9}, 33.5, 0.2234935123816728, false},
      {large_x, large_y, 392.0, 0.013792792212757001, false},
      {{3, 3, 3, 3, 3, 3}, {3, 3, 3, 3, 3, 3}, 18.0, 1.0, false},
  };
  for (const auto& c : cases) {
    const auto r = mann_whitney_u(c.x, c.y);
    ASSERT_TRUE(r.has_value());
    EXPECT_DOUBLE_EQ(r->u1, c.u1);
    EXPECT_NEAR(r->p_value, c.p, 1e-12 + 1e-9 * c.p);
    EXPECT_EQ(r->exact, c.exact);
  }
}

TEST(MannWhitney, IsSymmetricAndRefusesWhatItCannotTest) {
  const std::vector<double> a{1, 4, 9, 16, 25, 36, 49, 64, 81}, b{2, 3, 5, 7, 11, 13, 17, 19, 23, 29};
  EXPECT_DOUBLE_EQ(mann_whitney_u(a, b)->p_value, mann_whitney_u(b, a)->p_value);
  EXPECT_DOUBLE_EQ(mann_whitney_u(a, b)->u1 + mann_whitney_u(b, a)->u1, 90.0);
  EXPECT_FALSE(mann_whitney_u({}, b).has_value());
  const std::vector<double> nan{1, std::nan("")};
  EXPECT_FALSE(mann_whitney_u(nan, b).has_value());
}

// --- compare ------------------------------------------------------------------------------------

// `n` samples around `center` with a deterministic spread of about +-1%.
std::vector<double> around(double center, int n, double phase = 0) {
  std::vector<double> s;
  for (int i = 0; i < n; ++i) s.push_back(center * (1 + 0.01 * std::sin(1.7 * i + phase)));
  return s;
}

json metric(const std::string& name, const std::string& unit, const std::string& direction, const std::vector<double>& s,
            const std::string& source = "measured") {
  std::vector<double> sorted = s;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.empty() ? 0
                        : sorted.size() % 2 ? sorted[sorted.size() / 2]
                                            : (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]) / 2;
  return {{"name", name},          {"unit", unit}, {"direction", direction}, {"source", source},
          {"samples", s},          {"stats", {{"n", s.size()}, {"median", median}}}};
}

json record(const std::string& id, const std::string& device, json metrics, const std::string& status = "passed",
            const std::string& clock = "host") {
  return {{"id", id},       {"workload", id.substr(0, id.find('/'))}, {"device", device},
          {"params", {{"case", id}}}, {"status", status},           {"valid", true},
          {"timing", {{"source", clock}}},                           {"metrics", std::move(metrics)}};
}

json result(json benchmarks, const std::string& host = "box", const std::string& hash = "h1") {
  return {{"run", {{"id", "r"}, {"status", "complete"}, {"config_hash", hash}, {"xpubench_version", "0.1.0"}}},
          {"system", {{"hostname", host}, {"cpu_model", "cpu"}}},
          {"devices", json::array({{{"id", "cpu"}}})},
          {"benchmarks", std::move(benchmarks)}};
}

const MetricComparison& row_for(const Comparison& c, const std::string& id) {
  for (const auto& r : c.rows)
    if (r.id == id) return r;
  throw std::runtime_error("no row " + id);
}

TEST(Compare, EqualShiftedInNoiseAndShiftedFarHaveTheirKnownVerdicts) {
  const auto base = result(json::array({
      record("same/cpu", "cpu", {metric("bandwidth", "GB/s", "higher_is_better", around(100, 20))}),
      record("small/cpu", "cpu", {metric("bandwidth", "GB/s", "higher_is_better", around(100, 20))}),
      record("slower/cpu", "cpu", {metric("bandwidth", "GB/s", "higher_is_better", around(100, 20))}),
      record("faster/cpu", "cpu", {metric("latency", "ns", "lower_is_better", around(100, 20))}),
  }));
  const auto next = result(json::array({
      record("same/cpu", "cpu", {metric("bandwidth", "GB/s", "higher_is_better", around(100, 20, 0.5))}),
      record("small/cpu", "cpu", {metric("bandwidth", "GB/s", "higher_is_better", around(102, 20, 0.5))}),
      record("slower/cpu", "cpu", {metric("bandwidth", "GB/s", "higher_is_better", around(70, 20, 0.5))}),
      record("faster/cpu", "cpu", {metric("latency", "ns", "lower_is_better", around(70, 20, 0.5))}),
  }));
  const CompareOptions options;  // 5%, alpha 0.05
  const auto c = compare_results(read_result_view(base), read_result_view(next), options);
  EXPECT_EQ(row_for(c, "same/cpu").verdict, Verdict::noise);
  EXPECT_GT(*row_for(c, "same/cpu").p_value, 0.05);
  // 2% is significant at 20 samples a side with 1% noise, and still within the threshold.
  const auto& small = row_for(c, "small/cpu");
  EXPECT_EQ(small.verdict, Verdict::noise);
  EXPECT_LT(*small.p_value, 0.05);
  EXPECT_NEAR(*small.change_pct, 2.0, 0.5);
  EXPECT_EQ(row_for(c, "slower/cpu").verdict, Verdict::regression);
  EXPECT_NEAR(*row_for(c, "slower/cpu").change_pct, -30.0, 0.5);
  // Latency down 30%: an improvement of 1/0.7 - 1 = 42.9% in its direction.
  EXPECT_EQ(row_for(c, "faster/cpu").verdict, Verdict::improvement);
  EXPECT_NEAR(*row_for(c, "faster/cpu").change_pct, 100.0 / 0.7 - 100.0, 0.5);
  EXPECT_EQ(c.regressions, 1u);
  EXPECT_EQ(c.improvements, 1u);
  EXPECT_EQ(c.geomean_rows, 4u);
  EXPECT_TRUE(c.warnings.empty());
  // With a threshold of 1%, the 2% shift is a significant improvement.
  const auto strict = compare_results(read_result_view(base), read_result_view(next), CompareOptions{1.0, 0.05});
  EXPECT_EQ(row_for(strict, "small/cpu").verdict, Verdict::improvement);
  const auto text = render_comparison(c, options);
  EXPECT_LT(text.find("regression"), text.find("improvement")) << text;  // regressions listed first
  EXPECT_NE(text.find("1 regression(s), 1 improvement(s)"), std::string::npos) << text;
}

TEST(Compare, TooFewSamplesGiveNoVerdictButDeterministicFiguresDo) {
  const auto base = result(json::array({
      record("few/cpu", "cpu", {metric("bandwidth", "GB/s", "higher_is_better", around(100, 3))}),
      record("sim/hc1-sim", "hc1-sim", {metric("tokens_per_second", "t/s", "higher_is_better", {17000}, "simulated")},
             "passed", "simulated"),
  }));
  const auto next = result(json::array({
      record("few/cpu", "cpu", {metric("bandwidth", "GB/s", "higher_is_better", around(50, 3))}),
      record("sim/hc1-sim", "hc1-sim", {metric("tokens_per_second", "t/s", "higher_is_better", {15000}, "simulated")},
             "passed", "simulated"),
  }));
  const auto c = compare_results(read_result_view(base), read_result_view(next), {});
  const auto& few = row_for(c, "few/cpu");
  EXPECT_EQ(few.verdict, Verdict::unknown);  // 3 against 3: p >= 0.1 whatever the values
  EXPECT_NE(few.why.find("cannot reach p < 0.05"), std::string::npos) << few.why;
  const auto& sim = row_for(c, "sim/hc1-sim");
  EXPECT_TRUE(sim.deterministic);
  EXPECT_EQ(sim.verdict, Verdict::regression);
}

TEST(Compare, MissingOrFailedBenchmarksAndDifferentMachinesAreSaid) {
  const auto base = result(json::array({
      record("gone/cpu", "cpu", {metric("bandwidth", "GB/s", "higher_is_better", around(100, 10))}),
      record("broke/cpu", "cpu", {metric("bandwidth", "GB/s", "higher_is_better", around(100, 10))}),
  }));
  const auto next = result(json::array({
                               record("broke/cpu", "cpu", json::array(), "failed"),
                               record("new/cpu", "cpu", {metric("bandwidth", "GB/s", "higher_is_better", around(9, 10))}),
                           }),
                           "other-box", "h2");
  const auto c = compare_results(read_result_view(base), read_result_view(next), {});
  EXPECT_EQ(row_for(c, "gone/cpu").verdict, Verdict::only_in_base);
  EXPECT_EQ(row_for(c, "new/cpu").verdict, Verdict::only_in_new);
  const auto& broke = row_for(c, "broke/cpu");
  EXPECT_EQ(broke.verdict, Verdict::only_in_base);
  EXPECT_NE(broke.why.find("the new record (failed) has no bandwidth"), std::string::npos) << broke.why;
  std::string warnings;
  for (const auto& w : c.warnings) warnings += w + "\n";
  EXPECT_NE(warnings.find("machines (hostname) differ: base box, new other-box"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("the configurations differ"), std::string::npos) << warnings;
  EXPECT_EQ(c.regressions, 0u);
}

TEST(Compare, DevicesOfOneResultAgainstABaseDevice) {
  auto doc = result(json::array({
      record("memory.bandwidth/cpu", "cpu", {metric("bandwidth", "GB/s", "higher_is_better", around(20, 10))}),
      record("memory.bandwidth/opencl", "opencl", {metric("bandwidth", "GB/s", "higher_is_better", around(40, 10))}),
      record("llm.bench/cpu", "cpu", {metric("tokens_per_second", "t/s", "higher_is_better", around(600, 10))}),
      record("llm.bench/hc1-sim", "hc1-sim",
             {metric("tokens_per_second", "t/s", "higher_is_better", {17000}, "simulated"),
              metric("energy_per_token", "J/token", "lower_is_better", {0.0118}, "modeled")},
             "passed", "simulated"),
  }));
  // The same workload and parameters on each device.
  for (auto& b : doc["benchmarks"]) b["params"] = {{"case", b["workload"]}};
  doc["devices"] = json::array({{{"id", "cpu"}}, {{"id", "opencl"}}, {{"id", "hc1-sim"}, {"simulated", true}}});
  const auto c = compare_devices(read_result_view(doc), "cpu", {});
  ASSERT_EQ(c.rows.size(), 2u);  // hc1-sim's J/token has no cpu figure to compare with
  EXPECT_EQ(c.rows[0].new_device, "opencl");
  EXPECT_NEAR(*c.rows[0].change_pct, 100.0, 1.0);
  EXPECT_EQ(c.rows[1].new_device, "hc1-sim");
  EXPECT_EQ(c.rows[1].metric, "tokens_per_second");
  EXPECT_NE(c.warnings.at(0).find("hc1-sim is simulated"), std::string::npos);
  EXPECT_THROW(compare_devices(read_result_view(doc), "gpu", {}), std::invalid_argument);
}

TEST(Compare, TheJsonHoldsEveryRowAndTheSummary) {
  const auto base = result(json::array({record("a/cpu", "cpu", {metric("x", "GB/s", "higher_is_better", around(10, 12))})}));
  const auto next = result(json::array({record("a/cpu", "cpu", {metric("x", "GB/s", "higher_is_better", around(5, 12))})}));
  const CompareOptions options;
  const auto j = to_json(compare_results(read_result_view(base), read_result_view(next), options), options);
  EXPECT_EQ(j["regressions"], 1);
  EXPECT_EQ(j["rows"].size(), 1u);
  EXPECT_EQ(j["rows"][0]["verdict"], "regression");
  EXPECT_NEAR(j["rows"][0]["change_pct"].get<double>(), -50.0, 0.5);
  EXPECT_EQ(j["threshold_pct"], 5.0);
}

}  // namespace
}  // namespace xpb
