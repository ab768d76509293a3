// The runner (DESIGN.md §6): warm-up, calibrated samples, bounded stop rules, validity.
//
// Two clocks, never mixed: the budget (warm-up, min_seconds, max_seconds) is host wall time,
// so a benchmark ends when the user expects it to whatever the device's clock says; samples
// are taken on the device's clock (RunResult::seconds), which may be virtual. Each sample
// lasts at least max(min_sample_seconds, 1000 x the clock's resolution) of device time, and
// the record says which floor applied. A deterministic clock (a simulated device without
// jitter) gives the same sample every time: one is taken, and the statistics say so (but a
// fixed amount of work, RunPolicy::fixed, runs all its samples: they are the work).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/device.hpp"
#include "xpubench/energy.hpp"
#include "xpubench/export.hpp"
#include "xpubench/stats.hpp"

namespace xpb {

// Every bound is honoured: warm-up (with calibration) and sampling each end at max_seconds of
// host time (plus the run in progress), sampling also at max_samples, whatever else happens;
// a benchmark takes at most about twice max_seconds. One that stops before min_samples or
// min_seconds is recorded valid: false, saying why (as MLPerf LoadGen marks a run that missed
// its minimum).
struct RunPolicy {
  double warmup_seconds = 0.05;        // warm-up runs, excluded from the samples (host time)...
  std::uint64_t warmup_samples = 1;    // ...and at least this many of them (0: none)
  double min_seconds = 0.2;            // keep sampling at least this long (host time)...
  double max_seconds = 2.0;            // ...and never longer than this
  std::uint64_t min_samples = 5;
  std::uint64_t max_samples = 1000;
  // Early stop once the 95% CI of the median is within ±target_ci_relative of it (0 = off).
  double target_ci_relative = 0.0;
  // Iterations per sample are raised until one sample takes at least this long on the device
  // clock (and at least 1000x the clock's resolution, whatever this says).
  double min_sample_seconds = 1e-3;
  std::uint64_t max_iterations = std::uint64_t{1} << 30;

  // Exactly `samples` samples of one iteration each, with no warm-up and no time limit but the
  // user's Ctrl-C: for work that is a fixed amount, not a figure sampled to a confidence level
  // (the passes of a capacity test, a serving scenario).
  XPB_API static RunPolicy fixed(std::uint64_t samples);

  XPB_API nlohmann::json to_json() const;
  // Applies the keys present in `j` (same names as to_json); returns an error text or "".
  XPB_API std::string apply(const nlohmann::json& j);
  // Whether `value` is acceptable for `key` on its own (a known key, a finite non-negative
  // number, a whole number below 2^63 where a count is meant: 1e6 is whole, 1.5 is not);
  // returns an error text or "". apply() also checks that the keys agree (min <= max).
  XPB_API static std::string check(const std::string& key, const nlohmann::json& value);
};

// What one sample function does: run `iterations` iterations and say what that took. Usually
// Executable::run; a workload whose sample is a whole test (many graph runs) gives its own.
using SampleFn = std::function<RunResult(const RunArgs& args)>;

struct Measurement {
  std::uint64_t iterations = 1;        // graph runs (or tests) per sample
  std::vector<double> sample_seconds;  // raw: one entry per sample, all its iterations, device clock
  // The host's wall time around each kept sample (the same samples): beside a device's own
  // clock, what the host waited for them — launches, queueing and completion included.
  std::vector<double> host_sample_seconds;
  std::vector<double> sample_joules;   // per sample, when energy was taken per sample (else empty)
  std::uint64_t warmup_runs = 0;
  ClockInfo clock;
  double sample_floor_s = 0;           // the shortest a calibrated sample could be
  // "min_sample_seconds", "1000x the clock's resolution" or "10x the energy sensor's update interval"
  std::string floor_reason;
  std::string stop_reason;             // "min_time_and_samples", "ci_target", "max_time", ...
  double host_seconds = 0;             // wall time spent sampling (warm-up excluded)
  bool interrupted = false;
  bool valid = true;
  std::string invalid_reason;          // why not valid (too few samples, too short, ...)
  std::string error;                   // a run failed: its message (the samples stop there)
  EnergyReading energy;                // over the sampled runs only
  Work work_per_iteration;             // from the op cost model

  // Seconds per single iteration, per sample.
  XPB_API std::vector<double> per_iteration_seconds() const;
  // Joules of the sampled runs alone, when every sample has its own figure; else nothing (a
  // reading over the sampling window also covers the host's time between samples).
  XPB_API std::optional<double> sampled_joules() const;
  // The source of figures derived from the samples' times.
  Source time_source() const { return xpb::time_source(clock.kind); }
  XPB_API nlohmann::json to_json() const;
};

// Runs `sample` under `policy`. `cancel`, when set by another thread or a signal handler, stops
// sampling (and, where the device checks it, the run in progress); the measurement is then
// marked interrupted. `sensor` may be null; a sample that reports its own energy (a modeled
// device) is used instead of it. A run is never taken as a measurement when its result breaks
// the contract (a time that is negative or not finite, fewer iterations than asked without an
// interruption, energy for some runs and not others, another clock than `clock`): the
// measurement ends with `error` saying which.
XPB_API Measurement measure(const SampleFn& sample, const ClockInfo& clock, const RunPolicy& policy,
                            EnergySensor* sensor = nullptr, const std::atomic<bool>* cancel = nullptr);

// The same for one executable run with no dynamic dims.
XPB_API Measurement measure(Executable& exe, const ClockInfo& clock, const RunPolicy& policy,
                            EnergySensor* sensor = nullptr, const std::atomic<bool>* cancel = nullptr);

}  // namespace xpb
