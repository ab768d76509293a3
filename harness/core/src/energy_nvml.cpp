// A GPU's board energy from NVML's total-energy counter. NVML (libnvidia-ml.so.1) comes with
// the NVIDIA driver, not with the build: it is loaded at run time, so a machine without it only
// loses the energy figure. Sources, all from the NVML API Reference Guide
// (docs.nvidia.com/deploy/nvml-api):
//   - nvmlDeviceGetTotalEnergyConsumption: "total energy consumption for this GPU in
//     millijoules (mJ) since the driver was last reloaded", Volta and later; a 64-bit counter
//     (unsigned long long), so it does not wrap in practice (2^64 mJ is 5.8e8 GWh).
//   - "NVML is thread-safe so it is safe to make simultaneous NVML calls from multiple
//     threads", and nvmlInit keeps "a reference count of the number of initializations":
//     each sensor initialises NVML once and shuts its own initialisation down.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <optional>
#include <vector>

#include "counter_update_interval.hpp"
#include "dynamic_library.hpp"
#include "gpu_match.hpp"
#include "pci_address.hpp"
#include "xpubench/energy.hpp"

namespace xpb {

namespace {

constexpr const char* kSource = "nvml";

// NVML's C interface, declared here from the API reference rather than from nvml.h (not a
// build dependency). nvmlReturn_t is a C enum whose values all fit an int: it is passed and
// returned as an int on every ABI NVML ships for.
using nvmlReturn_t = int;
struct nvmlDevice_st;
using nvmlDevice_t = nvmlDevice_st*;
constexpr nvmlReturn_t kNvmlSuccess = 0;       // NVML_SUCCESS
constexpr nvmlReturn_t kNvmlNotSupported = 3;  // NVML_ERROR_NOT_SUPPORTED
// NVML_DEVICE_NAME_V2_BUFFER_SIZE: the buffer nvmlDeviceGetName is documented to need.
constexpr unsigned kNameBufferSize = 96;

// nvmlPciInfo_t ("nvmlPciInfo_t Struct Reference"), the layout nvml.h has had since CUDA 9.1
// and the one nvmlDeviceGetPciInfo_v3 fills:
//   char busIdLegacy[16]  NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE, "domain:bus:device.function"
//   unsigned int domain, bus, device, pciDeviceId, pciSubSystemId
//   char busId[32]        NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE, "domain:bus:device.function"
struct NvmlPciInfo {
  char busIdLegacy[16];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;
  unsigned int pciSubSystemId;
  char busId[32];
};
static_assert(offsetof(NvmlPciInfo, domain) == 16 && offsetof(NvmlPciInfo, busId) == 36 && sizeof(NvmlPciInfo) == 68);

// Where nvmlDeviceGetPciInfo_v3 writes: the documented struct, then slack. NVML versions its
// calls rather than growing their structs (hence _v3), so it writes 68 bytes; the slack only
// makes a library that wrote more than documented harmless. Nothing is read past a field's own
// array: the address is the busId string up to its first NUL inside its 32 bytes, parsed, and
// is kept only when the numeric domain, bus and device fields say the same.
struct PciInfoBuffer {
  NvmlPciInfo info;
  unsigned char slack[444];
};

// The documented signatures, one per call used.
// nvmlReturn_t nvmlInit_v2(void)
using InitFn = nvmlReturn_t (*)();
// nvmlReturn_t nvmlShutdown(void)
using ShutdownFn = nvmlReturn_t (*)();
// const char* nvmlErrorString(nvmlReturn_t result)
using ErrorStringFn = const char* (*)(nvmlReturn_t);
// nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* deviceCount)
using CountFn = nvmlReturn_t (*)(unsigned int*);
// nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device)
using HandleFn = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
// nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned int length)
using NameFn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
// nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t* pci)
using PciFn = nvmlReturn_t (*)(nvmlDevice_t, NvmlPciInfo*);
// nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long* energy)
using EnergyFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned long long*);

// A C string in a fixed array, up to its first NUL; nullopt when there is none inside it.
std::optional<std::string> bounded_string(const char* data, std::size_t size) {
  const void* nul = std::memchr(data, '\0', size);
  if (nul == nullptr) return std::nullopt;
  return std::string(data, static_cast<const char*>(nul));
}

// The address in an nvmlPciInfo_t, when its busId (or, failing that, busIdLegacy) parses and
// agrees with the numeric fields.
std::optional<PciAddress> address_of(const NvmlPciInfo& info) {
  for (const auto& text : {bounded_string(info.busId, sizeof info.busId),
                           bounded_string(info.busIdLegacy, sizeof info.busIdLegacy)}) {
    if (!text) continue;
    const auto a = parse_pci_address(*text);
    if (a && a->domain == info.domain && a->bus == info.bus && a->device == info.device) return a;
  }
  return std::nullopt;
}

// NVML's documented worst case for the counter's update ("every 20-100 ms"), taken when the
// interval cannot be measured.
constexpr double kWorstUpdateInterval = 0.1;
// A sane bound on what nvmlDeviceGetCount_v2 may say: a larger count is a broken library.
constexpr unsigned kMaxGpus = 1024;

class NvmlSensor final : public EnergySensor {
 public:
  NvmlSensor(const std::optional<PciAddress>& pci, const std::string& device_name, const std::string& library) {
    reason_ = open(pci, device_name, library);
    if (!reason_.empty()) {
      close();
      return;
    }
    // Measured once: polling the counter for at most 300 ms. An NVML counter that did not step
    // twice in that time is given NVML's documented worst case, 100 ms (the counter "updates
    // every 20-100 ms"): an idle GPU still draws tens of watts, so a working counter moves.
    interval_ = measure_update_interval(
                    [this] {
                      std::string ignored;
                      return read_mj(ignored);
                    },
                    std::chrono::milliseconds(300))
                    .value_or(kWorstUpdateInterval);
  }
  ~NvmlSensor() override { close(); }
  NvmlSensor(const NvmlSensor&) = delete;
  NvmlSensor& operator=(const NvmlSensor&) = delete;

