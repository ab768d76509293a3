#include "llm_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "xpubench/quant.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "llm_kernels.cpp"
#include <hwy/foreach_target.h>  // re-includes this file once per target
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

HWY_BEFORE_NAMESPACE();
namespace xpb::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// ---- activations to Q8_0 -------------------------------------------------------------------

// `q8_1`: each block's sum as llama.cpp's quantize_row_q8_1 keeps it, fp16(amax / 127 x code
// sum) with the scale before its own rounding to fp16 (Q4_1's and Q5_1's offsets multiply it,
// so the 1e-3 relative difference from the exact d x sum reaches their results).
void QuantizeRowsQ8(const float* x, std::size_t row_begin, std::size_t row_end, const QuantizedRows& out, bool q8_1) {
  const std::size_t nb = out.k / kQuantBlock;
  for (std::size_t t = row_begin; t < row_end; ++t) {
    for (std::size_t b = 0; b < nb; ++b) {
      const float* v = x + t * out.k + b * kQuantBlock;
      float amax = 0;
      for (std::size_t i = 0; i < kQuantBlock; ++i) amax = std::max(amax, std::fabs(v[i]));
      // The codes from the f32 scale, the scale kept as fp16 (llama.cpp's quantize_row_q8_0).
      const float d = f16_to_f32(f32_to_f16(amax / 127.0f));
      const float inv = amax != 0 ? 127.0f / amax : 0.0f;
      std::int8_t* q = out.q + t * out.k + b * kQuantBlock;
      int sum = 0;
      for (std::size_t half = 0; half < 2; ++half) {
        int s16 = 0;
        for (std::size_t i = 16 * half; i < 16 * half + 16; ++i) {
          const int c = static_cast<int>(std::nearbyint(v[i] * inv));
          q[i] = static_cast<std::int8_t>(c);
          s16 += c;
        }
        out.sum16[(t * out.k + b * kQuantBlock) / 16 + half] = static_cast<std::int16_t>(s16);
        sum += s16;
      }
      out.d[t * nb + b] = d;
      out.sum[t * nb + b] = q8_1 ? f16_to_f32(f32_to_f16(amax / 127.0f * static_cast<float>(sum))) : d * static_cast<float>(sum);
      out.neg_sum[t * nb + b] = -sum;
    }
  }
}

// ---- block-quantized weights x Q8_0 activations ---------------------------------------------

#if HWY_TARGET == HWY_AVX3_DL
// Highway 1.0 compiles this target with AVX-VNNI (the VEX form of vpdpbusd, which Ice Lake and
// Zen 4 lack) but selects it at run time by AVX512-VNNI. This section asks for the EVEX form
// instead, so it runs on every CPU Highway picks the target for. It calls no Highway op (they
// carry the target's own options and would not inline here) and no HWY_ATTR lambda.
#pragma GCC push_options
#pragma GCC target("avx512vnni,no-avxvnni")
#endif

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL

// One block of 32 values per 256-bit register. The intrinsics below are what Highway 1.0
// (Debian 12's) has no portable op for: an 8-bit dot product into 32-bit lanes.

HWY_INLINE __m256i q4_codes(const BlockQ4_0* b) {  // the 32 codes 0..15, in value order
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b->qs));
  const __m128i mask = _mm_set1_epi8(15);
  const __m128i lo = _mm_and_si128(raw, mask);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
  return _mm256_set_m128i(hi, lo);
}

// Sums of unsigned a[i] * signed b[i] over groups of 4 bytes, in 8 int32 lanes. The AVX2
// form cannot saturate here: |a| <= 128 and |b| <= 127 keep each pair sum under 2^15.
HWY_INLINE __m256i dot_u8s8(__m256i a, __m256i b) {
#if HWY_TARGET == HWY_AVX3_DL
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), a, b);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1));
#endif
}

HWY_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// RJ weight rows x RT activation rows, all blocks; accumulators stay in registers.
template <bool kQ4, int RJ, int RT>
HWY_INLINE void QuantTile(const std::byte* w, std::size_t row_bytes, std::size_t j, const QuantizedRows& x,
                          std::size_t t, float* out, std::size_t ldo) {
  const std::size_t nb = x.k / kQuantBlock;
  __m256 acc[RJ][RT];
  float corr[RJ][RT];
  for (int r = 0; r < RJ; ++r)
    for (int c = 0; c < RT; ++c) {
      acc[r][c] = _mm256_setzero_ps();
      corr[r][c] = 0;
    }
  const std::byte* rows[RJ];
  for (int r = 0; r < RJ; ++r) rows[r] = w + (j + static_cast<std::size_t>(r)) * row_bytes;
  for (std::size_t b = 0; b < nb; ++b) {
    __m256i wv[RJ];
    float dw[RJ];
    for (int r = 0; r < RJ; ++r) {
      if constexpr (kQ4) {
        const auto* blk = reinterpret_cast<const BlockQ4_0*>(rows[r]) + b;
        dw[r] = _cvtsh_ss(blk->d);
        wv[r] = q4_codes(blk);
      } else {
        const auto* blk = reinterpret_cast<const BlockQ8_0*>(rows[r]) + b;
        dw[r] = _cvtsh_ss(blk->d);
        wv[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->q));
      }
    }
    for (int c = 0; c < RT; ++c) {
      const std::size_t row = t + static_cast<std::size_t>(c);
      const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + row * x.k + b * kQuantBlock));
      const float dx = x.d[row * nb + b];
      for (int r = 0; r < RJ; ++r) {
        __m256i p;
        if constexpr (kQ4) {
          // codes - 8 are the values: sum (code - 8) x = sum code x - 8 sum x.
          p = dot_u8s8(wv[r], xq);
          corr[r][c] += dw[r] * x.sum[row * nb + b];
        } else {
          // |w| . (x with w's sign) = w . x, with the unsigned operand vpmaddubsw needs.
          p = dot_u8s8(_mm256_sign_epi8(wv[r], wv[r]), _mm256_sign_epi8(xq, wv[r]));
        }
        acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw[r] * dx), acc[r][c]);
      }
    }
  }
  for (int c = 0; c < RT; ++c)
    for (int r = 0; r < RJ; ++r)
      out[(t + static_cast<std::size_t>(c)) * ldo + j + static_cast<std::size_t>(r)] =
          hsum(acc[r][c]) - (kQ4 ? 8.0f * corr[r][c] : 0.0f);
}

