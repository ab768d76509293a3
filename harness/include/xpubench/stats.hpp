// Summary statistics of repeated measurements (DESIGN.md §6).
#pragma once
#include <cstddef>
#include <span>

#include <nlohmann/json.hpp>

namespace xpb {

struct Stats {
  std::size_t n = 0;
  double median = 0, mean = 0, stddev = 0, cv = 0, min = 0, max = 0;
  double p50 = 0, p90 = 0, p99 = 0;
  // Distribution-free 95% confidence interval of the median: the order statistics whose ranks
  // bound it by the binomial(n, 1/2) distribution, summed exactly for every n (coverage at
  // least 95%). With n < 6 no such interval exists at 95%; then lo = min and hi = max.
  double ci95_lo = 0, ci95_hi = 0;

  // Half the CI width relative to the median; 0 when the median is 0.
  double ci_relative() const;
};

// Percentiles use linear interpolation between closest ranks (type 7 of Hyndman & Fan, the
// default of R and numpy). stddev is the sample standard deviation (n - 1).
Stats summarize(std::span<const double> samples);

// The 1-based ranks [lo, hi] of the order statistics bounding the 95% CI of the median of n
// samples; {1, n} when n is too small for a 95% interval.
std::pair<std::size_t, std::size_t> median_ci_ranks(std::size_t n);

nlohmann::json to_json(const Stats& s);

}  // namespace xpb
