// Opening the built-in devices in tests, reading tensors back, and running a workload's
// benchmarks the way a session does.
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "xpubench/registry.hpp"
#include "xpubench/workload.hpp"

namespace xpb::test {

// The first device of a registered driver (which the device keeps alive).
inline std::shared_ptr<Device> open_device(const std::string& driver_name, const DeviceOptions& options = {}) {
  std::shared_ptr<Driver> driver = DriverRegistry::instance().create(driver_name);
  EXPECT_NE(driver, nullptr) << driver_name;
  if (!driver) return nullptr;
  auto e = driver->enumerate();
  EXPECT_FALSE(e.devices.empty()) << e.reason;
  if (e.devices.empty()) return nullptr;
  auto r = driver->open(e.devices.front(), options);
  EXPECT_TRUE(r.outcome.passed()) << r.outcome.reason;
  return r.device;
}

// A device that does what `inner` does: tests override the call they want to break (compile a
// different graph, corrupt an upload) and inherit the rest.
struct DelegatingDevice : Device {
  explicit DelegatingDevice(std::shared_ptr<Device> wrapped) : inner(std::move(wrapped)) {}
  const DeviceInfo& info() const override { return inner->info(); }
  DeviceCaps caps() const override { return inner->caps(); }
  ClockInfo clock() const override { return inner->clock(); }
  AllocResult alloc(const TensorDesc& t, const CompileOptions& o) override { return inner->alloc(t, o); }
  void upload(Buffer& b, std::span<const std::byte> s, std::size_t o) override { inner->upload(b, s, o); }
  void download(const Buffer& b, std::span<std::byte> d, std::size_t o) override { inner->download(b, d, o); }
  bool can_bind(const Buffer& b) const override { return inner->can_bind(b); }
  CompileResult compile(const Graph& g, const Bindings& bound, const CompileOptions& o) override {
    return inner->compile(g, bound, o);
  }
  std::shared_ptr<Device> inner;
};

// The first device of the opencl driver, or null with `why` (the driver is not built, or the
// machine has no OpenCL platform): for tests to skip with the reason.
inline std::shared_ptr<Device> open_opencl(std::string& why) {
  std::shared_ptr<Driver> driver = DriverRegistry::instance().create("opencl");
  if (!driver) {
    why = "the opencl driver is not built (no OpenCL headers or ICD loader)";
    return nullptr;
  }
  auto e = driver->enumerate();
  if (e.devices.empty()) {
    why = e.reason;
    return nullptr;
  }
  auto r = driver->open(e.devices.front(), {});
  if (!r.outcome.passed()) why = r.outcome.reason;
  return r.device;
}

// Three short samples: for tests of what a workload records, never of how fast it is.
inline RunPolicy three_samples() {
  RunPolicy p;
  p.warmup_seconds = 0;
  p.min_seconds = 0;
  p.max_seconds = 0.5;
  p.min_samples = 3;
  p.max_samples = 3;
  p.min_sample_seconds = 1e-5;
  return p;
}

// Every benchmark that `params` (over the workload's defaults) expand into on `system`, each
// run by a fresh workload object on `device`, with `reference` as the ref device, and
// `energy` (may be null) as its sensor with `idle` as its baseline.
inline std::vector<BenchmarkRecord> run_workload(const std::string& workload, const nlohmann::json& params,
                                                 Device& device, Device* reference, const SystemInfo& system,
                                                 const std::atomic<bool>* cancel = nullptr,
                                                 EnergySensor* energy = nullptr, IdlePower idle = {}) {
  auto w = WorkloadRegistry::instance().create(workload);
  EXPECT_NE(w, nullptr) << workload;
  if (!w) return {};
  auto full = nlohmann::json::object();
  for (const auto& spec : w->params()) full[spec.name] = spec.default_value;
  if (params.is_object()) full.update(params);
  std::vector<BenchmarkRecord> out;
  for (const auto& point : w->expand(full, system)) {
    RunContext ctx{device, system, three_samples(), energy, cancel, reference, nullptr};
    ctx.idle = idle;
    auto fresh = WorkloadRegistry::instance().create(workload);  // one workload object per benchmark
    out.push_back(run_benchmark(*fresh, point, ctx));
  }
  return out;
}

template <class T>
std::vector<T> read(const Executable& exe, const Graph& g, TensorId id) {
  std::vector<T> out(g.tensor(id).bytes() / sizeof(T));
  exe.read(id, {reinterpret_cast<std::byte*>(out.data()), out.size() * sizeof(T)});
  return out;
}

template <class T>
void write(Executable& exe, TensorId id, const std::vector<T>& v) {
  exe.write(id, {reinterpret_cast<const std::byte*>(v.data()), v.size() * sizeof(T)});
}

}  // namespace xpb::test
