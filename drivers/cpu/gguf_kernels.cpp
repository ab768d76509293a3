// Matrix products with the GGUF block formats beyond Q8_0 and Q4_0 (llm_kernels.cpp has
// those two): Q4_1, Q5_0, Q5_1, IQ4_NL (blocks of 32) and Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS
// (super-blocks of 256). Two paths:
//  - blocks of 32 (and, on targets without AVX2, the super-blocks too): each weight block is
//    unpacked into int8 codes and f32 scales and offsets per 16 values (the form of
//    xpubench/gguf_blocks.hpp), which stay in L1, and multiplied with the activations' codes:
//    sum_i w_i x_i = sum_g dx * (scale_g * sum_{i in g} code_i q_i - offset_g * sum_{i in g} q_i);
//  - super-blocks on x86 with AVX2 (SuperLoop): unpacked in registers and summed in integers
//    per super-block, as the section below explains.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <vector>

#include "llm_kernels.hpp"
#include "xpubench/gguf_blocks.hpp"
#include "xpubench/quant.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "gguf_kernels.cpp"
#include <hwy/foreach_target.h>  // re-includes this file once per target
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace xpb::cpu::HWY_NAMESPACE {

// Whether T's blocks are super-blocks of 256 (else blocks of 32), and their bytes.
constexpr bool IsSuper(DType t) {
  return t == DType::q2_K || t == DType::q3_K || t == DType::q4_K || t == DType::q5_K || t == DType::q6_K ||
         t == DType::iq4_xs;
}
template <DType T>
constexpr std::size_t kSmallBlockBytes = T == DType::q4_1   ? sizeof(BlockQ4_1)
                                         : T == DType::q5_0 ? sizeof(BlockQ5_0)
                                         : T == DType::q5_1 ? sizeof(BlockQ5_1)
                                                            : sizeof(BlockIQ4_NL);
template <DType T>
constexpr std::size_t kSuperBlockBytes = T == DType::q2_K   ? sizeof(BlockQ2_K)
                                         : T == DType::q3_K ? sizeof(BlockQ3_K)
                                         : T == DType::q4_K ? sizeof(BlockQ4_K)
                                         : T == DType::q5_K ? sizeof(BlockQ5_K)
                                         : T == DType::q6_K ? sizeof(BlockQ6_K)
                                                            : sizeof(BlockIQ4_XS);

// Up to 256 values of one weight row unpacked: codes, and per 16 values a scale and an offset.
struct Chunk {
  alignas(32) std::int8_t code[kSuperBlock];
  alignas(32) float scale[kSuperBlock / 16];
  alignas(32) float offset[kSuperBlock / 16];
};

// How a chunk's offsets (its weights' -min per 16 or 32 values) meet the activations: not at
// all; through each 16 codes' integer sum times the block's scale (Q8_K, as llama.cpp's bsums);
// or, for Q4_1 and Q5_1, through each block's sum as Q8_1 keeps it (`sum`, in fp16), as
// llama.cpp's vec_dot_q4_1_q8_1 does.
enum class Offsets { none, per_16_codes, per_block_sum };

// The sum over the chunk of offset x activation, which the caller subtracts.
inline float OffsetTerm(const Chunk& c, std::size_t blocks32, const QuantizedRows& x, std::size_t row, std::size_t at,
                        Offsets offsets) {
  float corr = 0;
  if (offsets == Offsets::per_block_sum) {
    const float* s = x.sum + (row * x.k + at) / kQuantBlock;
    for (std::size_t b = 0; b < blocks32; ++b) corr += c.offset[2 * b] * s[b];
  } else if (offsets == Offsets::per_16_codes) {
    const float* dx = x.d + (row * x.k + at) / kQuantBlock;
    const std::int16_t* sum16 = x.sum16 + (row * x.k + at) / 16;
    for (std::size_t g = 0; g < 2 * blocks32; ++g) corr += c.offset[g] * dx[g / 2] * static_cast<float>(sum16[g]);
  }
  return corr;
}

// A super-block unpacked by the portable code of xpubench/gguf_blocks.hpp: the K-quants on
// targets without the fused kernels below (x86 targets with AVX2 use SuperLoop instead).
template <DType T>
void UnpackSuper(const std::byte* p, Chunk& c) {
  UnpackedBlock u;
  unpack_block(T, p, u);
  std::memcpy(c.code, u.code, sizeof c.code);
  std::memcpy(c.scale, u.scale, sizeof c.scale);
  std::memcpy(c.offset, u.offset, sizeof c.offset);
}

#if HWY_TARGET == HWY_AVX3_DL
// As in llm_kernels.cpp: the EVEX form of vpdpbusd, for everything down to MatmulGguf (an
// always-inline callee must have its caller's target options).
#pragma GCC push_options
#pragma GCC target("avx512vnni,no-avxvnni")
#endif

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL

HWY_INLINE __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
HWY_INLINE void store32(void* p, __m256i v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }
HWY_INLINE __m256i low_nibbles(__m256i v) { return _mm256_and_si256(v, _mm256_set1_epi8(15)); }
HWY_INLINE __m256i high_nibbles(__m256i v) { return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(15)); }
// Bits at `shift` and `shift + 1` of every byte, as 0..3.
HWY_INLINE __m256i two_bits(__m256i v, int shift) {
  return _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(shift)), _mm256_set1_epi8(3));
}
// Bit `shift` of every byte, as 0 or 1.
HWY_INLINE __m256i one_bit(__m256i v, int shift) {
  return _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(shift)), _mm256_set1_epi8(1));
}

