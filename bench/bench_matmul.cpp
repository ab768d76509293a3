// The decoder's matrix kernels alone, on one thread: GEMV (one activation row: decode, bound
// by memory) over 256 MiB of weights, against a bare SIMD read of the same bytes (the most a
// GEMV could reach), and GEMM (64 rows: prompt processing, bound by arithmetic) on weights
// that stay in cache. Counters: GB/s of weights read; GMAC/s of the GEMM.
#include <benchmark/benchmark.h>

#include <vector>

#include "llm_kernels.hpp"
#include "stream_kernels.hpp"
#include "xpubench/gguf_blocks.hpp"
#include "xpubench/quant.hpp"

namespace {

constexpr std::size_t kK = 2048;

std::vector<std::byte> make_weights(xpb::DType t, std::size_t rows) {
  const std::size_t row_bytes = xpb::storage_bytes(t, kK);
  std::vector<std::byte> w(rows * row_bytes);
  std::vector<float> row(kK);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t i = 0; i < kK; ++i) row[i] = xpb::synthetic_value(7, r * kK + i, 0.05f);
    xpb::encode_row(t, row.data(), w.data() + r * row_bytes, kK);
  }
  return w;
}

struct Activations {
  std::vector<float> x;
  std::vector<std::int8_t> q;
  std::vector<float> d, sum;
  std::vector<std::int32_t> neg_sum;
  std::vector<std::int16_t> sum16;
  xpb::cpu::QuantizedRows rows;
  Activations(std::size_t n, xpb::DType t)
      : x(n * kK), q(n * kK), d(n * kK / 32), sum(n * kK / 32), neg_sum(n * kK / 32), sum16(n * kK / 16) {
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = xpb::synthetic_value(9, i, 1.0f);
    rows = {q.data(), d.data(), sum.data(), neg_sum.data(), sum16.data(), kK};
    xpb::cpu::quantize_rows(xpb::cpu::activation_blocks(t), x.data(), 0, n, rows);
  }
};

void run_matmul(benchmark::State& state, xpb::DType t, std::size_t weight_rows, std::size_t act_rows) {
  const auto w = make_weights(t, weight_rows);
  Activations a(act_rows, t);
  std::vector<float> out(act_rows * weight_rows);
  for (auto _ : state) {
    if (t == xpb::DType::q8_0 || t == xpb::DType::q4_0)
      xpb::cpu::matmul_quantized(t, w.data(), xpb::storage_bytes(t, kK), 0, weight_rows, a.rows, act_rows, out.data(), weight_rows);
    else if (xpb::is_block_quantized(t))
      xpb::cpu::matmul_gguf(t, w.data(), xpb::storage_bytes(t, kK), 0, weight_rows, a.rows, act_rows, out.data(), weight_rows);
    else
      xpb::cpu::matmul_float(t, w.data(), kK, 0, weight_rows, a.x.data(), act_rows, out.data(), weight_rows);
    benchmark::DoNotOptimize(out.data());
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(w.size()) * iters / 1e9, benchmark::Counter::kIsRate);
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(weight_rows * act_rows * kK) * iters / 1e9,
                                                benchmark::Counter::kIsRate);
}

// 256 MiB of weights whatever the dtype: far beyond any cache.
std::size_t dram_rows(xpb::DType t) { return (std::size_t{256} << 20) / xpb::storage_bytes(t, kK); }

void BM_GemvQ8_0(benchmark::State& s) { run_matmul(s, xpb::DType::q8_0, dram_rows(xpb::DType::q8_0), 1); }
void BM_GemvQ4_0(benchmark::State& s) { run_matmul(s, xpb::DType::q4_0, dram_rows(xpb::DType::q4_0), 1); }
void BM_GemvF16(benchmark::State& s) { run_matmul(s, xpb::DType::f16, dram_rows(xpb::DType::f16), 1); }
void BM_GemmQ8_0(benchmark::State& s) { run_matmul(s, xpb::DType::q8_0, 256, 64); }
void BM_GemvQ8_0Cached(benchmark::State& s) { run_matmul(s, xpb::DType::q8_0, 256, 1); }
void BM_GemmQ4_0(benchmark::State& s) { run_matmul(s, xpb::DType::q4_0, 256, 64); }
// The formats of Q4_K_M and friends.
void BM_GemvQ4_K(benchmark::State& s) { run_matmul(s, xpb::DType::q4_K, dram_rows(xpb::DType::q4_K), 1); }
void BM_GemvQ6_K(benchmark::State& s) { run_matmul(s, xpb::DType::q6_K, dram_rows(xpb::DType::q6_K), 1); }
void BM_GemvQ5_K(benchmark::State& s) { run_matmul(s, xpb::DType::q5_K, dram_rows(xpb::DType::q5_K), 1); }
void BM_GemvIQ4_XS(benchmark::State& s) { run_matmul(s, xpb::DType::iq4_xs, dram_rows(xpb::DType::iq4_xs), 1); }
void BM_GemvQ4_KCached(benchmark::State& s) { run_matmul(s, xpb::DType::q4_K, 256, 1); }
void BM_GemmQ4_K(benchmark::State& s) { run_matmul(s, xpb::DType::q4_K, 256, 64); }
void BM_GemmQ6_K(benchmark::State& s) { run_matmul(s, xpb::DType::q6_K, 256, 64); }

void BM_BareRead(benchmark::State& state) {
  std::vector<float> w((std::size_t{256} << 20) / 4, 1.0f);
  for (auto _ : state) benchmark::DoNotOptimize(xpb::cpu::sum_f32(w.data(), w.size()));
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(w.size() * 4) * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}

BENCHMARK(BM_BareRead)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GemvQ8_0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GemvQ4_0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GemvF16)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GemvQ8_0Cached)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_GemmQ8_0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GemmQ4_0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GemvQ4_K)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GemvQ6_K)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GemvQ5_K)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GemvIQ4_XS)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GemvQ4_KCached)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_GemmQ4_K)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GemmQ6_K)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
