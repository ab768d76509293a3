#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "xpubench/report.hpp"

namespace xpb {
namespace {

// Sizes in bytes read better as 128MiB than as 134217728.
std::string value_text(const std::string& key, const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  const bool is_size = key == "size" || key == "bytes" || key.find("_bytes") != std::string::npos;
  if (is_size && v.is_number_unsigned()) {
    auto b = v.get<std::uint64_t>();
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && b % 1024 == 0 && u < 4) {
      b /= 1024;
      ++u;
    }
    return std::to_string(b) + units[u];
  }
  return v.dump();
}

// "kernel=triad threads=2" from the params, the parts that tell rows of one workload apart.
std::string params_text(const nlohmann::json& params) {
  std::string out;
  for (const auto& [k, v] : params.items()) {
    if (!out.empty()) out += ' ';
    out += k + "=" + value_text(k, v);
  }
  return out;
}

std::string number(double v) {
  const double a = std::fabs(v);
  if (a == 0) return "0";
  if (a >= 1000) return fmt::format("{:.0f}", v);
  if (a >= 100) return fmt::format("{:.1f}", v);
  if (a >= 1) return fmt::format("{:.2f}", v);
  return fmt::format("{:.3g}", v);
}

std::string spread(const nlohmann::json& stats) {
  const double median = stats.value("median", 0.0);
  const auto n = stats.value("n", 0);
  if (n < 6) return n == 1 ? "1 sample" : fmt::format("{} samples", n);
  if (median == 0) return "-";
  const double half = (stats.value("ci95_hi", 0.0) - stats.value("ci95_lo", 0.0)) / 2.0;
  return fmt::format("±{:.1f}%", 100.0 * half / std::fabs(median));
}

}  // namespace

std::string render_record_line(const nlohmann::json& r) {
  std::string line = fmt::format("{} {} on {}: {}", r.value("workload", "?"),
                                 params_text(r.value("params", nlohmann::json::object())), r.value("device", "?"),
                                 r.value("status", "?"));
  if (r.contains("metrics") && !r["metrics"].empty()) {
    for (const auto& m : r["metrics"]) {
      line += fmt::format("  {} {} {}", m.value("name", ""), number(m["stats"].value("median", 0.0)),
                          m.value("unit", ""));
      if (m.value("source", "measured") != "measured") line += " (" + m.value("source", "") + ")";
    }
  }
  if (r.value("status", "") != "passed" && !r.value("reason", "").empty()) line += "  (" + r.value("reason", "") + ")";
  return line;
}

std::string render_console_summary(const nlohmann::json& doc) {
  struct Row {
    std::string bench, device, figure, value, unit, spread, status;
  };
  std::vector<Row> rows;
  std::vector<std::string> reasons;
  for (const auto& r : doc.value("benchmarks", nlohmann::json::array())) {
    const std::string bench = r.value("workload", "") + " " + params_text(r.value("params", nlohmann::json::object()));
    const std::string status = r.value("status", "?");
    if (!r.contains("metrics") || r["metrics"].empty()) {
      rows.push_back({bench, r.value("device", ""), "-", "-", "", "", status});
    } else {
      for (const auto& m : r["metrics"]) {
        std::string figure = m.value("name", "");
        if (m.value("source", "measured") != "measured") figure += " [" + m.value("source", "") + "]";
        rows.push_back({bench, r.value("device", ""), figure, number(m["stats"].value("median", 0.0)),
                        m.value("unit", ""), spread(m["stats"]), status});
      }
    }
    if (status != "passed") reasons.push_back(bench + " on " + r.value("device", "") + ": " + status + ": " + r.value("reason", ""));
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
  out += "\nspread: half-width of the 95% confidence interval of the median, in % of the median.\n";
  return out;
}

}  // namespace xpb