// The 32 codes of a 32-value block's qs[16] in value order (low nibbles, then high nibbles).
HWY_INLINE __m256i nibble_codes(const std::uint8_t* qs) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(15);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), mask), _mm_and_si128(raw, mask));
}
// Bit i of the little-endian 32-bit qh as 16 in byte i, else 0 (Q5's fifth bits).
HWY_INLINE __m256i fifth_bits(const std::uint8_t* qh) {
  std::uint32_t h;
  std::memcpy(&h, qh, 4);
  const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(h)),
                                            _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                                              0x0101010101010101, 0x0000000000000000));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit), _mm256_set1_epi8(16));
}
// IQ4 levels of 32 nibble indices.
HWY_INLINE __m256i iq4_levels(__m256i idx) {
  const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4Values));
  return _mm256_shuffle_epi8(_mm256_set_m128i(t, t), idx);
}

// Blocks of 32: `count` (up to 8) blocks from block `first` of the row.
template <DType T>
HWY_INLINE void UnpackSmall(const std::byte* row, std::size_t first, std::size_t count, Chunk& c) {
  for (std::size_t b = 0; b < count; ++b) {
    const std::byte* p = row + (first + b) * kSmallBlockBytes<T>;
    __m256i codes;
    float d, off = 0.0f;
    if constexpr (T == DType::q4_1) {
      BlockQ4_1 blk;
      std::memcpy(&blk, p, sizeof blk);
      codes = nibble_codes(blk.qs);
      d = _cvtsh_ss(blk.d);
      off = -_cvtsh_ss(blk.m);
    } else if constexpr (T == DType::q5_0) {
      BlockQ5_0 blk;
      std::memcpy(&blk, p, sizeof blk);
      codes = _mm256_sub_epi8(_mm256_or_si256(nibble_codes(blk.qs), fifth_bits(blk.qh)), _mm256_set1_epi8(16));
      d = _cvtsh_ss(blk.d);
    } else if constexpr (T == DType::q5_1) {
      BlockQ5_1 blk;
      std::memcpy(&blk, p, sizeof blk);
      codes = _mm256_or_si256(nibble_codes(blk.qs), fifth_bits(blk.qh));
      d = _cvtsh_ss(blk.d);
      off = -_cvtsh_ss(blk.m);
    } else {  // iq4_nl
      BlockIQ4_NL blk;
      std::memcpy(&blk, p, sizeof blk);
      codes = iq4_levels(nibble_codes(blk.qs));
      d = _cvtsh_ss(blk.d);
    }
    store32(c.code + 32 * b, codes);
    c.scale[2 * b] = c.scale[2 * b + 1] = d;
    c.offset[2 * b] = c.offset[2 * b + 1] = off;
  }
}

// Sums of a[i] * b[i] over groups of 4 bytes, in 8 int32 lanes; a and b signed, |a| <= 128,
// |b| <= 127 (the sign moves onto b so vpmaddubsw's unsigned operand is |a|).
HWY_INLINE __m256i dot_s8(__m256i a, __m256i b) {
  const __m256i ua = _mm256_sign_epi8(a, a), sb = _mm256_sign_epi8(b, a);
#if HWY_TARGET == HWY_AVX3_DL
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), ua, sb);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(ua, sb), _mm256_set1_epi16(1));
#endif
}

