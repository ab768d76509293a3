// The idle baseline (MLPerf Power's method): the sensor read over a window in which the
// harness runs nothing, so that a benchmark's energy can be given net of what the machine
// draws at rest. The window is at least 10 of the sensor's update intervals: a counter that
// steps every 100 ms (NVML) read over 200 ms could be off by half.
#include <algorithm>
#include <cmath>
#include <thread>

#include "xpubench/energy.hpp"

namespace xpb {

IdlePower measure_idle_power(EnergySensor& sensor, double seconds) {
  IdlePower idle;
  if (const auto why = sensor.unavailable_reason(); !why.empty()) {
    idle.reason = why;
    return idle;
  }
  const double window = std::max(seconds, 10 * sensor.update_interval_s());
  const auto before = sensor.snapshot();
  std::this_thread::sleep_for(std::chrono::duration<double>(window));
  const auto r = sensor.since(before);
  if (!r.available) {
    idle.reason = r.reason;
    return idle;
  }
  if (!(r.seconds > 0) || !std::isfinite(r.joules) || r.joules < 0) {
    idle.reason = "the idle window gave " + std::to_string(r.joules) + " J over " + std::to_string(r.seconds) + " s";
    return idle;
  }
  idle.available = true;
  idle.watts = r.joules / r.seconds;
  idle.seconds = r.seconds;
  return idle;
}

}  // namespace xpb
