// Drivers, devices and executables (DESIGN.md §4).
//
// Driver      enumerates the devices of one backend and opens them.
// Device      says what it can do and compiles graphs into executables.
// Executable  owns its tensors on the device and runs the graph, timed on the device's clock.
//
// Threading: one thread at a time calls into a Device or an Executable. Executables are
// independent of each other and of their device's lifetime only while the device lives.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/energy.hpp"
#include "xpubench/graph.hpp"
#include "xpubench/status.hpp"

namespace xpb {

// Where a time figure comes from. A simulated time is never presented as a measured one.
enum class ClockKind : std::uint8_t { host, device_events, simulated };
std::string_view name(ClockKind c);
inline bool is_measured(ClockKind c) { return c != ClockKind::simulated; }

struct Timing {
  double seconds = 0.0;  // for all iterations of one run() call
  ClockKind source = ClockKind::host;
};

struct DeviceInfo {
  std::string driver;  // "cpu", "ref", "opencl", ...
  int index = 0;       // position in the driver's enumeration
  std::string name;    // human-readable, e.g. the CPU model
  std::string kind;    // "cpu", "gpu", "npu", "reference", "simulator"
  bool simulated = false;
  std::map<std::string, std::string> properties;  // versions, ISA target, thread count, ...

  // "driver" for index 0 when the driver has one device, else "driver:index".
  std::string id() const;
};

struct DeviceCaps {
  std::vector<Op> ops;
  std::vector<DType> dtypes;
  std::uint64_t memory_bytes = 0;  // usable memory, 0 when unknown
  int max_threads = 1;
  bool nontemporal_stores = false;

  bool supports(Op op) const;
  bool supports(DType t) const;
};

struct CompileOptions {
  int threads = 0;          // worker threads; 0 = every thread the device has
  bool huge_pages = true;   // ask the OS for huge pages for large tensors (THP madvise)
  bool lock_memory = false; // mlock tensors (capacity stress); the result says if refused
  // NUMA placement for the initiator x target matrix: run the threads on the PUs of node
  // `cpu_node` and place every tensor on node `memory_node` (-1 = first touch, the default).
  int cpu_node = -1;
  int memory_node = -1;
};

class Executable {
 public:
  virtual ~Executable() = default;
  // Runs the whole graph `iterations` times back to back; returns the time for all of them
  // on the device's clock. Devices may skip synchronising between iterations when the graph
  // has no cross-thread dependency (each thread re-runs its own share).
  virtual Timing run(std::uint64_t iterations) = 0;
  // Copies a tensor's bytes out of / into the device. Sizes must equal TensorDesc::bytes().
  virtual void read(TensorId id, std::span<std::byte> dst) const = 0;
  virtual void write(TensorId id, std::span<const std::byte> src) = 0;
  // What this executable actually got: threads, ISA target, huge-page coverage, mlock, ...
  virtual nlohmann::json describe() const { return nlohmann::json::object(); }
};

struct CompileResult {
  Outcome outcome;                   // unsupported / invalid with the reason, or passed
  std::unique_ptr<Executable> exe;   // set when outcome is passed
};

class Device {
 public:
  virtual ~Device() = default;
  virtual const DeviceInfo& info() const = 0;
  virtual DeviceCaps caps() const = 0;
  virtual ClockKind clock() const = 0;
  virtual CompileResult compile(const Graph& g, const CompileOptions& opts) = 0;
  // The sensor that sees this device's energy, or null when it has none.
  virtual EnergySensor* energy_sensor() { return nullptr; }
};

class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  virtual std::vector<DeviceInfo> enumerate() = 0;
  virtual std::unique_ptr<Device> open(const DeviceInfo& info) = 0;
};

// Helpers for drivers: typed views of tensor bytes for the common case of a host buffer.
template <class T>
std::span<T> as_span(std::span<std::byte> bytes) {
  return {reinterpret_cast<T*>(bytes.data()), bytes.size() / sizeof(T)};
}

}  // namespace xpb
