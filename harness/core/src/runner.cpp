#include "xpubench/runner.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <span>
#include <vector>

#include "xpubench/parse.hpp"

namespace xpb {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bool cancelled(const std::atomic<bool>* cancel) { return cancel != nullptr && cancel->load(std::memory_order_relaxed); }

// The next iteration count: aim 40% past the floor so one more round usually suffices, never
// grow more than 10x at once (a first run may be dominated by page faults).
std::uint64_t grow(std::uint64_t iterations, double seconds, double floor, std::uint64_t max_iterations) {
  const double wanted = floor * 1.4 / std::max(seconds, 1e-12);
  const double factor = std::clamp(wanted, 2.0, 10.0);
  const auto next = static_cast<std::uint64_t>(static_cast<double>(iterations) * factor);
  return std::min(std::max(next, iterations + 1), max_iterations);
}

// The median (as summarize() gives it) in linear time, without the rest of the statistics:
// the validity check runs once per measurement, over up to max_samples samples.
double median_of(std::span<const double> samples) {
  if (samples.empty()) return 0;
  std::vector<double> v(samples.begin(), samples.end());
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  if (v.size() % 2 == 1) return *mid;
  return (*std::max_element(v.begin(), mid) + *mid) / 2;
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g s", s);
  return buf;
}

}  // namespace

RunPolicy RunPolicy::fixed(std::uint64_t samples) {
  RunPolicy p;
  p.warmup_samples = 0;
  p.warmup_seconds = 0;
  p.min_samples = p.max_samples = samples;
  p.min_seconds = 0;
  p.max_seconds = 1e9;  // some 30 years: no bound in practice
  p.min_sample_seconds = 0;
  p.max_iterations = 1;
  return p;
}

nlohmann::json RunPolicy::to_json() const {
  return {{"warmup_seconds", warmup_seconds},         {"warmup_samples", warmup_samples},
          {"min_seconds", min_seconds},               {"max_seconds", max_seconds},
          {"min_samples", min_samples},               {"max_samples", max_samples},
          {"target_ci_relative", target_ci_relative}, {"min_sample_seconds", min_sample_seconds},
          {"max_iterations", max_iterations}};
}

std::string RunPolicy::check(const std::string& key, const nlohmann::json& value) {
  const auto known = RunPolicy{}.to_json();
  if (!known.contains(key)) {
    std::string names;
    for (const auto& [k, v] : known.items()) names += (names.empty() ? "" : ", ") + k;
    return "unknown run-policy key '" + key + "' (expected one of: " + names + ")";
  }
  if (known[key].is_number_integer()) {
    try {
      parse_whole(value, "run-policy key '" + key + "'", 0, INT64_MAX);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  }
  if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0)
    return "run-policy key '" + key + "' expects a finite non-negative number, got " + json_text(value);
  return "";
}

std::string RunPolicy::apply(const nlohmann::json& j) {
  if (!j.is_object()) return "expected a mapping of run-policy keys";
  for (const auto& [key, value] : j.items())
    if (auto err = check(key, value); !err.empty()) return err;
  auto merged = to_json();
  merged.update(j);
  auto count = [&](const char* k) { return static_cast<std::uint64_t>(parse_whole(merged[k], k, 0, INT64_MAX)); };
  RunPolicy next;
  next.warmup_seconds = merged["warmup_seconds"].get<double>();
  next.warmup_samples = count("warmup_samples");
  next.min_seconds = merged["min_seconds"].get<double>();
  next.max_seconds = merged["max_seconds"].get<double>();
  next.min_samples = count("min_samples");
  next.max_samples = count("max_samples");
  next.target_ci_relative = merged["target_ci_relative"].get<double>();
  next.min_sample_seconds = merged["min_sample_seconds"].get<double>();
  next.max_iterations = count("max_iterations");
  if (next.min_seconds > next.max_seconds) return "run policy: min_seconds exceeds max_seconds";
  if (next.min_samples > next.max_samples) return "run policy: min_samples exceeds max_samples";
  if (next.max_samples < 1) return "run policy: max_samples must be at least 1";
  if (next.max_iterations < 1) return "run policy: max_iterations must be at least 1";
  *this = next;
  return "";
}

std::vector<double> Measurement::per_iteration_seconds() const {
  std::vector<double> out;
  out.reserve(sample_seconds.size());
  for (double s : sample_seconds) out.push_back(s / static_cast<double>(iterations));
  return out;
}

