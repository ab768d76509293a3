// What one kernel launch costs on the machine's first OpenCL device (PoCL here): a graph of one
// write_fill of 64 floats run once per call, so the host time per call is enqueue + execution +
// the wait for its event (the round trip a decode step pays once per op), next to the device's
// own time for the kernel. Skipped where there is no OpenCL device.
#include <benchmark/benchmark.h>

#include "xpubench/registry.hpp"

namespace {

std::shared_ptr<xpb::Device> opencl() {
  static std::shared_ptr<xpb::Device> d = []() -> std::shared_ptr<xpb::Device> {
    std::shared_ptr<xpb::Driver> driver = xpb::DriverRegistry::instance().create("opencl");
    if (!driver) return nullptr;
    auto e = driver->enumerate();
    return e.devices.empty() ? nullptr : driver->open(e.devices.front(), {}).device;
  }();
  return d;
}

// One write_fill of 64 floats, compiled on the device: a launch with next to no work.
std::shared_ptr<xpb::Executable> tiny_kernel(xpb::Device& d) {
  xpb::Graph g("launch");
  auto out = g.add_tensor({"out", {64}, xpb::DType::f32, xpb::TensorRole::output, {}});
  g.add_node(xpb::Op::write_fill, {}, {out}, xpb::Attrs{{"value", 1.0}});
  return d.compile(g, {}).exe;
}

void BM_OpenClLaunchRoundTrip(benchmark::State& state) {
  auto d = opencl();
  if (!d) {
    state.SkipWithError("no OpenCL device");
    return;
  }
  auto exe = tiny_kernel(*d);
  double device_seconds = 0;
  for (auto _ : state) device_seconds += exe->run(1).seconds;
  // Seconds of device time per launch, beside the host time Google Benchmark reports.
  state.counters["device_time"] = benchmark::Counter(device_seconds / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_OpenClLaunchRoundTrip)->UseRealTime();

// Launches back to back in one run (batched, one wait per 256): the cost per launch when the
// queue is kept full, as a multi-iteration sample sees it.
void BM_OpenClLaunchQueued(benchmark::State& state) {
  auto d = opencl();
  if (!d) {
    state.SkipWithError("no OpenCL device");
    return;
  }
  auto exe = tiny_kernel(*d);
  for (auto _ : state) exe->run(256);
  state.SetItemsProcessed(state.iterations() * 256);
  state.counters["per_launch"] = benchmark::Counter(static_cast<double>(state.iterations() * 256),
                                                    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_OpenClLaunchQueued)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
