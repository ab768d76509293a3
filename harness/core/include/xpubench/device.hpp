// The device contract (DESIGN.md §4): every backend implements these three classes.
//
// Driver      names a backend, enumerates its devices (or says why there are none) and opens
//             them with options.
// Device      says what it can do and how its clock behaves; owns memory (Buffer) that the
//             host fills and reads through it; compiles graphs into executables, with some of
//             their tensors bound to buffers that already exist (the weights of a model,
//             shared by every executable that runs it).
// Executable  runs its graph, timed on the device's clock, and says what the run cost.
//
// Ownership: drivers, devices, buffers and executables are held by shared_ptr. A Device keeps
// its Driver alive (and with it a plugin's shared library); every Buffer and Executable keeps
// alive whatever it needs, so callers may release them in any order.
// Threading: one thread at a time calls into a Device, and into each Executable; different
// executables may run on different threads. Errors: expected outcomes (an unsupported op, a
// refused allocation) are data (Outcome); a caller's contract breach (a size that does not
// match) throws std::invalid_argument.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/energy.hpp"
#include "xpubench/export.hpp"
#include "xpubench/graph.hpp"
#include "xpubench/op_catalogue.hpp"
#include "xpubench/status.hpp"

namespace xpb {

// Where a time comes from. A simulated time is never presented as a measured one.
enum class ClockKind : std::uint8_t { host, device_events, simulated };
XPB_API std::string_view name(ClockKind c);

struct XPB_API ClockInfo {
  ClockKind kind = ClockKind::host;
  // The smallest step the clock shows, in seconds: measured for the host clock
  // (measure_host_clock_resolution), reported by the device for event clocks, the model's
  // time step for simulated ones. The runner keeps every sample >= 1000x this.
  double resolution_s = 1e-9;
  // The same work always takes the same time (a simulated clock without jitter): one sample
  // says all there is to say, and the runner takes one.
  bool deterministic = false;

  nlohmann::json to_json() const;
};

// Where a figure comes from (DESIGN.md §1). Derived from the clock or the sensor that gave
// it, never defaulted: a figure measured on a simulated clock is `simulated`, an energy from
// a model `modeled`.
enum class Source : std::uint8_t { measured, simulated, modeled };
XPB_API std::string_view name(Source s);
inline Source time_source(ClockKind c) { return c == ClockKind::simulated ? Source::simulated : Source::measured; }

// The smallest nonzero step of std::chrono::steady_clock seen over many back-to-back reads
// (a few microseconds of work; the answer is cached for the process).
XPB_API double measure_host_clock_resolution();
// The host's steady clock as a ClockInfo: kind host, its measured resolution, not deterministic.
XPB_API ClockInfo host_clock();

struct XPB_API DeviceInfo {
  std::string driver;  // "cpu", "ref", "opencl", ...
  int index = 0;       // position in the driver's enumeration
  std::string name;    // human-readable, e.g. the CPU model
  std::string kind;    // "cpu", "gpu", "npu", "reference", "simulator"
  // A simulator (hc1-sim, photonic-sim): its figures are simulated or modeled, never measured.
  // Like a reference, left out of the default device set: named with --device to use it.
  bool simulated = false;
  // A reference implementation (ref, a plugin's template such as npu_ref) rather than a product:
  // left out of the default device set, named with --device to use it.
  bool reference = false;
  // Its benchmarks may run in a fork()ed child of the process that opened it (`--isolate`):
  // a plugin, whose crash or hang must not take the run down. The host's own drivers keep
  // thread pools that a child would not have, so they say false.
  bool isolatable = false;
  std::map<std::string, std::string> properties;  // versions, ISA target, thread count, ...

