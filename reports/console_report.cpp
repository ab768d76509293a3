#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "report_format.hpp"
#include "xpubench/report.hpp"

namespace xpb {
namespace {

using report_format::number;
using report_format::params_text;

std::string spread(const MetricView& m) {
  if (m.n == 0) return "-";
  if (!m.ci95_lo || !m.ci95_hi || !m.median) return m.n == 1 ? "1 sample" : fmt::format("{} samples", m.n);
  if (*m.median == 0) return "-";
  const double half = (*m.ci95_hi - *m.ci95_lo) / 2.0;
  return fmt::format("±{:.1f}%", 100.0 * half / std::fabs(*m.median));
}

// "passed", or "passed*" for a record that missed its run policy (listed below the table).
std::string status_text(const BenchmarkView& b) { return b.valid ? b.status : b.status + "*"; }

}  // namespace

std::string render_record_line(const BenchmarkView& r) {
  std::string line = fmt::format("{} {} on {}: {}", r.workload, params_text(r.params), r.device, status_text(r));
  for (const auto& m : r.metrics) {
    line += fmt::format("  {} {} {}", m.name, number(m.median), m.unit);
    if (!m.measured()) line += " (" + m.source + ")";
  }
  if (r.status != "passed" && !r.reason.empty()) line += "  (" + r.reason + ")";
  if (!r.valid) line += "  [not valid: " + r.invalid_reason + "]";
  return line;
}

std::string render_record_line(const nlohmann::json& record) { return render_record_line(read_benchmark_view(record)); }

std::string render_console_summary(const ResultView& result) {
  struct Row {
    std::string bench, device, figure, value, unit, spread, status;
  };
  std::vector<Row> rows;
  std::vector<std::string> reasons, invalid;
  for (const auto& r : result.benchmarks) {
    const std::string bench = r.workload + " " + params_text(r.params);
    if (r.metrics.empty()) {
      rows.push_back({bench, r.device, "-", "-", "", "", status_text(r)});
    } else {
      for (const auto& m : r.metrics) {
        std::string figure = m.name;
        if (!m.measured()) figure += " [" + m.source + "]";
        rows.push_back({bench, r.device, figure, number(m.median), m.unit, spread(m), status_text(r)});
      }
    }
    if (r.status != "passed") reasons.push_back(bench + " on " + r.device + ": " + r.status + ": " + r.reason);
    if (!r.valid) invalid.push_back(bench + " on " + r.device + ": " + r.invalid_reason);
  }
  Row head{"benchmark", "device", "figure", "median", "unit", "spread", "status"};
  std::size_t w[7] = {};
  auto widen = [&](const Row& row) {
    const std::string* cells[] = {&row.bench, &row.device, &row.figure, &row.value, &row.unit, &row.spread, &row.status};
    for (int i = 0; i < 7; ++i) w[i] = std::max(w[i], cells[i]->size());
  };
  widen(head);
  for (const auto& row : rows) widen(row);
  w[5] = std::max<std::size_t>(w[5], 7);  // "±" is two bytes but one column
  std::string out;
  auto emit = [&](const Row& row) {
    out += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>{}}  {:<{}}  {:>{}}  {}\n", row.bench, w[0], row.device, w[1],
                       row.figure, w[2], row.value, w[3], row.unit, w[4], row.spread, w[5], row.status);
  };
  emit(head);
  for (const auto& row : rows) emit(row);
  if (!reasons.empty()) {
    out += "\nnot passed:\n";
    for (const auto& r : reasons) out += "  " + r + "\n";
  }
  if (!invalid.empty()) {
    out += "\nnot valid (*: the measurement missed its run policy; run rules reject it in submissions):\n";
    for (const auto& r : invalid) out += "  " + r + "\n";
  }
  out += render_energy_comparison(result);
  out += "\nspread: half-width of the 95% confidence interval of the median, in % of the median.\n";
  return out;
}

std::string render_console_summary(const nlohmann::json& doc) { return render_console_summary(read_result_view(doc)); }

}  // namespace xpb