// Q4_0's activations as its two-blocks-per-step kernels (TilePairs, Q4RowDotPairs) take
// them, made once per call for all the weight rows it covers (each activation row meets every
// one of them): per activation row and pair of blocks (A, B), the codes as [A 0-15 | B 0-15]
// and [A 16-31 | B 16-31] (the order of the weights' low and high nibbles), -8 x each block's
// code sum in lanes 0 and 4 (the codes' offset of 8, taken off in the integer sums), and the
// two activation scales over lanes 0-3 and 4-7 (those two for the prompt GEMM; decode keeps
// its float offsets). Made in registers per tile, these took about a fifth of the tile's
// instructions. Per call, not once per node: the AVX-512 and portable kernels read the plain
// Q8_0 form, so the arrangement stays inside this target's kernels (one pass over the
// activations per call, against one per weight row before). Entry [row * pairs + p]; thread-local, so a call allocates only when
// it grows.
struct Q4Paired {
  struct alignas(32) Pair {  // alignas on the struct: std::vector honours it, not __m256i's own
    __m256i lo, hi, offset;
    __m256 dx;
  };
  std::vector<Pair> at;
  std::size_t pairs = 0;
  void make(const QuantizedRows& x, std::size_t rows) {
    const std::size_t nb = x.k / kQuantBlock;
    pairs = nb / 2;
    at.resize(rows * pairs);
    const __m256i firsts = _mm256_set_epi32(2, 2, 2, 1, 2, 2, 2, 0);  // lanes 0 and 1 to lanes 0 and 4
    const __m256i spread = _mm256_set_epi32(1, 1, 1, 1, 0, 0, 0, 0);
    for (std::size_t t = 0; t < rows; ++t)
      for (std::size_t p = 0; p < pairs; ++p) {
        const std::size_t b = 2 * p, i = t * pairs + p;
        const std::int8_t* xq = x.q + t * x.k + b * kQuantBlock;
        const __m256i xa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq));
        const __m256i xb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + kQuantBlock));
        Pair& e = at[i];
        e.lo = _mm256_permute2x128_si256(xa, xb, 0x20);
        e.hi = _mm256_permute2x128_si256(xa, xb, 0x31);
        e.offset = _mm256_slli_epi32(
            _mm256_permutevar8x32_epi32(
                _mm256_zextsi128_si256(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x.neg_sum + t * nb + b))), firsts),
            3);
        e.dx = _mm256_permutevar8x32_ps(
            _mm256_castps128_ps256(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x.d + t * nb + b)))),
            spread);
      }
  }
};

// Prompt GEMM, two blocks (A, B) per step as Q4Pair and Q8Pair below: RJ weight rows x RT
// activation rows, one conversion and one multiply-add by the two blocks' scale products for
// both. Q4_0: the codes' low nibbles of A | B in one register, the high in another, the
// activations rearranged to match (A's lanes 0-3, B's 4-7 after vpmaddwd); the codes stay
// unsigned (vpmaddubsw's first operand) and their offset of 8 comes off in the integer sums,
// where -8 x (the block's sum of activation codes) joins the first of each block's lanes, one
// integer add per pair instead of a float multiply-add per block. Q8_0: each block's eight
// 32-bit sums merged by one vphaddd (A in lanes 0-1 and 4-5, B in 2-3 and 6-7). Needs an even
// block count.
template <bool kQ4, int RJ, int RT>
HWY_INLINE void TilePairs(const std::byte* w, std::size_t row_bytes, std::size_t j, const QuantizedRows& x,
                          const Q4Paired& pre, std::size_t t, float* out, std::size_t ldo) {
  using Block = std::conditional_t<kQ4, BlockQ4_0, BlockQ8_0>;
  const std::size_t nb = x.k / kQuantBlock;
  const __m256i mask = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
  // Where block A's and B's scales go: the lanes each block's sums end up in.
  const __m256i spread = kQ4 ? _mm256_set_epi32(1, 1, 1, 1, 0, 0, 0, 0) : _mm256_set_epi32(1, 1, 0, 0, 1, 1, 0, 0);
  __m256 acc[RJ][RT];
  for (int r = 0; r < RJ; ++r)
    for (int c = 0; c < RT; ++c) acc[r][c] = _mm256_setzero_ps();
  const Block* rows[RJ];
  for (int r = 0; r < RJ; ++r) rows[r] = reinterpret_cast<const Block*>(w + (j + static_cast<std::size_t>(r)) * row_bytes);
  for (std::size_t b = 0; b < nb; b += 2) {
    __m256i wa[RJ], wb[RJ];  // Q4_0: low and high nibbles of A | B; Q8_0: A's and B's codes
    __m256 dw[RJ];
    for (int r = 0; r < RJ; ++r) {
      const Block* blk = rows[r] + b;
      if constexpr (kQ4) {
        const __m256i q = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[1].qs)),
                                           _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[0].qs)));
        wa[r] = _mm256_and_si256(q, mask);
        wb[r] = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
      } else {
        wa[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[0].q));
        wb[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[1].q));
      }
      dw[r] = _mm256_permutevar8x32_ps(
          _mm256_castps128_ps256(_mm_cvtph_ps(_mm_insert_epi16(_mm_cvtsi32_si128(blk[0].d), blk[1].d, 1))), spread);
    }
    for (int c = 0; c < RT; ++c) {
      const std::size_t row = t + static_cast<std::size_t>(c);
      __m256i xa, xb, offset = _mm256_setzero_si256();
      __m256 dx;
      if constexpr (kQ4) {
        const Q4Paired::Pair& e = pre.at[row * pre.pairs + b / 2];
        xa = e.lo, xb = e.hi, offset = e.offset, dx = e.dx;
      } else {
        const std::int8_t* xq = x.q + row * x.k + b * kQuantBlock;
        xa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq));
        xb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + kQuantBlock));
        dx = _mm256_permutevar8x32_ps(
            _mm256_castps128_ps256(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x.d + row * nb + b)))),
            spread);
      }
      for (int r = 0; r < RJ; ++r) {
        __m256i p32;
        if constexpr (kQ4) {
          const __m256i p16 = _mm256_add_epi16(_mm256_maddubs_epi16(wa[r], xa), _mm256_maddubs_epi16(wb[r], xb));
          p32 = _mm256_add_epi32(_mm256_madd_epi16(p16, ones), offset);
        } else {
          // |w| . (x with w's sign) = w . x, with the unsigned operand vpmaddubsw needs.
          const __m256i pa = dot_u8s8(_mm256_sign_epi8(wa[r], wa[r]), _mm256_sign_epi8(xa, wa[r]));
          const __m256i pb = dot_u8s8(_mm256_sign_epi8(wb[r], wb[r]), _mm256_sign_epi8(xb, wb[r]));
          p32 = _mm256_hadd_epi32(pa, pb);
        }
        acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p32), _mm256_mul_ps(dw[r], dx), acc[r][c]);
      }
    }
  }
  for (int c = 0; c < RT; ++c)
    for (int r = 0; r < RJ; ++r)
      out[(t + static_cast<std::size_t>(c)) * ldo + j + static_cast<std::size_t>(r)] = hsum(acc[r][c]);
}

