#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <chrono>
#include <limits>

#include "xpubench/runner.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// A sample function on a clock of its own: each call takes `per_iteration` seconds per
// iteration on it (and, when `host_spin_per_iteration` is set, spends that much host time per
// iteration), so the runner's rules can be checked exactly.
struct FakeDevice {
  double per_iteration = 1e-3;
  double host_spin_per_iteration = 0;
  xpb::ClockInfo clock{xpb::ClockKind::simulated, 1e-9, false};
  std::atomic<bool>* cancel_after = nullptr;
  int cancel_at = 0;       // set cancel_after on this call
  int fail_at = 0;         // return an error on this call
  // A result that breaks the contract, from this call on: 1 a negative time, 2 NaN, 3 one
  // iteration fewer than asked, 4 no energy (where the device models it).
  int break_at = 0, breakage = 0;
  double first_call_extra_s = 0;  // the first run is this much slower (page faults)
  double joules_per_iteration = -1;  // >= 0: the device models its energy
  int calls = 0;
  std::uint64_t max_iterations_asked = 0;

  xpb::RunResult operator()(const xpb::RunArgs& a) {
    ++calls;
    max_iterations_asked = std::max(max_iterations_asked, a.iterations);
    if (cancel_after != nullptr && calls == cancel_at) cancel_after->store(true);
    if (host_spin_per_iteration > 0) {
      const auto until = Clock::now() + std::chrono::duration<double>(host_spin_per_iteration * static_cast<double>(a.iterations));
      while (Clock::now() < until) {
      }
    }
    xpb::RunResult r;
    r.clock = clock.kind;
    r.seconds = per_iteration * static_cast<double>(a.iterations);
    r.iterations = a.iterations;
    r.work = xpb::Work{2.0, 8.0, 4.0} * static_cast<double>(a.iterations);
    if (joules_per_iteration >= 0) {
      r.energy_joules = joules_per_iteration * static_cast<double>(a.iterations);
      r.energy_source = xpb::EnergySource::modeled;
    }
    if (fail_at != 0 && calls == fail_at) r.error = "token id 9 out of range";
    if (calls == 1) r.seconds += first_call_extra_s;
    if (break_at != 0 && calls >= break_at) {
      if (breakage == 1) r.seconds = -r.seconds;
      if (breakage == 2) r.seconds = std::nan("");
      if (breakage == 3) r.iterations = a.iterations - 1;
      if (breakage == 4) r.energy_source = xpb::EnergySource::unavailable;
    }
    return r;
  }
  xpb::Measurement measure(const xpb::RunPolicy& p, xpb::EnergySensor* sensor = nullptr,
                           const std::atomic<bool>* cancel = nullptr) {
    return xpb::measure([this](const xpb::RunArgs& a) { return (*this)(a); }, clock, p, sensor, cancel);
  }
};

