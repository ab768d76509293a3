// The Mann-Whitney U test (the Wilcoxon rank-sum test) of two independent samples: whether
// values of one tend to be larger than values of the other, with no assumption about their
// distribution. It is what Google Benchmark's compare.py applies to repetitions, through
// scipy.stats.mannwhitneyu; this gives the same two-sided p-values (tested against scipy).
#pragma once
#include <optional>
#include <span>

#include "xpubench/export.hpp"

namespace xpb {

struct MannWhitney {
  double u1 = 0;       // U of the first sample: pairs (x_i, y_j) with x_i > y_j, ties counted half
  double p_value = 1;  // two-sided: of a difference either way at least this large
  bool exact = false;  // from the exact null distribution, else the normal approximation
};

// As scipy's method "auto" (scipy 1.7+): exact when either sample has fewer than 8 values and no
// value occurs twice (the null distribution of U is then the coefficients of the Gaussian
// binomial [m+n choose m]_q, counted exactly); otherwise the normal approximation with the tie
// correction of the variance and a continuity correction of 0.5. p = 2 P(U >= max(U1, U2)),
// at most 1; all values equal gives 1. Nothing when a sample is empty or holds a value that
// is not finite.
XPB_API std::optional<MannWhitney> mann_whitney_u(std::span<const double> x, std::span<const double> y);

}  // namespace xpb
