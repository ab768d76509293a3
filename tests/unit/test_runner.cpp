#include <gtest/gtest.h>

#include <atomic>
#include <limits>

#include "xpubench/runner.hpp"

namespace {

// An executable on a simulated clock: each run takes `per_iteration` seconds per iteration,
// so the runner's rules can be checked exactly and without timing the test machine.
class FakeExecutable final : public xpb::Executable {
 public:
  explicit FakeExecutable(double per_iteration, std::atomic<bool>* cancel_after = nullptr, int runs_before_cancel = 0)
      : per_iteration_(per_iteration), cancel_(cancel_after), cancel_at_(runs_before_cancel) {}
  xpb::Timing run(std::uint64_t iterations) override {
    ++runs;
    total_iterations += iterations;
    if (cancel_ != nullptr && runs == cancel_at_) cancel_->store(true);
    return {per_iteration_ * static_cast<double>(iterations), xpb::ClockKind::simulated};
  }
  void read(xpb::TensorId, std::span<std::byte>) const override {}
  void write(xpb::TensorId, std::span<const std::byte>) override {}
  int runs = 0;
  std::uint64_t total_iterations = 0;

 private:
  double per_iteration_;
  std::atomic<bool>* cancel_;
  int cancel_at_;
};

TEST(Runner, CalibratesIterationsToTheMinimumSampleTime) {
  FakeExecutable exe(1e-6);  // 1 us per run: 1000 iterations make the 1 ms minimum
  xpb::RunPolicy p;
  p.min_seconds = 0;
  p.min_samples = 5;
  p.max_samples = 5;
  const auto m = xpb::measure(exe, p);
  EXPECT_GE(static_cast<double>(m.iterations) * 1e-6, p.min_sample_seconds);
  EXPECT_EQ(m.sample_seconds.size(), 5u);
  EXPECT_EQ(m.source, xpb::ClockKind::simulated);
  for (double s : m.per_iteration_seconds()) EXPECT_DOUBLE_EQ(s, 1e-6);
}

TEST(Runner, StopsAtMaxSamples) {
  FakeExecutable exe(0.01);
  xpb::RunPolicy p;
  p.min_seconds = 100;  // would run long, but max_samples bounds it
  p.max_seconds = 100;
  p.min_samples = 3;
  p.max_samples = 7;
  const auto m = xpb::measure(exe, p);
  EXPECT_EQ(m.sample_seconds.size(), 7u);
  EXPECT_EQ(m.stop_reason, "max_samples");
}

TEST(Runner, EarlyStopOnNarrowConfidenceInterval) {
  FakeExecutable exe(0.002);  // identical samples: the CI is zero wide at once
  xpb::RunPolicy p;
  p.min_seconds = 0;
  p.max_seconds = 100;
  p.min_samples = 10;
  p.max_samples = 100000;
  p.target_ci_relative = 0.01;
  const auto m = xpb::measure(exe, p);
  EXPECT_EQ(m.stop_reason, "ci_target");
  EXPECT_EQ(m.sample_seconds.size(), 10u);
}

TEST(Runner, CancelStopsAndMarksInterrupted) {
  std::atomic<bool> cancel{false};
  FakeExecutable exe(0.002, &cancel, 4);
  xpb::RunPolicy p;
  p.min_seconds = 100;
  p.max_seconds = 100;
  p.max_samples = 1000000;
  const auto m = xpb::measure(exe, p, nullptr, &cancel);
  EXPECT_TRUE(m.interrupted);
  EXPECT_EQ(m.stop_reason, "interrupted");
  EXPECT_LT(exe.runs, 10);
}

TEST(Runner, EnergyUnavailableWithoutSensorSaysWhy) {
  FakeExecutable exe(0.002);
  xpb::RunPolicy p;
  p.max_samples = 5;
  const auto m = xpb::measure(exe, p);
  EXPECT_FALSE(m.energy.available);
  EXPECT_FALSE(m.energy.reason.empty());
}

TEST(Runner, CalibrationNeverAsksForMoreThanTheTimeLeft) {
  FakeExecutable exe(1e-6);
  xpb::RunPolicy p;
  p.min_sample_seconds = 10;  // unreachable within max_seconds
  p.max_seconds = 0.5;
  p.min_samples = 3;
  p.max_samples = 3;
  const auto m = xpb::measure(exe, p);
  ASSERT_FALSE(m.sample_seconds.empty());
  for (double s : m.sample_seconds) EXPECT_LE(s, 0.5 + 1e-9);
}

TEST(RunPolicy, ApplyRejectsUnknownKeysAndBadValues) {
  xpb::RunPolicy p;
  EXPECT_NE(p.apply({{"max_secs", 1}}).find("unknown run-policy key 'max_secs'"), std::string::npos);
  EXPECT_NE(p.apply({{"max_seconds", "soon"}}).find("expects a finite non-negative number"), std::string::npos);
  EXPECT_NE(p.apply({{"min_samples", 2.5}}).find("whole number"), std::string::npos);
  EXPECT_NE(p.apply({{"max_seconds", std::numeric_limits<double>::infinity()}}).find("finite"), std::string::npos);
  EXPECT_NE(p.apply({{"min_seconds", 5}, {"max_seconds", 1}}).find("min_seconds exceeds max_seconds"),
            std::string::npos);
  EXPECT_EQ(p.apply({{"max_seconds", 7}, {"target_ci_relative", 0.05}}), "");
  EXPECT_DOUBLE_EQ(p.max_seconds, 7);
  EXPECT_DOUBLE_EQ(p.target_ci_relative, 0.05);
}

}  // namespace
