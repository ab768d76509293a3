#include <gtest/gtest.h>

#include <vector>

#include "xpubench/stats.hpp"

namespace {

TEST(Stats, SummarisesKnownSamples) {
  const std::vector<double> v{5, 1, 4, 2, 3};
  const auto s = xpb::summarize(v);
  EXPECT_EQ(s.n, 5u);
  EXPECT_DOUBLE_EQ(*s.median, 3.0);
  EXPECT_DOUBLE_EQ(*s.mean, 3.0);
  EXPECT_DOUBLE_EQ(*s.min, 1.0);
  EXPECT_DOUBLE_EQ(*s.max, 5.0);
  EXPECT_NEAR(*s.stddev, 1.5811388300841898, 1e-12);  // sample stddev of 1..5
  EXPECT_NEAR(*s.cv, 1.5811388300841898 / 3.0, 1e-12);
}

TEST(Stats, PercentilesInterpolateLikeNumpy) {
  std::vector<double> v;
  for (int i = 1; i <= 10; ++i) v.push_back(i);
  const auto s = xpb::summarize(v);
  // numpy.percentile(range(1, 11), [50, 90, 99]) = 5.5, 9.1, 9.91
  EXPECT_NEAR(*s.p50, 5.5, 1e-12);
  EXPECT_NEAR(*s.p90, 9.1, 1e-12);
  EXPECT_NEAR(*s.p99, 9.91, 1e-12);
}

TEST(Stats, MedianCiRanksMatchBinomialTables) {
  // Tabulated distribution-free 95% CIs of the median (e.g. Conover, Practical Nonparametric
  // Statistics, table A3): n = 6 -> ranks 1..6; n = 10 -> 2..9; n = 20 -> 6..15; n = 100 -> 40..61.
  using Ranks = std::optional<std::pair<std::size_t, std::size_t>>;
  EXPECT_EQ(xpb::median_ci_ranks(5), Ranks{});  // no interval reaches 95% below 6 samples
  EXPECT_EQ(xpb::median_ci_ranks(6), (Ranks{{1, 6}}));
  EXPECT_EQ(xpb::median_ci_ranks(10), (Ranks{{2, 9}}));
  EXPECT_EQ(xpb::median_ci_ranks(20), (Ranks{{6, 15}}));
  EXPECT_EQ(xpb::median_ci_ranks(100), (Ranks{{40, 61}}));
  // Larger n against the binomial CDF summed in exact integer arithmetic (Python's math.comb).
  EXPECT_EQ(xpb::median_ci_ranks(1000), (Ranks{{469, 532}}));
  EXPECT_EQ(xpb::median_ci_ranks(4096), (Ranks{{1985, 2112}}));
}

TEST(Stats, CiBoundsTheMedianAndNarrowsWithMoreSamples) {
  std::vector<double> few, many;
  for (int i = 0; i < 20; ++i) few.push_back(100 + (i % 7));
  for (int i = 0; i < 2000; ++i) many.push_back(100 + (i % 7));
  const auto a = xpb::summarize(few);
  const auto b = xpb::summarize(many);
  EXPECT_LE(*a.ci95_lo, *a.median);
  EXPECT_GE(*a.ci95_hi, *a.median);
  EXPECT_LE(*b.ci95_hi - *b.ci95_lo, *a.ci95_hi - *a.ci95_lo);
}

TEST(Stats, WhatTheSamplesCannotGiveIsAbsentWithTheReason) {
  const auto none = xpb::summarize(std::vector<double>{});
  EXPECT_EQ(none.n, 0u);
  EXPECT_FALSE(none.median);  // no samples: no value, never a 0 that looks like one
  EXPECT_FALSE(none.min);
  EXPECT_NE(none.missing_reason().find("no samples"), std::string::npos);

  const auto one = xpb::summarize(std::vector<double>{42});
  EXPECT_EQ(one.median, 42.0);
  EXPECT_FALSE(one.stddev);  // one sample has no spread
  EXPECT_FALSE(one.cv);
  EXPECT_FALSE(one.ci95_lo);
  EXPECT_NE(one.missing_reason().find("one sample"), std::string::npos);

  const auto two = xpb::summarize(std::vector<double>{1, 3});
  EXPECT_TRUE(two.stddev);
  EXPECT_FALSE(two.ci95_lo);  // not [min, max]: that covers only 50% at n = 2
  EXPECT_FALSE(two.ci95_hi);
  EXPECT_FALSE(two.ci_relative());

  const auto six = xpb::summarize(std::vector<double>{1, 2, 3, 4, 5, 6});
  EXPECT_EQ(six.ci95_lo, 1.0);
  EXPECT_EQ(six.ci95_hi, 6.0);
}

TEST(Stats, AbsentStatisticsAreNullInJsonWithTheReason) {
  const auto j = xpb::to_json(xpb::summarize(std::vector<double>{7}));
  EXPECT_EQ(j["n"], 1);
  EXPECT_EQ(j["median"], 7.0);
  EXPECT_TRUE(j["stddev"].is_null());
  EXPECT_TRUE(j["ci95_lo"].is_null());
  EXPECT_TRUE(j["ci95_hi"].is_null());
  EXPECT_NE(j["missing"].get<std::string>().find("one sample"), std::string::npos);
  const auto empty = xpb::to_json(xpb::summarize(std::vector<double>{}));
  EXPECT_TRUE(empty["median"].is_null());
  EXPECT_TRUE(empty["p99"].is_null());
}

}  // namespace
