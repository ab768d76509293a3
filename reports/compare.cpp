#include "xpubench/compare.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include "report_format.hpp"
#include "xpubench/mann_whitney.hpp"

namespace xpb {

const char* name(Verdict v) {
  switch (v) {
    case Verdict::regression: return "regression";
    case Verdict::improvement: return "improvement";
    case Verdict::noise: return "noise";
    case Verdict::unknown: return "unknown";
    case Verdict::only_in_base: return "only in base";
    case Verdict::only_in_new: return "only in new";
  }
  return "?";
}

namespace {

// The smallest two-sided p-value the exact Mann-Whitney test can give for m against n values:
// every value of one side above every value of the other, 2 / C(m+n, m). With fewer samples
// than make this fall below alpha, no difference could ever be called significant.
double smallest_p(std::size_t m, std::size_t n) {
  double c = 1;  // C(m+n, m), in doubles: only compared with 2 / alpha
  for (std::size_t i = 1; i <= std::min(m, n); ++i) c = c * static_cast<double>(std::max(m, n) + i) / static_cast<double>(i);
  return std::min(1.0, 2.0 / c);
}

bool no_spread(const std::vector<double>& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](double v) { return v == s.front(); });
}

// A row about the benchmark on two sides (either may be absent), before any metric.
MetricComparison row_about(const BenchmarkView* b, const BenchmarkView* n) {
  MetricComparison row;
  const BenchmarkView& any = b != nullptr ? *b : *n;
  row.id = any.id;
  row.workload = any.workload;
  row.params = any.params;
  row.base_device = b != nullptr ? b->device : "";
  row.new_device = n != nullptr ? n->device : "";
  return row;
}

// One metric of a benchmark on two sides; a side may be absent (nullptr).
MetricComparison compare_metric(const BenchmarkView* b, const MetricView* bm, const BenchmarkView* n,
                                const MetricView* nm, const CompareOptions& options) {
  MetricComparison row = row_about(b, n);
  const MetricView& anym = bm != nullptr ? *bm : *nm;
  row.metric = anym.name;
  row.unit = anym.unit;
  row.direction = anym.direction;
  row.source = anym.source;
  if (bm != nullptr) {
    row.base_median = bm->median;
    row.base_n = bm->samples.size();
  }
  if (nm != nullptr) {
    row.new_median = nm->median;
    row.new_n = nm->samples.size();
  }
  if (bm == nullptr || nm == nullptr) {
    row.verdict = bm == nullptr ? Verdict::only_in_new : Verdict::only_in_base;
    if (b == nullptr || n == nullptr)
      row.why = std::string("the benchmark is not in the ") + (b == nullptr ? "base" : "new") + " result";
    else
      row.why = std::string("the ") + (bm == nullptr ? "base" : "new") + " record (" +
                (bm == nullptr ? b->status : n->status) + ") has no " + anym.name;
    return row;
  }
  if (b->status != "passed" || n->status != "passed") {
    row.why = "not passed on both sides (base " + b->status + ", new " + n->status + ")";
    return row;
  }
  if (!row.base_median || !row.new_median || *row.base_median == 0 || *row.new_median == 0) {
    row.why = "a median is missing or zero: no ratio";
    return row;
  }
  row.ratio = *row.new_median / *row.base_median;
  const bool lower_better = row.direction == "lower_is_better";
  const double speedup = lower_better ? 1.0 / *row.ratio : *row.ratio;  // above 1 is better
  row.change_pct = 100.0 * (speedup - 1.0);
  const bool past_threshold = std::fabs(*row.change_pct) > options.threshold_pct;
  row.deterministic = b->clock == "simulated" && n->clock == "simulated" && no_spread(bm->samples) &&
                      no_spread(nm->samples);
  if (row.deterministic) {
    // A simulated clock with no jitter gives the same figure every time: a change is the
    // model's, not noise, and no test is needed.
    row.verdict = !past_threshold ? Verdict::noise : *row.change_pct < 0 ? Verdict::regression : Verdict::improvement;
    row.why = !past_threshold ? "deterministic, within the threshold" : "deterministic figures (simulated clock)";
    return row;
  }
  if (const auto mw = mann_whitney_u(bm->samples, nm->samples)) row.p_value = mw->p_value;
  if (!row.p_value) {
    row.why = "no samples to test";
    return row;
  }
  if (smallest_p(row.base_n, row.new_n) >= options.alpha) {
    row.why = fmt::format("{} against {} samples cannot reach p < {} whatever they hold", row.base_n, row.new_n,
                          options.alpha);
    return row;
  }
  const bool significant = *row.p_value < options.alpha;
  if (significant && past_threshold) {
    row.verdict = *row.change_pct < 0 ? Verdict::regression : Verdict::improvement;
    row.why = fmt::format("p = {:.2g} < {}", *row.p_value, options.alpha);
  } else {
    row.verdict = Verdict::noise;
    row.why = !significant ? fmt::format("not significant (p = {:.2g})", *row.p_value)
                           : fmt::format("within {}% (p = {:.2g})", options.threshold_pct, *row.p_value);
  }
  return row;
}

