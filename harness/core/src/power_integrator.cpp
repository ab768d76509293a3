// The trapezoid rule over samples of power: between two samples the power is taken to move in a
// straight line from one reading to the next, which is exact for a ramp and errs by at most
// half a period of the change otherwise. A failed read ends the integral there; the next good
// read starts it again (nothing is integrated across the gap: the power in it is unknown).
#include "power_integrator.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace xpb {

namespace {

double seconds_between(PowerIntegrator::Clock::time_point a, PowerIntegrator::Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

PowerIntegrator::PowerIntegrator(Reader read, std::chrono::nanoseconds period)
    : read_(std::move(read)),
      period_(std::max<std::chrono::nanoseconds>(period, std::chrono::milliseconds(1))),
      owner_pid_(::getpid()) {
  sample();
  thread_ = std::thread([this] { loop(); });
}

PowerIntegrator::~PowerIntegrator() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PowerIntegrator::sample() {
  std::vector<double> watts;
  const auto t0 = Clock::now();
  std::string error = read_(watts);
  const auto t1 = Clock::now();
  // The read takes time (a sysfs read can reach the hardware over I2C or SMBus): it is dated at
  // its middle.
  const auto t = t0 + (t1 - t0) / 2;
  if (error.empty() && !joules_.empty() && watts.size() != joules_.size())
    error =
        "the power source gave " + std::to_string(watts.size()) + " readings, not " + std::to_string(joules_.size());
  if (error.empty() && std::any_of(watts.begin(), watts.end(), [](double w) { return !std::isfinite(w) || w < 0; }))
    error = "the power source gave a reading that is negative or not a finite number";

  std::lock_guard<std::mutex> lock(mu_);
  if (!error.empty()) {
    have_last_ = false;
    error_ = error;
    last_error_ = std::move(error);
    continuous_since_ = Clock::time_point::max();
    return;
  }
  if (joules_.empty()) {
    joules_.assign(watts.size(), 0.0);
    floor_.assign(watts.size(), 0.0);
  }
  if (have_last_) {
    const double dt = seconds_between(last_time_, t);
    for (std::size_t i = 0; i < watts.size(); ++i) joules_[i] += 0.5 * (last_watts_[i] + watts[i]) * dt;
  } else {
    // The first sample, or the first after a gap: the integral starts here. It continues from
    // the largest figure already handed out, so that totals() never goes down.
    for (std::size_t i = 0; i < joules_.size(); ++i) joules_[i] = std::max(joules_[i], floor_[i]);
    continuous_since_ = t;
  }
  have_last_ = true;
  last_time_ = t;
  last_watts_ = std::move(watts);
  error_.clear();
}

void PowerIntegrator::loop() {
  // An absolute schedule, so that the period does not stretch by the time each read takes;
  // after a stall (a slow read, a descheduled thread) it starts again from now, rather than
  // catching up with a burst of reads.
  auto next = Clock::now() + period_;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_cv_.wait_until(lock, next, [this] { return stopping_; })) {
    lock.unlock();
    sample();
    lock.lock();
    next += period_;
    if (const auto now = Clock::now(); next <= now) next = now + period_;
  }
}

PowerIntegrator::Totals PowerIntegrator::totals() const {
  if (::getpid() != owner_pid_) {
    Totals t;
    t.when = Clock::now();
    t.error = "the power inputs are sampled by a thread of the process that opened them, and this benchmark runs "
              "in a child process (--isolate); run without --isolate for its energy";
    t.last_error = t.error;
    return t;
  }
  std::lock_guard<std::mutex> lock(mu_);
  Totals t;
  t.when = Clock::now();
  t.continuous_since = continuous_since_;
  t.last_error = last_error_;
  if (!error_.empty() || !have_last_) {
    t.error = error_.empty() ? "the power source has not been read yet" : error_;
    return t;
  }
  // Up to now, the last reading held: the trapezoid to the next sample will differ a little,
  // and where the power falls it would give less than was already handed out; the floor keeps
  // the totals from going backwards (energy at non-negative power never does).
  const double held = std::max(0.0, seconds_between(last_time_, t.when));
  t.joules.resize(joules_.size());
  for (std::size_t i = 0; i < joules_.size(); ++i) {
    floor_[i] = std::max(floor_[i], joules_[i] + last_watts_[i] * held);
    t.joules[i] = floor_[i];
  }
  return t;
}

}  // namespace xpb