HWY_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The dot product of `blocks32` unpacked blocks of 32 with activation row x from value `at`.
HWY_INLINE float DotChunk(const Chunk& c, std::size_t blocks32, const QuantizedRows& x, std::size_t row, std::size_t at,
                          Offsets offsets) {
  const std::int8_t* xq = x.q + row * x.k + at;
  const float* dx = x.d + (row * x.k + at) / kQuantBlock;
  alignas(32) float sd[kSuperBlock / 16];
  for (std::size_t g = 0; g < 2 * blocks32; ++g) sd[g] = c.scale[g] * dx[g / 2];
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  const __m256i spread = _mm256_set_epi32(1, 1, 1, 1, 0, 0, 0, 0);
  std::size_t b = 0;
  for (; b + 2 <= blocks32; b += 2) {
    const __m256i p0 = dot_s8(load32(c.code + 32 * b), load32(xq + 32 * b));
    const __m256i p1 = dot_s8(load32(c.code + 32 * b + 32), load32(xq + 32 * b + 32));
    const __m256 s0 = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(sd + 2 * b)))), spread);
    const __m256 s1 = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(sd + 2 * b + 2)))), spread);
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), s0, acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1), s1, acc1);
  }
  if (b < blocks32) {
    const __m256i p0 = dot_s8(load32(c.code + 32 * b), load32(xq + 32 * b));
    const __m256 s0 = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(sd + 2 * b)))), spread);
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), s0, acc0);
  }
  return hsum(_mm256_add_ps(acc0, acc1)) - OffsetTerm(c, blocks32, x, row, at, offsets);
}

// ---- super-blocks fused: unpacking in registers, integer sums, one float step per block ----
//
// For the K-quants and IQ4_XS (always with Q8_K activations) a super-block's products are
// summed in integers, as llama.cpp does: per 32 values, vpmaddubsw of the weight codes (made
// unsigned: Q6_K's and Q3_K's offsets come off afterwards) with the activation codes, then
// vpmaddwd with each 16 values' integer sub-scale; the super-block's sum is scaled once by
// d_w * d_x. The sub-minimums (Q2_K, Q4_K, Q5_K) and the code offsets (Q3_K: 4, Q6_K: 32)
// multiply the activations' sums per 16 values. One weight row is decoded once for up to
// four activation rows.

// The decoded head of one super-block: d and dmin (f32), the 16 sub-scales as int16 (the low
// eight in both halves of `lo`, the high eight in both halves of `hi`), and per 16 values the
// integer factor of the activations' sums: scaled by d (`by_d`) or by dmin.
struct SuperHead {
  float d, dmin;
  __m256i lo, hi;
  __m256i k;  // int16 factors of sum16[0..15]
  bool by_d;
};

// sc16: the 16 sub-scales as int16 lanes s0..s15; k16: the factors of the activations' sums,
// int16 per 16 values (at most 32 x 128). Built in registers: scalar stores read back as
// vectors would stall on store forwarding.
HWY_INLINE SuperHead make_head(__m256i sc16, __m256i k16, float d, float dmin, bool by_d) {
  return {d, dmin, _mm256_permute2x128_si256(sc16, sc16, 0x00), _mm256_permute2x128_si256(sc16, sc16, 0x11), k16, by_d};
}
// Eight 8-bit values (one per 32 values) as the 16 per-16 lanes: each twice.
HWY_INLINE __m256i twice_epi8_epi16(__m128i eight) { return _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(eight, eight)); }

