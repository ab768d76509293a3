// The JUnit XML report: one <testcase> per benchmark x device, for CI systems that show test
// results (GitHub, GitLab, Jenkins). Every string from a result is escaped.
#include <fmt/format.h>

#include <map>

#include "report_format.hpp"
#include "xpubench/report.hpp"

namespace xpb {

using report_format::xml;

std::string render_junit(const std::vector<ResultView>& results) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"xpubench\">\n";
  for (const auto& r : results) {
    std::size_t failures = 0, errors = 0, skipped = 0;
    double seconds = 0;
    for (const auto& b : r.benchmarks) {
      failures += b.status == "failed" || b.status == "mistrusted";
      errors += b.status == "invalid" || b.status == "interrupted";
      skipped += b.status == "skipped" || b.status == "unsupported";
      seconds += b.wall_seconds;
    }
    // A timestamp only where the run has one: an empty one is not an xs:dateTime.
    out += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3f}\"{}>\n",
                       xml(r.run.id.empty() ? "xpubench" : r.run.id), r.benchmarks.size(), failures, errors, skipped,
                       seconds, r.run.started.empty() ? "" : " timestamp=\"" + xml(r.run.started) + "\"");
    for (const auto& b : r.benchmarks) {
      out += fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3f}\"", xml(b.workload),
                         xml(b.device + " " + report_format::params_text(b.params)), b.wall_seconds);
      const std::string why = xml(b.status + ": " + b.reason);
      if (b.status == "failed" || b.status == "mistrusted")
        out += fmt::format(">\n      <failure message=\"{}\" type=\"{}\"/>\n    </testcase>\n", why, xml(b.status));
      else if (b.status == "invalid" || b.status == "interrupted")
        out += fmt::format(">\n      <error message=\"{}\" type=\"{}\"/>\n    </testcase>\n", why, xml(b.status));
      else if (b.status == "skipped" || b.status == "unsupported")
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
