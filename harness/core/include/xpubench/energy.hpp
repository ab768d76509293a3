// Energy sensors (DESIGN.md §6). A sensor that cannot be read says why; it never makes up a
// number.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
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
  // What the sensor meters, in words for the record: which chips or rails, what is left out
  // ("CPU package 0: cores, caches, uncore; not DRAM"). Attribution, never a figure.
  virtual std::string covers() const = 0;
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

// Linux hwmon (Documentation/hwmon/sysfs-interface.rst): every chip under `root` (normally
// /sys/class/hwmon: hwmonN/, directories or symlinks to them, each with a `name` file) is
// searched for energyN_input (microjoules, cumulative, 64-bit: read as counters; a value that
// goes down is a reset, and the interval across it is unavailable naming the file) and
// powerN_input, else powerN_average (microwatts). Each input is a domain named
// "<chip name>/<label or energyN/powerN>" (the chip name with "(hwmonN)" where two chips share
// it). When any chip has energy inputs, the total is the sum of every chip's energy inputs and
// power inputs are left out; inputs a known driver reports inside another of its inputs
// (amd_energy's cores in its socket, xe's package in its card) are reported but not added.
// Otherwise the power inputs are integrated (trapezoids) by a thread per chip, sampling at the
// chip's update_interval (milliseconds) or every 10 ms, at least every 1 ms; a failed read
// makes the intervals across it unavailable. snapshot() counters: cumulative microjoules, one
// per domain. update_interval_s(): 1 ms for energy inputs (longer where a chip's
// update_interval says so), the slowest sampling period for power. An absent root, no chip
// with inputs, an unreadable input (permission denied: some drivers make them root-only) or
// unparsable content (quoted) makes the sensor unavailable with the path and the reason.
// `chips`, when not empty, names the only chips read (by their `name` file): the host's CPU
// sensor reads only chips that meter a CPU, not a GPU's amdgpu or xe. Thread-safe.
XPB_API std::unique_ptr<EnergySensor> make_hwmon_sensor(const std::filesystem::path& root = "/sys/class/hwmon",
                                                        const std::vector<std::string>& chips = {});
// The hwmon drivers that meter a CPU package: AMD's amd_energy (energy counters per core and
// socket) and zenpower (the SVI2 rails' power). Others meter GPUs or boards.
inline const std::vector<std::string>& cpu_hwmon_chips() {
  static const std::vector<std::string> chips = {"amd_energy", "zenpower"};
  return chips;
}

// A PCI address (domain:bus:device.function), which is how a GPU found through OpenCL is
// matched to the same GPU in NVML or AMD SMI. Compared field by field.
struct XPB_API PciAddress {
  std::uint32_t domain = 0, bus = 0, device = 0, function = 0;
  // "%04x:%02x:%02x.%x", lower case: "0000:17:00.0" (a domain above 0xffff takes more digits).
  std::string to_string() const;
  friend bool operator==(const PciAddress&, const PciAddress&) = default;
};

// A GPU's board energy from NVML's total-energy counter (nvmlDeviceGetTotalEnergyConsumption:
// millijoules since the driver loaded, 64 bits, Volta and later; updated every 20-100 ms). The
// library is loaded at run time with dlopen (never a build dependency): `library` is its file
// name or path. The GPU is the one at `pci` when given, else the only one whose NVML name is
// exactly `device_name`; none, or several by name, makes the sensor unavailable with the GPUs
// NVML lists. So do an absent library (with dlerror's text), a library without one of the
// calls, a failed nvmlInit_v2 (with nvmlErrorString's text) and a GPU without the counter.
// One domain, "nvml:<pci address>"; snapshot() counters: {millijoules}. A counter that goes
// back (a driver reload) makes that interval unavailable. update_interval_s() is measured at
// construction, polling the counter for at most 300 ms (100 ms, NVML's worst case, when it did
// not step). Each sensor holds one NVML initialisation (NVML counts them) until destroyed.
// NVML is thread-safe, and so is the sensor.
XPB_API std::unique_ptr<EnergySensor> make_nvml_sensor(const std::optional<PciAddress>& pci,
                                                       const std::string& device_name,
                                                       const std::string& library = "libnvidia-ml.so.1");

