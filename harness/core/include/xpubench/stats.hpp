// Summary statistics of repeated measurements (DESIGN.md §6). A statistic that the samples
// cannot give is absent (null in JSON) with the reason, never a number that only looks like
// one: no samples, no value; one sample, no spread; fewer than six, no 95% interval.
#pragma once
#include <cstddef>
#include <optional>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "xpubench/export.hpp"

namespace xpb {

struct XPB_API Stats {
  std::size_t n = 0;
  // n >= 1
  std::optional<double> median, mean, min, max, p50, p90, p99;
  // n >= 2: sample standard deviation (n - 1) and its ratio to |mean| (absent when mean is 0)
  std::optional<double> stddev, cv;
  // n >= 6: distribution-free 95% confidence interval of the median: the order statistics
  // whose ranks bound it by the binomial(n, 1/2) distribution, summed exactly for every n
  // (coverage at least 95%). Below 6 samples no interval reaches 95%.
  std::optional<double> ci95_lo, ci95_hi;

  // Half the CI width relative to |median|; absent without a CI or with a zero median.
  std::optional<double> ci_relative() const;
  // Why the absent statistics are absent ("" when all are present).
  std::string missing_reason() const;
};

// Percentiles use linear interpolation between closest ranks (type 7 of Hyndman & Fan, the
// default of R and numpy). stddev is the sample standard deviation (n - 1).
XPB_API Stats summarize(std::span<const double> samples);

// The 1-based ranks [lo, hi] of the order statistics bounding the 95% CI of the median of n
// samples; nothing when n < 6.
XPB_API std::optional<std::pair<std::size_t, std::size_t>> median_ci_ranks(std::size_t n);

// {n, median, ..., ci95_hi}, absent figures as null, and "missing" with the reason when any is.
XPB_API nlohmann::json to_json(const Stats& s);

// An ordinary least-squares line y = intercept + slope * x (energy against work: the slope
// is the energy of one unit of work, the intercept what a run costs besides). r2 is the
// coefficient of determination; slope_se the slope's standard error, sqrt(SSE / (n - 2) / Sxx);
// the 95% interval is slope +- t(0.975, n - 2) * slope_se (Student's t: exact table to 30
// degrees of freedom, then the Cornish-Fisher expansion z + (z^3 + z) / (4 df)).
struct XPB_API LinearFit {
  std::size_t n = 0;
  double slope = 0, intercept = 0, r2 = 0, slope_se = 0, slope_ci95_lo = 0, slope_ci95_hi = 0;
};
// Nothing with fewer than 3 points, a non-finite value, or x without spread (no slope to see).
XPB_API std::optional<LinearFit> fit_line(std::span<const double> x, std::span<const double> y);
XPB_API nlohmann::json to_json(const LinearFit& f);

}  // namespace xpb