TEST(Runner, BesideADeviceClockEachSampleHasTheHostsWaitToo) {
  FakeDevice d;
  d.clock = {xpb::ClockKind::device_events, 1e-9, false};
  d.per_iteration = 1e-4;            // the device's own time
  d.host_spin_per_iteration = 4e-4;  // what the host waits: launches and completion included
  xpb::RunPolicy p;
  p.warmup_seconds = 0;
  p.min_seconds = 0;
  p.min_samples = 4;
  p.max_samples = 4;
  p.min_sample_seconds = 1e-3;
  const auto m = d.measure(p);
  ASSERT_EQ(m.sample_seconds.size(), 4u);
  ASSERT_EQ(m.host_sample_seconds.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_GE(m.host_sample_seconds[i], 4.0 * m.sample_seconds[i]);
  EXPECT_EQ(m.to_json()["host_samples_s"].size(), 4u);
  d.clock = {xpb::ClockKind::host, 1e-9, false};  // on the host clock they would only repeat the samples
  EXPECT_FALSE(d.measure(p).to_json().contains("host_samples_s"));
}

TEST(Runner, CalibratesIterationsToTheMinimumSampleTime) {
  FakeDevice dev;
  dev.per_iteration = 1e-6;  // 1000 iterations make the 1 ms minimum
  xpb::RunPolicy p;
  p.min_seconds = 0;
  p.min_samples = 5;
  p.max_samples = 5;
  const auto m = dev.measure(p);
  EXPECT_GE(static_cast<double>(m.iterations) * 1e-6, p.min_sample_seconds);
  EXPECT_EQ(m.sample_seconds.size(), 5u);
  EXPECT_EQ(m.clock.kind, xpb::ClockKind::simulated);
  EXPECT_EQ(m.time_source(), xpb::Source::simulated);
  for (double s : m.per_iteration_seconds()) EXPECT_DOUBLE_EQ(s, 1e-6);
  EXPECT_TRUE(m.valid);
  EXPECT_DOUBLE_EQ(m.work_per_iteration.flops, 2.0);
  EXPECT_DOUBLE_EQ(m.work_per_iteration.bytes_read, 8.0);
}

TEST(Runner, TheSampleFloorIsAThousandTimesTheClockResolutionWhateverThePolicySays) {
  // min_sample_seconds=0 once let samples of ~80 ns measure the timer itself.
  FakeDevice dev;
  dev.per_iteration = 1e-7;
  dev.clock.resolution_s = 1e-6;
  xpb::RunPolicy p;
  p.min_sample_seconds = 0;
  p.min_seconds = 0;
  p.max_samples = 3;
  p.min_samples = 3;
  const auto m = dev.measure(p);
  EXPECT_DOUBLE_EQ(m.sample_floor_s, 1e-3);
  EXPECT_EQ(m.floor_reason, "1000x the clock's resolution");
  for (double s : m.sample_seconds) EXPECT_GE(s, 1e-3);
  EXPECT_EQ(m.to_json()["sample_floor_s"], 1e-3);
}

TEST(Runner, ADeterministicClockTakesOneSampleAndSpendsNoHostTimeOnMore) {
  FakeDevice dev;
  dev.per_iteration = 0.25;
  dev.clock.deterministic = true;
  xpb::RunPolicy p;  // asks for 5 to 1000 samples over 0.2 to 2 s
  const auto m = dev.measure(p);
  EXPECT_EQ(dev.calls, 1);  // no warm-up, no calibration, no second sample
  ASSERT_EQ(m.sample_seconds.size(), 1u);
  EXPECT_DOUBLE_EQ(m.sample_seconds[0], 0.25);
  EXPECT_EQ(m.stop_reason, "deterministic_clock");
  EXPECT_TRUE(m.valid);  // one sample says all a deterministic clock can say
  EXPECT_EQ(m.warmup_runs, 0u);
}

TEST(Runner, AFixedAmountOfWorkRunsAllItsSamplesEvenOnADeterministicClock) {
  FakeDevice dev;
  dev.clock.deterministic = true;
  const auto m = dev.measure(xpb::RunPolicy::fixed(4));  // four passes of a capacity test
  EXPECT_EQ(dev.calls, 4);
  EXPECT_EQ(m.sample_seconds.size(), 4u);
  EXPECT_EQ(m.iterations, 1u);
  EXPECT_TRUE(m.valid) << m.invalid_reason;
}

TEST(Runner, TooFewSamplesWithinTheBudgetIsInvalidAndSaysWhy) {
  FakeDevice dev;
  dev.clock.kind = xpb::ClockKind::host;
  dev.per_iteration = 0.05;
  dev.host_spin_per_iteration = 0.05;  // each sample takes 50 ms of host time
  xpb::RunPolicy p;
  p.warmup_samples = 0;
  p.warmup_seconds = 0;
  p.max_iterations = 1;
  p.min_seconds = 0;
  p.max_seconds = 0.12;
  p.min_samples = 5;
  const auto m = dev.measure(p);
  EXPECT_LT(m.sample_seconds.size(), 5u);
  EXPECT_FALSE(m.valid);
  EXPECT_NE(m.invalid_reason.find("of the policy's minimum 5 samples"), std::string::npos) << m.invalid_reason;
  EXPECT_EQ(m.stop_reason, "max_time");
}

TEST(Runner, StopsAtMaxSamples) {
  FakeDevice dev;
  dev.per_iteration = 0.01;
  xpb::RunPolicy p;
  p.min_seconds = 100;  // would run long, but max_samples bounds it
  p.max_seconds = 100;
  p.min_samples = 3;
  p.max_samples = 7;
  const auto m = dev.measure(p);
  EXPECT_EQ(m.sample_seconds.size(), 7u);
  EXPECT_EQ(m.stop_reason, "max_samples");
}

TEST(Runner, StoppingByMaxSamplesBeforeMinSecondsIsInvalid) {
  FakeDevice dev;
  xpb::RunPolicy p;
  p.min_seconds = 100;  // cannot be reached: max_samples comes first
  p.max_seconds = 100;
  p.min_samples = 3;
  p.max_samples = 7;
  const auto m = dev.measure(p);
  EXPECT_FALSE(m.valid);
  EXPECT_NE(m.invalid_reason.find("short of the policy's min_seconds"), std::string::npos) << m.invalid_reason;
}

TEST(Runner, EarlyStopOnNarrowConfidenceInterval) {
  FakeDevice dev;
  dev.per_iteration = 0.002;  // identical samples: the CI is zero wide at once
  xpb::RunPolicy p;
  p.min_seconds = 0;
  p.max_seconds = 100;
  p.min_samples = 10;
  p.max_samples = 100000;
  p.target_ci_relative = 0.01;
  const auto m = dev.measure(p);
  EXPECT_EQ(m.stop_reason, "ci_target");
  EXPECT_EQ(m.sample_seconds.size(), 10u);
}

TEST(Runner, CancelStopsAndMarksInterrupted) {
  std::atomic<bool> cancel{false};
  FakeDevice dev;
  dev.per_iteration = 0.002;
  dev.cancel_after = &cancel;
  dev.cancel_at = 4;
  xpb::RunPolicy p;
  p.min_seconds = 100;
  p.max_seconds = 100;
  p.max_samples = 1000000;
  const auto m = dev.measure(p, nullptr, &cancel);
  EXPECT_TRUE(m.interrupted);
  EXPECT_EQ(m.stop_reason, "interrupted");
  EXPECT_FALSE(m.valid);
  EXPECT_LT(dev.calls, 10);
}

TEST(Runner, ARunThatFailsEndsTheMeasurementWithItsMessage) {
  FakeDevice dev;
  dev.fail_at = 3;
  xpb::RunPolicy p;
  p.min_seconds = 0;
  p.max_samples = 100;
  const auto m = dev.measure(p);
  EXPECT_EQ(m.error, "token id 9 out of range");
  EXPECT_EQ(m.stop_reason, "error");
  EXPECT_FALSE(m.valid);
  EXPECT_EQ(dev.calls, 3);
}

TEST(Runner, ARunOnAnotherClockThanTheDeviceDeclaresIsAnError) {
  FakeDevice dev;
  xpb::ClockInfo declared{xpb::ClockKind::host, 1e-9, false};
  const auto m = xpb::measure([&](const xpb::RunArgs& a) { return dev(a); }, declared, xpb::RunPolicy{});
  EXPECT_NE(m.error.find("simulated clock, not the host clock"), std::string::npos) << m.error;
}

TEST(Runner, EnergyUnavailableWithoutSensorSaysWhy) {
  FakeDevice dev;
  xpb::RunPolicy p;
  p.max_samples = 5;
  const auto m = dev.measure(p);
  EXPECT_FALSE(m.energy.available);
  EXPECT_FALSE(m.energy.reason.empty());
}

TEST(Runner, ADeviceThatModelsItsEnergyGivesJoulesPerSample) {
  FakeDevice dev;
  dev.joules_per_iteration = 0.5;
  xpb::RunPolicy p;
  p.min_seconds = 0;
  p.min_samples = p.max_samples = 4;
  const auto m = dev.measure(p);
  ASSERT_EQ(m.sample_joules.size(), 4u);
  for (double j : m.sample_joules) EXPECT_DOUBLE_EQ(j, 0.5 * static_cast<double>(m.iterations));
  EXPECT_TRUE(m.energy.available);
  EXPECT_EQ(m.energy.source, "modeled");
  EXPECT_DOUBLE_EQ(m.energy.joules, 4 * 0.5 * static_cast<double>(m.iterations));
}

// A sensor whose counter advances one joule per read, updating every 100 us.
class CountingSensor final : public xpb::EnergySensor {
 public:
  std::string name() const override { return "counting"; }
  std::string covers() const override { return "a test counter"; }
  std::string unavailable_reason() const override { return ""; }
  xpb::EnergySnapshot snapshot() const override { return {{++count_}, Clock::now(), true}; }
  xpb::EnergyReading since(const xpb::EnergySnapshot& before) const override {
    return {true, static_cast<double>(++count_ - before.counters[0]), 0, "counting", "", {}};
  }
  double update_interval_s() const override { return 1e-4; }

 private:
  mutable std::uint64_t count_ = 0;
};

TEST(Runner, ASensorIsReadPerSampleWhenSamplesOutlastItsUpdateInterval) {
  FakeDevice dev;
  dev.per_iteration = 2e-3;  // >= 10 x 100 us
  CountingSensor sensor;
  xpb::RunPolicy p;
  p.min_seconds = 0;
  p.min_samples = p.max_samples = 6;
  const auto m = dev.measure(p, &sensor);
  EXPECT_EQ(m.sample_joules.size(), 6u);
  EXPECT_TRUE(m.energy.available);
  EXPECT_EQ(m.energy.source, "counting");
}

TEST(Runner, CalibrationNeverAsksForMoreThanTheHostTimeLeft) {
  // 1 ns of device time per iteration wants 10^6 iterations for a 1 ms sample; at 1 us of host
  // time per iteration that would be a second, five times the budget.
  FakeDevice dev;
  dev.clock.kind = xpb::ClockKind::host;
  dev.per_iteration = 1e-9;
  dev.host_spin_per_iteration = 1e-6;
  xpb::RunPolicy p;
  p.max_seconds = 0.2;
  p.min_seconds = 0;
  p.min_samples = 1;
  p.max_samples = 1;
  const auto m = dev.measure(p);
  EXPECT_GT(dev.max_iterations_asked, 1000u);
  EXPECT_LE(dev.max_iterations_asked, 250000u);
  ASSERT_FALSE(m.sample_seconds.empty());
  // The samples could not reach the 1 ms floor within the budget: the record says so.
  EXPECT_FALSE(m.valid);
  EXPECT_NE(m.invalid_reason.find("fell short of the"), std::string::npos) << m.invalid_reason;
}

TEST(Runner, AResultThatBreaksTheContractIsNeverASample) {
  const char* says[] = {"", "run time of -", "run time of nan", "without saying why", "some runs and not for others"};
  for (int breakage = 1; breakage <= 4; ++breakage) {
    FakeDevice dev;
    dev.break_at = 3;
    dev.breakage = breakage;
    dev.joules_per_iteration = 0.5;
    xpb::RunPolicy p;
    p.min_samples = p.max_samples = 5;
    const auto m = dev.measure(p);
    EXPECT_FALSE(m.valid) << breakage;
    EXPECT_EQ(m.stop_reason, "error") << breakage;
    EXPECT_NE(m.error.find(says[breakage]), std::string::npos) << breakage << ": " << m.error;
    for (double s : m.sample_seconds) EXPECT_TRUE(std::isfinite(s) && s >= 0) << breakage;
    EXPECT_LT(m.sample_seconds.size(), 3u) << breakage;  // nothing from the third run on
  }
}

TEST(Runner, ADeterministicClockWhoseOneRunFailsIsNotValid) {
  FakeDevice dev;
  dev.clock.deterministic = true;
  dev.fail_at = 1;
  const auto m = dev.measure(xpb::RunPolicy{});
  EXPECT_FALSE(m.valid);
  EXPECT_EQ(m.stop_reason, "error");
  EXPECT_TRUE(m.sample_seconds.empty());
  EXPECT_NE(m.invalid_reason.find("token id 9"), std::string::npos) << m.invalid_reason;
}

TEST(Runner, AFirstRunSlowedByPageFaultsDoesNotEndTheCalibration) {
  // The first run of one iteration lasts 3 ms only because of its page faults; the others 20
  // us. Trusting it would leave samples of 20 us against a 1 ms floor: invalid.
  FakeDevice dev;
  dev.per_iteration = 20e-6;
  dev.first_call_extra_s = 3e-3;
  xpb::RunPolicy p;
  p.min_seconds = 0;
  p.min_samples = p.max_samples = 5;
  const auto m = dev.measure(p);
  EXPECT_TRUE(m.valid) << m.invalid_reason;
  EXPECT_GE(m.iterations, 50u);  // 50 x 20 us reach the 1 ms floor
  for (double s : m.sample_seconds) EXPECT_GE(s, 1e-3);
}

TEST(RunPolicy, ApplyRejectsUnknownKeysAndBadValues) {
  xpb::RunPolicy p;
  EXPECT_NE(p.apply({{"max_secs", 1}}).find("unknown run-policy key 'max_secs'"), std::string::npos);
  EXPECT_NE(p.apply({{"max_seconds", "soon"}}).find("expects a finite non-negative number"), std::string::npos);
  EXPECT_NE(p.apply({{"min_samples", 2.5}}).find("whole number"), std::string::npos);
  EXPECT_NE(p.apply({{"min_samples", -1}}).find("whole number in [0,"), std::string::npos);
  EXPECT_NE(p.apply({{"max_seconds", std::numeric_limits<double>::infinity()}}).find("finite"), std::string::npos);
  EXPECT_NE(p.apply({{"min_seconds", 5}, {"max_seconds", 1}}).find("min_seconds exceeds max_seconds"), std::string::npos);
  EXPECT_EQ(p.apply({{"max_seconds", 7}, {"target_ci_relative", 0.05}}), "");
  EXPECT_DOUBLE_EQ(p.max_seconds, 7);
  EXPECT_DOUBLE_EQ(p.target_ci_relative, 0.05);
}

TEST(RunPolicy, AWholeNumberWrittenAsAFloatIsWhole) {
  // YAML reads 1e18 as a float; it is a whole number, not "not whole".
  xpb::RunPolicy p;
  EXPECT_EQ(p.apply({{"max_iterations", 1e18}}), "");
  EXPECT_EQ(p.max_iterations, 1000000000000000000ull);
  EXPECT_EQ(p.apply({{"min_samples", 6.0}}), "");
  EXPECT_EQ(p.min_samples, 6u);
}

}  // namespace