  // "driver" for index 0 when the driver has one device, else "driver:index".
  std::string id() const;
};

// What a device can run and hold.
struct XPB_API DeviceCaps {
  std::vector<Op> ops;
  std::vector<DType> dtypes;
  std::uint64_t memory_bytes = 0;  // usable memory now, 0 when unknown
  // The largest single buffer (tensor) it allocates (OpenCL: CL_DEVICE_MAX_MEM_ALLOC_SIZE);
  // 0 when only memory_bytes limits it.
  std::uint64_t max_buffer_bytes = 0;
  // Host threads the device can be told to use (CompileOptions::threads, the workloads'
  // `threads`); 0 when the device schedules its own parallelism and that parameter does not
  // apply (a plugin, a GPU): every value of it then runs, and the figure is the device's.
  int max_threads = 1;
  bool nontemporal_stores = false;
  // Vector widths (elements a work-item loads or computes as one vector, OpenCL's floatN) the
  // device can be told to use through an op's `vector_width` attribute; empty when it picks its
  // own width (the cpu's SIMD, chosen at run time) and ignores the attribute.
  std::vector<int> vector_widths;
  // The device computes on the host's own memory (the cpu, ref; OpenCL devices that report
  // CL_DEVICE_HOST_UNIFIED_MEMORY, such as PoCL and integrated GPUs): upload and download copy
  // bytes within host DRAM, so their rate is not that of a bus between two memories.
  bool shares_host_memory = false;
  // Every RunResult carries modeled energy (a simulator): the record names the model as the
  // device's energy source, not a missing sensor.
  bool models_energy = false;
  // It models time (and energy) without computing outputs (a simulator's timing-only mode):
  // its tensors hold no results, so workloads skip their checks, saying so.
  bool timing_only = false;
  // It holds weight matrices at fewer bits than the graph's dtype (hc1-sim's 3/6-bit ROM), in
  // buffers ref can bind: checks run ref on the weights as the device holds them, and report
  // the rounding's cost against the weights as given.
  bool alters_weights = false;
  // Its outputs carry modeled analog effects (converter rounding, noise: photonic-sim's
  // functional mode), so no digital tolerance applies: checks against ref report the
  // difference from the weights as given as the accuracy cost, failing only outputs no closer
  // to ref's than unrelated ones.
  bool analog_outputs = false;
  // How its arithmetic differs from ref's, for conformance tolerances and for readers:
  // e.g. {"accumulation": "f32", "quantized_matmul": "activations rounded to Q8_0"}.
  std::map<std::string, std::string> numeric_profile;
  // The op x dtype pairs it claims (the dtype a conformance case is about: of the weights for
  // matmul and embedding, else of the data). Empty: every op of `ops` with every dtype of
  // `dtypes`.
  std::vector<std::pair<Op, DType>> op_dtypes;