template <DType T>
HWY_INLINE SuperHead DecodeHead(const std::byte* p) {
  if constexpr (T == DType::q4_K || T == DType::q5_K) {
    // d, dmin and the 12 packed bytes q[0..11] of 6-bit scales and mins, in one load (bytes
    // 4-15), unpacked by two shuffles (xpubench/gguf_blocks.hpp has the layout):
    //   scale j < 4: q[j] & 63            scale j >= 4: (q[j+4] & 15) | (q[j-4] >> 6) << 4
    //   min   j < 4: q[j+4] & 63          min   j >= 4: (q[j+4] >> 4) | (q[j] >> 6) << 4
    // into one register [scale 0..7, min 0..7]. Scalar unpacking took a third of the
    // instructions of a super-block, and decode is bound by them.
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i low = _mm_shuffle_epi8(v, _mm_setr_epi8(4, 5, 6, 7, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15));
    const __m128i lows = _mm_or_si128(
        _mm_and_si128(low, _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0)),
        _mm_and_si128(_mm_srli_epi16(low, 4), _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15)));
    const __m128i high = _mm_shuffle_epi8(v, _mm_setr_epi8(-1, -1, -1, -1, 4, 5, 6, 7, -1, -1, -1, -1, 8, 9, 10, 11));
    // (b >> 6) << 4 is (b & 0xc0) >> 2: bits 6-7 moved to 4-5 (the neighbour's bits that the
    // 16-bit shift brings in are masked off).
    const __m128i both = _mm_or_si128(lows, _mm_and_si128(_mm_srli_epi16(high, 2), _mm_set1_epi8(0x30)));
    const __m128 dm = _mm_cvtph_ps(v);  // lane 0 d, lane 1 dmin
    return make_head(_mm256_cvtepu8_epi16(_mm_unpacklo_epi8(both, both)), _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(both, both)),
                     _mm_cvtss_f32(dm), _mm_cvtss_f32(_mm_movehdup_ps(dm)), false);
  } else if constexpr (T == DType::q6_K) {
    std::uint16_t d16;
    std::memcpy(&d16, p + offsetof(BlockQ6_K, d), 2);
    const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + offsetof(BlockQ6_K, scales)));
    // Codes are stored + 32: the sums come off times 32 * scale.
    const __m256i s16 = _mm256_cvtepi8_epi16(sc);
    return make_head(s16, _mm256_slli_epi16(s16, 5), _cvtsh_ss(d16), 0.0f, true);
  } else if constexpr (T == DType::q3_K) {
    std::uint16_t d16;
    std::uint32_t a[3];
    std::memcpy(&d16, p + offsetof(BlockQ3_K, d), 2);
    std::memcpy(a, p + offsetof(BlockQ3_K, scales), 12);
    // Scales 0-3 and 8-11 have their low nibbles in bytes 0-3, 4-7 and 12-15 in bytes 4-7; the
    // top two bits of all 16 are in bytes 8-11 (xpubench/gguf_blocks.hpp).
    const std::uint32_t s0 = (a[0] & 0x0f0f0f0fu) | ((a[2] & 0x03030303u) << 4);
    const std::uint32_t s1 = (a[1] & 0x0f0f0f0fu) | (((a[2] >> 2) & 0x03030303u) << 4);
    const std::uint32_t s2 = ((a[0] >> 4) & 0x0f0f0f0fu) | (((a[2] >> 4) & 0x03030303u) << 4);
    const std::uint32_t s3 = ((a[1] >> 4) & 0x0f0f0f0fu) | (((a[2] >> 6) & 0x03030303u) << 4);
    const __m128i biased = _mm_set_epi32(static_cast<int>(s3), static_cast<int>(s2), static_cast<int>(s1), static_cast<int>(s0));
    const __m128i sc = _mm_sub_epi8(biased, _mm_set1_epi8(32));  // -32..31
    // Codes are stored + 4: the sums come off times 4 * scale.
    const __m256i s16 = _mm256_cvtepi8_epi16(sc);
    return make_head(s16, _mm256_slli_epi16(s16, 2), _cvtsh_ss(d16), 0.0f, true);
  } else if constexpr (T == DType::q2_K) {
    std::uint16_t d16, dmin16;
    std::memcpy(&d16, p + offsetof(BlockQ2_K, d), 2);
    std::memcpy(&dmin16, p + offsetof(BlockQ2_K, dmin), 2);
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + offsetof(BlockQ2_K, scales)));
    const __m128i sc = _mm_and_si128(raw, _mm_set1_epi8(15));
    const __m128i mn = _mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(15));
    return make_head(_mm256_cvtepu8_epi16(sc), _mm256_cvtepu8_epi16(mn), _cvtsh_ss(d16), _cvtsh_ss(dmin16), false);
  } else {  // iq4_xs
    BlockIQ4_XS b;
    std::memcpy(&b, p, 8);
    std::uint32_t low;
    std::memcpy(&low, b.scales_l, 4);
    // Group g's scale: nibble g of scales_l (low nibble first) and bits 2g, 2g + 1 of scales_h.
    const __m128i l = _mm_cvtsi32_si128(static_cast<int>(low));
    const __m128i nib = _mm_unpacklo_epi8(_mm_and_si128(l, _mm_set1_epi8(15)), _mm_and_si128(_mm_srli_epi16(l, 4), _mm_set1_epi8(15)));
    const __m256i top = _mm256_and_si256(
        _mm256_srlv_epi32(_mm256_set1_epi32(b.scales_h), _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14)), _mm256_set1_epi32(3));
    const __m128i top16 = _mm_packus_epi32(_mm256_castsi256_si128(top), _mm256_extracti128_si256(top, 1));
    const __m128i top8 = _mm_packus_epi16(top16, top16);
    const __m128i sc = _mm_sub_epi8(_mm_or_si128(nib, _mm_slli_epi16(top8, 4)), _mm_set1_epi8(32));
    return make_head(twice_epi8_epi16(sc), _mm256_setzero_si256(), _cvtsh_ss(b.d), 0.0f, true);
  }
}

