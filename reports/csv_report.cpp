// The CSV report: tidy data, one row per statistic of each metric of each benchmark (RFC 4180
// quoting), for pandas, R or a spreadsheet. The columns are a contract (docs in report.hpp).
#include <fmt/format.h>

#include "report_format.hpp"
#include "xpubench/report.hpp"

namespace xpb {
namespace {

// A field quoted when it holds a comma, a quote or a line break; quotes doubled (RFC 4180).
std::string field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string system_text(const ResultView& r, const char* key) {
  return r.system.is_object() && r.system.contains(key) && r.system[key].is_string() ? r.system[key].get<std::string>()
                                                                                        : "";
}

}  // namespace

std::string render_csv(const std::vector<ResultView>& results) {
  std::string out = std::string(kCsvHeader) + "\n";
  for (const auto& r : results) {
    const std::string run = field(r.run.id) + "," + field(system_text(r, "hostname"));
    for (const auto& b : r.benchmarks) {
      const std::string head = run + "," + field(b.id) + "," + field(b.workload) + "," + field(b.device) + "," +
                               field(b.params.dump()) + "," + field(b.status) + "," + (b.valid ? "true" : "false");
      if (b.metrics.empty()) out += head + ",,,,,,\n";  // the status, with no figure
      for (const auto& m : b.metrics)
        for (const auto& [stat, value] : m.statistics)
          out += head + "," + field(m.name) + "," + field(m.unit) + "," + field(m.direction) + "," + field(m.source) +
                 "," + stat + "," + fmt::format("{}", value) + "\n";
    }
  }
  return out;
}

}  // namespace xpb