const MetricView* metric_named(const BenchmarkView& b, const std::string& name) {
  for (const auto& m : b.metrics)
    if (m.name == name) return &m;
  return nullptr;
}

// Every metric of the pair (either side may be absent), in the base's order then the new's.
void compare_pair(const BenchmarkView* b, const BenchmarkView* n, const CompareOptions& options, Comparison& out) {
  std::vector<std::string> names;
  for (const auto* side : {b, n})
    if (side != nullptr)
      for (const auto& m : side->metrics)
        if (std::find(names.begin(), names.end(), m.name) == names.end()) names.push_back(m.name);
  if (names.empty()) {
    // Neither side has a figure: a row still says what happened, so a benchmark that stopped
    // passing does not vanish from the comparison.
    if (b != nullptr && n != nullptr && b->status == n->status) return;
    MetricComparison row = row_about(b, n);
    row.metric = "-";
    row.verdict = b == nullptr ? Verdict::only_in_new : n == nullptr ? Verdict::only_in_base : Verdict::unknown;
    row.why = "base " + (b != nullptr ? b->status : std::string("absent")) + ", new " +
              (n != nullptr ? n->status : std::string("absent"));
    out.rows.push_back(std::move(row));
    return;
  }
  for (const auto& name : names) {
    const MetricView* bm = b != nullptr ? metric_named(*b, name) : nullptr;
    const MetricView* nm = n != nullptr ? metric_named(*n, name) : nullptr;
    out.rows.push_back(compare_metric(b, bm, n, nm, options));
  }
}

void summarise(Comparison& c) {
  double log_sum = 0;
  for (const auto& row : c.rows) {
    if (row.verdict == Verdict::regression) ++c.regressions;
    if (row.verdict == Verdict::improvement) ++c.improvements;
    if (!row.change_pct) continue;
    log_sum += std::log1p(*row.change_pct / 100.0);
    ++c.geomean_rows;
  }
  if (c.geomean_rows > 0) c.geomean_speedup = std::exp(log_sum / static_cast<double>(c.geomean_rows));
}

std::string system_field(const ResultView& r, const char* key) {
  return r.system.is_object() && r.system.contains(key) && r.system[key].is_string() ? r.system[key].get<std::string>()
                                                                                        : std::string();
}

