// One DiT block's forward over one chunk on the cpu driver (video.stream's unit of work), at a
// scaled shape and at Wan2.1-1.3B's, with the KV window empty (the first chunk) and full; and
// the cpu driver's own f32 GEMM at the block's largest product, the peak its blocks are held to.
// Counters: GFLOP/s from the op cost model (graph_work), so the figures compare with any other
// engine's time for the same block (bench/dit_block_torch.py: PyTorch on the same shapes).
#include <benchmark/benchmark.h>

#include <cmath>
#include <numeric>

#include "dit_model.hpp"
#include "xpubench/registry.hpp"

namespace {

std::shared_ptr<xpb::Device> cpu() {
  static std::shared_ptr<xpb::Device> device = [] {
    std::shared_ptr<xpb::Driver> driver = xpb::DriverRegistry::instance().create("cpu");
    return driver->open(driver->enumerate().devices.at(0), {}).device;
  }();
  return device;
}

// Times `g` with positions of chunk `chunk` and the matching context; `threads` of the cpu.
void run_graph(benchmark::State& s, const xpb::Graph& g, std::optional<xpb::TensorId> positions, std::int64_t tokens,
               std::int64_t chunk, std::int64_t window, int threads) {
  xpb::CompileOptions o;
  o.threads = threads;
  auto c = cpu()->compile(g, o);
  if (!c.outcome.passed()) return s.SkipWithError(c.outcome.reason.c_str());
  std::vector<std::int64_t> dims;
  if (positions) {
    std::vector<std::int32_t> pos(static_cast<std::size_t>(tokens));
    std::iota(pos.begin(), pos.end(), static_cast<std::int32_t>(chunk * tokens));
    c.exe->write(*positions, {reinterpret_cast<const std::byte*>(pos.data()), pos.size() * 4});
    dims.push_back(std::min(window, (chunk + 1) * tokens));
  }
  const double flops = xpb::graph_work(g, dims).flops;
  xpb::RunArgs args;
  args.dims = dims;
  c.exe->run(args);  // warm-up: first touch
  double seconds = 0;
  for (auto _ : s) {
    const auto r = c.exe->run(args);
    s.SetIterationTime(r.seconds);
    seconds += r.seconds;
  }
  s.counters["GFLOP/s"] = flops * static_cast<double>(s.iterations()) / seconds / 1e9;
  s.counters["GFLOP"] = flops / 1e9;
}

// One block's forward at preset `name`, chunk `chunk` of the stream (0: only itself in the
// window; window_frames / frames_per_chunk - 1 and later: a full window).
void block(benchmark::State& s, const char* name, std::int64_t chunk) {
  const auto c = *xpb::video::preset(name);
  const auto g = xpb::video::build_block_graph(c, xpb::DType::f32, xpb::DType::f16, 1, 1);
  run_graph(s, g.graph, g.positions, c.tokens_per_chunk(), chunk, c.window_tokens(), static_cast<int>(s.range(0)));
}

// The cpu driver's f32 GEMM alone: x [tokens, dim] by W [ffn, dim], the block's largest product.
void gemm(benchmark::State& s, const char* name) {
  const auto c = *xpb::video::preset(name);
  xpb::Graph g("gemm");
  const auto x = g.add_tensor({"x", {c.tokens_per_chunk(), c.dim}, xpb::DType::f32, xpb::TensorRole::input,
                               xpb::TensorInit::random(1, 1.0)});
  const auto w = g.add_tensor({"w", {c.ffn, c.dim}, xpb::DType::f32, xpb::TensorRole::weight,
                               xpb::TensorInit::random(2, 0.05)});
  const auto y = g.add_tensor({"y", {c.tokens_per_chunk(), c.ffn}, xpb::DType::f32, xpb::TensorRole::output, {}});
  g.add_node(xpb::Op::matmul, {x, w}, {y});
  run_graph(s, g, std::nullopt, 0, 0, 0, static_cast<int>(s.range(0)));
}

void BM_BlockSmallFirstChunk(benchmark::State& s) { block(s, "dit-small", 0); }
void BM_BlockSmallFullWindow(benchmark::State& s) { block(s, "dit-small", 1); }
void BM_GemmSmall(benchmark::State& s) { gemm(s, "dit-small"); }
void BM_BlockWanFirstChunk(benchmark::State& s) { block(s, "wan2.1-1.3b", 0); }
void BM_BlockWanFullWindow(benchmark::State& s) { block(s, "wan2.1-1.3b", 6); }
void BM_GemmWan(benchmark::State& s) { gemm(s, "wan2.1-1.3b"); }

}  // namespace

BENCHMARK(BM_GemmSmall)->Arg(2)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BlockSmallFirstChunk)->Arg(2)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BlockSmallFullWindow)->Arg(2)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GemmWan)->Arg(2)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_BlockWanFirstChunk)->Arg(2)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_BlockWanFullWindow)->Arg(2)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);

BENCHMARK_MAIN();
