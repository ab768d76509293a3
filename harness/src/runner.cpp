#include "xpubench/runner.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace xpb {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

bool cancelled(const std::atomic<bool>* cancel) {
  return cancel != nullptr && cancel->load(std::memory_order_relaxed);
}

// The next iteration count: aim 40% past the minimum sample time so one more round usually
// suffices, never grow more than 10x at once (a first run may be dominated by page faults).
std::uint64_t grow(std::uint64_t iterations, double seconds, const RunPolicy& p) {
  const double wanted = p.min_sample_seconds * 1.4 / std::max(seconds, 1e-9);
  const double factor = std::clamp(wanted, 2.0, 10.0);
  const auto next = static_cast<std::uint64_t>(static_cast<double>(iterations) * factor);
  return std::min(std::max(next, iterations + 1), p.max_iterations);
}

}  // namespace

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
  if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0)
    return "run-policy key '" + key + "' expects a finite non-negative number, got " + value.dump();
  if (known[key].is_number_integer() && !value.is_number_integer())
    return "run-policy key '" + key + "' expects a whole number, got " + value.dump();
  return "";
}

std::string RunPolicy::apply(const nlohmann::json& j) {
  if (!j.is_object()) return "expected a mapping of run-policy keys";
  RunPolicy next = *this;
  auto known = next.to_json();
  for (const auto& [key, value] : j.items())
    if (auto err = check(key, value); !err.empty()) return err;
  auto merged = known;
  merged.update(j);
  next.warmup_seconds = merged["warmup_seconds"];
  next.warmup_samples = merged["warmup_samples"];
  next.min_seconds = merged["min_seconds"];
  next.max_seconds = merged["max_seconds"];
  next.min_samples = merged["min_samples"];
  next.max_samples = merged["max_samples"];
  next.target_ci_relative = merged["target_ci_relative"];
  next.min_sample_seconds = merged["min_sample_seconds"];
  next.max_iterations = merged["max_iterations"];
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

nlohmann::json Measurement::to_json() const {
  return {{"source", name(source)}, {"iterations_per_sample", iterations},
          {"samples_s", sample_seconds}, {"warmup_runs", warmup_runs},
          {"stop_reason", stop_reason},  {"interrupted", interrupted}};
}

Measurement measure(Executable& exe, const RunPolicy& policy, EnergySensor* sensor,
                    const std::atomic<bool>* cancel) {
  Measurement m;
  m.iterations = 1;

  // Warm-up doubles as calibration: iterations grow until one run of them lasts at least
  // min_sample_seconds. Bounded by max_seconds too, so a slow first run cannot hang a suite.
  const auto warm_start = Clock::now();
  while (!cancelled(cancel)) {
    const Timing t = exe.run(m.iterations);
    m.source = t.source;
    ++m.warmup_runs;
    const bool calibrated = t.seconds >= policy.min_sample_seconds || m.iterations >= policy.max_iterations;
    if (!calibrated) {
      // Grow, but never past what fits in the time left: one sample must not overrun
      // max_seconds because calibration asked for ten times more work.
      const double per_iteration = t.seconds / static_cast<double>(m.iterations);
      const double left = policy.max_seconds - since(warm_start);
      const auto fits = per_iteration > 0 ? static_cast<std::uint64_t>(std::max(0.0, left / per_iteration))
                                          : policy.max_iterations;
      const auto next = std::min(grow(m.iterations, t.seconds, policy), fits);
      if (next > m.iterations) {
        m.iterations = next;
        continue;
      }
    }
    if (m.warmup_runs >= policy.warmup_samples && since(warm_start) >= policy.warmup_seconds) break;
    if (since(warm_start) >= policy.max_seconds) break;
  }

  EnergySnapshot before;
  if (sensor != nullptr) before = sensor->snapshot();
  m.sample_seconds.reserve(std::min<std::uint64_t>(policy.max_samples, 4096));
  const auto start = Clock::now();
  std::size_t next_ci_check = std::max<std::size_t>(policy.min_samples, 6);
  while (true) {
    if (cancelled(cancel)) {
      m.interrupted = true;
      m.stop_reason = "interrupted";
      break;
    }
    const Timing t = exe.run(m.iterations);
    m.source = t.source;
    m.sample_seconds.push_back(t.seconds);
    const std::size_t n = m.sample_seconds.size();
    const double elapsed = since(start);
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
    // The CI needs a sort: check at geometrically spaced sample counts so the cost per sample
    // stays constant however long the benchmark runs.
    if (n >= next_ci_check) {
      next_ci_check = n + std::max<std::size_t>(1, n / 4);
      if (summarize(m.sample_seconds).ci_relative() <= policy.target_ci_relative) {
        m.stop_reason = "ci_target";
        break;
      }
    }
  }
  if (sensor != nullptr) {
    m.energy = sensor->since(before);
  } else {
    m.energy.available = false;
    m.energy.reason = "the device has no energy sensor";
  }
  return m;
}

}  // namespace xpb
