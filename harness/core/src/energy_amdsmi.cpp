// An AMD GPU's energy from AMD SMI's energy accumulator. AMD SMI (libamd_smi.so) comes with
// ROCm, not with the build: it is loaded at run time, so a machine without it only loses the
// energy figure. Sources:
//   - AMD SMI API reference (rocm.docs.amd.com/projects/amdsmi, "Power Queries"):
//     amdsmi_get_energy_count(processor_handle, uint64_t* energy_accumulator,
//     float* counter_resolution, uint64_t* timestamp), the resolution "in micro Joules";
//     "It is not supported on virtual machine guest".
//   - Its implementation (ROCm/amdsmi, rocm_smi.cc rsmi_dev_energy_count_get): the
//     accumulator is the amdgpu driver's gpu_metrics energy_accumulator, the resolution a
//     constant 15.3 uJ (the kernel's comment says 15.259 uJ, 2^-16 J: the library's constant
//     is 0.27 % high; its figure is used as it is the library's contract).
//   - The counter's width (amdgpu's swsmu code): a 64-bit field, fed from a 64-bit firmware
//     counter on Instinct parts (aldebaran: EnergyAcc64bitHigh/Low; SMU 13.0.6:
//     SocketEnergyAcc) but from a 32-bit one (uint32_t EnergyAccumulator) on others, where it
//     wraps after 2^32 counts (65.7 kJ: under four minutes at 300 W). Kernels that know a
//     firmware lacks it report UINT_MAX (smu_v13_0_7, smu_v14_0_2).
//   - amdsmi_init keeps one flag, not a count (amd_smi.cc): the first amdsmi_shut_down ends
//     the library for every user in the process, so the sensors share one initialisation.
//   - Thread safety is not documented, and concurrent use has been reported to make the
//     counter go back (ROCm/amdsmi issue 115): every call here is serialised.
#include <algorithm>
#include <bit>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "counter_update_interval.hpp"
#include "dynamic_library.hpp"
#include "gpu_match.hpp"
#include "xpubench/energy.hpp"

