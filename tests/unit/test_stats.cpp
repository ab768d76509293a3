#include <gtest/gtest.h>

#include <vector>

#include "xpubench/stats.hpp"

namespace {

TEST(Stats, SummarisesKnownSamples) {
  const std::vector<double> v{5, 1, 4, 2, 3};
  const auto s = xpb::summarize(v);
  EXPECT_EQ(s.n, 5u);
  EXPECT_DOUBLE_EQ(s.median, 3.0);
  EXPECT_DOUBLE_EQ(s.mean, 3.0);
  EXPECT_DOUBLE_EQ(s.min, 1.0);
  EXPECT_DOUBLE_EQ(s.max, 5.0);
  EXPECT_NEAR(s.stddev, 1.5811388300841898, 1e-12);  // sample stddev of 1..5
  EXPECT_NEAR(s.cv, 1.5811388300841898 / 3.0, 1e-12);
}

TEST(Stats, PercentilesInterpolateLikeNumpy) {
  std::vector<double> v;
  for (int i = 1; i <= 10; ++i) v.push_back(i);
  const auto s = xpb::summarize(v);
  // numpy.percentile(range(1, 11), [50, 90, 99]) = 5.5, 9.1, 9.91
  EXPECT_NEAR(s.p50, 5.5, 1e-12);
  EXPECT_NEAR(s.p90, 9.1, 1e-12);
  EXPECT_NEAR(s.p99, 9.91, 1e-12);
}

TEST(Stats, MedianCiRanksMatchBinomialTables) {
  // Tabulated distribution-free 95% CIs of the median (e.g. Conover, Practical Nonparametric
  // Statistics, table A3): n = 6 -> ranks 1..6; n = 10 -> 2..9; n = 20 -> 6..15; n = 100 -> 40..61.
  EXPECT_EQ(xpb::median_ci_ranks(5), (std::pair<std::size_t, std::size_t>{1, 5}));
  EXPECT_EQ(xpb::median_ci_ranks(6), (std::pair<std::size_t, std::size_t>{1, 6}));
  EXPECT_EQ(xpb::median_ci_ranks(10), (std::pair<std::size_t, std::size_t>{2, 9}));
  EXPECT_EQ(xpb::median_ci_ranks(20), (std::pair<std::size_t, std::size_t>{6, 15}));
  EXPECT_EQ(xpb::median_ci_ranks(100), (std::pair<std::size_t, std::size_t>{40, 61}));
}

TEST(Stats, CiBoundsTheMedianAndNarrowsWithMoreSamples) {
  std::vector<double> few, many;
  for (int i = 0; i < 20; ++i) few.push_back(100 + (i % 7));
  for (int i = 0; i < 2000; ++i) many.push_back(100 + (i % 7));
  const auto a = xpb::summarize(few);
  const auto b = xpb::summarize(many);
  EXPECT_LE(a.ci95_lo, a.median);
  EXPECT_GE(a.ci95_hi, a.median);
  EXPECT_LE(b.ci95_hi - b.ci95_lo, a.ci95_hi - a.ci95_lo);
}

TEST(Stats, EmptyAndSingleSampleAreFinite) {
  const auto e = xpb::summarize(std::vector<double>{});
  EXPECT_EQ(e.n, 0u);
  EXPECT_EQ(e.median, 0.0);
  const auto one = xpb::summarize(std::vector<double>{42});
  EXPECT_EQ(one.median, 42.0);
  EXPECT_EQ(one.stddev, 0.0);
  EXPECT_EQ(one.ci95_lo, 42.0);
  EXPECT_EQ(one.ci95_hi, 42.0);
}

}  // namespace