#if HWY_TARGET == HWY_AVX2
constexpr int kTileJ = 2;  // 16 vector registers: 2 x 4 accumulators and their operands
#else
constexpr int kTileJ = 4;  // 32 vector registers with AVX-512VL
#endif
constexpr int kTileT = 4;

// Decode: one activation row. The weights are read row after row, so the whole matrix is one
// sequential stream the hardware prefetcher follows at full speed (reading several rows side
// by side, as the tiles do, measured 2.5-4x slower from DRAM); four blocks per step keep four
// independent accumulator chains.
template <bool kQ4>
HWY_INLINE void QuantBlock256(const std::byte* row, const QuantizedRows& x, std::size_t b, __m256& acc, float& corr) {
  const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + b * kQuantBlock));
  __m256i p;
  float dw;
  if constexpr (kQ4) {
    const auto* blk = reinterpret_cast<const BlockQ4_0*>(row) + b;
    dw = _cvtsh_ss(blk->d);
    p = dot_u8s8(q4_codes(blk), xq);
    corr += dw * x.sum[b];
  } else {
    const auto* blk = reinterpret_cast<const BlockQ8_0*>(row) + b;
    dw = _cvtsh_ss(blk->d);
    const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->q));
    p = dot_u8s8(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xq, wv));
  }
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * x.d[b]), acc);
}

// Decode of Q4_0, two blocks (A, B) per step: their 16-byte code arrays side by side in one
// register (A | B), so one shift and two masks give A's and B's low nibbles (values 0-15) in
// one register and high nibbles (16-31) in another; the activations come arranged to match
// (A's 0-15 | B's 0-15, and A's 16-31 | B's 16-31: Q4Paired, made once per call). The two
// products add in 16 bits (each at most 2 x 15 x 127) and one vpmaddwd leaves block A in
// lanes 0-3 and B in 4-7, scaled by one vector of the two blocks' scale products. About two
// thirds of the instructions of a block at a time, where decode is bound by them rather than
// by memory.
// `corr` gathers dw x (scaled sum of the activation codes) in its lanes 0 and 1, so the
// offset of the codes costs one multiply-add per pair (it was a chain of dependent scalar adds,
// which bound the whole loop: 8 -> 12 GB/s on one core).
HWY_INLINE __m256 Q4Pair(const BlockQ4_0* blk, const QuantizedRows& x, const Q4Paired::Pair& xp, std::size_t b,
                          __m128& corr) {
  const __m256i mask = _mm256_set1_epi8(15);
  const __m256i q = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[b + 1].qs)),
                                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[b].qs)));
  const __m256i p16 = _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_and_si256(q, mask), xp.lo),
                                       _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), mask), xp.hi));
  const __m128 dw = _mm_cvtph_ps(_mm_insert_epi16(_mm_cvtsi32_si128(blk[b].d), blk[b + 1].d, 1));
  const __m128 dx = _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x.d + b)));
  corr = _mm_fmadd_ps(dw, _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x.sum + b))), corr);
  return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1))),
                       _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_mul_ps(dw, dx)), _mm256_set_epi32(1, 1, 1, 1, 0, 0, 0, 0)));
}

HWY_INLINE float Q4RowDotPairs(const std::byte* row, const QuantizedRows& x, const Q4Paired& pre) {
  const std::size_t nb = x.k / kQuantBlock;
  const auto* blk = reinterpret_cast<const BlockQ4_0*>(row);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m128 corr0 = _mm_setzero_ps(), corr1 = _mm_setzero_ps();  // two chains, as the accumulators
  std::size_t b = 0;
  for (; b + 4 <= nb; b += 4) {
    _mm_prefetch(reinterpret_cast<const char*>(row + b * sizeof(BlockQ4_0) + 8192), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(row + b * sizeof(BlockQ4_0) + 8192 + 64), _MM_HINT_T0);
    acc0 = _mm256_add_ps(acc0, Q4Pair(blk, x, pre.at[b / 2], b, corr0));
    acc1 = _mm256_add_ps(acc1, Q4Pair(blk, x, pre.at[b / 2 + 1], b + 2, corr1));
  }
  for (; b + 2 <= nb; b += 2) acc0 = _mm256_add_ps(acc0, Q4Pair(blk, x, pre.at[b / 2], b, corr0));
  const __m128 corr = _mm_add_ps(corr0, corr1);
  float s = hsum(_mm256_add_ps(acc0, acc1)) - 8.0f * (_mm_cvtss_f32(corr) + _mm_cvtss_f32(_mm_shuffle_ps(corr, corr, 1)));
  for (; b < nb; ++b) {  // an odd last block
    const float dw = _cvtsh_ss(blk[b].d);
    int sum = 0;
    for (std::size_t i = 0; i < 16; ++i)
      sum += ((blk[b].qs[i] & 15) - 8) * x.q[b * kQuantBlock + i] + ((blk[b].qs[i] >> 4) - 8) * x.q[b * kQuantBlock + i + 16];
    s += dw * x.d[b] * static_cast<float>(sum);
  }
  return s;
}