namespace xpb {

namespace {

constexpr const char* kSource = "amd-smi";

// AMD SMI's C interface, declared here from the API reference rather than from amdsmi.h (not
// a build dependency). amdsmi_status_t is a C enum with values up to 0xFFFFFFFF
// (AMDSMI_STATUS_UNKNOWN_ERROR): a 32-bit unsigned int. The socket and processor handles are
// `typedef void*`.
using amdsmi_status_t = std::uint32_t;
using amdsmi_handle = void*;
constexpr amdsmi_status_t kSuccess = 0;       // AMDSMI_STATUS_SUCCESS
constexpr amdsmi_status_t kNotSupported = 2;  // AMDSMI_STATUS_NOT_SUPPORTED
constexpr std::uint64_t kInitAmdGpus = 1u << 1;  // AMDSMI_INIT_AMD_GPUS

// The documented signatures, one per call used.
// amdsmi_status_t amdsmi_init(uint64_t init_flags)
using InitFn = amdsmi_status_t (*)(std::uint64_t);
// amdsmi_status_t amdsmi_shut_down(void)
using ShutDownFn = amdsmi_status_t (*)();
// amdsmi_status_t amdsmi_status_code_to_string(amdsmi_status_t status, const char** status_string)
using StatusStringFn = amdsmi_status_t (*)(amdsmi_status_t, const char**);
// amdsmi_status_t amdsmi_get_socket_handles(uint32_t* socket_count, amdsmi_socket_handle* socket_handles)
using SocketsFn = amdsmi_status_t (*)(std::uint32_t*, amdsmi_handle*);
// amdsmi_status_t amdsmi_get_processor_handles(amdsmi_socket_handle socket_handle,
//     uint32_t* processor_count, amdsmi_processor_handle* processor_handles)
using ProcessorsFn = amdsmi_status_t (*)(amdsmi_handle, std::uint32_t*, amdsmi_handle*);
// amdsmi_status_t amdsmi_get_gpu_device_bdf(amdsmi_processor_handle processor_handle, amdsmi_bdf_t* bdf)
// amdsmi_bdf_t is a union of a uint64_t (as_uint) with the bit-fields function_number:3,
// device_number:5, bus_number:8, domain_number:48, unchanged from ROCm 5.6 to 7.x: 8 bytes,
// written here into a uint64_t and decoded with shifts (decode_bdf).
using BdfFn = amdsmi_status_t (*)(amdsmi_handle, std::uint64_t*);
// amdsmi_status_t amdsmi_get_gpu_asic_info(amdsmi_processor_handle processor_handle, amdsmi_asic_info_t* info)
// Only the struct's first field is read: char market_name[], 64 bytes in some versions and 256
// in others, first in every version from ROCm 5.6 to 7.x. See kAsicInfoBuffer.
using AsicInfoFn = amdsmi_status_t (*)(amdsmi_handle, void*);
// amdsmi_status_t amdsmi_get_energy_count(amdsmi_processor_handle processor_handle,
//     uint64_t* energy_accumulator, float* counter_resolution, uint64_t* timestamp)
using EnergyFn = amdsmi_status_t (*)(amdsmi_handle, std::uint64_t*, float*, std::uint64_t*);

// Where amdsmi_get_gpu_asic_info writes: far larger than amdsmi_asic_info_t in any version
// (under 1 KiB), zeroed. The name is read up to its first NUL within 256 bytes (the largest
// market_name) and only when every byte is printable, so a version whose layout differs gives
// "name unknown", never a read outside this buffer.
constexpr std::size_t kAsicInfoBuffer = 4096;
constexpr std::size_t kMarketNameMax = 256;

// A sane bound on what a handle count may be: a larger one is a broken library.
constexpr std::uint32_t kMaxHandles = 1024;

// The accumulator's value when the kernel marks it unsupported (UINT_MAX), and all ones.
constexpr std::uint64_t kUnsupported32 = 0xFFFFFFFFull;
constexpr std::uint64_t kUnsupported64 = ~0ull;
constexpr std::uint64_t kWrap32 = 1ull << 32;

// How often a background thread reads the counter, so that a 32-bit one cannot wrap twice
// between two reads unseen: 2^32 counts of 15.3 uJ in one second would be 65 kW.
constexpr std::chrono::seconds kPollPeriod{1};
// Without a read for this long, a 32-bit counter may have wrapped more than once (at 2 kW
// it wraps every 33 s): the interval across the gap has no figure.
constexpr std::chrono::seconds kMaxGap{30};
// The update interval when the counter did not step twice in the measuring window: AMD SMI
// documents none. A working counter of a powered GPU moves within milliseconds; a slower one
// is taken as stepping each second, which makes the runner ask for samples of 10 s or more
// before it reads energy per sample.
constexpr double kUnmeasuredUpdateInterval = 1.0;

// One loaded, initialised AMD SMI, shared by every sensor that loaded the same library.
class AmdSmi {
 public:
  // The shared instance for `library` (a file name, or a path), loaded and initialised on first
  // use; nullptr with `why` set when it cannot be.
  static std::shared_ptr<AmdSmi> acquire(const std::string& library, std::string& why) {
    DynamicLibrary lib(library);
    std::string tried = "'" + library + "': " + lib.error();
    // ROCm installs its libraries in /opt/rocm/lib, which the loader does not always search.
    if (!lib.loaded() && library.find('/') == std::string::npos) {
      lib = DynamicLibrary("/opt/rocm/lib/" + library);
      if (!lib.loaded()) tried += "; '/opt/rocm/lib/" + library + "': " + lib.error();
    }
    if (!lib.loaded()) {
      why = "cannot load AMD SMI from " + tried + " (AMD SMI is installed with ROCm, package amd-smi-lib)";
      return nullptr;
    }
    std::shared_ptr<AmdSmi> failed;  // destroyed after the lock below is released
    {
      std::lock_guard lock(registry_mutex());
      auto& registry = instances();
      // The same file loaded twice is one library with one init flag: keyed by dlopen's handle.
      if (auto it = registry.find(lib.handle()); it != registry.end())
        if (auto shared = it->second.lock()) return shared;
      void* key = lib.handle();
      std::shared_ptr<AmdSmi> smi(new AmdSmi(std::move(lib), library), [](AmdSmi* p) {
        // Shut down under the registry's lock, so that a sensor being made meanwhile waits
        // and initialises the library again rather than using it while it goes.
        std::lock_guard l(registry_mutex());
        delete p;
      });
      why = smi->start();
      if (why.empty()) {
        registry[key] = smi;
        return smi;
      }
      failed = std::move(smi);
    }
    return nullptr;
  }