  std::string name() const override { return kSource; }
  std::string covers() const override {
    if (device_ == nullptr) return "an NVIDIA GPU's whole board, as NVML's total-energy counter meters it, when readable";
    return "GPU " + gpu_name_ + " at " + where_ + ": the whole board as NVML's total-energy counter meters it";
  }
  std::string unavailable_reason() const override { return reason_; }
  double update_interval_s() const override { return interval_; }

  // NVML is thread-safe and this object does not change after construction: any thread.
  EnergySnapshot snapshot() const override {
    EnergySnapshot s;
    if (!reason_.empty()) return s;
    std::string error;
    const auto mj = read_mj(error);
    if (!mj) return s;
    s.counters = {*mj};
    s.when = std::chrono::steady_clock::now();
    s.ok = true;
    return s;
  }

  EnergyReading since(const EnergySnapshot& before) const override {
    EnergyReading r;
    r.source = kSource;
    if (!reason_.empty()) return unavailable(r, reason_);
    if (!before.ok || before.counters.size() != 1)
      return unavailable(r, "the snapshot at the start of the interval could not be read");
    std::string error;
    const auto after = read_mj(error);
    if (!after) return unavailable(r, error);
    const auto when = std::chrono::steady_clock::now();
    r.seconds = std::chrono::duration<double>(when - before.when).count();
    // The counter counts from the driver's load and is 64 bits wide: going back means the
    // driver was reloaded (or the GPU reset), and the energy in between is unknown.
    if (*after < before.counters[0])
      return unavailable(r, "NVML's total-energy counter of GPU " + where_ + " went back from " +
                                std::to_string(before.counters[0]) + " to " + std::to_string(*after) +
                                " mJ (the driver was reloaded, or the GPU reset): no figure for this interval");
    const std::uint64_t mj = *after - before.counters[0];
    // A powered GPU draws watts even at rest, so a counter that did not move over many of its
    // update intervals is stuck, not reading zero.
    if (mj == 0 && r.seconds >= std::max(1.0, 10 * interval_))
      return unavailable(r, "NVML's total-energy counter of GPU " + where_ + " did not move in " +
                                std::to_string(r.seconds) + " s: the counter is stuck");
    r.available = true;
    r.joules = static_cast<double>(mj) * 1e-3;
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

  std::string error_text(nvmlReturn_t code) const {
    const char* s = error_string_ != nullptr ? error_string_(code) : nullptr;
    return std::string(s != nullptr ? s : "no description") + " (NVML error " + std::to_string(code) + ")";
  }

  std::optional<std::uint64_t> read_mj(std::string& error) const {
    unsigned long long mj = 0;
    const nvmlReturn_t r = energy_(device_, &mj);
    if (r != kNvmlSuccess) {
      error = "nvmlDeviceGetTotalEnergyConsumption of GPU " + where_ + " failed: " + error_text(r);
      return std::nullopt;
    }
    return static_cast<std::uint64_t>(mj);
  }

  // Loads NVML and finds the GPU; returns why the sensor cannot be used, or "".
  std::string open(const std::optional<PciAddress>& pci, const std::string& device_name, const std::string& library) {
    lib_ = DynamicLibrary(library);
    if (!lib_.loaded())
      return "cannot load NVML from '" + library + "': " + lib_.error() +
             " (NVML is installed with the NVIDIA driver, as libnvidia-ml.so.1)";
    const auto missing = [&](const char* symbol) {
      return "'" + library + "' has no " + symbol + ": not NVML, or a driver older than this sensor supports";
    };
    InitFn init = nullptr;
    CountFn count = nullptr;
    HandleFn handle = nullptr;
    NameFn get_name = nullptr;
    PciFn get_pci = nullptr;
    if (!(error_string_ = lib_.symbol<ErrorStringFn>("nvmlErrorString"))) return missing("nvmlErrorString");
    if (!(init = lib_.symbol<InitFn>("nvmlInit_v2"))) return missing("nvmlInit_v2");
    if (!(shutdown_ = lib_.symbol<ShutdownFn>("nvmlShutdown"))) return missing("nvmlShutdown");
    if (!(count = lib_.symbol<CountFn>("nvmlDeviceGetCount_v2"))) return missing("nvmlDeviceGetCount_v2");
    if (!(handle = lib_.symbol<HandleFn>("nvmlDeviceGetHandleByIndex_v2"))) return missing("nvmlDeviceGetHandleByIndex_v2");
    if (!(get_name = lib_.symbol<NameFn>("nvmlDeviceGetName"))) return missing("nvmlDeviceGetName");
    if (!(get_pci = lib_.symbol<PciFn>("nvmlDeviceGetPciInfo_v3"))) return missing("nvmlDeviceGetPciInfo_v3");
    if (!(energy_ = lib_.symbol<EnergyFn>("nvmlDeviceGetTotalEnergyConsumption")))
      return missing("nvmlDeviceGetTotalEnergyConsumption");

    if (const nvmlReturn_t r = init(); r != kNvmlSuccess) return "nvmlInit_v2 failed: " + error_text(r);
    initialized_ = true;

    unsigned n = 0;
    if (const nvmlReturn_t r = count(&n); r != kNvmlSuccess) return "nvmlDeviceGetCount_v2 failed: " + error_text(r);
    if (n > kMaxGpus) return "nvmlDeviceGetCount_v2 says " + std::to_string(n) + " GPUs: not a believable count";
    std::vector<ListedGpu> gpus(n);
    std::vector<nvmlDevice_t> handles(n, nullptr);
    for (unsigned i = 0; i < n; ++i) {
      auto& g = gpus[i];
      if (const nvmlReturn_t r = handle(i, &handles[i]); r != kNvmlSuccess) {
        handles[i] = nullptr;
        g.problem = "nvmlDeviceGetHandleByIndex_v2: " + error_text(r);
        continue;
      }
      char name_buf[kNameBufferSize] = {};
      if (const nvmlReturn_t r = get_name(handles[i], name_buf, kNameBufferSize); r == kNvmlSuccess)
        g.name = bounded_string(name_buf, sizeof name_buf).value_or("");
      else
        g.problem = "nvmlDeviceGetName: " + error_text(r);
      PciInfoBuffer pci_buf{};
      if (const nvmlReturn_t r = get_pci(handles[i], &pci_buf.info); r == kNvmlSuccess) {
        g.pci = address_of(pci_buf.info);
        if (!g.pci) g.problem += (g.problem.empty() ? "" : "; ") + std::string("its PCI bus id is unreadable");
      } else {
        g.problem += (g.problem.empty() ? "" : "; ") + ("nvmlDeviceGetPciInfo_v3: " + error_text(r));
      }
    }
    std::string why;
    const auto chosen = choose_gpu(gpus, pci, device_name, "NVML", why);
    if (!chosen) return why;
    if (handles[*chosen] == nullptr) return "NVML cannot open the GPU: " + gpus[*chosen].problem;
    device_ = handles[*chosen];
    gpu_name_ = gpus[*chosen].name.empty() ? "(name unknown)" : gpus[*chosen].name;
    where_ = gpus[*chosen].pci ? gpus[*chosen].pci->to_string() : "NVML index " + std::to_string(*chosen);
    domain_ = std::string(kSource) + ":" + (gpus[*chosen].pci ? gpus[*chosen].pci->to_string() : "gpu" + std::to_string(*chosen));

    unsigned long long mj = 0;
    if (const nvmlReturn_t r = energy_(device_, &mj); r != kNvmlSuccess) {
      if (r == kNvmlNotSupported)
        return "GPU " + gpu_name_ + " at " + where_ + ": the GPU has no total-energy counter (Volta or later needed); NVML says " +
               error_text(r);
      return "nvmlDeviceGetTotalEnergyConsumption of GPU " + where_ + " failed: " + error_text(r);
    }
    return {};
  }

  // Ends this sensor's NVML initialisation (NVML counts them) and unloads the library.
  void close() {
    if (initialized_ && shutdown_ != nullptr) shutdown_();
    initialized_ = false;
    device_ = nullptr;
    lib_.reset();
  }

  DynamicLibrary lib_;
  bool initialized_ = false;
  ErrorStringFn error_string_ = nullptr;
  ShutdownFn shutdown_ = nullptr;
  EnergyFn energy_ = nullptr;
  nvmlDevice_t device_ = nullptr;
  std::string gpu_name_;
  std::string where_;   // "0000:17:00.0", or "NVML index N" when the address could not be read
  std::string domain_;  // "nvml:0000:17:00.0"
  double interval_ = kWorstUpdateInterval;
  std::string reason_;
};

}  // namespace

std::unique_ptr<EnergySensor> make_nvml_sensor(const std::optional<PciAddress>& pci, const std::string& device_name,
                                               const std::string& library) {
  return std::make_unique<NvmlSensor>(pci, device_name, library);
}

}  // namespace xpb
