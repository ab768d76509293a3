// Private to the energy sensors: energy from a source that gives power, not energy (hwmon
// chips with power inputs only). A thread samples the source at a fixed period and integrates
// with the trapezoid rule; the integral is kept per channel, so a chip with several power
// inputs still reports each as its own domain.
#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <sys/types.h>
#include <string>
#include <thread>
#include <vector>

namespace xpb {

class PowerIntegrator {
 public:
  using Clock = std::chrono::steady_clock;

  // Reads every channel's power, in watts (finite, not negative), into `watts` (one entry per
  // channel, the same number on every call). Returns "" when read, otherwise why not (naming the file): the
  // integral then has a gap until the next successful read.
  using Reader = std::function<std::string(std::vector<double>& watts)>;

  struct Totals {
    // Joules per channel from the first successful sample up to `when`. Between samples the
    // last reading is held (the best estimate before the next sample), and the figure never
    // decreases from one call to the next.
    std::vector<double> joules;
    Clock::time_point when;
    // Non-empty while the latest sample failed: `joules` is then empty.
    std::string error;
    // The integral has been continuous since this moment: an interval that starts earlier
    // crosses a failed sample (or precedes the first good one) and cannot be measured.
    Clock::time_point continuous_since = Clock::time_point::max();
    std::string last_error;  // why the latest gap happened; "" if none ever did
  };

  // Takes the first sample before returning (so a source that cannot be read is known at
  // once), then samples every `period` (at least 1 ms) on its own thread.
  PowerIntegrator(Reader read, std::chrono::nanoseconds period);
  // Stops the thread and joins it; returns within one read of the source.
  ~PowerIntegrator();
  PowerIntegrator(const PowerIntegrator&) = delete;
  PowerIntegrator& operator=(const PowerIntegrator&) = delete;

  // Thread-safe. In a child forked after construction (--isolate), which has neither the
  // sampling thread nor a usable copy of its lock, an error saying so, before any lock.
  Totals totals() const;
  std::chrono::nanoseconds period() const { return period_; }

 private:
  void sample();  // one read, integrated into the totals
  void loop();

  const Reader read_;
  const std::chrono::nanoseconds period_;
  const pid_t owner_pid_;

  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  // The state below is guarded by mu_.
  bool have_last_ = false;             // the previous sample succeeded
  Clock::time_point last_time_;        // when it was taken
  std::vector<double> last_watts_;     // what it read
  std::vector<double> joules_;         // integral up to last_time_
  mutable std::vector<double> floor_;  // the largest figure handed out, per channel
  std::string error_;
  std::string last_error_;
  Clock::time_point continuous_since_ = Clock::time_point::max();

  std::thread thread_;  // last: started once everything above is initialized
};

}  // namespace xpb