std::vector<std::string> differences(const ResultView& base, const ResultView& next) {
  std::vector<std::string> w;
  auto differ = [&](const std::string& what, const std::string& a, const std::string& b) {
    if (a != b) w.push_back(what + " differ: base " + (a.empty() ? "(none)" : a) + ", new " + (b.empty() ? "(none)" : b));
  };
  differ("machines (hostname)", system_field(base, "hostname"), system_field(next, "hostname"));
  differ("CPU models", system_field(base, "cpu_model"), system_field(next, "cpu_model"));
  differ("kernels", system_field(base, "kernel"), system_field(next, "kernel"));
  differ("xpubench versions", base.run.xpubench_version, next.run.xpubench_version);
  differ("git revisions", base.run.git_revision, next.run.git_revision);
  differ("suites", fmt::format("{}", fmt::join(base.run.suites, ",")), fmt::format("{}", fmt::join(next.run.suites, ",")));
  if (base.run.quick != next.run.quick)
    w.push_back(std::string("one run is --quick and the other is not (base ") + (base.run.quick ? "quick" : "full") +
                ", new " + (next.run.quick ? "quick" : "full") + "): different sizes and sampling");
  if (base.run.config_hash != next.run.config_hash)
    w.push_back("the configurations differ (config_hash " + base.run.config_hash + " against " + next.run.config_hash +
                "): not the same plan and devices; only benchmarks with the same id are compared");
  if (base.run.policy != next.run.policy) w.push_back("the run policies differ: samples were taken differently");
  for (const auto* side : {&base, &next})
    if (!side->run.status.empty() && side->run.status != "complete")
      w.push_back(std::string(side == &base ? "the base" : "the new") + " run is " + side->run.status +
                  ": some benchmarks may be missing");
  return w;
}

}  // namespace

Comparison compare_results(const ResultView& base, const ResultView& next, const CompareOptions& options) {
  Comparison c;
  c.warnings = differences(base, next);
  std::map<std::string, const BenchmarkView*> in_new;
  for (const auto& b : next.benchmarks) in_new[b.id] = &b;
  std::set<std::string> seen;
  for (const auto& b : base.benchmarks) {
    seen.insert(b.id);
    const auto it = in_new.find(b.id);
    compare_pair(&b, it != in_new.end() ? it->second : nullptr, options, c);
  }
  for (const auto& n : next.benchmarks)
    if (!seen.count(n.id)) compare_pair(nullptr, &n, options, c);
  summarise(c);
  return c;
}

Comparison compare_devices(const ResultView& result, const std::string& base_device, const CompareOptions& options) {
  std::vector<std::string> ids;
  for (const auto& d : result.devices) ids.push_back(d.id);
  if (std::find(ids.begin(), ids.end(), base_device) == ids.end())
    throw std::invalid_argument(fmt::format("--base-device {}: not a device of this result (it has: {})", base_device,
                                            fmt::join(ids, ", ")));
  Comparison c;
  // The same benchmark on each device: workload and parameters, the id without its device.
  auto key = [](const BenchmarkView& b) { return b.workload + "/" + b.params.dump(); };
  std::map<std::string, const BenchmarkView*> on_base;
  for (const auto& b : result.benchmarks)
    if (b.device == base_device) on_base[key(b)] = &b;
  for (const auto& b : result.benchmarks) {
    if (b.device == base_device) continue;
    const auto it = on_base.find(key(b));
    if (it == on_base.end()) continue;  // only what both devices ran
    const std::size_t first = c.rows.size();
    compare_pair(it->second, &b, options, c);
    // Only the metrics both devices report: a simulator's J/token against a cpu without a
    // sensor is no comparison.
    c.rows.erase(std::remove_if(c.rows.begin() + static_cast<std::ptrdiff_t>(first), c.rows.end(),
                                [](const MetricComparison& r) {
                                  return r.verdict == Verdict::only_in_base || r.verdict == Verdict::only_in_new;
                                }),
                 c.rows.end());
    for (auto it2 = c.rows.begin() + static_cast<std::ptrdiff_t>(first); it2 != c.rows.end(); ++it2)
      it2->id = b.workload + "/" + report_format::params_text(b.params);
  }
  const bool any_measured = std::any_of(result.devices.begin(), result.devices.end(),
                                       [](const DeviceView& d) { return !d.simulated; });
  for (const auto& d : result.devices)
    if (d.simulated && any_measured)
      c.warnings.push_back(d.id + " is simulated: its time and energy are a model's, set against measured figures");
  summarise(c);
  return c;
}