std::optional<double> Measurement::sampled_joules() const {
  if (!energy.available || sample_joules.empty() || sample_joules.size() != sample_seconds.size()) return std::nullopt;
  double joules = 0;
  for (double j : sample_joules) joules += j;
  return joules;
}

nlohmann::json Measurement::to_json() const {
  nlohmann::json j = {{"source", name(clock.kind)},
                      {"clock", clock.to_json()},
                      {"iterations_per_sample", iterations},
                      {"samples_s", sample_seconds},
                      {"warmup_runs", warmup_runs},
                      {"sample_floor_s", sample_floor_s},
                      {"sample_floor_reason", floor_reason},
                      {"stop_reason", stop_reason},
                      {"host_seconds", host_seconds},
                      {"interrupted", interrupted},
                      {"valid", valid},
                      {"work_per_iteration",
                       {{"flops", work_per_iteration.flops},
                        {"bytes_read", work_per_iteration.bytes_read},
                        {"bytes_written", work_per_iteration.bytes_written}}}};
  if (!valid) j["invalid_reason"] = invalid_reason;
  if (!sample_joules.empty()) j["samples_j"] = sample_joules;
  // On a host clock they are the samples themselves (give or take the call); beside any other
  // clock they say what the host waited.
  if (clock.kind != ClockKind::host) j["host_samples_s"] = host_sample_seconds;
  if (!error.empty()) j["error"] = error;
  return j;
}