// The codes of values [32c, 32c + 32) of the super-block: unsigned (signed for IQ4_XS).
template <DType T, int c>
HWY_INLINE __m256i DecodeChunk(const std::byte* p) {
  if constexpr (T == DType::q4_K || T == DType::q5_K) {
    constexpr std::size_t qs = T == DType::q4_K ? offsetof(BlockQ4_K, qs) : offsetof(BlockQ5_K, qs);
    const __m256i q = load32(p + qs + 32 * (c / 2));
    __m256i v = c % 2 == 0 ? low_nibbles(q) : high_nibbles(q);
    if constexpr (T == DType::q5_K) v = _mm256_or_si256(v, _mm256_slli_epi16(one_bit(load32(p + offsetof(BlockQ5_K, qh)), c), 4));
    return v;
  } else if constexpr (T == DType::q6_K) {
    const int h = c / 4, k = c % 4;
    const __m256i l = load32(p + offsetof(BlockQ6_K, ql) + 64 * h + 32 * (k % 2));
    const __m256i lo = k < 2 ? low_nibbles(l) : high_nibbles(l);
    return _mm256_or_si256(lo, _mm256_slli_epi16(two_bits(load32(p + offsetof(BlockQ6_K, qh) + 32 * h), 2 * k), 4));
  } else if constexpr (T == DType::q3_K) {
    const int n = c / 4, j = c % 4;
    const __m256i low = two_bits(load32(p + offsetof(BlockQ3_K, qs) + 32 * n), 2 * j);
    return _mm256_or_si256(low, _mm256_slli_epi16(one_bit(load32(p + offsetof(BlockQ3_K, hmask)), 4 * n + j), 2));
  } else if constexpr (T == DType::q2_K) {
    return two_bits(load32(p + offsetof(BlockQ2_K, qs) + 32 * (c / 4)), 2 * (c % 4));
  } else {  // iq4_xs: 32 bytes hold groups c & ~1 (bytes 0-15) and c | 1 (bytes 16-31)
    const __m256i q = load32(p + offsetof(BlockIQ4_XS, qs) + 32 * (c / 2));
    const __m256i lo = low_nibbles(q), hi = high_nibbles(q);
    if constexpr (c % 2 == 0) return iq4_levels(_mm256_permute2x128_si256(lo, hi, 0x20));
    else return iq4_levels(_mm256_permute2x128_si256(lo, hi, 0x31));
  }
}

// The int16 sub-scales of chunk c, spread over its 16 lanes of pairs: [s(2c) x8, s(2c+1) x8].
template <int c>
HWY_INLINE __m256i ChunkScales(const SuperHead& h) {
  constexpr int q = c % 4;
  const __m256i pick = _mm256_set_epi8(
      static_cast<char>(4 * q + 3), static_cast<char>(4 * q + 2), static_cast<char>(4 * q + 3), static_cast<char>(4 * q + 2),
      static_cast<char>(4 * q + 3), static_cast<char>(4 * q + 2), static_cast<char>(4 * q + 3), static_cast<char>(4 * q + 2),
      static_cast<char>(4 * q + 3), static_cast<char>(4 * q + 2), static_cast<char>(4 * q + 3), static_cast<char>(4 * q + 2),
      static_cast<char>(4 * q + 3), static_cast<char>(4 * q + 2), static_cast<char>(4 * q + 3), static_cast<char>(4 * q + 2),
      static_cast<char>(4 * q + 1), static_cast<char>(4 * q), static_cast<char>(4 * q + 1), static_cast<char>(4 * q),
      static_cast<char>(4 * q + 1), static_cast<char>(4 * q), static_cast<char>(4 * q + 1), static_cast<char>(4 * q),
      static_cast<char>(4 * q + 1), static_cast<char>(4 * q), static_cast<char>(4 * q + 1), static_cast<char>(4 * q),
      static_cast<char>(4 * q + 1), static_cast<char>(4 * q), static_cast<char>(4 * q + 1), static_cast<char>(4 * q));
  if constexpr (c < 4) return _mm256_shuffle_epi8(h.lo, pick);
  else return _mm256_shuffle_epi8(h.hi, pick);
}

