// Renderers of the result document, each over the typed read model (result_view.hpp).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/export.hpp"
#include "xpubench/result_view.hpp"

namespace xpb {

// The summary table printed at the end of a run: one row per metric of each benchmark, with
// its median, unit, spread (half-width of the 95% CI of the median, in percent of it) and the
// benchmark's status. A metric without samples shows "-"; a simulated or modeled figure is
// marked; a record that missed its run policy is marked and listed with the reason, as are
// benchmarks that did not pass.
XPB_API std::string render_console_summary(const ResultView& result);
XPB_API std::string render_console_summary(const nlohmann::json& doc);

// The energy comparison: one row per energy figure (pJ/FLOP, pJ/op, pJ/MAC, pJ/B from the
// energy workloads; J/token, J/frame from any), one column per device, modeled figures marked,
// a cell without a figure saying why (the record's status, "no sensor", "n/a"); then each
// device's energy source, what it covers and its idle W, or why it has none. Empty when the
// result has no energy workload and no such figure. Part of render_console_summary.
XPB_API std::string render_energy_comparison(const ResultView& result);
XPB_API std::string render_energy_comparison(const nlohmann::json& doc);

// Reports of one or more results (`xpubench report`, `run --report`), each over the read model.
//
// Markdown: a table of the runs, then per run a GitHub table of every figure (simulated and
// modeled figures marked in the cell), what did not pass and why, and the energy comparison.
XPB_API std::string render_markdown(const std::vector<ResultView>& results);

// CSV (RFC 4180), tidy: one row per statistic of each metric of each benchmark; a benchmark
// without figures has one row with its status and the metric columns empty. Columns, in
// this order (a contract: added to at the end only):
//   run_id, hostname, benchmark_id, workload, device, params (JSON object), status, valid,
//   metric, unit, direction, source (measured, simulated, modeled), statistic (n, median,
//   mean, min, max, stddev, cv, p50, p90, p99, ci95_lo, ci95_hi: those the document has),
//   value
inline constexpr const char* kCsvHeader =
    "run_id,hostname,benchmark_id,workload,device,params,status,valid,metric,unit,direction,source,statistic,value";
XPB_API std::string render_csv(const std::vector<ResultView>& results);

// JUnit XML: a <testsuite> per result, a <testcase> per benchmark x device (classname the
// workload, name the device and parameters, time its wall seconds); failed or mistrusted is a
// <failure>, invalid or interrupted an <error>, skipped or unsupported <skipped>, each with the
// status and reason; a passed one carries its figures as <system-out>.
XPB_API std::string render_junit(const std::vector<ResultView>& results);

// HTML: one self-contained page (no script, no network) of one or more results side by side
// (R1, R2, ...: a column each in the tables). Per workload, every figure in a table, and in
// inline SVG charts: memory.sweep's figures against the working set (log2 axis) with the cache
// sizes marked; a time figure (s, ms, us, ns, ns/load; lower is better) with samples as CDFs
// with p50/p90/p99, a video stream's frame latency against its chunk deadline, and bars beside
// when some rows are not in the CDFs; every other figure's median per row as a bar with its
// 95% CI (a log axis past a 100x span). Colours by result and device; simulated and modeled
// figures tagged and shaded in tables, dashed in charts. Every string from a result is escaped.
// Charts stop at 48 bars and 12 lines, with a note (the tables never do), so 10,000
// benchmarks stay under 10 MB.
XPB_API std::string render_html(const std::vector<ResultView>& results);

// One line for a finished benchmark record (its figures), for progress output.
XPB_API std::string render_record_line(const BenchmarkView& record);
XPB_API std::string render_record_line(const nlohmann::json& record);

}  // namespace xpb
