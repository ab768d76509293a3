// Energy sensors (DESIGN.md §6). A sensor that cannot be read says why; it never makes up a
// number.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace xpb {

// Energy used over an interval, or the reason there is no figure.
struct EnergyReading {
  bool available = false;
  double joules = 0.0;
  double seconds = 0.0;      // wall time between the two snapshots
  std::string source;        // e.g. "rapl", "nvml", "modeled"
  std::string reason;        // why unavailable; empty when available
  std::vector<std::pair<std::string, double>> domains;  // joules per domain (package-0, dram, ...)
};

// One reading of every counter a sensor has, taken at one moment.
struct EnergySnapshot {
  std::vector<std::uint64_t> counters;
  std::chrono::steady_clock::time_point when;
  bool ok = false;
};

class EnergySensor {
 public:
  virtual ~EnergySensor() = default;
  virtual std::string name() const = 0;
  // Empty when the sensor can be read; otherwise why not (absent, permission denied, ...).
  virtual std::string unavailable_reason() const = 0;
  virtual EnergySnapshot snapshot() const = 0;
  // Energy used since `before`, handling counter wrap-around.
  virtual EnergyReading since(const EnergySnapshot& before) const = 0;
};

// Linux powercap (Intel RAPL and AMD's RAPL-compatible zones): top-level zones under `root`
// (normally /sys/class/powercap) named intel-rapl:N or amd-rapl? style, their subzones, each
// with energy_uj and max_energy_range_uj. Package zones are summed for the total; subzones
// (core, uncore, dram) are reported per domain. energy_uj is root-only on kernels since 5.10
// (CVE-2020-8694): the sensor then reports itself unavailable with that reason.
std::unique_ptr<EnergySensor> make_powercap_sensor(
    const std::filesystem::path& root = "/sys/class/powercap");

// Counter difference with wrap-around: the counter runs from 0 to max_range and starts again
// at 0. Assumes at most one wrap between the two readings (true for RAPL read every minute).
std::uint64_t counter_delta(std::uint64_t before, std::uint64_t after, std::uint64_t max_range);

}  // namespace xpb
