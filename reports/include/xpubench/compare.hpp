// `xpubench compare`: two results, or the devices of one, benchmark by benchmark and metric by
// metric, with a verdict a CI pipeline can gate on. Google Benchmark's compare.py is the anchor
// (relative change per benchmark, a Mann-Whitney U test on the repetitions, a geometric mean):
// this does that in each metric's direction, from the raw samples the result keeps, and says
// when the two sides are not comparable.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/export.hpp"
#include "xpubench/result_view.hpp"

namespace xpb {

struct CompareOptions {
  double threshold_pct = 5.0;  // a change smaller than this, in percent, is noise however significant
  double alpha = 0.05;         // the Mann-Whitney p-value below which a change is significant
};

// What a row's change is. Only `regression` trips `--fail-on-regression`.
enum class Verdict {
  regression,    // significant, and worse by more than the threshold
  improvement,   // significant, and better by more than the threshold
  noise,         // within the threshold, or not significant
  unknown,       // no verdict: too few samples on a side to ever be significant, or no median
  only_in_base,  // the benchmark or metric is missing from the new result
  only_in_new,
};
XPB_API const char* name(Verdict v);

struct MetricComparison {
  std::string id;       // the base's benchmark id (compare_devices: workload/params, no device)
  std::string workload, base_device, new_device, metric, unit, direction, source;
  nlohmann::json params = nlohmann::json::object();
  std::optional<double> base_median, new_median;
  std::size_t base_n = 0, new_n = 0;
  // new / base medians, and the change in the metric's direction: +10 means 10% better
  // (faster, or less energy), whichever way the unit runs.
  std::optional<double> ratio, change_pct;
  std::optional<double> p_value;  // two-sided Mann-Whitney U over the raw samples
  bool deterministic = false;     // both sides from a deterministic (simulated) clock: exact figures
  Verdict verdict = Verdict::unknown;
  std::string why;  // the verdict in words
};

struct Comparison {
  std::vector<MetricComparison> rows;
  // Why the two sides may not be comparable: different machines, xpubench versions, suites or
  // configurations, run policies; a side that was interrupted.
  std::vector<std::string> warnings;
  // The geometric mean of the directed ratios (better = above 1) of rows with both medians,
  // and how many rows it covers.
  std::optional<double> geomean_speedup;
  std::size_t geomean_rows = 0;
  std::size_t regressions = 0, improvements = 0;
};

// Every metric of every benchmark id in either result. A row needs a passed record with
// samples on both sides for a verdict; a record that did not pass on one side is `unknown` with
// that side's status. With fewer samples than any test could call significant at `alpha`
// (3 against 3 at 0.05), the verdict is `unknown`, never `noise`. Deterministic figures
// (simulated or modeled on a deterministic clock) need no test: any change past the threshold
// is real.
XPB_API Comparison compare_results(const ResultView& base, const ResultView& next, const CompareOptions& options);

// The devices of one result against one of them (`base_device`): each other device's records
// with the same workload and parameters, metric by metric (cpu against opencl:0 and hc1-sim).
// Throws std::invalid_argument naming the devices there are when base_device is not among them.
XPB_API Comparison compare_devices(const ResultView& result, const std::string& base_device,
                                   const CompareOptions& options);

// The comparison as a table (one row per metric, regressions first), the warnings, the
// geometric mean and a one-line verdict.
XPB_API std::string render_comparison(const Comparison& c, const CompareOptions& options);
XPB_API nlohmann::json to_json(const Comparison& c, const CompareOptions& options);

}  // namespace xpb