  ~AmdSmi() {
    // (called with the registry's lock held)
    if (initialized_) shut_down_();
    for (auto it = instances().begin(); it != instances().end();)
      it = it->second.expired() ? instances().erase(it) : std::next(it);
  }
  AmdSmi(const AmdSmi&) = delete;
  AmdSmi& operator=(const AmdSmi&) = delete;

  std::string status_text(amdsmi_status_t s) const {
    const char* text = nullptr;
    if (status_string_ == nullptr || status_string_(s, &text) != kSuccess || text == nullptr) text = "no description";
    return std::string(text) + " (AMD SMI status " + std::to_string(s) + ")";
  }

  // Serialises every call into the library (see the top of the file).
  std::mutex mu;
  SocketsFn sockets = nullptr;
  ProcessorsFn processors = nullptr;
  BdfFn bdf = nullptr;
  AsicInfoFn asic_info = nullptr;  // optional: without it names are unknown
  EnergyFn energy = nullptr;

 private:
  AmdSmi(DynamicLibrary lib, std::string library) : lib_(std::move(lib)), library_(std::move(library)) {}

  static std::mutex& registry_mutex() {
    static std::mutex m;
    return m;
  }
  static std::map<void*, std::weak_ptr<AmdSmi>>& instances() {
    static std::map<void*, std::weak_ptr<AmdSmi>> m;
    return m;
  }

  std::string start() {
    const auto missing = [&](const char* symbol) {
      return "'" + library_ + "' has no " + symbol + ": not AMD SMI, or a version older than this sensor supports";
    };
    InitFn init = nullptr;
    status_string_ = lib_.symbol<StatusStringFn>("amdsmi_status_code_to_string");
    asic_info = lib_.symbol<AsicInfoFn>("amdsmi_get_gpu_asic_info");
    if (!(init = lib_.symbol<InitFn>("amdsmi_init"))) return missing("amdsmi_init");
    if (!(shut_down_ = lib_.symbol<ShutDownFn>("amdsmi_shut_down"))) return missing("amdsmi_shut_down");
    if (!(sockets = lib_.symbol<SocketsFn>("amdsmi_get_socket_handles"))) return missing("amdsmi_get_socket_handles");
    if (!(processors = lib_.symbol<ProcessorsFn>("amdsmi_get_processor_handles")))
      return missing("amdsmi_get_processor_handles");
    if (!(bdf = lib_.symbol<BdfFn>("amdsmi_get_gpu_device_bdf"))) return missing("amdsmi_get_gpu_device_bdf");
    if (!(energy = lib_.symbol<EnergyFn>("amdsmi_get_energy_count"))) return missing("amdsmi_get_energy_count");
    if (const amdsmi_status_t s = init(kInitAmdGpus); s != kSuccess)
      return "amdsmi_init(AMDSMI_INIT_AMD_GPUS) failed: " + status_text(s);
    initialized_ = true;
    return {};
  }

