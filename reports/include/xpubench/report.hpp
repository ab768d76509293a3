// Renderers of the result document, each over the typed read model (result_view.hpp).
#pragma once
#include <string>

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

// One line for a finished benchmark record (its figures), for progress output.
XPB_API std::string render_record_line(const BenchmarkView& record);
XPB_API std::string render_record_line(const nlohmann::json& record);

}  // namespace xpb