  bool supports(Op op) const;
  bool supports(DType t) const;
  // Whether the device claims `op` on `dtype` (`xpubench conform` holds it to every claim).
  bool claims(Op op, DType t) const;
};

// Where and how memory is placed and work is run. Alloc uses the placement fields (threads
// first-touch their share of a tensor); compile uses them all.
struct CompileOptions {
  int threads = 0;          // worker threads; 0 = every thread the device has
  bool huge_pages = true;   // ask the OS for huge pages for large tensors (THP madvise)
  bool lock_memory = false; // mlock tensors (capacity stress); the result says if refused
  // NUMA placement for the initiator x target matrix: run the threads on the PUs of node
  // `cpu_node` and place every tensor on node `memory_node` (-1 = first touch, the default).
  int cpu_node = -1;
  int memory_node = -1;
  // Long initialisations (weights of a large model) stop early when this is set; the result
  // is then `interrupted`.
  const std::atomic<bool>* cancel = nullptr;
};

// Memory of a device, holding one tensor's bytes.
class XPB_API Buffer {
 public:
  virtual ~Buffer() = default;
  virtual std::size_t bytes() const = 0;
  // The memory as the host addresses it, or null where the host cannot (a GPU's own memory).
  // Devices that compute on host memory bind any buffer that has one.
  virtual std::byte* host_data() const { return nullptr; }
};

// Tensors of a graph bound at compile to buffers that already exist (same size as the
// tensor's bytes()); the executable uses them instead of allocating its own.
using Bindings = std::map<TensorId, std::shared_ptr<Buffer>>;

struct RunArgs {
  std::uint64_t iterations = 1;  // the graph runs this many times back to back
  // The value of each dynamic dim of the graph (Graph::dims()), each in 0..max; empty means
  // every dim at its max. Not copied: valid for the call.
  std::span<const std::int64_t> dims;
  // Set by another thread (Ctrl-C): a long run returns early with `interrupted` (within
  // ~100 ms where the device can check).
  const std::atomic<bool>* cancel = nullptr;
};

enum class EnergySource : std::uint8_t { unavailable, measured, modeled };
XPB_API std::string_view name(EnergySource s);

struct RunResult {
  double seconds = 0;                // every iteration that ran, on the device's clock
  ClockKind clock = ClockKind::host;
  double energy_joules = 0;          // when energy_source is not unavailable
  EnergySource energy_source = EnergySource::unavailable;
  Work work;                         // of every iteration that ran (op cost model)
  std::uint64_t iterations = 0;      // that ran: fewer than asked only when interrupted or failed
  bool interrupted = false;          // RunArgs::cancel was seen
  std::string error;                 // not empty: the run failed (e.g. a token id out of range)
};

// Adds `part`, one of the runs a sample is made of (the steps of a whole test), to `total`:
// seconds, work and energy add up (energy only while every part has it), the first error is
// kept, and an interrupted part interrupts the whole. `total.clock` and `total.iterations`
// stay the caller's: a sample counts its own units.
XPB_API void accumulate(RunResult& total, const RunResult& part);

// A graph compiled for a device.
class XPB_API Executable {
 public:
  virtual ~Executable() = default;
  // Runs the whole graph args.iterations times back to back and says how long that took on
  // the device's clock and what it cost. Devices may skip synchronising between iterations
  // when the graph has no cross-thread dependency (each thread re-runs its own share).
  // Throws std::invalid_argument for dims the graph does not have (Graph::check_dims).
  virtual RunResult run(const RunArgs& args) = 0;
  RunResult run(std::uint64_t iterations) { return run(RunArgs{iterations, {}, nullptr}); }
  // Copies a tensor's bytes out of / into the device. Sizes must equal TensorDesc::bytes().
  // Writing through the executable keeps what it derived from the tensor (a chase ring's
  // start lines, RoPE frequencies) current; uploading to a bound buffer does not.
  virtual void read(TensorId id, std::span<std::byte> dst) const = 0;
  virtual void write(TensorId id, std::span<const std::byte> src) = 0;
  // The buffer that holds a tensor, for binding into another executable (a KV cache shared by
  // two graphs, the weights of a model).
  virtual std::shared_ptr<Buffer> buffer(TensorId id) const = 0;
  // What this executable actually got: threads, ISA target, huge-page coverage, mlock, ...
  virtual nlohmann::json describe() const { return nlohmann::json::object(); }
  // Whether its runs compute the outputs: false for a simulator's graph run timing-only (a
  // photonic-sim in auto mode decides per graph), whose outputs hold nothing to check.
  virtual bool computes_outputs() const { return true; }
};

struct CompileResult {
  Outcome outcome;                   // unsupported / invalid / failed with the reason, or passed
  std::shared_ptr<Executable> exe;   // set when outcome is passed
};

struct AllocResult {
  Outcome outcome;
  std::shared_ptr<Buffer> buffer;  // set when outcome is passed
};

class XPB_API Device {
 public:
  virtual ~Device() = default;
  virtual const DeviceInfo& info() const = 0;
  virtual DeviceCaps caps() const = 0;
  virtual ClockInfo clock() const = 0;
  // Memory for tensor `t`, filled as t.init says, on the device: synthetic weights are
  // generated where they will live, by the threads that will read them.
  virtual AllocResult alloc(const TensorDesc& t, const CompileOptions& opts) = 0;
  // Host <-> device copies of dst.size() / src.size() bytes at `offset` in the buffer. The
  // buffer must be this device's (or one it can bind) and the range inside it.
  virtual void upload(Buffer& dst, std::span<const std::byte> src, std::size_t offset = 0) = 0;
  virtual void download(const Buffer& src, std::span<std::byte> dst, std::size_t offset = 0) = 0;
  // `bytes` of page-locked host memory that this device's upload and download move at their
  // fastest (DMA without a bounce through a pageable copy: OpenCL's CL_MEM_ALLOC_HOST_PTR,
  // mapped), for a caller to stage transfers in; its host_data() is the host's view. Passing a
  // span inside it to upload/download is what makes a transfer "pinned". `unsupported`, with
  // the reason, where the device has no such memory.
  virtual AllocResult alloc_host(std::size_t bytes) {
    (void)bytes;
    return {Outcome::with(Status::unsupported, "device " + info().id() + " has no page-locked host memory of its own"),
            nullptr};
  }
  // Whether compile() can bind `b`: its own buffers, and on host-memory devices any buffer
  // with host_data().
  virtual bool can_bind(const Buffer& b) const = 0;
  // What is wrong with `bound` for `g` on this device, or nothing: every binding must name a
  // tensor of `g` and hold a buffer this device can bind, of exactly the tensor's bytes().
  // Every driver's compile() starts with it, so all refuse the same things alike.
  std::optional<std::string> check_bindings(const Graph& g, const Bindings& bound) const;
  // Compiles `g`; the tensors in `bound` use those buffers, every other tensor gets memory of
  // its own, initialised as its TensorInit says. May fuse, reorder or refuse: refusal is an
  // outcome naming the op, dtype or model.
  virtual CompileResult compile(const Graph& g, const Bindings& bound, const CompileOptions& opts) = 0;
  CompileResult compile(const Graph& g, const CompileOptions& opts) { return compile(g, Bindings{}, opts); }
  // The sensor that sees this device's energy, or null when it has none.
  virtual EnergySensor* energy_sensor() { return nullptr; }
  // What a simulated device is built from, for the result document: its description with every
  // parameter, unit, kind and source, and what follows from them. Empty for real devices.
  virtual nlohmann::json describe() const { return nlohmann::json::object(); }
};

// Options given after a device id (`--device hc1-sim,mode=timing-only`), passed to open().
using DeviceOptions = std::map<std::string, std::string>;

// The devices of a driver, or why it has none (no platform, a library missing, ...).
struct Enumeration {
  std::vector<DeviceInfo> devices;
  std::string reason;  // why `devices` is empty; empty when it is not
};

struct OpenResult {
  Outcome outcome;
  std::shared_ptr<Device> device;  // set when outcome is passed
};

class XPB_API Driver : public std::enable_shared_from_this<Driver> {
 public:
  virtual ~Driver() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  virtual Enumeration enumerate() = 0;
  // Opens one of the devices enumerate() gave. Options the driver does not know are refused
  // (outcome invalid, naming them). The device holds this driver alive, so the driver must be
  // owned by a shared_ptr when open is called.
  virtual OpenResult open(const DeviceInfo& info, const DeviceOptions& options) = 0;
};

// Helpers for drivers -----------------------------------------------------------------------

// Typed view of host bytes.
template <class T>
std::span<T> as_span(std::span<std::byte> bytes) {
  return {reinterpret_cast<T*>(bytes.data()), bytes.size() / sizeof(T)};
}

// "option 'x' is not known to driver cpu (it takes none)" for options a driver does not take;
// empty when every option is among `known`.
XPB_API std::string unknown_options(const std::string& driver, const DeviceOptions& options,
                                    const std::vector<std::string>& known);

// Throws std::invalid_argument unless [offset, offset + size) lies in a buffer of `bytes`.
XPB_API void check_range(std::size_t bytes, std::size_t offset, std::size_t size);

// Device::upload and download for devices that compute on host memory: a checked memcpy into
// or out of the buffer's host_data(). Throws std::invalid_argument for a range outside the
// buffer or a buffer without host memory.
XPB_API void host_upload(Buffer& dst, std::span<const std::byte> src, std::size_t offset);
XPB_API void host_download(const Buffer& src, std::span<std::byte> dst, std::size_t offset);

}  // namespace xpb