// Decode of Q8_0, two blocks (A, B) per step: each block's eight 32-bit sums, then one
// vphaddd leaves A in lanes 0-1 and 4-5 and B in 2-3 and 6-7, so one conversion and one
// multiply-add by the two blocks' scale products serve both, where a block at a time spent a
// scalar product and a broadcast on each: 10 -> 14 GB/s on one core (docs/PERFORMANCE.md).
HWY_INLINE void Q8Pair(const BlockQ8_0* blk, const QuantizedRows& x, std::size_t b, __m256& acc) {
  const __m256i wa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[b].q));
  const __m256i wb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[b + 1].q));
  const __m256i xa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + b * kQuantBlock));
  const __m256i xb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + (b + 1) * kQuantBlock));
  // |w| . (x with w's sign) = w . x, with the unsigned operand vpmaddubsw needs.
  const __m256i pa = dot_u8s8(_mm256_sign_epi8(wa, wa), _mm256_sign_epi8(xa, wa));
  const __m256i pb = dot_u8s8(_mm256_sign_epi8(wb, wb), _mm256_sign_epi8(xb, wb));
  const __m128 dw = _mm_cvtph_ps(_mm_insert_epi16(_mm_cvtsi32_si128(blk[b].d), blk[b + 1].d, 1));
  const __m128 dx = _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x.d + b)));
  const __m256 scale = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_mul_ps(dw, dx)),
                                                _mm256_set_epi32(1, 1, 0, 0, 1, 1, 0, 0));
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_hadd_epi32(pa, pb)), scale, acc);
}

HWY_INLINE float Q8RowDotPairs(const std::byte* row, const QuantizedRows& x) {
  const std::size_t nb = x.k / kQuantBlock;
  const auto* blk = reinterpret_cast<const BlockQ8_0*>(row);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  std::size_t b = 0;
  for (; b + 4 <= nb; b += 4) {
    _mm_prefetch(reinterpret_cast<const char*>(row + b * sizeof(BlockQ8_0) + 8192), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(row + b * sizeof(BlockQ8_0) + 8192 + 64), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(row + b * sizeof(BlockQ8_0) + 8192 + 128), _MM_HINT_T0);
    Q8Pair(blk, x, b, acc0);
    Q8Pair(blk, x, b + 2, acc1);
  }
  for (; b + 2 <= nb; b += 2) Q8Pair(blk, x, b, acc0);
  float s = hsum(_mm256_add_ps(acc0, acc1));
  for (; b < nb; ++b) {  // an odd last block
    int sum = 0;
    for (std::size_t i = 0; i < kQuantBlock; ++i) sum += blk[b].q[i] * x.q[b * kQuantBlock + i];
    s += _cvtsh_ss(blk[b].d) * x.d[b] * static_cast<float>(sum);
  }
  return s;
}

template <bool kQ4>
HWY_INLINE float QuantRowDot(const std::byte* row, const QuantizedRows& x) {
  const std::size_t nb = x.k / kQuantBlock;
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  float corr = 0;
  std::size_t b = 0;
  constexpr std::size_t kBlockBytes = kQ4 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);
  for (; b + 4 <= nb; b += 4) {
    // As in QuantRowDot512: the weight stream asked for 8 KiB ahead.
    _mm_prefetch(reinterpret_cast<const char*>(row + b * kBlockBytes + 8192), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(row + b * kBlockBytes + 8192 + 64), _MM_HINT_T0);
    QuantBlock256<kQ4>(row, x, b, acc[0], corr);
    QuantBlock256<kQ4>(row, x, b + 1, acc[1], corr);
    QuantBlock256<kQ4>(row, x, b + 2, acc[2], corr);
    QuantBlock256<kQ4>(row, x, b + 3, acc[3], corr);
  }
  for (; b < nb; ++b) QuantBlock256<kQ4>(row, x, b, acc[0], corr);
  return hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]))) - (kQ4 ? 8.0f * corr : 0.0f);
}

#if HWY_TARGET == HWY_AVX3_DL
// AVX-512 VNNI: two blocks per 512-bit register, where vpdpbusd has 64 lanes of bytes. The
// weights are made unsigned (Q4_0's codes are; Q8_0's values get +128), and the offset comes
// off in the integer sums before they are scaled: vpdpbusd's accumulator starts at -offset x
// (sum of the block's activation codes) in the first of each block's eight lanes.

// Blocks b and b + 1 of a weight row as 64 unsigned codes in x's order.
template <bool kQ4>
HWY_INLINE __m512i WeightCodes512(const std::byte* row, std::size_t b) {
  if constexpr (kQ4) {
    // qs0 into 128-bit lanes 0 and 1, qs1 into lanes 2 and 3 (two broadcast loads), then the
    // high nibbles shifted down in lanes 1 and 3 only: lo0 hi0 lo1 hi1, x's order.
    const auto* blk = reinterpret_cast<const BlockQ4_0*>(row) + b;
    const __m512i q0 = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[0].qs)));
    const __m512i qq = _mm512_mask_broadcast_i32x4(q0, 0xFF00, _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[1].qs)));
    const __m512i shifted = _mm512_mask_srli_epi16(qq, 0xFF00FF00u, qq, 4);
    return _mm512_and_si512(shifted, _mm512_set1_epi8(15));
  } else {
    const auto* blk = reinterpret_cast<const BlockQ8_0*>(row) + b;
    const __m512i wv = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[0].q))),
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[1].q)), 1);
    return _mm512_xor_si512(wv, _mm512_set1_epi8(static_cast<char>(0x80)));
  }
}

// The fp16 scales of blocks b and b + 1, in the two low 16-bit lanes.
template <bool kQ4>
HWY_INLINE __m128i WeightScales2(const std::byte* row, std::size_t b) {
  using Block = std::conditional_t<kQ4, BlockQ4_0, BlockQ8_0>;
  const auto* blk = reinterpret_cast<const Block*>(row) + b;
  return _mm_insert_epi16(_mm_cvtsi32_si128(blk[0].d), blk[1].d, 1);
}