// Chunks c .. 7 of one super-block (decoded at p) into the integer sums of RT activation rows
// (row r's codes of the block at xq + r * k). The chunk index is a template parameter so that
// every shift, offset and shuffle mask is a constant.
template <DType T, int RT, int c>
HWY_INLINE void SuperChunks(const std::byte* p, const SuperHead& h, const std::int8_t* xq, std::size_t k, __m256i* sumi) {
  constexpr bool kSigned = T == DType::iq4_xs;
  const __m256i w = DecodeChunk<T, c>(p);
  const __m256i sc = ChunkScales<c>(h);
  const __m256i uw = kSigned ? _mm256_sign_epi8(w, w) : w;
  for (int r = 0; r < RT; ++r) {
    const __m256i xv = load32(xq + static_cast<std::size_t>(r) * k + 32 * c);
    const __m256i prod = _mm256_maddubs_epi16(uw, kSigned ? _mm256_sign_epi8(xv, w) : xv);
    sumi[r] = _mm256_add_epi32(sumi[r], _mm256_madd_epi16(prod, sc));
  }
  if constexpr (c + 1 < 8) SuperChunks<T, RT, c + 1>(p, h, xq, k, sumi);
}

// RT activation rows (t .. t + RT - 1) against weight row `row`: out[(t + r) * ldo + j].
template <DType T, int RT>
HWY_INLINE void SuperTile(const std::byte* row, std::size_t nsb, const QuantizedRows& x, std::size_t t, float* out,
                          std::size_t ldo, std::size_t j) {
  constexpr std::size_t kBytes = kSuperBlockBytes<T>;
  __m256 acc[RT];
  for (int r = 0; r < RT; ++r) acc[r] = _mm256_setzero_ps();
  for (std::size_t sb = 0; sb < nsb; ++sb) {
    const std::byte* p = row + sb * kBytes;
    // Ask for the weights 8 KiB ahead (see llm_kernels.cpp's QuantRowDot512).
    _mm_prefetch(reinterpret_cast<const char*>(p + 8192), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(p + 8192 + 64), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(p + 8192 + 128), _MM_HINT_T0);
    const SuperHead h = DecodeHead<T>(p);
    __m256i sumi[RT];
    for (int r = 0; r < RT; ++r) sumi[r] = _mm256_setzero_si256();
    SuperChunks<T, RT, 0>(p, h, x.q + t * x.k + sb * kSuperBlock, x.k, sumi);
    for (int r = 0; r < RT; ++r) {
      const std::size_t at = (t + static_cast<std::size_t>(r)) * x.k + sb * kSuperBlock;
      const float dx = x.d[at / kQuantBlock];
      // The offsets' part, k_g * sum16_g, in eight int32 lanes: taken from the sums before
      // scaling where it shares d (the code offsets), scaled apart by dmin (the minimums).
      const __m256i corr = _mm256_madd_epi16(h.k, load32(x.sum16 + at / 16));
      if (h.by_d) {
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(sumi[r], corr)), _mm256_set1_ps(h.d * dx), acc[r]);
      } else {
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[r]), _mm256_set1_ps(h.d * dx), acc[r]);
        acc[r] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(corr), _mm256_set1_ps(h.dmin * dx), acc[r]);
      }
    }
  }
  for (int r = 0; r < RT; ++r) out[(t + static_cast<std::size_t>(r)) * ldo + j] = hsum(acc[r]);
}

template <DType T>
void SuperLoop(const std::byte* w, std::size_t row_bytes, std::size_t j_begin, std::size_t j_end, const QuantizedRows& x,
               std::size_t rows, float* out, std::size_t ldo) {
  const std::size_t nsb = x.k / kSuperBlock;
  for (std::size_t j = j_begin; j < j_end; ++j) {
    const std::byte* row = w + j * row_bytes;
    std::size_t t = 0;
    for (; t + 4 <= rows; t += 4) SuperTile<T, 4>(row, nsb, x, t, out, ldo, j);
    for (; t < rows; ++t) SuperTile<T, 1>(row, nsb, x, t, out, ldo, j);
  }
}