Measurement measure(const SampleFn& sample, const ClockInfo& clock, const RunPolicy& policy, EnergySensor* sensor,
                    const std::atomic<bool>* cancel) {
  Measurement m;
  m.clock = clock;
  m.iterations = 1;
  const double resolution_floor = 1000.0 * clock.resolution_s;
  m.sample_floor_s = std::max(policy.min_sample_seconds, resolution_floor);
  m.floor_reason = resolution_floor > policy.min_sample_seconds ? "1000x the clock's resolution" : "min_sample_seconds";
  // Energy per sample needs samples of at least 10 sensor updates (below); the floor rises to
  // that where min_samples of them fit in half of max_seconds, so that a slow sensor (NVML's
  // 100 ms) never starves a short policy of its samples: there the energy is the window's.
  if (sensor != nullptr && sensor->unavailable_reason().empty()) {
    const double energy_floor = 10 * sensor->update_interval_s();
    if (energy_floor > m.sample_floor_s &&
        energy_floor * static_cast<double>(policy.min_samples) <= 0.5 * policy.max_seconds) {
      m.sample_floor_s = energy_floor;
      m.floor_reason = "10x the energy sensor's update interval";
    }
  }

  RunArgs args{1, {}, cancel};
  RunResult last;
  // Whether the device reports energy with its runs (and from what) is set by the first run;
  // every later run must agree, so each sample has a figure or none has.
  bool first_run = true;
  std::optional<EnergySource> device_energy;
  // One call of the sample function; false when the measurement must end (interrupt, error,
  // or a result the device should not have given: it is never taken as a measurement).
  double last_host_seconds = 0;
  auto call = [&](std::uint64_t iterations) {
    args.iterations = iterations;
    const auto host_start = Clock::now();
    last = sample(args);
    last_host_seconds = since(host_start);
    if (last.interrupted) {  // its other fields cover part of the work: none of them count
      m.interrupted = true;
      return false;
    }
    if (!last.error.empty()) {
      m.error = last.error;
      return false;
    }
    if (last.clock != clock.kind) {
      m.error = "the device timed a run on its " + std::string(name(last.clock)) + " clock, not the " +
                std::string(name(clock.kind)) + " clock it declares";
      return false;
    }
    if (!std::isfinite(last.seconds) || last.seconds < 0) {
      m.error = "the device reported a run time of " + seconds_text(last.seconds);
      return false;
    }
    if (last.iterations != iterations) {
      m.error = "the device ran " + std::to_string(last.iterations) + " of the " + std::to_string(iterations) +
                " iterations asked, without saying why";
      return false;
    }
    const bool has_energy = last.energy_source != EnergySource::unavailable;
    if (has_energy && (!std::isfinite(last.energy_joules) || last.energy_joules < 0)) {
      m.error = "the device reported " + std::to_string(last.energy_joules) + " J for a run";
      return false;
    }
    if (first_run) {
      if (has_energy) device_energy = last.energy_source;
      first_run = false;
    } else if (has_energy != device_energy.has_value() || (has_energy && *device_energy != last.energy_source)) {
      m.error = "the device reported energy for some runs and not for others";
      return false;
    }
    return true;
  };
  auto finish_work = [&] {
    if (last.iterations > 0) m.work_per_iteration = last.work * (1.0 / static_cast<double>(last.iterations));
  };

  // Energy per sample where the sensor updates well within a sample; else over the whole
  // sampling window. A device that models or measures its own energy reports it per run.
  const bool sensor_ok = sensor != nullptr && sensor->unavailable_reason().empty();
  EnergySnapshot window_start, sample_start;
  bool per_sample_energy = false;
  double joules_total = 0;
  // After each accepted sample: its time, and its energy when there is a figure per sample.
  auto keep_sample = [&] {
    m.sample_seconds.push_back(last.seconds);
    m.host_sample_seconds.push_back(last_host_seconds);
    if (device_energy) {
      m.sample_joules.push_back(last.energy_joules);
      joules_total += last.energy_joules;
    } else if (per_sample_energy) {
      const auto r = sensor->since(sample_start);
      if (r.available) {
        m.sample_joules.push_back(r.joules);
      } else {  // one missing reading would misalign samples_j with samples_s: none then
        per_sample_energy = false;
        m.sample_joules.clear();
      }
    }
  };

  // A deterministic clock gives the same time for the same work: one run is the whole story,
  // whatever the policy asks for, and no host time is spent sampling what cannot vary. (Not
  // for a fixed amount of work, RunPolicy::fixed: its samples are the work, not statistics.)
  const bool fixed_work = policy.max_iterations == 1 && policy.min_samples == policy.max_samples &&
                          policy.warmup_samples == 0 && policy.warmup_seconds == 0;
  const bool one_sample = clock.deterministic && !fixed_work;
  bool reached_floor = true;
  auto sampling_start = Clock::now();  // host_seconds counts from here (warm-up excluded)
  if (one_sample) {
    m.floor_reason = "deterministic clock: one sample of one iteration";
    m.sample_floor_s = 0;
    if (cancelled(cancel)) m.interrupted = true;
    else if (call(1)) keep_sample();
    m.stop_reason = "deterministic_clock";
  } else {
    // Warm-up doubles as calibration: iterations grow until one sample lasts at least the
    // floor on the device clock. Bounded by max_seconds of host time, so a slow first run
    // cannot hang a suite; how many iterations fit in the time left is judged by the host
    // time they took.
    const bool calibrate = policy.max_iterations > 1;
    const bool warm = policy.warmup_samples > 0 || policy.warmup_seconds > 0 || calibrate;
    const auto warm_start = Clock::now();
    reached_floor = !warm;  // without calibration, the samples below say whether it was
    while (warm && !cancelled(cancel)) {
      const auto t0 = Clock::now();
      if (!call(m.iterations)) break;
      const double host = since(t0);
      ++m.warmup_runs;
      reached_floor = last.seconds >= m.sample_floor_s;
      // A first run can be slow for reasons that go away (page faults, cold caches); when it
      // only just reached the floor, one more run at the same count must too (cheap: under
      // 10x the floor). Otherwise the samples could fall far below the floor.
      if (m.warmup_runs == 1 && reached_floor && last.seconds < 10 * m.sample_floor_s &&
          m.iterations < policy.max_iterations)
        continue;
      const bool calibrated = reached_floor || m.iterations >= policy.max_iterations;
      if (!calibrated) {
        const double host_per_iteration = host / static_cast<double>(m.iterations);
        const double left = policy.max_seconds - since(warm_start);
        // In double, clamped before the conversion: a count past 2^64 is not representable.
        const double fits = host_per_iteration > 0 ? std::max(0.0, left / host_per_iteration)
                                                   : static_cast<double>(policy.max_iterations);
        const auto next = std::min(grow(m.iterations, last.seconds, m.sample_floor_s, policy.max_iterations),
                                   static_cast<std::uint64_t>(std::min(fits, static_cast<double>(policy.max_iterations))));
        if (next > m.iterations) {
          m.iterations = next;
          continue;
        }
      }
      if (m.warmup_runs >= policy.warmup_samples && since(warm_start) >= policy.warmup_seconds) break;
      if (since(warm_start) >= policy.max_seconds) break;
    }

    per_sample_energy = sensor_ok && !device_energy && last.seconds >= 10 * sensor->update_interval_s();
    if (sensor_ok) window_start = sensor->snapshot();
    m.sample_seconds.reserve(std::min<std::uint64_t>(policy.max_samples, 4096));
    sampling_start = Clock::now();
    std::size_t next_ci_check = std::max<std::size_t>(policy.min_samples, 6);
    while (m.error.empty() && !m.interrupted) {
      if (cancelled(cancel)) {
        m.interrupted = true;
        break;
      }
      if (per_sample_energy) sample_start = sensor->snapshot();
      if (!call(m.iterations)) break;  // an interrupted sample covers part of its work: dropped
      keep_sample();
      const std::size_t n = m.sample_seconds.size();
      const double elapsed = since(sampling_start);
      if (n >= policy.max_samples) {
        m.stop_reason = "max_samples";
        break;
      }
      if (elapsed >= policy.max_seconds) {
        m.stop_reason = "max_time";
        break;
      }
      if (n < policy.min_samples || elapsed < policy.min_seconds) continue;
      if (policy.target_ci_relative <= 0) {
        m.stop_reason = "min_time_and_samples";
        break;
      }
      // The CI needs a sort: check at geometrically spaced sample counts so the cost per
      // sample stays constant however long the benchmark runs.
      if (n >= next_ci_check) {
        next_ci_check = n + std::max<std::size_t>(1, n / 4);
        const auto ci = summarize(m.sample_seconds).ci_relative();
        if (ci && *ci <= policy.target_ci_relative) {
          m.stop_reason = "ci_target";
          break;
        }
      }
    }
  }
  m.host_seconds = since(sampling_start);
  if (m.interrupted) m.stop_reason = "interrupted";
  if (!m.error.empty()) m.stop_reason = "error";
  finish_work();

  double sampled_seconds = 0;
  for (double s : m.sample_seconds) sampled_seconds += s;
  if (device_energy) {
    m.energy = {!m.sample_seconds.empty(), joules_total, sampled_seconds, std::string(name(*device_energy)), "", {}};
    if (m.sample_seconds.empty()) m.energy.reason = "no sample was kept";
  } else if (sensor == nullptr) {
    m.energy.reason = "the device has no energy sensor";
  } else if (!sensor_ok) {
    m.energy.source = sensor->name();
    m.energy.reason = sensor->unavailable_reason();
  } else if (one_sample) {
    m.energy.source = sensor->name();
    m.energy.reason = "one sample on a deterministic clock: the host's sensor did not watch it";
  } else {
    m.energy = sensor->since(window_start);
  }

  // Validity (MLPerf LoadGen's rule): a measurement short of its minimum samples or duration
  // says so; an interrupted or failed one is not a measurement at all and says that instead.
  // A deterministic clock's one sample is the whole measurement.
  const std::size_t n = m.sample_seconds.size();
  if (m.interrupted || !m.error.empty()) {
    m.valid = false;
    m.invalid_reason = m.interrupted ? "stopped by the user" : "a run failed: " + m.error;
  } else if (one_sample) {
    // nothing more to ask of it
  } else if (const double median = median_of(m.sample_seconds);
             n > 0 && (!reached_floor || median < m.sample_floor_s / 2)) {
    // Samples a little under the floor by noise are fine; samples the calibration could not
    // bring up to it (the budget ran out, or the iterations were capped) measure the clock.
    m.valid = false;
    m.invalid_reason = "samples of " + seconds_text(median) + " fell short of the " +
                       seconds_text(m.sample_floor_s) + " floor (" + m.floor_reason +
                       "): too few iterations fit a sample, so the clock's resolution is in the figures";
  } else if (n < policy.min_samples) {
    m.valid = false;
    m.invalid_reason = std::to_string(n) + " of the policy's minimum " + std::to_string(policy.min_samples) +
                       " samples: the time budget (max_seconds " + seconds_text(policy.max_seconds) + ") ran out";
  } else if (m.host_seconds < policy.min_seconds) {
    m.valid = false;
    m.invalid_reason = "sampled for " + seconds_text(m.host_seconds) + ", short of the policy's min_seconds " +
                       seconds_text(policy.min_seconds) + " (max_samples " + std::to_string(policy.max_samples) +
                       " came first)";
  }
  return m;
}

Measurement measure(Executable& exe, const ClockInfo& clock, const RunPolicy& policy, EnergySensor* sensor,
                    const std::atomic<bool>* cancel) {
  return measure([&exe](const RunArgs& args) { return exe.run(args); }, clock, policy, sensor, cancel);
}

}  // namespace xpb
