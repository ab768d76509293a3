// The runner's own overhead per sample: measure() over an executable that does nothing, on a
// simulated clock (so the stop rules see fixed sample times). Goal: < 1 us per sample.
#include <benchmark/benchmark.h>

#include "xpubench/runner.hpp"

namespace {

class NoopExecutable final : public xpb::Executable {
 public:
  xpb::Timing run(std::uint64_t iterations) override {
    return {1e-3 * static_cast<double>(iterations), xpb::ClockKind::simulated};
  }
  void read(xpb::TensorId, std::span<std::byte>) const override {}
  void write(xpb::TensorId, std::span<const std::byte>) override {}
};

// Samples per call of measure(): the per-sample cost is the time divided by this count.
void BM_RunnerOverheadPerSample(benchmark::State& state) {
  NoopExecutable exe;
  xpb::RunPolicy policy;
  policy.warmup_seconds = 0;
  policy.warmup_samples = 1;
  policy.min_seconds = 0;
  policy.max_seconds = 1e9;
  policy.min_samples = static_cast<std::uint64_t>(state.range(0));
  policy.max_samples = static_cast<std::uint64_t>(state.range(0));
  policy.target_ci_relative = state.range(1) != 0 ? 1e-9 : 0.0;  // CI checks on, never met
  for (auto _ : state) {
    auto m = xpb::measure(exe, policy);
    benchmark::DoNotOptimize(m.sample_seconds.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  // Seconds per sample (printed with an SI prefix: "150n" is 150 ns).
  state.counters["per_sample"] = benchmark::Counter(static_cast<double>(state.iterations() * state.range(0)),
                                                    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_RunnerOverheadPerSample)->Args({1000, 0})->Args({1000, 1})->Args({100000, 1});

}  // namespace

BENCHMARK_MAIN();
