// The HTML report's SVG charts (reports/svg_chart.cpp): CDF points, axes, markers, escaping.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "reports/svg_chart.hpp"

namespace xpb::svg {
namespace {

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = 0; (at = text.find(needle, at)) != std::string::npos; at += needle.size()) ++n;
  return n;
}

TEST(SvgChart, CdfKeepsTheExtremesAndItsShapeFromFewPoints) {
  std::vector<double> values;
  for (int i = 99999; i >= 0; --i) values.push_back(i);  // unsorted on purpose
  values.push_back(NAN);                                  // not a value: left out
  const auto points = cdf_points(values, 120);
  ASSERT_EQ(points.size(), 120u);
  EXPECT_EQ(points.front(), std::make_pair(0.0, 1e-5));
  EXPECT_EQ(points.back(), std::make_pair(99999.0, 1.0));
  for (std::size_t i = 1; i < points.size(); ++i) {
    EXPECT_GT(points[i].first, points[i - 1].first);
    EXPECT_GT(points[i].second, points[i - 1].second);
    EXPECT_NEAR(points[i].second, points[i].first / 1e5, 1e-4);  // uniform values: the CDF is the diagonal
  }
  EXPECT_EQ(cdf_points({3.0, 1.0}, 120), (std::vector<std::pair<double, double>>{{1.0, 0.5}, {3.0, 1.0}}));
  EXPECT_TRUE(cdf_points({}, 120).empty());
}

TEST(SvgChart, NothingToDrawIsNoChart) {
  EXPECT_EQ(render(BarChart{}), "");
  LineChart empty;
  empty.series.push_back({"a", {{NAN, 1.0}}, 0, false, false});
  EXPECT_EQ(render(empty), "");
}

TEST(SvgChart, BarsSpanningMoreThanAHundredfoldGetALogAxis) {
  BarChart wide{"energy_per_token (J/token)", {{"hc1-sim", 0.0106, {}, {}, 0, true, "hc1"}, {"photonic-sim", 1135, {}, {}, 1, true, "ph"}}};
  const auto log = render(wide);
  EXPECT_NE(log.find("(log scale)"), std::string::npos);
  EXPECT_NE(log.find(">1000</text>"), std::string::npos);
  EXPECT_NE(log.find(">0.01</text>"), std::string::npos);
  EXPECT_EQ(count(log, "<g class=\"bar modeled\">"), 2u);
  BarChart narrow{"bandwidth (GB/s)", {{"cpu", 12, 11.5, 12.5, 0, false, "cpu"}, {"opencl", 20, {}, {}, 1, false, "cl"}}};
  const auto linear = render(narrow);
  EXPECT_EQ(linear.find("log scale"), std::string::npos);
  EXPECT_EQ(count(linear, "<path class=\"ci\""), 1u);  // the whisker where there is a CI
  EXPECT_EQ(count(linear, "<rect "), 2u);
}

TEST(SvgChart, ADeadlineWidensTheAxisACacheSizeOutOfRangeIsLeftOut) {
  LineChart chart;
  chart.x_label = "frame_latency (ms)";
  chart.y_label = "fraction";
  chart.x_from_zero = true;
  chart.series.push_back({"cpu <&> \"x\"", cdf_points({60, 64, 70}, 120), 0, false, true});
  chart.markers.push_back({750, "deadline 750 ms", true});
  chart.markers.push_back({5000, "L3 beyond", false});
  const auto svg = render(chart);
  EXPECT_NE(svg.find(">deadline 750 ms</text>"), std::string::npos);
  EXPECT_EQ(svg.find("L3 beyond"), std::string::npos);
  EXPECT_NE(svg.find("y=\"311.0\" text-anchor=\"middle\">0</text>"), std::string::npos) << svg;  // x from zero
  EXPECT_NE(svg.find("<title>cpu &lt;&amp;&gt; &quot;x&quot;</title>"), std::string::npos);
  EXPECT_EQ(svg.find("<&>"), std::string::npos);
}

TEST(SvgChart, ExtremeSingleAndNonPositiveValuesStillMakeValidNumbers) {
  LineChart huge;
  huge.series.push_back({"a", {{1.0, -1e308}, {2.0, 1e308}}, 0, false, false});
  LineChart single;
  single.x_from_zero = true;
  single.series.push_back({"b", {{-5.0, 0.5}, {-5.0, 1.0}}, 0, false, true});
  BarChart whiskers{"J/token", {{"a", 0.01, -1.0, 0.02, 0, false, "a"}, {"b", 1000, 900, 1100, 1, false, "b"}}};
  for (const auto& svg : {render(huge), render(single), render(whiskers)}) {
    ASSERT_FALSE(svg.empty());
    EXPECT_EQ(svg.find("nan"), std::string::npos) << svg;
    EXPECT_EQ(svg.find("inf"), std::string::npos) << svg;
  }
  // The one x value (-5) inside its axis, which still reaches 0.
  EXPECT_NE(render(single).find("text-anchor=\"middle\">-6</text>"), std::string::npos) << render(single);
  EXPECT_NE(render(single).find("text-anchor=\"middle\">0</text>"), std::string::npos);
  EXPECT_NE(render(whiskers).find("(log scale)"), std::string::npos);  // a whisker below 0 does not undo it
}

}  // namespace
}  // namespace xpb::svg
