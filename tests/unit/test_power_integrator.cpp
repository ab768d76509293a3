// The power integrator behind the hwmon sensor's power inputs: fed by a function here, not by
// files, so that what it reads is under the test's control.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "forked_child.hpp"
#include "power_integrator.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

TEST(PowerIntegrator, ConstantPowerGivesPowerTimesTime) {
  xpb::PowerIntegrator integ(
      [](std::vector<double>& w) {
        w = {1.5, 40.0};
        return std::string();
      },
      1ms);
  const auto a = integ.totals();
  ASSERT_EQ(a.error, "");
  ASSERT_EQ(a.joules.size(), 2u);
  std::this_thread::sleep_for(50ms);
  const auto b = integ.totals();
  ASSERT_EQ(b.error, "");
  // Exact whenever the samples fall: the trapezoids of a constant sum to power x time, and
  // between samples the held reading is the constant itself.
  const double dt = seconds(a.when, b.when);
  EXPECT_NEAR(b.joules[0] - a.joules[0], 1.5 * dt, 1e-9);
  EXPECT_NEAR(b.joules[1] - a.joules[1], 40.0 * dt, 1e-9);
  EXPECT_LE(b.continuous_since, a.when);
  EXPECT_EQ(b.last_error, "");
}

TEST(PowerIntegrator, AForkedChildGetsAnErrorNotALock) {
  xpb::PowerIntegrator integ(
      [](std::vector<double>& w) {
        w = {10.0};
        return std::string();
      },
      1ms);
  ASSERT_EQ(integ.totals().error, "");
  const auto said = xpb::test::in_forked_child([&] { return integ.totals().error; });
  EXPECT_NE(said.find("child process (--isolate)"), std::string::npos) << said;
  EXPECT_EQ(integ.totals().error, "");
}

TEST(PowerIntegrator, RampIsIntegrated) {
  // 100 W/s from the start: after t seconds, 50 t^2 joules. The held reading between samples
  // can only fall short, by at most the ramp over the time since the last sample.
  const auto start = Clock::now();
  xpb::PowerIntegrator integ(
      [start](std::vector<double>& w) {
        w = {100.0 * seconds(start, Clock::now())};
        return std::string();
      },
      1ms);
  std::this_thread::sleep_for(200ms);
  const auto t = integ.totals();
  ASSERT_EQ(t.error, "");
  const double s = seconds(start, t.when);
  const double exact = 50.0 * s * s;
  EXPECT_LE(t.joules[0], exact * 1.001);
  EXPECT_GE(t.joules[0], exact * 0.6);
}

TEST(PowerIntegrator, TotalsNeverGoBackwardsWhenPowerFalls) {
  std::atomic<int> calls{0};
  xpb::PowerIntegrator integ(
      [&calls](std::vector<double>& w) {
        w = {calls++ % 2 == 0 ? 1000.0 : 0.0};
        return std::string();
      },
      1ms);
  double last = 0;
  for (int i = 0; i < 20000 && calls < 50; ++i) {
    const auto t = integ.totals();
    ASSERT_EQ(t.error, "");
    ASSERT_GE(t.joules[0], last);
    last = t.joules[0];
  }
}

TEST(PowerIntegrator, AFailedReadIsAGapAndTheIntegralStartsAgain) {
  std::atomic<bool> fail{false};
  xpb::PowerIntegrator integ(
      [&fail](std::vector<double>& w) {
        if (fail) return std::string("cannot read /x/power1_input: No such device");
        w = {10.0};
        return std::string();
      },
      1ms);
  const auto before = integ.totals();
  ASSERT_EQ(before.error, "");
  fail = true;
  auto t = integ.totals();
  for (int i = 0; i < 5000 && t.error.empty(); ++i, t = integ.totals()) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(t.error, "cannot read /x/power1_input: No such device");
  EXPECT_TRUE(t.joules.empty());
  EXPECT_EQ(t.continuous_since, Clock::time_point::max());
  fail = false;
  for (int i = 0; i < 5000 && !t.error.empty(); ++i, t = integ.totals()) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(t.error, "");
  EXPECT_GT(t.continuous_since, before.when);
  EXPECT_EQ(t.last_error, "cannot read /x/power1_input: No such device");
  EXPECT_GE(t.joules[0], before.joules[0]);
}

TEST(PowerIntegrator, FirstReadFailingIsReportedAtOnce) {
  xpb::PowerIntegrator integ([](std::vector<double>&) { return std::string("permission denied"); }, 1ms);
  EXPECT_EQ(integ.totals().error, "permission denied");
}

TEST(PowerIntegrator, NegativeOrNonFiniteReadingIsAnError) {
  xpb::PowerIntegrator integ(
      [](std::vector<double>& w) {
        w = {-1.0};
        return std::string();
      },
      1ms);
  EXPECT_NE(integ.totals().error.find("negative or not a finite number"), std::string::npos);
}

TEST(PowerIntegrator, PeriodIsAtLeastAMillisecond) {
  xpb::PowerIntegrator integ(
      [](std::vector<double>& w) {
        w = {1.0};
        return std::string();
      },
      0ns);
  EXPECT_EQ(integ.period(), 1ms);
}

TEST(PowerIntegrator, DestructorDoesNotWaitForTheNextSample) {
  const auto start = Clock::now();
  {
    xpb::PowerIntegrator integ(
        [](std::vector<double>& w) {
          w = {1.0};
          return std::string();
        },
        std::chrono::hours(1));
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_LT(seconds(start, Clock::now()), 1.0);
}

}  // namespace