// Two values (lanes 0 and 1) spread over the 16 lanes of two blocks' sums.
HWY_INLINE __m512 SpreadPair(__m128 two) {
  return _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0), _mm512_castps128_ps512(two));
}

// The starting sums for activation row t at blocks b, b + 1: minus the weights' offset (8 for
// Q4_0, 128 for Q8_0) times each lane's sum of 4 activation codes.
template <bool kQ4>
HWY_INLINE __m512i OffsetPair512(const QuantizedRows& x, std::size_t t, std::size_t b) {
  // Lanes 0 and 8 (the first lane of each block's eight) get the two blocks' sums.
  const __m128i two = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x.neg_sum + t * (x.k / kQuantBlock) + b));
  const __m512i neg = _mm512_maskz_permutexvar_epi32(0x0101, _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0),
                                                     _mm512_castsi128_si512(two));
  return kQ4 ? _mm512_slli_epi32(neg, 3) : _mm512_slli_epi32(neg, 7);
}

// The scales of activation row t's blocks b and b + 1, in two lanes.
HWY_INLINE __m128 DxPair(const QuantizedRows& x, std::size_t t, std::size_t b) {
  return _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x.d + t * (x.k / kQuantBlock) + b)));
}

// Decode: one pair of blocks of a weight row into acc. The two scale products are formed in
// two lanes, then spread (cheaper than spreading each factor).
template <bool kQ4>
HWY_INLINE void QuantPair512(const std::byte* row, const QuantizedRows& x, std::size_t b, __m512& acc) {
  const __m512i p = _mm512_dpbusd_epi32(OffsetPair512<kQ4>(x, 0, b), WeightCodes512<kQ4>(row, b),
                                        _mm512_loadu_si512(x.q + b * kQuantBlock));
  const __m512 scale = SpreadPair(_mm_mul_ps(_mm_cvtph_ps(WeightScales2<kQ4>(row, b)), DxPair(x, 0, b)));
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), scale, acc);
}

// Prompt processing. Four weight rows are unpacked once into `codes` and `dw` (pairs of
// blocks, row after row), then multiplied with every activation row, RT at a time: each
// activation pair is loaded once for the four weight rows, and the unpacking (the costliest
// part for Q4_0) is not repeated for every group of activation rows.
template <bool kQ4, int RT>
HWY_INLINE void QuantTile512(const std::int8_t* codes, const float* dw, std::size_t pairs, std::size_t j,
                             const QuantizedRows& x, std::size_t t, float* out, std::size_t ldo) {
  constexpr int RJ = 4;
  __m512 acc[RJ][RT];
  for (int r = 0; r < RJ; ++r)
    for (int c = 0; c < RT; ++c) acc[r][c] = _mm512_setzero_ps();
  for (std::size_t i = 0; i < pairs; ++i) {
    const std::size_t b = 2 * i;
    for (int c = 0; c < RT; ++c) {
      const std::size_t row = t + static_cast<std::size_t>(c);
      const __m512i init = OffsetPair512<kQ4>(x, row, b);
      const __m512i xq = _mm512_loadu_si512(x.q + row * x.k + b * kQuantBlock);
      const __m512 dx = SpreadPair(DxPair(x, row, b));
      for (int r = 0; r < RJ; ++r) {
        const std::size_t at = (static_cast<std::size_t>(r) * pairs + i) * 64;
        const __m512i p = _mm512_dpbusd_epi32(init, _mm512_loadu_si512(codes + at), xq);
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(_mm512_loadu_ps(dw + at / 4), dx), acc[r][c]);
      }
    }
  }
  for (int c = 0; c < RT; ++c)
    for (int r = 0; r < RJ; ++r)
      out[(t + static_cast<std::size_t>(c)) * ldo + j + static_cast<std::size_t>(r)] = _mm512_reduce_add_ps(acc[r][c]);
}

template <bool kQ4>
void QuantGemm512(const std::byte* w, std::size_t row_bytes, std::size_t& j, std::size_t j_end, const QuantizedRows& x,
                  std::size_t rows, float* out, std::size_t ldo) {
  const std::size_t pairs = x.k / kQuantBlock / 2;
  // Plain element vectors (a vector of __m512i would lose the type's 64-byte alignment).
  thread_local std::vector<std::int8_t> codes;
  thread_local std::vector<float> dw;
  codes.resize(4 * pairs * 64);
  dw.resize(4 * pairs * 16);
  for (; j + 4 <= j_end; j += 4) {
    for (std::size_t r = 0; r < 4; ++r)
      for (std::size_t i = 0; i < pairs; ++i) {
        const std::byte* wrow = w + (j + r) * row_bytes;
        _mm512_storeu_si512(codes.data() + (r * pairs + i) * 64, WeightCodes512<kQ4>(wrow, 2 * i));
        _mm512_storeu_ps(dw.data() + (r * pairs + i) * 16, SpreadPair(_mm_cvtph_ps(WeightScales2<kQ4>(wrow, 2 * i))));
      }
    std::size_t t = 0;
    for (; t + 4 <= rows; t += 4) QuantTile512<kQ4, 4>(codes.data(), dw.data(), pairs, j, x, t, out, ldo);
    for (; t < rows; ++t) QuantTile512<kQ4, 1>(codes.data(), dw.data(), pairs, j, x, t, out, ldo);
  }
}

template <bool kQ4>
HWY_INLINE float QuantRowDot512(const std::byte* row, const QuantizedRows& x) {
  const std::size_t nb = x.k / kQuantBlock;
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  std::size_t b = 0;
  // The weights stream row after row; asking for them 8 KiB ahead (two cache lines per four
  // blocks, at least the 72-136 bytes those take) keeps enough loads in flight for one
  // thread to read as fast as a bare SIMD read (measured: Q8_0 32 -> 39 GB/s). Past the end
  // of the matrix a prefetch is only a hint, never a fault.
  constexpr std::size_t kBlockBytes = kQ4 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);
  constexpr std::size_t kAhead = 8192;
  for (; b + 4 <= nb; b += 4) {
    _mm_prefetch(reinterpret_cast<const char*>(row + b * kBlockBytes + kAhead), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(row + b * kBlockBytes + kAhead + 64), _MM_HINT_T0);
    QuantPair512<kQ4>(row, x, b, acc0);
    QuantPair512<kQ4>(row, x, b + 2, acc1);
  }
  for (; b + 2 <= nb; b += 2) QuantPair512<kQ4>(row, x, b, acc0);
  float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  if (b < nb) {  // an odd last block
    QuantizedRows tail = x;
    tail.q += b * kQuantBlock;
    tail.d += b;
    tail.sum += b;
    tail.k = kQuantBlock;
    s += QuantRowDot<kQ4>(row + b * (kQ4 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0)), tail);
  }
  return s;
}
#endif

