// The Markdown report: for a pull-request comment or a README (GitHub-flavoured tables).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "report_format.hpp"
#include "xpubench/report.hpp"

namespace xpb {
namespace {

// A table cell: pipes escaped, line breaks flattened, so a reason cannot break the table; <, >
// and & as entities, so a device name is text, never markup a renderer would run.
std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

std::string spread(const MetricView& m) {
  if (!m.ci95_lo || !m.ci95_hi || !m.median || *m.median == 0)
    return m.n == 1 ? "1 sample" : fmt::format("{} samples", m.n);
  return fmt::format("±{:.1f}%", 100.0 * (*m.ci95_hi - *m.ci95_lo) / 2.0 / std::fabs(*m.median));
}

std::string system_text(const ResultView& r, const char* key) {
  return r.system.is_object() && r.system.contains(key) && r.system[key].is_string() ? r.system[key].get<std::string>()
                                                                                        : "?";
}

}  // namespace

std::string render_markdown(const std::vector<ResultView>& results) {
  std::string out = "# xpubench results\n\n| run | status | machine | CPU | benchmarks | started |\n|---|---|---|---|---|---|\n";
  for (const auto& r : results)
    out += fmt::format("| {} | {} | {} | {} | {} | {} |\n", cell(r.run.id), cell(r.run.status),
                       cell(system_text(r, "hostname")), cell(system_text(r, "cpu_model")), r.benchmarks.size(),
                       cell(r.run.started));
  for (const auto& r : results) {
    out += fmt::format("\n## {}\n\n", cell(r.run.id.empty() ? "result" : r.run.id));
    out += "| benchmark | device | figure | median | unit | spread | status |\n|---|---|---|--:|---|--:|---|\n";
    std::vector<std::string> not_passed;
    for (const auto& b : r.benchmarks) {
      const std::string bench = b.workload + " " + report_format::params_text(b.params);
      const std::string status = b.valid ? b.status : b.status + " (not valid)";
      if (b.metrics.empty()) out += fmt::format("| {} | {} | - | - | | | {} |\n", cell(bench), cell(b.device), cell(status));
      for (const auto& m : b.metrics) {
        // Simulated and modeled figures are marked in the cell itself, so a copied row keeps it.
        const std::string figure = m.measured() ? m.name : m.name + " *(" + m.source + ")*";
        out += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", cell(bench), cell(b.device), cell(figure),
                           report_format::number(m.median), cell(m.unit), spread(m), cell(status));
      }
      if (b.status != "passed") not_passed.push_back(bench + " on " + b.device + ": " + b.status + ": " + b.reason);
      if (!b.valid) not_passed.push_back(bench + " on " + b.device + ": not valid: " + b.invalid_reason);
    }
    if (!not_passed.empty()) {
      out += "\nNot passed or not valid:\n\n";
      for (const auto& line : not_passed) out += "- " + cell(line) + "\n";
    }
    if (auto energy = render_energy_comparison(r); !energy.empty()) {
      std::replace(energy.begin(), energy.end(), '`', '\'');  // nothing in it can close the code block
      out += "\n```text" + energy + "```\n";
    }
  }
  out += "\nspread: half-width of the 95% confidence interval of the median, in % of the median; *(simulated)* and "
         "*(modeled)* figures come from a simulator's model, not a measurement.\n";
  return out;
}

}  // namespace xpb
