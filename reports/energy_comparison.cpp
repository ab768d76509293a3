#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "record_labels.hpp"
#include "report_format.hpp"
#include "xpubench/report.hpp"

namespace xpb {
namespace {

// The figures the comparison is about: the energy workloads' per-operation and per-byte ones,
// and J/token and J/frame wherever they appear (a memory sweep's J/GB per size stays in the main
// table). Gross only: the net-of-idle ones sit beside them in the result.
bool compared(const BenchmarkView& b, const MetricView& m) {
  if (m.name.rfind("energy_per_", 0) != 0 || m.name.ends_with("_net")) return false;
  return b.workload.rfind("energy.", 0) == 0 || m.unit == "J/token" || m.unit == "J/frame";
}

}  // namespace

std::string render_energy_comparison(const ResultView& result) {
  const auto keys = record_labels::distinguishing_keys(std::span(&result, 1));
  // Each record's row label, made once (a result may hold 10,000 records).
  std::vector<std::string> labels;
  labels.reserve(result.benchmarks.size());
  for (const auto& b : result.benchmarks) {
    const auto text = record_labels::label(b, keys);
    labels.push_back(text.empty() ? b.workload : b.workload + " " + text);
  }
  // Rows: each (benchmark, energy figure) some device has; columns: the run's devices.
  struct Row {
    std::string label, figure, unit;
    std::map<std::string, std::string> cells;  // device -> text
  };
  std::vector<Row> rows;
  std::map<std::pair<std::string, std::string>, std::size_t> row_of;  // (label, figure) -> index
  auto add_row = [&](const std::string& label, const std::string& figure, const std::string& unit) {
    const auto key = std::make_pair(label, figure);
    if (!row_of.count(key)) {
      row_of[key] = rows.size();
      rows.push_back({label, figure, unit, {}});
    }
    return row_of[key];
  };
  // A label no device has a figure for still gets a row when it is an energy workload's, so a
  // run on a machine without a sensor says, per device, why not.
  std::set<std::string> with_figures;
  for (std::size_t i = 0; i < result.benchmarks.size(); ++i)
    for (const auto& m : result.benchmarks[i].metrics)
      if (compared(result.benchmarks[i], m)) with_figures.insert(labels[i]);
  std::map<std::string, std::vector<std::size_t>> records_of;  // label -> records
  for (std::size_t i = 0; i < result.benchmarks.size(); ++i) {
    const auto& b = result.benchmarks[i];
    const auto& label = labels[i];
    records_of[label].push_back(i);
    if (!with_figures.count(label)) {
      if (b.workload.rfind("energy.", 0) == 0) add_row(label, "", "");
      continue;
    }
    for (const auto& m : b.metrics) {
      if (!compared(b, m)) continue;
      std::string cell = report_format::number(m.median);
      if (!m.measured()) cell += " (" + m.source + ")";
      rows[add_row(label, m.name, m.unit)].cells[b.device] = cell;
    }
  }
  if (rows.empty()) return "";
  std::map<std::string, const DeviceView*> device_of;
  for (const auto& d : result.devices) device_of[d.id] = &d;
  // Cells a row has no figure for: the record's status, or why the device has no energy.
  for (auto& row : rows)
    for (const std::size_t i : records_of[row.label]) {
      const auto& b = result.benchmarks[i];
      if (row.cells.count(b.device)) continue;
      const auto* d = device_of.count(b.device) ? device_of[b.device] : nullptr;
      const bool no_energy = d != nullptr && !d->energy_available;
      if (b.status == "passed" || (b.status == "skipped" && no_energy)) row.cells[b.device] = no_energy ? "no sensor" : "n/a";
      else row.cells[b.device] = b.status;
    }
  std::vector<std::string> columns;
  for (const auto& d : result.devices) columns.push_back(d.id);
  std::string out = "\nenergy per unit of work (gross; the net-of-idle figures are in the result; -: not run there):\n";
  std::size_t w0 = std::string("benchmark").size();
  for (const auto& row : rows) w0 = std::max(w0, row.label.size() + row.unit.size() + 3);
  std::vector<std::size_t> w;
  for (const auto& c : columns) {
    std::size_t width = c.size();
    for (const auto& row : rows)
      if (auto it = row.cells.find(c); it != row.cells.end()) width = std::max(width, it->second.size());
    w.push_back(width);
  }
  out += fmt::format("  {:<{}}", "benchmark", w0);
  for (std::size_t i = 0; i < columns.size(); ++i) out += fmt::format("  {:>{}}", columns[i], w[i]);
  out += "\n";
  for (const auto& row : rows) {
    const auto head = row.unit.empty() ? row.label : row.label + " (" + row.unit + ")";
    out += fmt::format("  {:<{}}", head, w0);
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const auto it = row.cells.find(columns[i]);
      out += fmt::format("  {:>{}}", it == row.cells.end() ? "-" : it->second, w[i]);
    }
    out += "\n";
  }
  out += "energy sources:\n";
  for (const auto& d : result.devices) {
    if (!d.energy_available) {
      out += fmt::format("  {}: none ({})\n", d.id, d.energy_reason.empty() ? "no reason recorded" : d.energy_reason);
      continue;
    }
    std::string line = fmt::format("  {}: {}", d.id, d.energy_source);
    if (!d.energy_covers.empty()) line += ", covering " + d.energy_covers;
    if (d.idle_watts) line += fmt::format("; idle {} W", report_format::number(d.idle_watts));
    out += line + "\n";
  }
  return out;
}

std::string render_energy_comparison(const nlohmann::json& doc) { return render_energy_comparison(read_result_view(doc)); }

}  // namespace xpb
