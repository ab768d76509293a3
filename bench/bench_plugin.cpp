// What the plugin ABI costs the host: one run of an empty graph through the whole plugin path
// (PluginExecutable::run: dims checked, argument structs, the call through the dlopen'd table,
// status and result checks, the work from the cost model) against the plugin's own run function
// called directly in-process on the same executable handle; and what isolating a benchmark in a
// child process costs: a fork per check (conform) or a job sent to a worker process forked once
// per device (run --isolate). Goals (issue 8): < 200 ns per call of ABI overhead, < 100 us per
// isolated benchmark.
#include <benchmark/benchmark.h>

#include <dlfcn.h>

#include "isolation.hpp"
#include "xpubench/plugins.hpp"
#include "xpubench/registry.hpp"
#include "xpubench_plugin.h"

namespace {

std::shared_ptr<xpb::Device> minimal() {
  static std::shared_ptr<xpb::Device> d = [] {
    xpb::load_plugins({std::string(XPB_TEST_PLUGIN_DIR) + "/libxpubench-minimal.so"});
    std::shared_ptr<xpb::Driver> driver = xpb::DriverRegistry::instance().create("plugin:minimal");
    if (!driver) return std::shared_ptr<xpb::Device>();
    auto e = driver->enumerate();
    return e.devices.empty() ? nullptr : driver->open(e.devices.front(), {}).device;
  }();
  return d;
}

void BM_PluginRunEmptyGraph(benchmark::State& state) {
  auto d = minimal();
  if (!d) {
    state.SkipWithError("plugin:minimal not found");
    return;
  }
  auto c = d->compile(xpb::Graph("empty"), {});
  for (auto _ : state) {
    auto r = c.exe->run(1);
    benchmark::DoNotOptimize(r.seconds);
  }
}
BENCHMARK(BM_PluginRunEmptyGraph);

// The same plugin's run, called straight through its table: the code a C++ driver of the same
// device would run in-process.
void BM_DirectRunEmptyGraph(benchmark::State& state) {
  void* lib = dlopen((std::string(XPB_TEST_PLUGIN_DIR) + "/libxpubench-minimal.so").c_str(), RTLD_NOW | RTLD_LOCAL);
  auto entry = lib ? reinterpret_cast<xpb_plugin_entry_fn>(dlsym(lib, XPB_PLUGIN_ENTRY_SYMBOL)) : nullptr;
  if (entry == nullptr) {
    state.SkipWithError("plugin:minimal not found");
    return;
  }
  const xpb_plugin* api = entry(XPB_PLUGIN_ABI_VERSION);
  xpb_device dev = nullptr;
  api->open(0, 0, nullptr, nullptr, &dev);
  xpb_graph g{sizeof(xpb_graph), 0, "empty", "", "", "", "", nullptr, 0, 0, nullptr, nullptr, nullptr};
  xpb_executable exe = nullptr;
  api->compile(dev, &g, &exe);
  xpb_run_args a{sizeof a, 0, 1, nullptr, nullptr, nullptr};
  for (auto _ : state) {
    xpb_run_result r{};
    r.struct_size = sizeof r;
    api->run(exe, &a, &r);
    benchmark::DoNotOptimize(r.seconds);
  }
  api->release_executable(exe);
  api->release_device(dev);
}
BENCHMARK(BM_DirectRunEmptyGraph);

// fork, a record of ~2 KB back through the pipe, wait: what `conform` pays per isolated check.
void BM_IsolatedBenchmarkOverhead(benchmark::State& state) {
  const std::string record(2048, 'x');
  for (auto _ : state) {
    auto out = xpb::run_in_child([&] { return nlohmann::json{{"record", record}}; }, 10, nullptr);
    if (!out.ok) state.SkipWithError(out.failure.c_str());
  }
}
BENCHMARK(BM_IsolatedBenchmarkOverhead)->UseRealTime();

// What --isolate adds per benchmark in a session: a job to the device's worker process (forked
// once) and a ~2 KB record back.
void BM_IsolatedWorkerOverhead(benchmark::State& state) {
  const std::string record(2048, 'x');
  xpb::ChildWorker worker([&](std::size_t job) { return nlohmann::json{{"job", job}, {"record", record}}; });
  std::size_t job = 0;
  for (auto _ : state) {
    auto out = worker.run(job++, 10, nullptr);
    if (!out.ok) state.SkipWithError(out.failure.c_str());
  }
}
BENCHMARK(BM_IsolatedWorkerOverhead)->UseRealTime();

}  // namespace
BENCHMARK_MAIN();
