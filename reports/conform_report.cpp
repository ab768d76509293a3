#include "xpubench/conform_report.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "report_format.hpp"

namespace xpb {
namespace {

using report_format::xml;

std::string error_text(double v) { return std::isfinite(v) ? fmt::format("{:.3g}", v) : "inf"; }

}  // namespace

std::string render_conform_table(const ConformReport& report) {
  std::string out = fmt::format("conformance of {} ({}) against ref\n", report.device,
                                report.device_info.value("name", std::string("?")));
  auto mark = [](const ConformRow& r) {
    if (r.fails_device()) return "FAIL";
    return r.outcome.status == Status::passed ? "ok  " : "--  ";
  };
  bool any_abi = false;
  for (const auto& r : report.rows)
    if (r.kind == "abi") {
      if (!any_abi) out += "\nABI contract:\n";
      any_abi = true;
      out += fmt::format("  {} {:<52} {}\n", mark(r), r.name, r.outcome.reason);
    }
  // Op cases grouped by op x dtype, in catalogue order.
  struct Group {
    int passed = 0, total = 0;
    bool claimed = false, fails = false;
    double worst_abs = 0, worst_rms = 0;
    std::string first_problem;
    Status status = Status::passed;
  };
  std::vector<std::pair<std::string, std::string>> order;
  std::map<std::pair<std::string, std::string>, Group> groups;
  for (const auto& r : report.rows) {
    if (r.kind != "op") continue;
    const auto key = std::make_pair(r.op, r.dtype);
    if (groups.count(key) == 0) order.push_back(key);
    auto& g = groups[key];
    ++g.total;
    g.claimed = g.claimed || r.claimed;
    if (r.outcome.status == Status::passed) {
      ++g.passed;
      g.worst_abs = std::max(g.worst_abs, r.max_abs_error);
      g.worst_rms = std::max(g.worst_rms, r.rms_rel_error);
    } else if (g.first_problem.empty() || (r.fails_device() && !g.fails)) {
      g.first_problem = r.name + ": " + r.outcome.reason;
      g.status = r.outcome.status;
    }
    g.fails = g.fails || r.fails_device();
  }
  if (!order.empty()) {
    out += "\nops (cases passed / run; worst |error| and RMS error relative to ref's RMS over passed cases):\n";
    for (const auto& key : order) {
      const auto& g = groups[key];
      std::string what;
      if (g.passed == g.total) what = fmt::format("worst {} / rms {}", error_text(g.worst_abs), error_text(g.worst_rms));
      else what = fmt::format("{}{}: {}", name(g.status), g.claimed ? "" : " (not claimed)", g.first_problem);
      out += fmt::format("  {} {:<15} {:<6} {:>2}/{:<2} {}\n", g.fails ? "FAIL" : g.passed == g.total ? "ok  " : "--  ",
                         key.first, key.second, g.passed, g.total, what);
    }
  }
  bool any_workload = false;
  for (const auto& r : report.rows)
    if (r.kind == "workload") {
      if (!any_workload) out += "\nworkload checks:\n";
      any_workload = true;
      out += fmt::format("  {} {} ({}{})\n", mark(r), r.name, name(r.outcome.status),
                         r.outcome.reason.empty() ? "" : ": " + r.outcome.reason);
    }
  std::size_t failing = 0;
  for (const auto& r : report.rows) failing += r.fails_device() ? 1 : 0;
  if (report.interrupted) out += "\nINTERRUPTED: the report is incomplete\n";
  std::size_t passing = 0;
  for (const auto& r : report.rows) passing += r.outcome.status == Status::passed ? 1 : 0;
  out += !report.passed()  ? fmt::format("\nFAILED: {} of {} checks fail {}\n", failing, report.rows.size(), report.device)
         : passing == 0 ? fmt::format("\nPASSED, VACUOUSLY: none of {} checks ran on {}: it refused each with the reason "
                                      "above, and claims none of them\n",
                                      report.rows.size(), report.device)
                        : fmt::format("\nPASSED: {} of {} checks passed; everything {} claims passes\n", passing,
                                      report.rows.size(), report.device);
  return out;
}

std::string render_conform_junit(const ConformReport& report) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  std::size_t failures = 0, skipped = 0;
  for (const auto& r : report.rows) {
    failures += r.fails_device() ? 1 : 0;
    skipped += !r.fails_device() && r.outcome.status != Status::passed ? 1 : 0;
  }
  out += fmt::format("<testsuites name=\"xpubench conform {}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
                     xml(report.device), report.rows.size(), failures, skipped);
  for (const char* kind : {"abi", "op", "workload"}) {
    std::vector<const ConformRow*> rows;
    for (const auto& r : report.rows)
      if (r.kind == kind) rows.push_back(&r);
    if (rows.empty()) continue;
    std::size_t f = 0, s = 0;
    double seconds = 0;
    for (const auto* r : rows) {
      f += r->fails_device() ? 1 : 0;
      s += !r->fails_device() && r->outcome.status != Status::passed ? 1 : 0;
      seconds += r->seconds;
    }
    out += fmt::format("  <testsuite name=\"{}.{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3f}\">\n",
                       xml(report.device), kind, rows.size(), f, s, seconds);
    for (const auto* r : rows) {
      const std::string classname = r->kind == "op" ? report.device + "." + r->op + "." + r->dtype : report.device + "." + r->kind;
      out += fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3f}\"", xml(classname), xml(r->name), r->seconds);
      if (r->fails_device()) {
        const std::string why = r->outcome.status == Status::unsupported
                                    ? "claimed but refused: " + r->outcome.reason
                                    : r->outcome.reason;
        out += fmt::format(">\n      <failure message=\"{}\" type=\"{}\"/>\n    </testcase>\n", xml(why),
                           name(r->outcome.status));
      } else if (r->outcome.status != Status::passed) {
        out += fmt::format(">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                           xml(std::string(name(r->outcome.status)) + ": " + r->outcome.reason));
      } else {
        out += "/>\n";
      }
    }
    out += "  </testsuite>\n";
  }
  out += "</testsuites>\n";
  return out;
}

}  // namespace xpb
