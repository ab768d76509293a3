// Renderers of the result document. Every format renders from the canonical JSON.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace xpb {

// The summary table printed at the end of a run: one row per metric of each benchmark, with
// its median, unit, spread (half-width of the 95% CI of the median, in percent of it) and the
// benchmark's status; non-passed benchmarks show their reason. Simulated figures are marked.
std::string render_console_summary(const nlohmann::json& doc);

// One line for a finished benchmark record (its headline figure), for progress output.
std::string render_record_line(const nlohmann::json& record);

}  // namespace xpb