// An AMD GPU's energy accumulator through AMD SMI (amdsmi_get_energy_count: counts times a
// resolution in microjoules), loaded with dlopen like NVML (a bare file name not found by the
// loader is also looked for in /opt/rocm/lib); matched by PCI address, else by the market name
// (amdsmi_get_gpu_asic_info), with the same refusals as NVML. Not available in virtual machine
// guests (the library says so; the reason is kept). Some GPUs' firmware keeps a 32-bit
// accumulator: a background thread reads it every second and the sensor carries it into 64
// bits across wraps; a 64-bit one going back (a reset) makes the interval unavailable. One
// domain, "amd-smi:<pci address>"; snapshot() counters: {counts since the first read, breaks}.
// update_interval_s() is measured like NVML's (1 s when the counter did not step). Sensors of
// one library share its initialisation (amdsmi_init is not counted), shut down with the last.
// AMD SMI's calls are serialised; the sensor is thread-safe.
XPB_API std::unique_ptr<EnergySensor> make_amdsmi_sensor(const std::optional<PciAddress>& pci,
                                                         const std::string& device_name,
                                                         const std::string& library = "libamd_smi.so");

// An external meter (a lab power analyzer through a bridge program on this machine) feeding
// lines of text, the protocol in docs/ENERGY.md:
//   <unix time in seconds> <value> J     cumulative energy in joules (a counter), or
//   <unix time in seconds> <value> W     average power in watts since the previous line
// with '#' comments, blank lines and trailing blanks (CRLF too) ignored. A W line adds
// value x (its time - the previous line's time); the first W line only starts the integral.
// `spec` is "fifo:PATH" (a FIFO the bridge writes; a writer closing it is not an end: the next
// writer is waited for) or "tcp:HOST:PORT" with HOST 127.x.x.x, ::1 (or [::1]) or localhost (a
// loopback port the bridge serves; xpubench connects, and reconnects if the bridge closes it).
// Any other host, or a spec of another form, throws std::invalid_argument saying what was
// expected. Construction never blocks on the bridge: it waits up to 2 s for a first line, and
// a bridge that cannot be opened or reached, or sends nothing, makes the sensor unavailable
// with the reason (it keeps trying in the background). A reader thread keeps the readings.
// snapshot().counters[0] is the unix time of the snapshot in nanoseconds (system_clock);
// since() takes E(end) - E(start), each end interpolated linearly between the readings around
// it, after waiting for a reading at or past the end (3 median meter intervals, at least
// 0.5 s, at most 5 s). No reading at or before the start, silence, a counter going backwards
// (a meter reset) or time not moving forwards within the interval: unavailable, with the
// reason. A bad line makes the sensor unavailable from then on, naming the line number and what
// was expected. update_interval_s(): the median spacing of the readings (1 s before any).
// The destructor stops the thread promptly, writer connected or not. Thread-safe.
XPB_API std::unique_ptr<EnergySensor> make_meter_sensor(const std::string& spec);

// Counter difference with wrap-around: the counter runs from 0 to max_range inclusive and
// starts again at 0, so (max_range, 0) is a step of 1. Assumes at most one wrap between the two
// readings (true for RAPL read every minute).
XPB_API std::uint64_t counter_delta(std::uint64_t before, std::uint64_t after, std::uint64_t max_range);

// Average power of a device at rest, measured before a run (MLPerf Power's idle baseline):
// the sensor read over `seconds` (at least 10 of its update intervals) while nothing runs.
struct IdlePower {
  bool available = false;
  double watts = 0;
  double seconds = 0;  // the window measured
  std::string reason;  // why unavailable
};
XPB_API IdlePower measure_idle_power(EnergySensor& sensor, double seconds);

}  // namespace xpb
