// A typed read model of the result document (DESIGN.md §7, §11.7): what every report renders
// from, so no renderer picks through raw JSON and all agree on what a field means. Reading is
// tolerant: a field a document lacks is empty (a journal of an older run still renders).
#pragma once
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/export.hpp"

namespace xpb {

struct MetricView {
  std::string name, unit, direction, source;  // source: measured, simulated, modeled
  std::size_t n = 0;
  std::optional<double> median, ci95_lo, ci95_hi, min, max;
  // Every statistic the document gives a number for, in kStatisticNames' order (CSV rows).
  std::vector<std::pair<std::string, double>> statistics;
  std::vector<double> samples;
  std::string note;
  std::string missing;  // why some statistics are absent
  bool measured() const { return source == "measured"; }
};

// The statistics of a metric, in the order reports list them.
inline constexpr const char* kStatisticNames[] = {"n",      "median", "mean", "min",     "max",     "stddev",
                                                  "cv",     "p50",    "p90",  "p99",     "ci95_lo", "ci95_hi"};

struct BenchmarkView {
  std::string id, workload, device, status, reason;
  std::string started;         // ISO 8601 UTC
  double wall_seconds = 0;     // host time the benchmark took, setup and checks included
  nlohmann::json params = nlohmann::json::object();
  bool valid = true;
  std::string invalid_reason;
  std::string clock;  // the timing source: host, device_events, simulated
  std::vector<MetricView> metrics;
  std::string conformance_status;
  nlohmann::json details = nlohmann::json::object();
};

struct DeviceView {
  std::string id, driver, name, kind, clock;
  bool simulated = false;
  nlohmann::json options = nlohmann::json::object();
  // The device's energy figure: whether one exists, its source (a sensor's name, or
  // "modeled"), what the sensor covers, its idle draw in W, or why there is none.
  bool energy_available = false;
  std::string energy_source, energy_covers, energy_reason;
  std::optional<double> idle_watts;
};

struct RunView {
  std::string id, status, started, finished;
  std::vector<std::string> command;
  std::string config_hash, xpubench_version, git_revision;
  std::vector<std::string> suites;
  bool quick = false;
  nlohmann::json policy = nlohmann::json::object();
};

struct ResultView {
  std::string schema;
  RunView run;
  nlohmann::json system = nlohmann::json::object();
  std::vector<DeviceView> devices;
  std::vector<BenchmarkView> benchmarks;
};

XPB_API ResultView read_result_view(const nlohmann::json& doc);

// The read model of a result file, parsed with simdjson (result_reader.cpp): for reports and
// comparisons of large results. A file it cannot take (a journal, broken JSON) is read by
// load_result, whose InputError names the file, line and column.
XPB_API ResultView load_result_view(const std::filesystem::path& file);
XPB_API BenchmarkView read_benchmark_view(const nlohmann::json& record);

}  // namespace xpb
