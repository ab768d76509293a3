// The runner's own cost: measure() over a sample function that does nothing, on a
// non-deterministic simulated clock (so the stop rules see fixed sample times), per sample;
// and the host time one sample of a deterministic simulated device costs. Goals: < 1 us each.
#include <benchmark/benchmark.h>

#include "xpubench/runner.hpp"

namespace {

xpb::RunResult noop(const xpb::RunArgs& a) {
  xpb::RunResult r;
  r.seconds = 1e-3 * static_cast<double>(a.iterations);
  r.clock = xpb::ClockKind::simulated;
  r.iterations = a.iterations;
  return r;
}

// Samples per call of measure(): the per-sample cost is the time divided by this count.
void BM_RunnerOverheadPerSample(benchmark::State& state) {
  const xpb::ClockInfo clock{xpb::ClockKind::simulated, 1e-9, false};
  xpb::RunPolicy policy;
  policy.warmup_seconds = 0;
  policy.warmup_samples = 1;
  policy.min_seconds = 0;
  policy.max_seconds = 1e9;
  policy.min_samples = static_cast<std::uint64_t>(state.range(0));
  policy.max_samples = static_cast<std::uint64_t>(state.range(0));
  policy.target_ci_relative = state.range(1) != 0 ? 1e-9 : 0.0;  // CI checks on, never met
  const xpb::SampleFn fn = noop;
  for (auto _ : state) {
    auto m = xpb::measure(fn, clock, policy);
    benchmark::DoNotOptimize(m.sample_seconds.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  // Seconds per sample (printed with an SI prefix: "150n" is 150 ns).
  state.counters["per_sample"] = benchmark::Counter(static_cast<double>(state.iterations() * state.range(0)),
                                                    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_RunnerOverheadPerSample)->Args({1000, 0})->Args({1000, 1})->Args({100000, 1});

// A whole measurement of a deterministic simulated device: one sample, whatever the policy.
void BM_DeterministicClockMeasurement(benchmark::State& state) {
  const xpb::ClockInfo clock{xpb::ClockKind::simulated, 1e-12, true};
  const xpb::RunPolicy policy;  // 0.2-2 s and 5-1000 samples, were the clock a real one
  const xpb::SampleFn fn = noop;
  for (auto _ : state) {
    auto m = xpb::measure(fn, clock, policy);
    benchmark::DoNotOptimize(m.sample_seconds.data());
  }
  state.counters["per_measurement"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_DeterministicClockMeasurement);

}  // namespace

BENCHMARK_MAIN();