template <bool kQ4>
void QuantLoop(const std::byte* w, std::size_t row_bytes, std::size_t j_begin, std::size_t j_end,
               const QuantizedRows& x, std::size_t rows, float* out, std::size_t ldo) {
  if (rows == 0) return;
  std::size_t j = j_begin;
  if (rows == 1) {
#if HWY_TARGET == HWY_AVX3_DL
    for (; j < j_end; ++j) out[j] = QuantRowDot512<kQ4>(w + j * row_bytes, x);
#else
    if constexpr (kQ4) {
      thread_local Q4Paired pre;
      pre.make(x, 1);
      for (; j < j_end; ++j) out[j] = Q4RowDotPairs(w + j * row_bytes, x, pre);
    } else
      for (; j < j_end; ++j) out[j] = Q8RowDotPairs(w + j * row_bytes, x);
#endif
  } else {
#if HWY_TARGET == HWY_AVX3_DL
    if ((x.k / kQuantBlock) % 2 == 0) QuantGemm512<kQ4>(w, row_bytes, j, j_end, x, rows, out, ldo);  // whole pairs
#endif
#if HWY_TARGET != HWY_AVX3_DL
    if ((x.k / kQuantBlock) % 2 == 0 && j + kTileJ <= j_end) {  // whole pairs of blocks
      thread_local Q4Paired pre;
      if constexpr (kQ4) pre.make(x, rows);
      for (; j + kTileJ <= j_end; j += kTileJ) {
        std::size_t t = 0;
        for (; t + kTileT <= rows; t += kTileT) TilePairs<kQ4, kTileJ, kTileT>(w, row_bytes, j, x, pre, t, out, ldo);
        for (; t < rows; ++t) TilePairs<kQ4, kTileJ, 1>(w, row_bytes, j, x, pre, t, out, ldo);
      }
    }
#endif
    for (; j + kTileJ <= j_end; j += kTileJ) {
      std::size_t t = 0;
      for (; t + kTileT <= rows; t += kTileT) QuantTile<kQ4, kTileJ, kTileT>(w, row_bytes, j, x, t, out, ldo);
      for (; t < rows; ++t) QuantTile<kQ4, kTileJ, 1>(w, row_bytes, j, x, t, out, ldo);
    }
  }
  for (; j < j_end; ++j)
    for (std::size_t t = 0; t < rows; ++t) QuantTile<kQ4, 1, 1>(w, row_bytes, j, x, t, out, ldo);
}

#else  // portable: integer dot products in plain C++ (the compiler vectorizes what it can)

template <bool kQ4>
void QuantLoop(const std::byte* w, std::size_t row_bytes, std::size_t j_begin, std::size_t j_end,
               const QuantizedRows& x, std::size_t rows, float* out, std::size_t ldo) {
  const std::size_t nb = x.k / kQuantBlock;
  for (std::size_t j = j_begin; j < j_end; ++j)
    for (std::size_t t = 0; t < rows; ++t) {
      float acc = 0;
      for (std::size_t b = 0; b < nb; ++b) {
        const std::int8_t* xq = x.q + t * x.k + b * kQuantBlock;
        int s = 0;
        float dw;
        if constexpr (kQ4) {
          BlockQ4_0 blk;
          std::memcpy(&blk, w + j * row_bytes + b * sizeof blk, sizeof blk);
          dw = f16_to_f32(blk.d);
          for (std::size_t i = 0; i < 16; ++i)
            s += ((blk.qs[i] & 15) - 8) * xq[i] + ((blk.qs[i] >> 4) - 8) * xq[i + 16];
        } else {
          BlockQ8_0 blk;
          std::memcpy(&blk, w + j * row_bytes + b * sizeof blk, sizeof blk);
          dw = f16_to_f32(blk.d);
          for (std::size_t i = 0; i < kQuantBlock; ++i) s += blk.q[i] * xq[i];
        }
        acc += dw * x.d[t * nb + b] * static_cast<float>(s);
      }
      out[t * ldo + j] = acc;
    }
}

#endif

void MatmulQuantized(DType weights, const std::byte* w, std::size_t row_bytes, std::size_t j_begin,
                     std::size_t j_end, const QuantizedRows& x, std::size_t rows, float* out, std::size_t ldo) {
  if (weights == DType::q4_0) QuantLoop<true>(w, row_bytes, j_begin, j_end, x, rows, out, ldo);
  else QuantLoop<false>(w, row_bytes, j_begin, j_end, x, rows, out, ldo);
}

#if HWY_TARGET == HWY_AVX3_DL
#pragma GCC pop_options
#endif

// ---- float weights (f32, f16, bf16) x f32 activations ---------------------------------------

template <class WT>
HWY_INLINE auto LoadWidened(const WT* p) {
  const hn::ScalableTag<float> df;
  if constexpr (std::is_same_v<WT, float>) {
    return hn::LoadU(df, p);
  } else {
    const hn::Rebind<WT, decltype(df)> dh;
    return hn::PromoteTo(df, hn::LoadU(dh, p));
  }
}

template <class WT>
constexpr DType dtype_of() {
  return std::is_same_v<WT, float> ? DType::f32 : std::is_same_v<WT, hwy::float16_t> ? DType::f16 : DType::bf16;
}

template <class WT>
float DotT(const float* a, const WT* b, std::size_t n);