  DynamicLibrary lib_;
  std::string library_;
  bool initialized_ = false;
  StatusStringFn status_string_ = nullptr;
  ShutDownFn shut_down_ = nullptr;
};

// amdsmi_bdf_t's as_uint, decoded. The bit-fields are allocated from the least significant bit
// on the little-endian ABIs AMD SMI ships for (x86-64, AArch64); on another, nullopt.
std::optional<PciAddress> decode_bdf(std::uint64_t v) {
  if constexpr (std::endian::native != std::endian::little) return std::nullopt;
  const std::uint64_t domain = v >> 16;
  if (domain > 0xFFFFFFFFull) return std::nullopt;  // beyond what a PciAddress holds
  PciAddress a;
  a.function = static_cast<std::uint32_t>(v & 0x7);
  a.device = static_cast<std::uint32_t>((v >> 3) & 0x1f);
  a.bus = static_cast<std::uint32_t>((v >> 8) & 0xff);
  a.domain = static_cast<std::uint32_t>(domain);
  return a;
}

// market_name, the first field of amdsmi_asic_info_t (see kAsicInfoBuffer).
std::string market_name(const unsigned char* buf) {
  const void* nul = std::memchr(buf, '\0', kMarketNameMax);
  if (nul == nullptr) return "";
  const auto* end = static_cast<const unsigned char*>(nul);
  if (std::any_of(buf, end, [](unsigned char c) { return c < 0x20 || c == 0x7f; })) return "";
  std::string s(reinterpret_cast<const char*>(buf), reinterpret_cast<const char*>(end));
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// The handles a count-then-fill AMD SMI call gives (sockets, or a socket's processors).
template <class Call>
std::optional<std::vector<amdsmi_handle>> handles_of(Call call, const char* name, const AmdSmi& smi, std::string& why) {
  std::uint32_t n = 0;
  if (const amdsmi_status_t s = call(&n, nullptr); s != kSuccess) {
    why = std::string(name) + " failed: " + smi.status_text(s);
    return std::nullopt;
  }
  if (n > kMaxHandles) {
    why = std::string(name) + " says " + std::to_string(n) + " handles: not a believable count";
    return std::nullopt;
  }
  std::vector<amdsmi_handle> handles(n, nullptr);
  if (n == 0) return handles;
  if (const amdsmi_status_t s = call(&n, handles.data()); s != kSuccess) {
    why = std::string(name) + " failed: " + smi.status_text(s);
    return std::nullopt;
  }
  handles.resize(std::min<std::size_t>(n, handles.size()));
  return handles;
}

class AmdSmiSensor final : public EnergySensor {
 public:
  AmdSmiSensor(const std::optional<PciAddress>& pci, const std::string& device_name, const std::string& library) {
    reason_ = open(pci, device_name, library);
    if (!reason_.empty()) {
      handle_ = nullptr;
      smi_.reset();  // the last sensor of a library shuts it down
      return;
    }
    interval_ = measure_update_interval(
                    [this] {
                      std::string ignored;
                      return read_raw(ignored);
                    },
                    std::chrono::milliseconds(300))
                    .value_or(kUnmeasuredUpdateInterval);
    poller_ = std::thread([this] { poll(); });
  }
  ~AmdSmiSensor() override {
    if (poller_.joinable()) {
      {
        std::lock_guard lock(stop_mu_);
        stop_ = true;
      }
      stop_cv_.notify_all();
      poller_.join();
    }
  }
  AmdSmiSensor(const AmdSmiSensor&) = delete;
  AmdSmiSensor& operator=(const AmdSmiSensor&) = delete;

  std::string name() const override { return kSource; }
  std::string covers() const override {
    if (handle_ == nullptr) return "an AMD GPU, as AMD SMI's energy accumulator meters it, when readable";
    char resolution[32];
    std::snprintf(resolution, sizeof resolution, "%.6g", resolution_uj_);
    return "GPU " + gpu_name_ + " at " + where_ +
           ": the GPU socket as AMD SMI's energy accumulator meters it (the power management firmware's socket "
           "energy, " + resolution + " uJ per count)";
  }
  std::string unavailable_reason() const override { return reason_; }
  double update_interval_s() const override { return interval_; }

  // Thread-safe: the counter's extension is guarded, and AMD SMI's calls serialised.
  EnergySnapshot snapshot() const override {
    EnergySnapshot s;
    if (!reason_.empty()) return s;
    std::string error;
    std::lock_guard lock(track_mu_);
    if (!sample(error)) return s;
    s.counters = {total_, epoch_};
    s.when = std::chrono::steady_clock::now();
    s.ok = true;
    return s;
  }

  EnergyReading since(const EnergySnapshot& before) const override {
    EnergyReading r;
    r.source = kSource;
    if (!reason_.empty()) return unavailable(r, reason_);
    if (!before.ok || before.counters.size() != 2)
      return unavailable(r, "the snapshot at the start of the interval could not be read");
    std::uint64_t total = 0;
    std::uint64_t epoch = 0;
    std::string broke;
    {
      std::string error;
      std::lock_guard lock(track_mu_);
      if (!sample(error)) return unavailable(r, error);
      total = total_;
      epoch = epoch_;
      broke = break_reason_;
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - before.when).count();
    if (epoch != before.counters[1] || total < before.counters[0])
      return unavailable(r, broke.empty() ? "the snapshot is not one of this sensor's" : broke);
    const std::uint64_t counts = total - before.counters[0];
    // A powered GPU draws watts even at rest: a counter that did not move over many of its
    // update intervals is stuck (as ROCm/amdsmi issue 38 saw on MI100), not reading zero.
    if (counts == 0 && r.seconds >= std::max(1.0, 10 * interval_))
      return unavailable(r, "AMD SMI's energy accumulator of GPU " + where_ + " did not move in " +
                                std::to_string(r.seconds) + " s: the counter is stuck");
    r.available = true;
    r.joules = static_cast<double>(counts) * resolution_uj_ * 1e-6;
    r.domains = {{domain_, r.joules}};
    return r;
  }

 private:
  static EnergyReading unavailable(EnergyReading r, const std::string& why) {
    r.available = false;
    r.joules = 0;
    r.reason = why;
    r.domains.clear();
    return r;
  }

  // The accumulator as AMD SMI gives it, and its resolution.
  std::optional<std::uint64_t> read_raw(std::string& error, float* resolution = nullptr) const {
    std::uint64_t acc = 0;
    std::uint64_t timestamp = 0;
    float res = 0;
    amdsmi_status_t s = kSuccess;
    {
      std::lock_guard lock(smi_->mu);
      s = smi_->energy(handle_, &acc, &res, &timestamp);
    }
    if (s != kSuccess) {
      error = "amdsmi_get_energy_count of GPU " + where_ + " failed: " + smi_->status_text(s);
      if (s == kNotSupported) error += " (as in a virtual machine guest, where AMD SMI does not support the energy counter)";
      return std::nullopt;
    }
    if (acc == kUnsupported32 || acc == kUnsupported64) {
      error = "AMD SMI's energy accumulator of GPU " + where_ +
              " reads all ones, the amdgpu driver's mark of a counter its firmware does not provide";
      return std::nullopt;
    }
    if (resolution != nullptr) *resolution = res;
    return acc;
  }

  // Reads the counter and carries the 64-bit total forward. Call with track_mu_ held.
  bool sample(std::string& error) const {
    const auto raw = read_raw(error);
    if (!raw) return false;
    const auto now = std::chrono::steady_clock::now();
    if (!started_) {
      started_ = true;
    } else if (!wide_ && now - last_read_ > kMaxGap) {
      ++epoch_;
      break_reason_ = "AMD SMI's energy accumulator of GPU " + where_ + " was not read for " +
                      std::to_string(std::chrono::duration<double>(now - last_read_).count()) +
                      " s: a 32-bit counter may have wrapped more than once, so the interval has no figure";
    } else if (*raw >= last_raw_) {
      total_ += *raw - last_raw_;
    } else if (!wide_) {
      // A counter that has only shown 32-bit values went back: its 32-bit wrap (at most one
      // since the last read, see kPollPeriod). A 64-bit counter reset within its first 65.7 kJ
      // would be taken for one too; a reset is a driver reload, which a run does not survive.
      total_ += (kWrap32 - last_raw_) + *raw;
    } else {
      ++epoch_;
      break_reason_ = "AMD SMI's energy accumulator of GPU " + where_ + " went back from " + std::to_string(last_raw_) +
                      " to " + std::to_string(*raw) + " (the driver was reloaded, or the GPU reset): no figure for the "
                      "interval";
    }
    wide_ = wide_ || *raw > kUnsupported32;
    last_raw_ = *raw;
    last_read_ = now;
    return true;
  }

  void poll() {
    std::unique_lock lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, kPollPeriod, [this] { return stop_; })) {
      try {
        std::string ignored;
        std::lock_guard track(track_mu_);
        sample(ignored);  // a failed read is retried next period; kMaxGap bounds the damage
      } catch (...) {
        // (out of memory building a message) the same: the next period tries again
      }
    }
  }

