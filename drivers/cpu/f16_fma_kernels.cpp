// fma_loop on f16 (f16_fma_kernels.hpp). Intrinsics with a per-function target and a run-time
// check, not Highway: Highway 1.0 (Debian 12's) has no f16 arithmetic.
#include "f16_fma_kernels.hpp"

#include <immintrin.h>

namespace xpb::cpu {
namespace {

// 12 independent vectors, as for f32 (compute_kernels.cpp): the FMA's latency (4 cycles) times
// its two ports is 8 in flight; 12 leaves room, in 13 of the 32 zmm registers.
constexpr std::size_t kVectors = 12;
constexpr std::size_t kLanes = 32;

__attribute__((target("avx512f,avx512bw,avx512fp16"))) void chain_avx512fp16(const std::uint16_t* in,
                                                                                std::uint16_t* out, std::size_t n,
                                                                                std::uint64_t chain) {
  const __m512h half = _mm512_set1_ph(static_cast<_Float16>(0.5f));
  std::size_t i = 0;
  for (; i + kVectors * kLanes <= n; i += kVectors * kLanes) {
    __m512h v[kVectors];
#pragma GCC unroll 12
    for (std::size_t k = 0; k < kVectors; ++k) v[k] = _mm512_castsi512_ph(_mm512_loadu_si512(in + i + k * kLanes));
    // The step count is a run-time value and each step reads the last: nothing to fold.
    for (std::uint64_t s = 0; s < chain; ++s) {
#pragma GCC unroll 12
      for (std::size_t k = 0; k < kVectors; ++k) v[k] = _mm512_fmadd_ph(v[k], half, half);
    }
#pragma GCC unroll 12
    for (std::size_t k = 0; k < kVectors; ++k) _mm512_storeu_si512(out + i + k * kLanes, _mm512_castph_si512(v[k]));
  }
  // The rest one vector at a time (bound by the latency), the last one masked.
  for (; i < n; i += kLanes) {
    const std::size_t left = n - i;
    const __mmask32 mask = left >= kLanes ? ~__mmask32{0} : static_cast<__mmask32>((std::uint64_t{1} << left) - 1);
    __m512h v = _mm512_castsi512_ph(_mm512_maskz_loadu_epi16(mask, in + i));
    for (std::uint64_t s = 0; s < chain; ++s) v = _mm512_fmadd_ph(v, half, half);
    _mm512_mask_storeu_epi16(out + i, mask, _mm512_castph_si512(v));
  }
}

bool detect() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512fp16") && __builtin_cpu_supports("avx512bw");
}

}  // namespace

bool f16_fma_native() {
  static const bool found = detect();
  return found;
}

std::size_t f16_fma_block() { return kVectors * kLanes; }

void fma_chain_f16(const std::uint16_t* in, std::uint16_t* out, std::size_t n, std::uint64_t chain) {
  if (f16_fma_native()) chain_avx512fp16(in, out, n, chain);
}

}  // namespace xpb::cpu
