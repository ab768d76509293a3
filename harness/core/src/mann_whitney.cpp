#include "xpubench/mann_whitney.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace xpb {
namespace {

// P(U >= u) under the null hypothesis for samples of m and n values without ties: the number
// of arrangements with U = k is the coefficient of q^k in the Gaussian binomial
// [m+n choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i), built one factor at a time
// (multiplying by 1 - q^a and dividing by 1 - q^b keep every coefficient a whole count).
double exact_upper_tail(std::size_t m, std::size_t n, double u) {
  if (m > n) std::swap(m, n);
  const std::size_t top = m * n;
  std::vector<double> c(top + 1, 0.0);
  c[0] = 1;
  for (std::size_t i = 1; i <= m; ++i) {
    const std::size_t a = n + i;
    for (std::size_t k = top; k >= a; --k) c[k] -= c[k - a];
    for (std::size_t k = i; k <= top; ++k) c[k] += c[k - i];
  }
  const double total = std::accumulate(c.begin(), c.end(), 0.0);
  double tail = 0;
  for (std::size_t k = 0; k <= top; ++k)
    if (static_cast<double>(k) >= u) tail += c[k];
  return tail / total;
}

}  // namespace

std::optional<MannWhitney> mann_whitney_u(std::span<const double> x, std::span<const double> y) {
  if (x.empty() || y.empty()) return std::nullopt;
  for (const auto* s : {&x, &y})
    for (double v : *s)
      if (!std::isfinite(v)) return std::nullopt;
  const std::size_t m = x.size(), n = y.size(), total = m + n;
  // Ranks of the pooled values, ties given the mean of the ranks they span.
  std::vector<std::pair<double, bool>> pooled;  // value, from x
  pooled.reserve(total);
  for (double v : x) pooled.emplace_back(v, true);
  for (double v : y) pooled.emplace_back(v, false);
  std::sort(pooled.begin(), pooled.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  double rank_sum_x = 0, tie_term = 0;
  bool ties = false;
  for (std::size_t i = 0; i < total;) {
    std::size_t j = i;
    while (j < total && pooled[j].first == pooled[i].first) ++j;
    const double t = static_cast<double>(j - i);
    const double mid_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (std::size_t k = i; k < j; ++k)
      if (pooled[k].second) rank_sum_x += mid_rank;
    if (t > 1) {
      ties = true;
      tie_term += t * t * t - t;
    }
    i = j;
  }
  const double dm = static_cast<double>(m), dn = static_cast<double>(n), dt = static_cast<double>(total);
  MannWhitney r;
  r.u1 = rank_sum_x - dm * (dm + 1) / 2.0;
  const double u = std::max(r.u1, dm * dn - r.u1);
  if (std::min(m, n) < 8 && !ties) {
    r.exact = true;
    r.p_value = std::min(1.0, 2.0 * exact_upper_tail(m, n, u));
    return r;
  }
  const double mean = dm * dn / 2.0;
  const double variance = dm * dn / 12.0 * ((dt + 1) - tie_term / (dt * (dt - 1)));
  if (!(variance > 0)) return r;  // every value equal: no evidence either way, p = 1
  const double z = (u - mean - 0.5) / std::sqrt(variance);
  r.p_value = std::min(1.0, std::erfc(z / std::sqrt(2.0)));  // 2 * the normal upper tail
  return r;
}

}  // namespace xpb