#else  // other targets: the portable unpacking of xpubench/gguf_blocks.hpp and plain loops

template <DType T>
void UnpackSmall(const std::byte* row, std::size_t first, std::size_t count, Chunk& c) {
  UnpackedBlock u;
  for (std::size_t b = 0; b < count; ++b) {
    unpack_block(T, row + (first + b) * kSmallBlockBytes<T>, u);
    std::memcpy(c.code + 32 * b, u.code, 32);
    for (int g = 0; g < 2; ++g) {
      c.scale[2 * b + g] = u.scale[g];
      c.offset[2 * b + g] = u.offset[g];
    }
  }
}
float DotChunk(const Chunk& c, std::size_t blocks32, const QuantizedRows& x, std::size_t row, std::size_t at,
               Offsets offsets) {
  const std::int8_t* xq = x.q + row * x.k + at;
  const float* dx = x.d + (row * x.k + at) / kQuantBlock;
  float s = 0;
  for (std::size_t g = 0; g < 2 * blocks32; ++g) {
    int acc = 0;
    for (int i = 0; i < 16; ++i) acc += c.code[16 * g + i] * xq[16 * g + i];
    s += dx[g / 2] * c.scale[g] * static_cast<float>(acc);
  }
  return s - OffsetTerm(c, blocks32, x, row, at, offsets);
}

#endif

template <DType T>
constexpr Offsets kOffsets = T == DType::q4_1 || T == DType::q5_1                       ? Offsets::per_block_sum
                             : T == DType::q2_K || T == DType::q4_K || T == DType::q5_K ? Offsets::per_16_codes
                                                                                         : Offsets::none;

// Values [at, at + 256) (or fewer at a small format's row end) of weight row `row` into c.
template <DType T>
HWY_INLINE std::size_t Unpack(const std::byte* row, std::size_t at, std::size_t k, Chunk& c) {
  if constexpr (IsSuper(T)) {
    UnpackSuper<T>(row + at / kSuperBlock * kSuperBlockBytes<T>, c);
    return kSuperBlock / kQuantBlock;
  } else {
    const std::size_t count = std::min<std::size_t>(8, (k - at) / kQuantBlock);
    UnpackSmall<T>(row, at / kQuantBlock, count, c);
    return count;
  }
}

template <DType T>
void GgufLoop(const std::byte* w, std::size_t row_bytes, std::size_t j_begin, std::size_t j_end, const QuantizedRows& x,
              std::size_t rows, float* out, std::size_t ldo) {
  const std::size_t k = x.k;
  if (rows == 1) {
    // Decode: a chunk unpacked and used at once, while it is in L1; rows one after another
    // (one sequential stream for the prefetcher, as llm_kernels.cpp explains).
    Chunk c;
    for (std::size_t j = j_begin; j < j_end; ++j) {
      const std::byte* row = w + j * row_bytes;
      float s = 0;
      for (std::size_t at = 0; at < k; at += kSuperBlock) {
        const std::size_t blocks = Unpack<T>(row, at, k, c);
        s += DotChunk(c, blocks, x, 0, at, kOffsets<T>);
      }
      out[j] = s;
    }
    return;
  }
  // Prompt rows: each weight row is unpacked once, chunk by chunk, into a row-long buffer and
  // used for every activation row.
  thread_local std::vector<Chunk> unpacked;
  thread_local std::vector<std::size_t> counts;
  const std::size_t chunks = (k + kSuperBlock - 1) / kSuperBlock;
  unpacked.resize(chunks);
  counts.resize(chunks);
  for (std::size_t j = j_begin; j < j_end; ++j) {
    const std::byte* row = w + j * row_bytes;
    for (std::size_t ch = 0; ch < chunks; ++ch) counts[ch] = Unpack<T>(row, ch * kSuperBlock, k, unpacked[ch]);
    for (std::size_t t = 0; t < rows; ++t) {
      float s = 0;
      for (std::size_t ch = 0; ch < chunks; ++ch) s += DotChunk(unpacked[ch], counts[ch], x, t, ch * kSuperBlock, kOffsets<T>);
      out[t * ldo + j] = s;
    }
  }
}

// The super-block formats: fused on x86 targets with AVX2, unpacked chunk by chunk elsewhere.
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
template <DType T>
constexpr auto kSuper = SuperLoop<T>;
#else
template <DType T>
constexpr auto kSuper = GgufLoop<T>;
#endif

