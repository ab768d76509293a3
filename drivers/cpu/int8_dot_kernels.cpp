// int8_dot_loop on the CPU (int8_dot_kernels.hpp). Intrinsics with per-function targets and
// a run-time check, not Highway: Highway 1.0 (Debian 12's) has no op for an 8-bit dot product
// into 32-bit lanes.
#include "int8_dot_kernels.hpp"

#include <immintrin.h>

#include <cstring>

namespace xpb::cpu {
namespace {

// The scalar definition, for the tail of a share shorter than one vector.
void dot_chain_scalar(const std::uint8_t* x, const std::int8_t* w, std::int32_t* out, std::size_t n,
                      std::uint64_t chain) {
  for (std::size_t i = 0; i < n; ++i) {
    std::int32_t dot = 0;
    for (int k = 0; k < 4; ++k) dot += static_cast<std::int32_t>(x[4 * i + k]) * w[k];
    const auto v = static_cast<std::uint32_t>(chain) * static_cast<std::uint32_t>(dot);
    std::memcpy(out + i, &v, 4);
  }
}

std::int32_t packed_weights(const std::int8_t* w) {
  std::int32_t v;
  std::memcpy(&v, w, 4);
  return v;
}

// 12 accumulators and their 12 operands in 25 of AVX-512's 32 registers: vpdpbusd's latency
// (5 cycles on Ice Lake and Sapphire Rapids) times its throughput (up to 2 a cycle) is 10.
constexpr std::size_t kZmmVectors = 12;
// AVX-VNNI has 16 registers: 7 accumulators, 7 operands and the weights.
constexpr std::size_t kYmmVectors = 7;

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void dot_chain_avx512(
    const std::uint8_t* x, const std::int8_t* w, std::int32_t* out, std::size_t n, std::uint64_t chain) {
  const __m512i wv = _mm512_set1_epi32(packed_weights(w));
  constexpr std::size_t kLanes = 16;
  std::size_t i = 0;
  for (; i + kZmmVectors * kLanes <= n; i += kZmmVectors * kLanes) {
    __m512i xv[kZmmVectors], acc[kZmmVectors];
#pragma GCC unroll 12
    for (std::size_t v = 0; v < kZmmVectors; ++v) {
      xv[v] = _mm512_loadu_si512(x + 4 * (i + v * kLanes));
      acc[v] = _mm512_setzero_si512();
    }
    // The step count is a run-time value and vpdpbusd reads its accumulator: nothing to hoist.
    for (std::uint64_t s = 0; s < chain; ++s) {
#pragma GCC unroll 12
      for (std::size_t v = 0; v < kZmmVectors; ++v) acc[v] = _mm512_dpbusd_epi32(acc[v], xv[v], wv);
    }
#pragma GCC unroll 12
    for (std::size_t v = 0; v < kZmmVectors; ++v) _mm512_storeu_si512(out + i + v * kLanes, acc[v]);
  }
  for (; i + kLanes <= n; i += kLanes) {  // one vector at a time: bound by the latency
    const __m512i xv = _mm512_loadu_si512(x + 4 * i);
    __m512i acc = _mm512_setzero_si512();
    for (std::uint64_t s = 0; s < chain; ++s) acc = _mm512_dpbusd_epi32(acc, xv, wv);
    _mm512_storeu_si512(out + i, acc);
  }
  dot_chain_scalar(x + 4 * i, w, out + i, n - i, chain);
}

__attribute__((target("avx2,avxvnni"))) void dot_chain_avxvnni(const std::uint8_t* x, const std::int8_t* w,
                                                                  std::int32_t* out, std::size_t n, std::uint64_t chain) {
  const __m256i wv = _mm256_set1_epi32(packed_weights(w));
  constexpr std::size_t kLanes = 8;
  std::size_t i = 0;
  for (; i + kYmmVectors * kLanes <= n; i += kYmmVectors * kLanes) {
    __m256i xv[kYmmVectors], acc[kYmmVectors];
#pragma GCC unroll 7
    for (std::size_t v = 0; v < kYmmVectors; ++v) {
      xv[v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 4 * (i + v * kLanes)));
      acc[v] = _mm256_setzero_si256();
    }
    for (std::uint64_t s = 0; s < chain; ++s) {
#pragma GCC unroll 7
      for (std::size_t v = 0; v < kYmmVectors; ++v) acc[v] = _mm256_dpbusd_avx_epi32(acc[v], xv[v], wv);
    }
#pragma GCC unroll 7
    for (std::size_t v = 0; v < kYmmVectors; ++v)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i + v * kLanes), acc[v]);
  }
  for (; i + kLanes <= n; i += kLanes) {
    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 4 * i));
    __m256i acc = _mm256_setzero_si256();
    for (std::uint64_t s = 0; s < chain; ++s) acc = _mm256_dpbusd_avx_epi32(acc, xv, wv);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), acc);
  }
  dot_chain_scalar(x + 4 * i, w, out + i, n - i, chain);
}

enum class Isa { none, avxvnni, avx512vnni };

Isa detect() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) return Isa::avx512vnni;
  if (__builtin_cpu_supports("avxvnni")) return Isa::avxvnni;
  return Isa::none;
}

Isa isa() {
  static const Isa found = detect();
  return found;
}

}  // namespace

const char* int8_dot_isa() {
  switch (isa()) {
    case Isa::avx512vnni: return "avx512vnni";
    case Isa::avxvnni: return "avxvnni";
    default: return "";
  }
}

std::size_t int8_dot_block() { return isa() == Isa::avx512vnni ? kZmmVectors * 16 : kYmmVectors * 8; }

void int8_dot_chain(const std::uint8_t* x, const std::int8_t* w, std::int32_t* out, std::size_t n, std::uint64_t chain) {
  switch (isa()) {
    case Isa::avx512vnni: dot_chain_avx512(x, w, out, n, chain); break;
    case Isa::avxvnni: dot_chain_avxvnni(x, w, out, n, chain); break;
    default: dot_chain_scalar(x, w, out, n, chain); break;
  }
}

}  // namespace xpb::cpu
