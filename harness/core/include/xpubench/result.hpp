// The result model: one benchmark record and the run document `xpubench.result/1`
// (DESIGN.md §7). The JSON Schema lives in reports/result.schema.json.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/export.hpp"
#include "xpubench/runner.hpp"
#include "xpubench/stats.hpp"
#include "xpubench/status.hpp"

namespace xpb {

inline constexpr std::string_view kResultSchema = "xpubench.result/1";

enum class Direction : std::uint8_t { higher_is_better, lower_is_better, none };
XPB_API std::string_view name(Direction d);

// One figure of a benchmark. `samples` are the raw values, one per sample, in `unit`. Its
// source is given when it is made, from the clock or model it came from: there is no default.
struct XPB_API Metric {
  std::string name;
  std::string unit;
  Direction direction = Direction::higher_is_better;
  Source source;
  std::vector<double> samples;
  Stats stats;
  std::string note;  // e.g. "bytes counted as the code moves them; write-allocate not counted"

  Metric(std::string name, std::string unit, Direction direction, Source source);

  // A metric derived from each sample of a measurement: value = f(per-iteration seconds). Its
  // source is the measurement's clock's.
  template <class F>
  static Metric from(const Measurement& m, std::string name, std::string unit, Direction dir, F f);
  // A metric of the given values (one per request, per pass, ...), summarised.
  static Metric of(std::string name, std::string unit, Direction dir, Source source, std::vector<double> values,
                   std::string note = "");
  // Finite samples only; `stats` as given when it summarises them, else recomputed. No
  // samples: every statistic null.
  nlohmann::json to_json() const;
};

struct XPB_API BenchmarkRecord {
  std::string id;         // workload/device/params, stable across runs for comparison
  std::string workload;
  std::string device;
  nlohmann::json params = nlohmann::json::object();
  Outcome outcome;
  // Whether the measurement met its run policy (minimum samples and duration); the reason
  // when not. Run rules reject invalid records in submissions.
  bool valid = true;
  std::string invalid_reason;
  nlohmann::json conformance = nlohmann::json::object();  // {status, method, max_error, ...}
  std::vector<Metric> metrics;
  nlohmann::json timing = nlohmann::json::object();       // Measurement::to_json()
  nlohmann::json energy = nlohmann::json::object();       // {available, joules..., reason}
  nlohmann::json details = nlohmann::json::object();      // workload-specific (cache levels, ...)
  double started_unix = 0;
  double wall_seconds = 0;

  // The record as the document holds it. Every number in it is finite (JSON has no NaN or
  // infinity, and nlohmann would write null): non-finite metric samples are left out with a
  // note and the statistics recomputed from the rest; a non-finite number in params,
  // conformance, timing, energy or details becomes null. Either way a passed record becomes
  // "mistrusted" (others keep their status) and the reason names the figures. An empty
  // `energy` becomes {available: false, reason}; an empty `id` is filled by benchmark_id.
  nlohmann::json to_json() const;
};

// A stable id: "workload/device/k1=v1,k2=v2" with params in key order; string values bare
// (with '%', ',' and '=' percent-encoded so no two parameter sets collide), others as compact
// JSON. No params: "workload/device".
XPB_API std::string benchmark_id(std::string_view workload, std::string_view device,
                                 const nlohmann::json& params);

XPB_API nlohmann::json to_json(const EnergyReading& e);

template <class F>
Metric Metric::from(const Measurement& m, std::string name_, std::string unit_, Direction dir, F f) {
  Metric out(std::move(name_), std::move(unit_), dir, m.time_source());
  for (double s : m.per_iteration_seconds()) out.samples.push_back(f(s));
  out.stats = summarize(out.samples);
  return out;
}

}  // namespace xpb