  // Loads AMD SMI and finds the GPU; returns why the sensor cannot be used, or "".
  std::string open(const std::optional<PciAddress>& pci, const std::string& device_name, const std::string& library) {
    std::string why;
    smi_ = AmdSmi::acquire(library, why);
    if (!smi_) return why;
    std::vector<ListedGpu> gpus;
    std::vector<amdsmi_handle> handles;
    {
      std::lock_guard lock(smi_->mu);
      const auto sockets = handles_of([&](std::uint32_t* n, amdsmi_handle* h) { return smi_->sockets(n, h); },
                                      "amdsmi_get_socket_handles", *smi_, why);
      if (!sockets) return why;
      for (amdsmi_handle socket : *sockets) {
        const auto procs = handles_of(
            [&](std::uint32_t* n, amdsmi_handle* h) { return smi_->processors(socket, n, h); },
            "amdsmi_get_processor_handles", *smi_, why);
        if (!procs) return why;
        for (amdsmi_handle p : *procs) {
          ListedGpu g;
          std::uint64_t bdf = 0;
          if (const amdsmi_status_t s = smi_->bdf(p, &bdf); s != kSuccess)
            g.problem = "amdsmi_get_gpu_device_bdf: " + smi_->status_text(s);
          else if (!(g.pci = decode_bdf(bdf)))
            g.problem = "its BDF cannot be decoded";
          if (smi_->asic_info != nullptr) {
            std::vector<unsigned char> info(kAsicInfoBuffer, 0);
            if (smi_->asic_info(p, info.data()) == kSuccess) g.name = market_name(info.data());
          }
          gpus.push_back(std::move(g));
          handles.push_back(p);
          if (gpus.size() > kMaxHandles) return "AMD SMI lists more than " + std::to_string(kMaxHandles) + " GPUs";
        }
      }
    }
    const auto chosen = choose_gpu(gpus, pci, device_name, "AMD SMI", why);
    if (!chosen) return why;
    handle_ = handles[*chosen];
    gpu_name_ = gpus[*chosen].name.empty() ? "(name unknown)" : gpus[*chosen].name;
    where_ = gpus[*chosen].pci ? gpus[*chosen].pci->to_string() : "AMD SMI processor " + std::to_string(*chosen);
    domain_ = std::string(kSource) + ":" + (gpus[*chosen].pci ? gpus[*chosen].pci->to_string() : "gpu" + std::to_string(*chosen));

    std::string error;
    float resolution = 0;
    const auto first = read_raw(error, &resolution);
    if (!first) return error;
    if (!std::isfinite(resolution) || resolution <= 0)
      return "AMD SMI gives GPU " + where_ + "'s energy counter a resolution of " + std::to_string(resolution) +
             " uJ: no energy can be derived from it";
    resolution_uj_ = static_cast<double>(resolution);
    return {};
  }

