// photonic-sim's functional mode against the cpu driver on the same graph: the host time of a
// decode step of stories-15m (f32), which the simulator runs on the cpu with the analog ops
// around each matmul (issue 10's goal: at most 3x the cpu's). Run interleaved, so the shared
// machine's noise falls on both alike:
//   bench_photonic_sim --benchmark_repetitions=6 --benchmark_enable_random_interleaving=true
#include <benchmark/benchmark.h>

#include "llama_engine.hpp"
#include "llm_common.hpp"
#include "model_weights.hpp"
#include "xpubench/registry.hpp"

namespace {

void decode(benchmark::State& state, const char* driver_name, xpb::DeviceOptions options) {
  std::shared_ptr<xpb::Driver> driver = xpb::DriverRegistry::instance().create(driver_name);
  auto opened = driver->open(driver->enumerate().devices.at(0), options);
  if (!opened.device) return state.SkipWithError(opened.outcome.reason.c_str());
  const auto m = xpb::llm::resolve_model({{"model", "stories-15m"}, {"dtype", "f32"}, {"weight_seed", 1}});
  auto [o, weights] = xpb::llm::ModelWeights::load(*opened.device, m.config, m.source, {});
  if (!weights) return state.SkipWithError(o.reason.c_str());
  xpb::llm::GraphShape shape;
  shape.context = 256;
  auto [eo, engine] = xpb::llm::LlamaEngine::create(*opened.device, weights, shape, {});
  if (!engine) return state.SkipWithError(eo.reason.c_str());
  xpb::llm::StepInput in;
  in.tokens = {1};
  in.positions = {0};
  in.sequences = {0};
  in.output_rows = {0};
  int pos = 0;
  for (auto _ : state) {
    in.positions[0] = pos;
    pos = (pos + 1) % 255;
    engine->step(in);
    in.tokens[0] = engine->next_tokens()[0];
  }
}

void BM_DecodeStepCpu(benchmark::State& state) { decode(state, "cpu", {}); }
void BM_DecodeStepPhotonicFunctional(benchmark::State& state) { decode(state, "photonic-sim", {{"mode", "functional"}}); }
BENCHMARK(BM_DecodeStepCpu)->Unit(benchmark::kMicrosecond)->MinTime(1.0);
BENCHMARK(BM_DecodeStepPhotonicFunctional)->Unit(benchmark::kMicrosecond)->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