std::string render_comparison(const Comparison& c, const CompareOptions& options) {
  std::vector<const MetricComparison*> order;
  for (const auto& row : c.rows) order.push_back(&row);
  // Regressions first, then improvements, then the rest in their order.
  auto rank = [](Verdict v) { return v == Verdict::regression ? 0 : v == Verdict::improvement ? 1 : 2; };
  std::stable_sort(order.begin(), order.end(),
                   [&](const auto* a, const auto* b) { return rank(a->verdict) < rank(b->verdict); });
  struct Line {
    std::string bench, devices, metric, base, next, change, p, verdict;
  };
  std::vector<Line> lines;
  lines.push_back({"benchmark", "device", "metric", "base", "new", "change", "p", "verdict"});
  for (const auto* r : order) {
    std::string devices = r->base_device == r->new_device || r->new_device.empty() ? r->base_device
                          : r->base_device.empty()                                 ? r->new_device
                                                                                   : r->new_device + " vs " + r->base_device;
    std::string metric = r->metric + (r->unit.empty() ? "" : " (" + r->unit + ")");
    if (!r->source.empty() && r->source != "measured") metric += " [" + r->source + "]";
    lines.push_back({r->workload + " " + report_format::params_text(r->params), devices, metric,
                     report_format::number(r->base_median), report_format::number(r->new_median),
                     r->change_pct ? fmt::format("{:+.1f}%", *r->change_pct) : "-",
                     r->p_value ? fmt::format("{:.2g}", *r->p_value) : "-",
                     std::string(name(r->verdict)) + (r->verdict == Verdict::noise || r->why.empty() ? "" : ": " + r->why)});
  }
  std::size_t w[8] = {};
  for (const auto& l : lines) {
    const std::string* cells[] = {&l.bench, &l.devices, &l.metric, &l.base, &l.next, &l.change, &l.p, &l.verdict};
    for (int i = 0; i < 8; ++i) w[i] = std::max(w[i], cells[i]->size());
  }
  std::string out;
  for (const auto& l : lines)
    out += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>{}}  {:>{}}  {:>{}}  {:>{}}  {}\n", l.bench, w[0], l.devices, w[1],
                       l.metric, w[2], l.base, w[3], l.next, w[4], l.change, w[5], l.p, w[6], l.verdict);
  out += fmt::format("\nchange: in each metric's direction (+ is better); verdicts at p < {} (Mann-Whitney U on the raw "
                     "samples) and beyond {}%.\n",
                     options.alpha, options.threshold_pct);
  if (c.geomean_speedup)
    out += fmt::format("geometric mean over {} metrics: {:+.1f}%\n", c.geomean_rows, 100.0 * (*c.geomean_speedup - 1.0));
  for (const auto& w2 : c.warnings) out += "warning: " + w2 + "\n";
  out += fmt::format("{} regression(s), {} improvement(s)\n", c.regressions, c.improvements);
  return out;
}

nlohmann::json to_json(const Comparison& c, const CompareOptions& options) {
  auto opt = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : c.rows)
    rows.push_back({{"id", r.id},
                    {"workload", r.workload},
                    {"params", r.params},
                    {"base_device", r.base_device},
                    {"new_device", r.new_device},
                    {"metric", r.metric},
                    {"unit", r.unit},
                    {"direction", r.direction},
                    {"source", r.source},
                    {"base_median", opt(r.base_median)},
                    {"new_median", opt(r.new_median)},
                    {"base_n", r.base_n},
                    {"new_n", r.new_n},
                    {"ratio", opt(r.ratio)},
                    {"change_pct", opt(r.change_pct)},
                    {"p_value", opt(r.p_value)},
                    {"deterministic", r.deterministic},
                    {"verdict", name(r.verdict)},
                    {"why", r.why}});
  return {{"threshold_pct", options.threshold_pct},
          {"alpha", options.alpha},
          {"rows", rows},
          {"warnings", c.warnings},
          {"geomean_speedup", opt(c.geomean_speedup)},
          {"geomean_rows", c.geomean_rows},
          {"regressions", c.regressions},
          {"improvements", c.improvements}};
}

}  // namespace xpb
