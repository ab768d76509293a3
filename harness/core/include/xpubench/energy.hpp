// Energy sensors (DESIGN.md §6). A sensor that cannot be read says why; it never makes up a
// number.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "xpubench/export.hpp"

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

class XPB_API EnergySensor {
 public:
  virtual ~EnergySensor() = default;
  virtual std::string name() const = 0;
  // Empty when the sensor can be read; otherwise why not (absent, permission denied, ...).
  virtual std::string unavailable_reason() const = 0;
  virtual EnergySnapshot snapshot() const = 0;
  // Energy used since `before`, handling counter wrap-around.
  virtual EnergyReading since(const EnergySnapshot& before) const = 0;
  // How often the counters change, in seconds (RAPL about 1 ms, NVML 20-100 ms): an interval
  // shorter than a few of these reads mostly the update steps, so the runner takes energy per
  // sample only when samples are at least 10x this long.
  virtual double update_interval_s() const = 0;
};

// Linux powercap (Intel RAPL, and AMD's, which the kernel exposes under the same names): zones
// under `root` (normally /sys/class/powercap) named intel-rapl:N, and their subzones
// intel-rapl:N:M, each with name, energy_uj and max_energy_range_uj. The total is the sum of
// the package zones (psys alone where there is no package zone); every zone, subzones (core,
// uncore, dram) included, is reported per domain as "package-0" or "package-0/dram".
// energy_uj is root-only on kernels since 5.10 (CVE-2020-8694): the sensor then reports itself
// unavailable with that reason. snapshot() and since() read files only and may be called from
// any thread.
XPB_API std::unique_ptr<EnergySensor> make_powercap_sensor(
    const std::filesystem::path& root = "/sys/class/powercap");

// Counter difference with wrap-around: the counter runs from 0 to max_range inclusive and
// starts again at 0, so (max_range, 0) is a step of 1. Assumes at most one wrap between the two
// readings (true for RAPL read every minute).
XPB_API std::uint64_t counter_delta(std::uint64_t before, std::uint64_t after, std::uint64_t max_range);

}  // namespace xpb
