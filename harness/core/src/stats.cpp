#include "xpubench/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace xpb {
namespace {

// Linear interpolation between closest ranks over sorted values (Hyndman & Fan type 7).
double percentile_sorted(const std::vector<double>& v, double q) {
  const double h = (static_cast<double>(v.size()) - 1.0) * q;
  const auto lo = static_cast<std::size_t>(std::floor(h));
  const auto hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (h - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

nlohmann::json opt(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

}  // namespace

std::optional<std::pair<std::size_t, std::size_t>> median_ci_ranks(std::size_t n) {
  // The CI is [x_(j), x_(n-j+1)] with j the largest rank such that P(B <= j-1) <= 0.025 for
  // B ~ Binomial(n, 1/2); its coverage is then 1 - 2 P(B <= j-1) >= 95%. The binomial CDF is
  // summed exactly (in log space, so n in the millions is fine). Below n = 6 even
  // [x_(1), x_(n)] covers less than 95%, so there is no such interval.
  if (n < 6) return std::nullopt;
  // log P(B = k) by the recurrence P(k + 1) = P(k) (n - k) / (k + 1) from P(0) = 2^-n: one
  // log per step instead of three lgamma calls (the runner's validity check pays for this).
  double log_pmf = static_cast<double>(n) * std::log(0.5);
  double cdf = 0.0;
  std::size_t j = 0;
  for (std::size_t k = 0; k <= n / 2; ++k) {
    if (k > 0) log_pmf += std::log(static_cast<double>(n - k + 1) / static_cast<double>(k));
    cdf += std::exp(log_pmf);
    if (cdf > 0.025) break;
    j = k + 1;  // P(B <= k) <= 0.025, so rank k + 1 qualifies
  }
  if (j == 0) j = 1;
  return std::make_pair(j, n - j + 1);
}

std::optional<double> Stats::ci_relative() const {
  if (!ci95_lo || !ci95_hi || !median || *median == 0.0) return std::nullopt;
  return (*ci95_hi - *ci95_lo) / 2.0 / std::fabs(*median);
}

std::string Stats::missing_reason() const {
  if (n == 0) return "no samples: no statistic has a value";
  if (n == 1) return "one sample: no spread and no confidence interval";
  if (n < 6) return std::to_string(n) + " samples: no distribution-free 95% confidence interval of the median below 6";
  if (!cv) return "the mean is 0: no coefficient of variation";
  return "";
}

Stats summarize(std::span<const double> samples) {
  Stats s;
  s.n = samples.size();
  if (s.n == 0) return s;
  std::vector<double> v(samples.begin(), samples.end());
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  s.median = s.p50 = percentile_sorted(v, 0.5);
  s.p90 = percentile_sorted(v, 0.9);
  s.p99 = percentile_sorted(v, 0.99);
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(s.n);
  s.mean = mean;
  if (s.n > 1) {
    double ss = 0.0;
    for (double x : v) ss += (x - mean) * (x - mean);
    s.stddev = std::sqrt(ss / static_cast<double>(s.n - 1));
    if (mean != 0.0) s.cv = *s.stddev / std::fabs(mean);
  }
  if (const auto ranks = median_ci_ranks(s.n)) {
    s.ci95_lo = v[ranks->first - 1];
    s.ci95_hi = v[ranks->second - 1];
  }
  return s;
}

nlohmann::json to_json(const Stats& s) {
  nlohmann::json j = {{"n", s.n},          {"median", opt(s.median)}, {"mean", opt(s.mean)},
                      {"stddev", opt(s.stddev)}, {"cv", opt(s.cv)},      {"min", opt(s.min)},
                      {"max", opt(s.max)},    {"p50", opt(s.p50)},      {"p90", opt(s.p90)},
                      {"p99", opt(s.p99)},    {"ci95_lo", opt(s.ci95_lo)}, {"ci95_hi", opt(s.ci95_hi)}};
  if (const auto why = s.missing_reason(); !why.empty()) j["missing"] = why;
  return j;
}

namespace {

// Student's t, two-sided 95% (the 0.975 quantile), for 1..30 degrees of freedom.
constexpr double kT975[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                            2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                            2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};

double t975(std::size_t df) {
  if (df >= 1 && df <= 30) return kT975[df - 1];
  constexpr double z = 1.959964;
  return z + (z * z * z + z) / (4.0 * static_cast<double>(df));
}

}  // namespace

std::optional<LinearFit> fit_line(std::span<const double> x, std::span<const double> y) {
  const std::size_t n = std::min(x.size(), y.size());
  if (n < 3) return std::nullopt;
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) return std::nullopt;
    mx += x[i];
    my += y[i];
  }
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  double sxx = 0, sxy = 0, syy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (!(sxx > 0)) return std::nullopt;
  LinearFit f;
  f.n = n;
  f.slope = sxy / sxx;
  f.intercept = my - f.slope * mx;
  const double sse = std::max(0.0, syy - f.slope * sxy);
  f.r2 = syy > 0 ? 1.0 - sse / syy : 1.0;  // every y equal and on the line: a perfect fit
  f.slope_se = std::sqrt(sse / static_cast<double>(n - 2) / sxx);
  const double half = t975(n - 2) * f.slope_se;
  f.slope_ci95_lo = f.slope - half;
  f.slope_ci95_hi = f.slope + half;
  return f;
}

nlohmann::json to_json(const LinearFit& f) {
  return {{"n", f.n},         {"slope", f.slope},       {"intercept", f.intercept},        {"r2", f.r2},
          {"slope_se", f.slope_se}, {"slope_ci95_lo", f.slope_ci95_lo}, {"slope_ci95_hi", f.slope_ci95_hi}};
}

}  // namespace xpb