template <class WT>
void FloatLoop(const WT* w, std::size_t k, std::size_t j_begin, std::size_t j_end, const float* x,
               std::size_t rows, float* out, std::size_t ldo) {
  const hn::ScalableTag<float> df;
  const std::size_t n = hn::Lanes(df);
  if (rows == 1) {
    // Decode: row after row, one sequential stream (see QuantRowDot).
    for (std::size_t j = j_begin; j < j_end; ++j) out[j] = DotT(x, w + j * k, k);
    return;
  }
  for (std::size_t t = 0; t < rows; ++t) {
    const float* xt = x + t * k;
    std::size_t j = j_begin;
    // Four weight rows per pass: four independent accumulator chains, one load of x each step.
    for (; j + 4 <= j_end; j += 4) {
      auto a0 = hn::Zero(df), a1 = hn::Zero(df), a2 = hn::Zero(df), a3 = hn::Zero(df);
      std::size_t i = 0;
      for (; i + n <= k; i += n) {
        const auto xv = hn::LoadU(df, xt + i);
        a0 = hn::MulAdd(LoadWidened(w + j * k + i), xv, a0);
        a1 = hn::MulAdd(LoadWidened(w + (j + 1) * k + i), xv, a1);
        a2 = hn::MulAdd(LoadWidened(w + (j + 2) * k + i), xv, a2);
        a3 = hn::MulAdd(LoadWidened(w + (j + 3) * k + i), xv, a3);
      }
      float s[4] = {hn::GetLane(hn::SumOfLanes(df, a0)), hn::GetLane(hn::SumOfLanes(df, a1)),
                    hn::GetLane(hn::SumOfLanes(df, a2)), hn::GetLane(hn::SumOfLanes(df, a3))};
      for (; i < k; ++i)
        for (int r = 0; r < 4; ++r) {
          float wv;
          decode_row(std::is_same_v<WT, float> ? DType::f32
                     : std::is_same_v<WT, hwy::float16_t> ? DType::f16 : DType::bf16,
                     reinterpret_cast<const std::byte*>(w + (j + static_cast<std::size_t>(r)) * k + i), &wv, 1);
          s[r] += wv * xt[i];
        }
      for (int r = 0; r < 4; ++r) out[t * ldo + j + static_cast<std::size_t>(r)] = s[r];
    }
    for (; j < j_end; ++j) {
      auto a = hn::Zero(df);
      std::size_t i = 0;
      for (; i + n <= k; i += n) a = hn::MulAdd(LoadWidened(w + j * k + i), hn::LoadU(df, xt + i), a);
      float s = hn::GetLane(hn::SumOfLanes(df, a));
      for (; i < k; ++i) {
        float wv;
        decode_row(std::is_same_v<WT, float> ? DType::f32
                   : std::is_same_v<WT, hwy::float16_t> ? DType::f16 : DType::bf16,
                   reinterpret_cast<const std::byte*>(w + j * k + i), &wv, 1);
        s += wv * xt[i];
      }
      out[t * ldo + j] = s;
    }
  }
}

void MatmulFloat(DType weights, const std::byte* w, std::size_t k, std::size_t j_begin, std::size_t j_end,
                 const float* x, std::size_t rows, float* out, std::size_t ldo) {
  switch (weights) {
    case DType::f16:
      return FloatLoop(reinterpret_cast<const hwy::float16_t*>(w), k, j_begin, j_end, x, rows, out, ldo);
    case DType::bf16:
      return FloatLoop(reinterpret_cast<const hwy::bfloat16_t*>(w), k, j_begin, j_end, x, rows, out, ldo);
    default: return FloatLoop(reinterpret_cast<const float*>(w), k, j_begin, j_end, x, rows, out, ldo);
  }
}

// ---- vector helpers of attention ------------------------------------------------------------

template <class WT>
float DotT(const float* a, const WT* b, std::size_t n) {
  const hn::ScalableTag<float> df;
  const std::size_t lanes = hn::Lanes(df);
  auto acc0 = hn::Zero(df), acc1 = hn::Zero(df);
  std::size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    acc0 = hn::MulAdd(hn::LoadU(df, a + i), LoadWidened(b + i), acc0);
    acc1 = hn::MulAdd(hn::LoadU(df, a + i + lanes), LoadWidened(b + i + lanes), acc1);
  }
  for (; i + lanes <= n; i += lanes) acc0 = hn::MulAdd(hn::LoadU(df, a + i), LoadWidened(b + i), acc0);
  float s = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0, acc1)));
  for (; i < n; ++i) {
    float bv;
    decode_row(dtype_of<WT>(), reinterpret_cast<const std::byte*>(b + i), &bv, 1);
    s += a[i] * bv;
  }
  return s;
}


void SiluMul(const float* g, const float* u, float* out, std::size_t n) {
  const hn::ScalableTag<float> df;
  const std::size_t lanes = hn::Lanes(df);
  const auto one = hn::Set(df, 1.0f);
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto gv = hn::LoadU(df, g + i);
    // Highway's Exp is valid up to +104 (and wraps beyond ~177): e^88 already makes the
    // sigmoid 0 to f32 precision, so larger arguments are clamped there.
    const auto sig = hn::Div(one, hn::Add(one, hn::Exp(df, hn::Min(hn::Neg(gv), hn::Set(df, 88.0f)))));
    hn::StoreU(hn::Mul(hn::Mul(gv, sig), hn::LoadU(df, u + i)), df, out + i);
  }
  for (; i < n; ++i) out[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

float ExpShifted(float* x, std::size_t n, float shift) {
  const hn::ScalableTag<float> df;
  const std::size_t lanes = hn::Lanes(df);
  const auto vs = hn::Set(df, shift);
  auto total = hn::Zero(df);
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto e = hn::Exp(df, hn::Sub(hn::LoadU(df, x + i), vs));
    hn::StoreU(e, df, x + i);
    total = hn::Add(total, e);
  }
  float sum = hn::GetLane(hn::SumOfLanes(df, total));
  for (; i < n; ++i) sum += (x[i] = std::exp(x[i] - shift));
  return sum;
}

