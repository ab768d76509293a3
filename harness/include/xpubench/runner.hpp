// The runner: warm-up, calibrated samples, bounded stop rules (DESIGN.md §6).
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/device.hpp"
#include "xpubench/energy.hpp"
#include "xpubench/stats.hpp"

namespace xpb {

// Every bound is honoured: a benchmark stops at max_seconds or max_samples whatever else
// happens, and never before min_samples unless max_seconds runs out first.
struct RunPolicy {
  double warmup_seconds = 0.05;        // warm-up runs, excluded from the samples
  std::uint64_t warmup_samples = 1;    // at least this many warm-up runs
  double min_seconds = 0.2;            // keep sampling at least this long...
  double max_seconds = 2.0;            // ...and never longer than this
  std::uint64_t min_samples = 5;
  std::uint64_t max_samples = 1000;
  // Early stop once the 95% CI of the median is within ±target_ci_relative of it (0 = off).
  double target_ci_relative = 0.0;
  // Iterations per sample are raised until one sample takes at least this long, so the
  // clock's resolution and the call overhead stay below ~0.1% of a sample.
  double min_sample_seconds = 1e-3;
  std::uint64_t max_iterations = std::uint64_t{1} << 30;

  nlohmann::json to_json() const;
  // Applies keys present in `j` (same names as to_json); returns an error text or "".
  std::string apply(const nlohmann::json& j);
  // Whether `value` is acceptable for `key` on its own (a known key, a finite non-negative
  // number, whole where a count is meant); returns an error text or "". apply() also checks
  // that the keys agree with each other (min <= max).
  static std::string check(const std::string& key, const nlohmann::json& value);
};

struct Measurement {
  std::uint64_t iterations = 1;        // graph runs per sample
  std::vector<double> sample_seconds;  // raw: one entry per sample, time of all its iterations
  std::uint64_t warmup_runs = 0;
  ClockKind source = ClockKind::host;
  std::string stop_reason;             // "min_time_and_samples", "ci_target", "max_time", ...
  bool interrupted = false;
  EnergyReading energy;                // over the sampled runs only

  // Seconds per single graph run, per sample.
  std::vector<double> per_iteration_seconds() const;
  nlohmann::json to_json() const;
};

// Runs `exe` under `policy`. `cancel`, when set by another thread or a signal handler, stops
// sampling after the current sample (the measurement is then marked interrupted). `sensor`
// may be null.
Measurement measure(Executable& exe, const RunPolicy& policy, EnergySensor* sensor = nullptr,
                    const std::atomic<bool>* cancel = nullptr);

}  // namespace xpb
