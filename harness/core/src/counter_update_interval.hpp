// How often an energy counter steps, measured by watching it: a vendor library's counter is
// refreshed by firmware at its own pace (NVML documents 20-100 ms), which sets the shortest
// interval whose energy means anything.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>

namespace xpb {

// Reads `read()` (std::optional<std::uint64_t>: nullopt when the read failed) every
// millisecond for at most `window`, or until `max_changes` changes were seen, and returns the
// mean time between the changes seen. nullopt when fewer than two were seen (the counter
// steps less often than the window can show, or not at all). The time of the first change,
// not of the first read, starts the measure: the first read falls anywhere in a step.
template <class Read>
std::optional<double> measure_update_interval(Read read, std::chrono::milliseconds window, int max_changes = 6) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  std::optional<std::uint64_t> last = read();
  std::optional<clock::time_point> first_change;
  clock::time_point last_change{};
  int changes = 0;
  while (clock::now() - start < window && changes < max_changes) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const auto v = read();
    if (!v) continue;
    if (last && *v != *last) {
      const auto now = clock::now();
      if (!first_change) first_change = now;
      last_change = now;
      ++changes;
    }
    last = v;
  }
  if (changes < 2) return std::nullopt;
  return std::chrono::duration<double>(last_change - *first_change).count() / (changes - 1);
}

}  // namespace xpb