// One query head against `span` cached positions: scores, softmax, weighted sum of values,
// in one call (a call per position, as dot + axpy, cost more than the arithmetic at depth).
// Two positions per step keep two accumulator chains in flight.
template <class KT>
void AttendT(const float* q, const KT* k, const KT* v, std::size_t first, std::size_t span, std::size_t ring,
             std::size_t stride, std::size_t hd, float scale, float* scores, float* out) {
  // Position j's row: slot first + j, wrapping at `ring` slots.
  auto slot = [&](std::size_t j) { return (first + j < ring ? first + j : first + j - ring) * stride; };
  const hn::ScalableTag<float> df;
  const std::size_t lanes = hn::Lanes(df);
  const std::size_t whole = hd / lanes * lanes;
  auto tail_dot = [&](const KT* row) {
    float s = 0;
    for (std::size_t i = whole; i < hd; ++i) {
      float kv;
      decode_row(dtype_of<KT>(), reinterpret_cast<const std::byte*>(row + i), &kv, 1);
      s += q[i] * kv;
    }
    return s;
  };
  float top = -std::numeric_limits<float>::infinity();
  std::size_t j = 0;
  for (; j + 2 <= span; j += 2) {
    const KT* k0 = k + slot(j);
    const KT* k1 = k + slot(j + 1);
    auto a0 = hn::Zero(df), a1 = hn::Zero(df);
    for (std::size_t i = 0; i < whole; i += lanes) {
      const auto qv = hn::LoadU(df, q + i);
      a0 = hn::MulAdd(qv, LoadWidened(k0 + i), a0);
      a1 = hn::MulAdd(qv, LoadWidened(k1 + i), a1);
    }
    scores[j] = scale * (hn::GetLane(hn::SumOfLanes(df, a0)) + tail_dot(k0));
    scores[j + 1] = scale * (hn::GetLane(hn::SumOfLanes(df, a1)) + tail_dot(k1));
    top = std::max(top, std::max(scores[j], scores[j + 1]));
  }
  for (; j < span; ++j) {
    const KT* k0 = k + slot(j);
    auto a0 = hn::Zero(df);
    for (std::size_t i = 0; i < whole; i += lanes) a0 = hn::MulAdd(hn::LoadU(df, q + i), LoadWidened(k0 + i), a0);
    scores[j] = scale * (hn::GetLane(hn::SumOfLanes(df, a0)) + tail_dot(k0));
    top = std::max(top, scores[j]);
  }
  const float inv = 1.0f / ExpShifted(scores, span, top);
  std::fill_n(out, hd, 0.0f);
  for (j = 0; j < span; ++j) {
    const auto w = hn::Set(df, scores[j] * inv);
    const KT* row = v + slot(j);
    for (std::size_t i = 0; i < whole; i += lanes)
      hn::StoreU(hn::MulAdd(w, LoadWidened(row + i), hn::LoadU(df, out + i)), df, out + i);
    for (std::size_t i = whole; i < hd; ++i) {
      float vv;
      decode_row(dtype_of<KT>(), reinterpret_cast<const std::byte*>(row + i), &vv, 1);
      out[i] += scores[j] * inv * vv;
    }
  }
}

void Attend(const float* q, const void* k, const void* v, bool f16, std::size_t first, std::size_t span,
            std::size_t ring, std::size_t stride, std::size_t hd, float scale, float* scores, float* out) {
  if (f16)
    AttendT(q, static_cast<const hwy::float16_t*>(k), static_cast<const hwy::float16_t*>(v), first, span, ring, stride,
            hd, scale, scores, out);
  else
    AttendT(q, static_cast<const float*>(k), static_cast<const float*>(v), first, span, ring, stride, hd, scale, scores,
            out);
}

}  // namespace xpb::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace xpb::cpu {
HWY_EXPORT(QuantizeRowsQ8);
HWY_EXPORT(MatmulQuantized);
HWY_EXPORT(MatmulFloat);
HWY_EXPORT(Attend);
HWY_EXPORT(SiluMul);
HWY_EXPORT(ExpShifted);

void quantize_rows(ActivationBlocks form, const float* x, std::size_t row_begin, std::size_t row_end,
                   const QuantizedRows& out) {
  if (form == ActivationBlocks::q8_K) return quantize_rows_q8_K(x, row_begin, row_end, out);
  HWY_DYNAMIC_DISPATCH(QuantizeRowsQ8)(x, row_begin, row_end, out, form == ActivationBlocks::q8_1);
}
ActivationBlocks activation_blocks(DType weights) {
  switch (weights) {
    case DType::q2_K:
    case DType::q3_K:
    case DType::q4_K:
    case DType::q5_K:
    case DType::q6_K:
    case DType::iq4_xs: return ActivationBlocks::q8_K;
    case DType::q4_1:
    case DType::q5_1: return ActivationBlocks::q8_1;
    default: return ActivationBlocks::q8_0;
  }
}
void matmul_quantized(DType weights, const std::byte* w, std::size_t row_bytes, std::size_t j_begin,
                      std::size_t j_end, const QuantizedRows& x, std::size_t rows, float* out, std::size_t ldo) {
  HWY_DYNAMIC_DISPATCH(MatmulQuantized)(weights, w, row_bytes, j_begin, j_end, x, rows, out, ldo);
}
void matmul_float(DType weights, const std::byte* w, std::size_t k, std::size_t j_begin, std::size_t j_end,
                  const float* x, std::size_t rows, float* out, std::size_t ldo) {
  HWY_DYNAMIC_DISPATCH(MatmulFloat)(weights, w, k, j_begin, j_end, x, rows, out, ldo);
}
void attend(const float* q, const void* k, const void* v, bool f16, std::size_t first, std::size_t span,
            std::size_t ring, std::size_t stride, std::size_t hd, float scale, float* scores, float* out) {
  HWY_DYNAMIC_DISPATCH(Attend)(q, k, v, f16, first, span, ring, stride, hd, scale, scores, out);
}
void silu_mul(const float* g, const float* u, float* out, std::size_t n) {
  HWY_DYNAMIC_DISPATCH(SiluMul)(g, u, out, n);
}
float exp_shifted(float* x, std::size_t n, float shift) { return HWY_DYNAMIC_DISPATCH(ExpShifted)(x, n, shift); }
}  // namespace xpb::cpu
#endif
