// The JUnit XML report: one <testcase> per benchmark x device, for CI systems that show test
// results (GitHub, GitLab, Jenkins). Every string from a result is escaped.
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <regex>

#include "report_format.hpp"
#include "xpubench/report.hpp"

namespace xpb {
namespace {

using report_format::xml;

// Seconds as the schema's non-negative decimal: a wall time that is not one (a document not
// written by xpubench) is 0.
double seconds(double s) { return std::isfinite(s) && s >= 0 ? s : 0; }

// An ISO 8601 UTC time as xpubench writes them (2026-12-01T05:20:50Z, fractions allowed), the
// only kind written as a timestamp (an xs:dateTime).
bool is_timestamp(const std::string& t) {
  static const std::regex kTimestamp(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z)");
  return std::regex_match(t, kTimestamp);
}

enum class Outcome { passed, failure, error, skipped };

// failed or mistrusted: a failure; skipped or unsupported: skipped; passed; anything else
// (invalid, interrupted, a status this version does not know): an error.
Outcome outcome(const std::string& status) {
  if (status == "passed") return Outcome::passed;
  if (status == "failed" || status == "mistrusted") return Outcome::failure;
  if (status == "skipped" || status == "unsupported") return Outcome::skipped;
  return Outcome::error;
}

}  // namespace

std::string render_junit(const std::vector<ResultView>& results) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"xpubench\">\n";
  for (const auto& r : results) {
    std::size_t failures = 0, errors = 0, skipped = 0;
    double total = 0;
    for (const auto& b : r.benchmarks) {
      failures += outcome(b.status) == Outcome::failure;
      errors += outcome(b.status) == Outcome::error;
      skipped += outcome(b.status) == Outcome::skipped;
      total += seconds(b.wall_seconds);
    }
    // A timestamp only where the run has one: an empty one is not an xs:dateTime.
    out += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3f}\"{}>\n",
                       xml(r.run.id.empty() ? "xpubench" : r.run.id), r.benchmarks.size(), failures, errors, skipped,
                       total, is_timestamp(r.run.started) ? " timestamp=\"" + r.run.started + "\"" : "");
    for (const auto& b : r.benchmarks) {
      out += fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3f}\"", xml(b.workload),
                         xml(b.device + " " + report_format::params_text(b.params)), seconds(b.wall_seconds));
      const std::string why = xml(b.status + ": " + b.reason);
      const Outcome o = outcome(b.status);
      if (o == Outcome::failure)
        out += fmt::format(">\n      <failure message=\"{}\" type=\"{}\"/>\n    </testcase>\n", why, xml(b.status));
      else if (o == Outcome::error)
        out += fmt::format(">\n      <error message=\"{}\" type=\"{}\"/>\n    </testcase>\n", why, xml(b.status));
      else if (o == Outcome::skipped)
        out += fmt::format(">\n      <skipped message=\"{}\"/>\n    </testcase>\n", why);
      else {
        // Passed: the figures as output, a missed run policy said there too.
        std::string text;
        for (const auto& m : b.metrics)
          text += fmt::format("{} {} {}{}\n", m.name, report_format::number(m.median), m.unit,
                              m.measured() ? "" : " (" + m.source + ")");
        if (!b.valid) text += "not valid: " + b.invalid_reason + "\n";
        out += text.empty() ? "/>\n" : ">\n      <system-out>" + xml(text) + "</system-out>\n    </testcase>\n";
      }
    }
    out += "  </testsuite>\n";
  }
  return out + "</testsuites>\n";
}

}  // namespace xpb