void MatmulGguf(DType weights, const std::byte* w, std::size_t row_bytes, std::size_t j_begin, std::size_t j_end,
                const QuantizedRows& x, std::size_t rows, float* out, std::size_t ldo) {
  switch (weights) {
    case DType::q4_1: return GgufLoop<DType::q4_1>(w, row_bytes, j_begin, j_end, x, rows, out, ldo);
    case DType::q5_0: return GgufLoop<DType::q5_0>(w, row_bytes, j_begin, j_end, x, rows, out, ldo);
    case DType::q5_1: return GgufLoop<DType::q5_1>(w, row_bytes, j_begin, j_end, x, rows, out, ldo);
    case DType::iq4_nl: return GgufLoop<DType::iq4_nl>(w, row_bytes, j_begin, j_end, x, rows, out, ldo);
    case DType::q2_K: return kSuper<DType::q2_K>(w, row_bytes, j_begin, j_end, x, rows, out, ldo);
    case DType::q3_K: return kSuper<DType::q3_K>(w, row_bytes, j_begin, j_end, x, rows, out, ldo);
    case DType::q4_K: return kSuper<DType::q4_K>(w, row_bytes, j_begin, j_end, x, rows, out, ldo);
    case DType::q5_K: return kSuper<DType::q5_K>(w, row_bytes, j_begin, j_end, x, rows, out, ldo);
    case DType::q6_K: return kSuper<DType::q6_K>(w, row_bytes, j_begin, j_end, x, rows, out, ldo);
    case DType::iq4_xs: return kSuper<DType::iq4_xs>(w, row_bytes, j_begin, j_end, x, rows, out, ldo);
    default: return;
  }
}

#if HWY_TARGET == HWY_AVX3_DL
#pragma GCC pop_options
#endif

// Activations rounded as llama.cpp rounds them for the K-quants (its Q8_K): per 256 values,
// the value of largest magnitude maps to -127, codes round to nearest (even) and stop at 127,
// and the scale is the reciprocal of that factor, in f32. Written in this form: the scale
// repeated for each block of 32, the sums of each 16 codes.
void QuantizeRowsQ8K(const float* x, std::size_t row_begin, std::size_t row_end, const QuantizedRows& out) {
  const std::size_t nb = out.k / kSuperBlock;
  for (std::size_t t = row_begin; t < row_end; ++t)
    for (std::size_t b = 0; b < nb; ++b) {
      const float* v = x + t * out.k + b * kSuperBlock;
      std::int8_t* q = out.q + t * out.k + b * kSuperBlock;
      float amax = 0, max = 0;
      for (std::size_t i = 0; i < kSuperBlock; ++i)
        if (std::fabs(v[i]) > amax) {
          amax = std::fabs(v[i]);
          max = v[i];
        }
      const float iscale = amax != 0 ? -127.0f / max : 0.0f;
      for (std::size_t i = 0; i < kSuperBlock; ++i)
        q[i] = static_cast<std::int8_t>(std::min(127, static_cast<int>(std::nearbyint(iscale * v[i]))));
      const float d = amax != 0 ? 1.0f / iscale : 0.0f;
      for (std::size_t i = 0; i < kSuperBlock / kQuantBlock; ++i) out.d[(t * out.k + b * kSuperBlock) / kQuantBlock + i] = d;
      for (std::size_t g = 0; g < kSuperBlock / 16; ++g) {
        int s = 0;
        for (std::size_t i = 0; i < 16; ++i) s += q[16 * g + i];
        out.sum16[(t * out.k + b * kSuperBlock) / 16 + g] = static_cast<std::int16_t>(s);
      }
    }
}

}  // namespace xpb::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace xpb::cpu {
HWY_EXPORT(MatmulGguf);
HWY_EXPORT(QuantizeRowsQ8K);

void matmul_gguf(DType weights, const std::byte* w, std::size_t row_bytes, std::size_t j_begin, std::size_t j_end,
                 const QuantizedRows& x, std::size_t rows, float* out, std::size_t ldo) {
  HWY_DYNAMIC_DISPATCH(MatmulGguf)(weights, w, row_bytes, j_begin, j_end, x, rows, out, ldo);
}
void quantize_rows_q8_K(const float* x, std::size_t row_begin, std::size_t row_end, const QuantizedRows& out) {
  HWY_DYNAMIC_DISPATCH(QuantizeRowsQ8K)(x, row_begin, row_end, out);
}
}  // namespace xpb::cpu
#endif
