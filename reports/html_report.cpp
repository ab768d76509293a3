// The HTML report: one self-contained page of one or more results side by side, every figure
// in a table and a chart (inline SVG, svg_chart.hpp). No script and no network: a Content
// Security Policy forbids both, so even a string that escaped its escaping could not run. Every
// string from a result goes through report_format::xml (HTML text and attribute values need the
// same five escapes).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "record_labels.hpp"
#include "report_format.hpp"
#include "svg_chart.hpp"
#include "xpubench/parse.hpp"
#include "xpubench/report.hpp"
#include "xpubench/stats.hpp"

namespace xpb {
namespace {

using report_format::xml;

// Chart limits that keep the page of a 10,000-benchmark result under 10 MB and quick to open;
// the tables always have every row.
constexpr std::size_t kMaxBars = 48;
constexpr std::size_t kMaxCurves = 12;
constexpr std::size_t kCdfPoints = 120;

// The x axis of a sweep: memory.sweep's records differ by working-set size.
const std::map<std::string, std::string> kSweepParam = {{"memory.sweep", "size"}};

constexpr const char* kStyle = R"(
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#222}
h1{font-size:24px}h2{font-size:19px;margin-top:32px;border-bottom:1px solid #ddd}h3{font-size:16px;margin-top:24px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{padding:2px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.sim{background:#f3eefa;font-style:italic}td.bad{color:#b00020}small{color:#666}
.tag{font-size:11px;font-style:normal;color:#5b3c99;border:1px dashed #5b3c99;border-radius:3px;padding:0 3px;margin-left:4px}
section.workload{content-visibility:auto;contain-intrinsic-size:auto 1200px}
table.figures{table-layout:fixed;width:100%;margin:0}table.figures td{overflow-wrap:anywhere}
div.block{content-visibility:auto;contain-intrinsic-size:auto 4400px}
figure{margin:12px 0}figcaption{font-size:13px}ul.legend{list-style:none;padding:0;margin:4px 0;columns:2}
ul.legend li{break-inside:avoid}.swatch{display:inline-block;width:18px;height:0;border-top:3px solid;margin-right:6px;vertical-align:middle}
.swatch.modeled{border-top-style:dashed}
svg.chart{display:block;max-width:100%;height:auto;font-family:system-ui,sans-serif}
svg .grid line{stroke:#e6e6e6}svg .axis text{fill:#444}svg .marker line{stroke:#888;stroke-dasharray:4 3}svg .marker text{fill:#555;font-size:10px}
svg .series polyline{fill:none;stroke-width:1.6}svg .series.modeled polyline{stroke-dasharray:6 3}
svg .bar rect{fill-opacity:.85}svg .bar.modeled rect{fill-opacity:.18;stroke-dasharray:3 2}svg .bar .ci{stroke:#222;fill:none}
pre{background:#f8f8f8;padding:8px;overflow-x:auto;font-size:12px}.note{color:#555;font-size:13px}
)";

bool is_time_unit(const std::string& unit) {
  static const std::set<std::string> units = {"s", "ms", "us", "µs", "ns", "ns/load"};
  return units.count(unit) > 0;
}

std::string system_text(const ResultView& r, const char* key) {
  return r.system.is_object() && r.system.contains(key) && r.system[key].is_string() ? r.system[key].get<std::string>()
                                                                                        : "";
}

// "R1", "R2": how tables and legends name the results; the runs table says which is which.
std::string result_name(std::size_t i) { return fmt::format("R{}", i + 1); }

// One figure (a metric of a benchmark on a device) across the results.
struct Row {
  std::string label, device, metric, unit;
  std::vector<const BenchmarkView*> records;  // per result; null where that result lacks it
  std::vector<const MetricView*> metrics;     // per result; null where it has no such figure
};

struct Section {
  std::string workload;
  std::vector<Row> rows;
  std::map<std::string, std::size_t> row_of;  // workload, label, device, metric, occurrence -> row
  std::vector<std::string> metric_order;      // metric names in order of first appearance
};

std::vector<Section> sections_of(const std::vector<ResultView>& results, const record_labels::Keys& keys) {
  std::vector<Section> sections;
  std::map<std::string, std::size_t> section_of;
  for (std::size_t ri = 0; ri < results.size(); ++ri) {
    // A record or figure repeated in one result (a benchmark listed twice) is a row of its own:
    // the n-th of a result meets the n-th of another.
    std::map<std::string, std::size_t> seen;
    for (const auto& b : results[ri].benchmarks) {
      auto [it, added] = section_of.emplace(b.workload, sections.size());
      if (added) sections.push_back({b.workload, {}, {}, {}});
      Section& s = sections[it->second];
      const std::string label = record_labels::label(b, keys);
      auto row_for = [&](const std::string& metric, const std::string& unit) -> Row& {
        std::string key = b.workload + '\x1f' + label + '\x1f' + b.device + '\x1f' + metric;
        key += '\x1f' + std::to_string(seen[key]++);
        auto [r, fresh] = s.row_of.emplace(key, s.rows.size());
        if (fresh) {
          s.rows.push_back({label, b.device, metric, unit, std::vector<const BenchmarkView*>(results.size()),
                            std::vector<const MetricView*>(results.size())});
          if (!metric.empty() && std::find(s.metric_order.begin(), s.metric_order.end(), metric) == s.metric_order.end())
            s.metric_order.push_back(metric);
        }
        return s.rows[r->second];
      };
      if (b.metrics.empty()) row_for("", "").records[ri] = &b;
      for (const auto& m : b.metrics) {
        Row& row = row_for(m.name, m.unit);
        row.records[ri] = &b;
        row.metrics[ri] = &m;
      }
    }
  }
  return sections;
}

// Calls f(row, result index, figure) for each figure named `metric` in a section, row by row
// and result by result.
template <typename F>
void each_figure(const Section& s, const std::string& metric, std::size_t results, F&& f) {
  for (const auto& row : s.rows) {
    if (row.metric != metric) continue;
    for (std::size_t ri = 0; ri < results; ++ri)
      if (const MetricView* m = row.metrics[ri]) f(row, ri, *m);
  }
}

std::string spread_text(const MetricView& m) {
  if (!m.ci95_lo || !m.ci95_hi || !m.median || *m.median == 0) return m.n == 1 ? "1 sample" : fmt::format("n={}", m.n);
  return fmt::format("±{:.1f}%", 100.0 * (*m.ci95_hi - *m.ci95_lo) / 2.0 / std::fabs(*m.median));
}

// A figure's cell: the median and its spread; a simulated or modeled figure tagged so (in the
// text too, so a copied table keeps it); a record that did not pass, its status and why.
std::string value_cell(const BenchmarkView* b, const MetricView* m) {
  if (b == nullptr) return "<td class=\"num\">-</td>";
  if (b->status != "passed" || m == nullptr) {
    const std::string text = b->status == "passed" ? "no figure" : b->status;
    return fmt::format("<td class=\"bad\" title=\"{}\">{}</td>", xml(b->reason), xml(text));
  }
  std::string out = m->measured() ? "<td class=\"num\"" : "<td class=\"num sim\"";
  if (!b->valid) out += fmt::format(" title=\"not valid: {}\"", xml(b->invalid_reason));
  out += ">" + report_format::number(m->median) + "<small> " + spread_text(*m) + "</small>";
  if (!m->measured()) out += "<span class=\"tag\">" + xml(m->source) + "</span>";
  if (!b->valid) out += "<span class=\"tag\">not valid</span>";
  return out + "</td>";
}

std::optional<double> statistic(const MetricView& m, const char* name) {
  for (const auto& [k, v] : m.statistics)
    if (k == name) return v;
  return std::nullopt;
}

std::string legend(const std::vector<svg::Series>& series) {
  std::string out = "<ul class=\"legend\">";
  for (const auto& s : series)
    out += fmt::format("<li><span class=\"swatch{}\" style=\"border-color:{}\"></span>{}</li>", s.modeled ? " modeled" : "",
                       svg::color(s.color), xml(s.label));
  return out + "</ul>";
}

std::string figure(const std::string& svg, const std::string& caption) {
  if (svg.empty()) return "";
  return "<figure>" + svg + "<figcaption>" + caption + "</figcaption></figure>\n";
}

// Who drew a row's figure: "cpu kernel=triad", and the result's name when there are several.
std::string who(const Row& row, std::size_t ri, std::size_t results) {
  std::string s = row.device + (row.label.empty() ? "" : " " + row.label);
  return results > 1 ? result_name(ri) + " " + s : s;
}

// Colours, by a key each chart picks: a bar's result and device; a line's result and device
// when there are several results (the comparison is between them), else its device and
// parameters.
struct Palette {
  std::map<std::string, std::size_t> index;
  std::size_t of(const std::string& key) { return index.emplace(key, index.size()).first->second; }
};

// Cache sizes of every result's system as vertical markers ("L2 2MiB"), once each.
std::vector<svg::Marker> cache_markers(const std::vector<ResultView>& results) {
  std::vector<svg::Marker> out;
  std::set<std::string> seen;
  for (const auto& r : results) {
    // system.topology.caches as `xpubench info` writes it; anything else in its place is no cache.
    const auto topology = r.system.is_object() && r.system.contains("topology") ? r.system["topology"] : nlohmann::json();
    if (!topology.is_object() || !topology.contains("caches") || !topology["caches"].is_array()) continue;
    for (const auto& c : topology["caches"]) {
      if (!c.is_object() || !c.contains("size_bytes") || !c["size_bytes"].is_number() || !c.contains("level")) continue;
      const std::string type = c.contains("type") && c["type"].is_string() ? c["type"].get<std::string>() : "";
      if (type == "instruction") continue;
      const auto bytes = c["size_bytes"].get<double>();
      if (!(bytes >= 1 && bytes < 1.8e19)) continue;  // within a uint64
      auto size = format_bytes(static_cast<std::uint64_t>(bytes));
      std::erase(size, ' ');
      const std::string level = c["level"].is_number_integer() ? std::to_string(c["level"].get<std::int64_t>()) : "?";
      const std::string label = fmt::format("L{}{} {}", level, type == "data" ? "d" : "", size);
      if (seen.insert(label).second) out.push_back({bytes, label});
    }
  }
  return out;
}

// memory.sweep: the figure against the working-set size, one line per device and the other
// parameters, the cache levels marked.
std::string sweep_chart(const Section& s, const std::string& metric, const std::string& x_param,
                        const std::vector<ResultView>& results, const record_labels::Keys& keys) {
  svg::LineChart chart;
  chart.x_label = "working set";
  chart.log_x = true;
  chart.x_format = svg::AxisFormat::bytes;
  chart.markers = cache_markers(results);
  std::map<std::string, std::size_t> series_of;
  Palette palette;
  each_figure(s, metric, results.size(), [&](const Row& row, std::size_t ri, const MetricView& m) {
    const BenchmarkView& b = *row.records[ri];
    if (!m.median || !b.params.contains(x_param) || !b.params[x_param].is_number()) return;
    chart.y_label = metric + " (" + m.unit + ")";
    const std::string rest = record_labels::label(b, keys, x_param);
    std::string label = (results.size() > 1 ? result_name(ri) + " " : "") + b.device + (rest.empty() ? "" : " " + rest);
    if (!m.measured()) label += " (" + m.source + ")";
    auto [it, added] = series_of.emplace(label, chart.series.size());
    if (added)
      chart.series.push_back({label, {}, palette.of(results.size() > 1 ? result_name(ri) + b.device : label), !m.measured(),
                              false});
    chart.series[it->second].points.emplace_back(b.params[x_param].get<double>(), *m.median);
  });
  const std::size_t lines = chart.series.size();
  if (lines > kMaxCurves) chart.series.resize(kMaxCurves);
  for (auto& series : chart.series) std::sort(series.points.begin(), series.points.end());
  const std::string note =
      lines > kMaxCurves ? fmt::format(" The first {} of {} lines; every row is in the table.", kMaxCurves, lines) : "";
  return figure(svg::render(chart), fmt::format("<b>{}</b> against the working set; dashed lines: cache sizes.{} {}",
                                                xml(chart.y_label), note, legend(chart.series)));
}

// A latency's distribution: the CDF of each row's samples, p50/p90/p99 in the legend, and a
// video stream's chunk deadline marked.
std::string cdf_chart(const Section& s, const std::string& metric, const std::vector<ResultView>& results) {
  svg::LineChart chart;
  chart.y_label = "fraction at or below";
  chart.x_from_zero = true;
  chart.y_min = 0;
  chart.y_max = 1;
  std::set<double> deadlines;
  std::size_t rows = 0;
  Palette palette;
  each_figure(s, metric, results.size(), [&](const Row& row, std::size_t ri, const MetricView& m) {
    if (m.samples.size() < 2) return;
    ++rows;
    if (chart.series.size() == kMaxCurves) return;
    chart.x_label = metric + " (" + m.unit + ")";
    // The document's percentiles; from the samples, the harness's way, where it lacks them.
    const bool stored = statistic(m, "p50") && statistic(m, "p90") && statistic(m, "p99");
    const auto stats = stored ? Stats{} : summarize(m.samples);
    const auto pct = [&](const char* name, const std::optional<double>& computed) {
      return report_format::number(statistic(m, name) ? statistic(m, name) : computed);
    };
    std::string label = who(row, ri, results.size()) + fmt::format(": p50 {}, p90 {}, p99 {} {}", pct("p50", stats.p50),
                                                                   pct("p90", stats.p90), pct("p99", stats.p99), m.unit);
    if (!m.measured()) label += " (" + m.source + ")";
    chart.series.push_back({label, svg::cdf_points(m.samples, kCdfPoints),
                            palette.of(results.size() > 1 ? result_name(ri) + row.device : row.device + row.label),
                            !m.measured(), true});
    const auto& details = row.records[ri]->details;
    if (metric == "frame_latency" && details.contains("stream") && details["stream"].is_object() &&
        details["stream"].contains("chunk_deadline_ms") && details["stream"]["chunk_deadline_ms"].is_number())
      deadlines.insert(details["stream"]["chunk_deadline_ms"].get<double>());
  });
  for (double d : deadlines) chart.markers.push_back({d, fmt::format("deadline {:.4g} ms", d), true});
  std::string note = rows > chart.series.size()
                         ? fmt::format(" The first {} of {} distributions; every row is in the table.", chart.series.size(), rows)
                         : "";
  if (!deadlines.empty()) note += " Deadline: how long a chunk's frames play at the target FPS; a chunk slower than it falls behind.";
  return figure(svg::render(chart), fmt::format("<b>{}</b>: distribution (CDF) of the samples.{} {}", xml(metric), xml(note),
                                                legend(chart.series)));
}

// One figure across rows, devices and results: the median as a bar, its 95% CI as a whisker.
std::string bar_chart(const Section& s, const std::string& metric, const std::vector<ResultView>& results) {
  svg::BarChart chart;
  std::size_t rows = 0;
  Palette palette;
  each_figure(s, metric, results.size(), [&](const Row& row, std::size_t ri, const MetricView& m) {
    if (!m.median) return;
    ++rows;
    if (chart.bars.size() == kMaxBars) return;
    chart.unit = metric + " (" + m.unit + ")";
    const std::string label = who(row, ri, results.size());
    std::string tooltip = fmt::format("{}: {} {} {}", label, report_format::number(m.median), m.unit, spread_text(m));
    if (!m.measured()) tooltip += " (" + m.source + ")";
    chart.bars.push_back({label, *m.median, m.ci95_lo, m.ci95_hi, palette.of(result_name(ri) + row.device), !m.measured(),
                          tooltip});
  });
  const std::string note =
      rows > chart.bars.size() ? fmt::format(" The first {} of {} rows; every row is in the table.", chart.bars.size(), rows) : "";
  return figure(svg::render(chart),
                fmt::format("<b>{}</b>: median per row, whisker the 95% CI of the median; a pale dashed bar is simulated "
                            "or modeled.{}",
                            xml(metric), note));
}

std::string runs_table(const std::vector<ResultView>& results) {
  std::string out = "<table><tr><th></th><th>run</th><th>status</th><th>machine</th><th>CPU</th><th>OS kernel</th>"
                    "<th>benchmarks</th><th>not passed</th><th>started</th><th>xpubench</th><th>config hash</th></tr>\n";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    std::size_t not_passed = 0;
    for (const auto& b : r.benchmarks) not_passed += b.status != "passed";
    const std::string version = r.run.xpubench_version + (r.run.git_revision.empty() ? "" : " " + r.run.git_revision);
    out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td>"
                       "<td class=\"num\">{}</td><td>{}</td><td>{}</td><td><small>{}</small></td></tr>\n",
                       result_name(i), xml(r.run.id), xml(r.run.status), xml(system_text(r, "hostname")),
                       xml(system_text(r, "cpu_model")), xml(system_text(r, "kernel")), r.benchmarks.size(), not_passed,
                       xml(r.run.started), xml(version), xml(r.run.config_hash));
  }
  return out + "</table>\n";
}

std::string devices_table(const std::vector<ResultView>& results) {
  std::string out = "<table><tr><th></th><th>device</th><th>name</th><th>kind</th><th>driver</th><th>clock</th>"
                    "<th>figures</th><th>energy</th></tr>\n";
  for (std::size_t i = 0; i < results.size(); ++i)
    for (const auto& d : results[i].devices) {
      const std::string energy = d.energy_available ? d.energy_source + (d.energy_covers.empty() ? "" : ", " + d.energy_covers)
                                                    : "none: " + d.energy_reason;
      out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td><td>{}</td></tr>\n",
                         result_name(i), xml(d.id), xml(d.name), xml(d.kind), xml(d.driver), xml(d.clock),
                         d.simulated ? " class=\"sim\"" : "", d.simulated ? "simulated" : "measured", xml(energy));
    }
  return out + "</table>\n";
}

// Every figure of a workload, a row each, a column per result. A long table goes in blocks of
// rows the browser lays out only when they scroll into view (content-visibility), with fixed
// column widths so the blocks line up: 20,000 rows open as fast as 200.
std::string figures_table(const Section& s, const std::vector<ResultView>& results) {
  constexpr std::size_t kRowsPerBlock = 200;
  const double result_width = 34.0 / static_cast<double>(results.size());
  std::string columns = "<colgroup><col style=\"width:30%\"><col style=\"width:12%\"><col style=\"width:16%\">"
                        "<col style=\"width:8%\">";
  for (std::size_t i = 0; i < results.size(); ++i) columns += fmt::format("<col style=\"width:{:.2f}%\">", result_width);
  columns += "</colgroup>";
  std::string out = "<div class=\"block\"><table class=\"figures\">" + columns +
                    "<tr><th>parameters</th><th>device</th><th>figure</th><th>unit</th>";
  for (std::size_t i = 0; i < results.size(); ++i) out += "<th>" + result_name(i) + "</th>";
  out += "</tr>\n";
  for (std::size_t r = 0; r < s.rows.size(); ++r) {
    if (r > 0 && r % kRowsPerBlock == 0) out += "</table></div>\n<div class=\"block\"><table class=\"figures\">" + columns;
    const Row& row = s.rows[r];
    out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>", xml(row.label), xml(row.device),
                       row.metric.empty() ? "-" : xml(row.metric), xml(row.unit));
    for (std::size_t i = 0; i < results.size(); ++i) out += value_cell(row.records[i], row.metrics[i]);
    out += "</tr>\n";
  }
  return out + "</table></div>\n";
}

std::string section_html(const Section& s, std::size_t index, const std::vector<ResultView>& results,
                         const record_labels::Keys& keys) {
  std::string out = fmt::format("<section class=\"workload\" id=\"w{}\"><h3>{}</h3>\n", index, xml(s.workload));
  const auto sweep = kSweepParam.find(s.workload);
  for (const auto& metric : s.metric_order) {
    if (sweep != kSweepParam.end()) {
      out += sweep_chart(s, metric, sweep->second, results, keys);
      continue;
    }
    std::size_t rows = 0, distributions = 0;
    const MetricView* any = nullptr;
    each_figure(s, metric, results.size(), [&](const Row&, std::size_t, const MetricView& m) {
      any = &m;
      ++rows;
      distributions += m.samples.size() >= 2;
    });
    const bool cdf = any != nullptr && is_time_unit(any->unit) && any->direction == "lower_is_better" && distributions > 0;
    if (cdf) out += cdf_chart(s, metric, results);
    // A distribution chart that shows every row says all a bar chart would.
    if (!cdf || rows > kMaxCurves || distributions < rows) out += bar_chart(s, metric, results);
  }
  return out + figures_table(s, results) + "</section>\n";
}

}  // namespace

std::string render_html(const std::vector<ResultView>& results) {
  const auto keys = record_labels::distinguishing_keys(results);
  const auto sections = sections_of(results, keys);
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>xpubench report</title>\n<style>";
  out += kStyle;
  out += "</style></head><body>\n<h1>xpubench report</h1>\n";
  out += "<p class=\"note\">Medians with the half-width of their 95% confidence interval (±%). Simulated and modeled figures "
         "come from a simulator's model, not a measurement: tagged and shaded in the tables, dashed in the charts. Hover a "
         "bar or line for its whole label.</p>\n";
  out += "<h2>Runs</h2>\n" + runs_table(results);
  out += "<h2>Devices</h2>\n" + devices_table(results);
  out += "<h2>Workloads</h2>\n<ul>";
  for (std::size_t i = 0; i < sections.size(); ++i)
    out += fmt::format("<li><a href=\"#w{}\">{}</a> ({} rows)</li>", i, xml(sections[i].workload), sections[i].rows.size());
  out += "</ul>\n";
  for (std::size_t i = 0; i < sections.size(); ++i) out += section_html(sections[i], i, results, keys);

  std::string problems;
  for (std::size_t i = 0; i < results.size(); ++i)
    for (const auto& b : results[i].benchmarks) {
      const std::string what = result_name(i) + " " + b.workload + " " + report_format::params_text(b.params) + " on " + b.device;
      if (b.status != "passed") problems += "<li>" + xml(what + ": " + b.status + ": " + b.reason) + "</li>\n";
      if (!b.valid) problems += "<li>" + xml(what + ": not valid: " + b.invalid_reason) + "</li>\n";
    }
  if (!problems.empty()) out += "<h2>Not passed or not valid</h2>\n<ul>\n" + problems + "</ul>\n";
  for (std::size_t i = 0; i < results.size(); ++i)
    if (auto energy = render_energy_comparison(results[i]); !energy.empty())
      out += "<h2>Energy, " + result_name(i) + "</h2>\n<pre>" + xml(energy) + "</pre>\n";
  return out + "</body></html>\n";
}

}  // namespace xpb
