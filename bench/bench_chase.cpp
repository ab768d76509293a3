// Latency beyond the last-level cache: the cpu driver's chase against a bare pointer chase
// (the shortest loop there is, `p = *p`) over the same random cycle of 256 MiB at 64-byte
// stride on huge pages. Goal: the driver within 5% of the bare loop.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <cstdint>
#include <vector>

#include "xpubench/registry.hpp"

namespace {

constexpr std::int64_t kLines = (std::int64_t{256} << 20) / 64;
constexpr std::int64_t kSteps = 1 << 20;

void BM_BarePointerChase(benchmark::State& state) {
  const std::size_t bytes = static_cast<std::size_t>(kLines) * 64;
  void* mem = mmap(nullptr, bytes + (2 << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  auto* base = reinterpret_cast<std::uint64_t*>((reinterpret_cast<std::uintptr_t>(mem) + (2 << 20) - 1) & ~std::uintptr_t((2 << 20) - 1));
  madvise(base, bytes, MADV_HUGEPAGE);
  xpb::fill_random_cycle(base, static_cast<std::size_t>(kLines), 8, 0xc4a5e);
  for (std::int64_t i = 0; i < kLines; ++i) base[i * 8] = reinterpret_cast<std::uintptr_t>(base + base[i * 8] * 8);
  auto* p = reinterpret_cast<void**>(base);
  for (auto _ : state) {  // goes on around the cycle, as the driver's chains do
    for (std::int64_t s = 0; s < kSteps; ++s) p = static_cast<void**>(*p);
    benchmark::DoNotOptimize(p);
  }
  state.counters["ns_per_load"] = benchmark::Counter(static_cast<double>(kSteps) * static_cast<double>(state.iterations()),
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  munmap(mem, bytes + (2 << 20));
}

void BM_DriverChase(benchmark::State& state) {
  std::shared_ptr<xpb::Driver> driver = xpb::DriverRegistry::instance().create("cpu");
  auto device = driver->open(driver->enumerate().devices.at(0), {}).device;
  xpb::Graph g;
  auto ring = g.add_tensor({"ring", {kLines, 8}, xpb::DType::u64, xpb::TensorRole::input, xpb::TensorInit::cycle(0xc4a5e)});
  auto out = g.add_tensor({"out", {1}, xpb::DType::u64, xpb::TensorRole::output, {}});
  g.add_node(xpb::Op::chase, {ring}, {out}, {{"steps", kSteps}, {"chains", std::int64_t{1}}});
  xpb::CompileOptions opts;
  opts.threads = 1;
  auto compiled = device->compile(g, opts);
  if (!compiled.outcome.passed()) {
    state.SkipWithError(compiled.outcome.reason.c_str());
    return;
  }
  for (auto _ : state) {
    const auto t = compiled.exe->run(1);
    state.SetIterationTime(t.seconds);
  }
  state.counters["ns_per_load"] = benchmark::Counter(static_cast<double>(kSteps) * static_cast<double>(state.iterations()),
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

}  // namespace

// Run with --benchmark_enable_random_interleaving=true so the repetitions of the two
// alternate and drift in the machine's load affects both alike.
BENCHMARK(BM_BarePointerChase)->Unit(benchmark::kMillisecond)->Repetitions(5);
BENCHMARK(BM_DriverChase)->UseManualTime()->Unit(benchmark::kMillisecond)->Repetitions(5);

BENCHMARK_MAIN();