  std::shared_ptr<AmdSmi> smi_;
  amdsmi_handle handle_ = nullptr;
  std::string gpu_name_;
  std::string where_;   // "0000:c1:00.0", or "AMD SMI processor N" when the address is unknown
  std::string domain_;  // "amd-smi:0000:c1:00.0"
  double resolution_uj_ = 0;
  double interval_ = kUnmeasuredUpdateInterval;
  std::string reason_;

  // The counter carried into 64 bits across 32-bit wraps: total_ counts since the first read;
  // epoch_ counts the breaks (a reset, a long gap) across which no interval has a figure.
  mutable std::mutex track_mu_;
  mutable bool started_ = false;
  mutable bool wide_ = false;  // a value above 32 bits was seen: the counter is 64-bit
  mutable std::uint64_t last_raw_ = 0;
  mutable std::uint64_t total_ = 0;
  mutable std::uint64_t epoch_ = 0;
  mutable std::chrono::steady_clock::time_point last_read_{};
  mutable std::string break_reason_;

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread poller_;
};

}  // namespace

std::unique_ptr<EnergySensor> make_amdsmi_sensor(const std::optional<PciAddress>& pci, const std::string& device_name,
                                                 const std::string& library) {
  return std::make_unique<AmdSmiSensor>(pci, device_name, library);
}

}  // namespace xpb
