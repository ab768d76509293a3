// hc1-sim in timing-only mode: the host time to simulate 1,000,000 decode tokens of Llama 3.1
// 8B (issue 10's goal: < 1 s), stepped through the LlamaEngine as llm.bench steps it: one user,
// 1000 requests of 1000 tokens each (the context returns to 0 for each: the chip's KV SRAM
// holds 4096 positions). The simulated time is printed beside, as a counter.
#include <benchmark/benchmark.h>

#include "llama_engine.hpp"
#include "llm_common.hpp"
#include "model_weights.hpp"
#include "xpubench/registry.hpp"

namespace {

void BM_Hc1TimingOnlyMillionDecodeTokens(benchmark::State& state) {
  std::shared_ptr<xpb::Driver> driver = xpb::DriverRegistry::instance().create("hc1-sim");
  auto opened = driver->open(driver->enumerate().devices.at(0), {{"mode", "timing-only"}});
  if (!opened.device) return state.SkipWithError(opened.outcome.reason.c_str());
  const auto m = xpb::llm::resolve_model({{"model", "llama-3.1-8b"}, {"dtype", "q8_0"}, {"weight_seed", 1}});
  auto [o, weights] = xpb::llm::ModelWeights::load(*opened.device, m.config, m.source, {});
  if (!weights) return state.SkipWithError(o.reason.c_str());
  xpb::llm::GraphShape shape;
  shape.context = 1024;
  auto [eo, engine] = xpb::llm::LlamaEngine::create(*opened.device, weights, shape, {});
  if (!engine) return state.SkipWithError(eo.reason.c_str());
  constexpr int kRequests = 1000, kTokens = 1000;
  double simulated = 0;
  xpb::llm::StepInput in;
  in.tokens = {1};
  in.positions = {0};
  in.sequences = {0};
  in.output_rows = {0};
  for (auto _ : state) {
    simulated = 0;
    for (int r = 0; r < kRequests; ++r)
      for (int t = 0; t < kTokens; ++t) {
        in.positions[0] = t;
        simulated += engine->step(in).seconds;
        in.tokens[0] = engine->next_tokens()[0];
      }
  }
  state.SetItemsProcessed(state.iterations() * kRequests * kTokens);
  state.counters["simulated_s"] = simulated;
  state.counters["simulated_tokens_per_s"] = kRequests * kTokens / simulated;
}
BENCHMARK(BM_Hc1TimingOnlyMillionDecodeTokens)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
BENCHMARK_MAIN();
