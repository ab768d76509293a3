#include "xpubench/gguf_blocks.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "xpubench/quant.hpp"

namespace xpb {
namespace {

template <class Block>
Block load(const std::byte* p) {
  Block b;
  std::memcpy(&b, p, sizeof b);
  return b;
}
template <class Block>
void store(const Block& b, std::byte* p) {
  std::memcpy(p, &b, sizeof b);
}

float half(std::uint16_t h) { return f16_to_f32(h); }

// A 32-value block with one scale and offset fills groups 0 and 1.
void one_group_pair(UnpackedBlock& out, float scale, float offset) {
  out.scale[0] = out.scale[1] = scale;
  out.offset[0] = out.offset[1] = offset;
}

// The nibbles of a 32-value block's qs[16] in value order (low nibbles first).
void nibbles(const std::uint8_t* qs, std::int8_t* code, int bias) {
  for (int i = 0; i < 16; ++i) {
    code[i] = static_cast<std::int8_t>((qs[i] & 15) - bias);
    code[i + 16] = static_cast<std::int8_t>((qs[i] >> 4) - bias);
  }
}

// Q5's fifth bits: bit i of the little-endian qh for value i.
void fifth_bits(const std::uint8_t* qh, std::int8_t* code) {
  std::uint32_t h;
  std::memcpy(&h, qh, 4);
  for (int i = 0; i < 32; ++i) code[i] = static_cast<std::int8_t>(code[i] | static_cast<int>(((h >> i) & 1u) << 4));
}

// Q4_K/Q5_K: scale and min j (of 8) from the 12 packed bytes: j < 4 in the low 6 bits of bytes j
// and j + 4; j >= 4 in the nibbles of byte j + 4 with their top 2 bits in bytes j - 4 and j.
void scale_min_k4(int j, const std::uint8_t* q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 15) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}
void pack_scale_min_k4(const int* sc, const int* m, std::uint8_t* q) {
  std::fill_n(q, 12, std::uint8_t{0});
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      q[j] = static_cast<std::uint8_t>(q[j] | (sc[j] & 63));
      q[j + 4] = static_cast<std::uint8_t>(q[j + 4] | (m[j] & 63));
    } else {
      q[j + 4] = static_cast<std::uint8_t>((sc[j] & 15) | ((m[j] & 15) << 4));
      q[j - 4] = static_cast<std::uint8_t>(q[j - 4] | ((sc[j] >> 4) << 6));
      q[j] = static_cast<std::uint8_t>(q[j] | ((m[j] >> 4) << 6));
    }
  }
}

// Q3_K: the 16 scales (6 bits, biased by 32) from 12 bytes: the low nibbles of scales 0-3 and
// 8-11 in bytes 0-3 (low, high nibble), of 4-7 and 12-15 in bytes 4-7; the top 2 bits of
// scale 4q + i at bit 2q of byte 8 + i.
void scales_q3k(const std::uint8_t* b, int* s) {
  for (int i = 0; i < 4; ++i) {
    s[i] = (b[i] & 15) | (((b[8 + i] >> 0) & 3) << 4);
    s[4 + i] = (b[4 + i] & 15) | (((b[8 + i] >> 2) & 3) << 4);
    s[8 + i] = (b[i] >> 4) | (((b[8 + i] >> 4) & 3) << 4);
    s[12 + i] = (b[4 + i] >> 4) | (((b[8 + i] >> 6) & 3) << 4);
  }
}
void pack_scales_q3k(const int* s, std::uint8_t* b) {
  for (int i = 0; i < 4; ++i) {
    b[i] = static_cast<std::uint8_t>((s[i] & 15) | ((s[8 + i] & 15) << 4));
    b[4 + i] = static_cast<std::uint8_t>((s[4 + i] & 15) | ((s[12 + i] & 15) << 4));
    b[8 + i] = static_cast<std::uint8_t>((s[i] >> 4) | ((s[4 + i] >> 4) << 2) | ((s[8 + i] >> 4) << 4) | ((s[12 + i] >> 4) << 6));
  }
}

}  // namespace

bool is_block_quantized(DType t) { return traits(t).block_elements > 1; }

void unpack_block(DType t, const std::byte* p, UnpackedBlock& out) {
  switch (t) {
    case DType::q8_0: {
      const auto b = load<BlockQ8_0>(p);
      std::memcpy(out.code, b.q, 32);
      return one_group_pair(out, half(b.d), 0.0f);
    }
    case DType::q4_0: {
      const auto b = load<BlockQ4_0>(p);
      nibbles(b.qs, out.code, 8);
      return one_group_pair(out, half(b.d), 0.0f);
    }
    case DType::q4_1: {
      const auto b = load<BlockQ4_1>(p);
      nibbles(b.qs, out.code, 0);
      return one_group_pair(out, half(b.d), -half(b.m));  // d * q + m == d * q - (-m), exactly
    }
    case DType::q5_0: {
      const auto b = load<BlockQ5_0>(p);
      nibbles(b.qs, out.code, 0);
      fifth_bits(b.qh, out.code);
      for (int i = 0; i < 32; ++i) out.code[i] = static_cast<std::int8_t>(out.code[i] - 16);
      return one_group_pair(out, half(b.d), 0.0f);
    }
    case DType::q5_1: {
      const auto b = load<BlockQ5_1>(p);
      nibbles(b.qs, out.code, 0);
      fifth_bits(b.qh, out.code);
      return one_group_pair(out, half(b.d), -half(b.m));
    }
    case DType::iq4_nl: {
      const auto b = load<BlockIQ4_NL>(p);
      for (int i = 0; i < 16; ++i) {
        out.code[i] = kIQ4Values[b.qs[i] & 15];
        out.code[i + 16] = kIQ4Values[b.qs[i] >> 4];
      }
      return one_group_pair(out, half(b.d), 0.0f);
    }
    case DType::q2_K: {
      const auto b = load<BlockQ2_K>(p);
      const float d = half(b.d), dmin = half(b.dmin);
      for (int e = 0; e < 256; ++e)
        out.code[e] = static_cast<std::int8_t>((b.qs[32 * (e / 128) + e % 32] >> (2 * (e % 128 / 32))) & 3);
      for (int g = 0; g < 16; ++g) {
        out.scale[g] = d * static_cast<float>(b.scales[g] & 15);
        out.offset[g] = dmin * static_cast<float>(b.scales[g] >> 4);
      }
      return;
    }
    case DType::q3_K: {
      const auto b = load<BlockQ3_K>(p);
      const float d = half(b.d);
      for (int e = 0; e < 256; ++e) {
        const int lo = (b.qs[32 * (e / 128) + e % 32] >> (2 * (e % 128 / 32))) & 3;
        const bool hi = (b.hmask[e % 32] >> (4 * (e / 128) + e % 128 / 32)) & 1;
        out.code[e] = static_cast<std::int8_t>(lo - (hi ? 0 : 4));
      }
      int s[16];
      scales_q3k(b.scales, s);
      for (int g = 0; g < 16; ++g) {
        out.scale[g] = d * static_cast<float>(s[g] - 32);
        out.offset[g] = 0.0f;
      }
      return;
    }
    case DType::q4_K:
    case DType::q5_K: {
      const bool five = t == DType::q5_K;
      const auto b4 = five ? BlockQ4_K{} : load<BlockQ4_K>(p);
      const auto b5 = five ? load<BlockQ5_K>(p) : BlockQ5_K{};
      const std::uint16_t d16 = five ? b5.d : b4.d, dmin16 = five ? b5.dmin : b4.dmin;
      const std::uint8_t* scales = five ? b5.scales : b4.scales;
      const std::uint8_t* qs = five ? b5.qs : b4.qs;
      const float d = half(d16), dmin = half(dmin16);
      for (int e = 0; e < 256; ++e) {
        const int c = e / 64, r = e % 64;
        int v = r < 32 ? qs[32 * c + r] & 15 : qs[32 * c + r - 32] >> 4;
        if (five) v |= ((b5.qh[e % 32] >> (2 * c + (r < 32 ? 0 : 1))) & 1) << 4;
        out.code[e] = static_cast<std::int8_t>(v);
      }
      for (int j = 0; j < 8; ++j) {
        int sc, m;
        scale_min_k4(j, scales, sc, m);
        out.scale[2 * j] = out.scale[2 * j + 1] = d * static_cast<float>(sc);
        out.offset[2 * j] = out.offset[2 * j + 1] = dmin * static_cast<float>(m);
      }
      return;
    }
    case DType::q6_K: {
      const auto b = load<BlockQ6_K>(p);
      const float d = half(b.d);
      for (int e = 0; e < 256; ++e) {
        const int h = e / 128, r = e % 128;
        const std::uint8_t l = b.ql[64 * h + r % 32 + 32 * (r / 32 % 2)];
        const int lo = r < 64 ? l & 15 : l >> 4;
        const int hi = (b.qh[32 * h + r % 32] >> (2 * (r / 32))) & 3;
        out.code[e] = static_cast<std::int8_t>((lo | (hi << 4)) - 32);
      }
      for (int g = 0; g < 16; ++g) {
        out.scale[g] = d * static_cast<float>(b.scales[g]);
        out.offset[g] = 0.0f;
      }
      return;
    }
    case DType::iq4_xs: {
      const auto b = load<BlockIQ4_XS>(p);
      const float d = half(b.d);
      for (int g = 0; g < 8; ++g) {
        for (int i = 0; i < 16; ++i) {
          out.code[32 * g + i] = kIQ4Values[b.qs[16 * g + i] & 15];
          out.code[32 * g + i + 16] = kIQ4Values[b.qs[16 * g + i] >> 4];
        }
        const int ls = ((b.scales_l[g / 2] >> (4 * (g % 2))) & 15) | (((b.scales_h >> (2 * g)) & 3) << 4);
        out.scale[2 * g] = out.scale[2 * g + 1] = d * static_cast<float>(ls - 32);
        out.offset[2 * g] = out.offset[2 * g + 1] = 0.0f;
      }
      return;
    }
    default: break;
  }
}

// ---- quantization ---------------------------------------------------------------------------

namespace {

int nearest(float v) { return static_cast<int>(std::nearbyint(v)); }
float inverse(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }

// The value of largest magnitude, with its sign (the symmetric formats map it to their most
// negative code, which has the larger range: -8 of -8..7).
float signed_max(const float* x, int n) {
  float amax = 0, max = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  return max;
}

// Codes 0..top with value = scale * code - offset, offset >= 0 (the group's minimum if below
// zero, else zero, as ggml keeps it): a min/max fit.
void affine_fit(const float* x, int n, int top, float& scale, float& offset) {
  float lo = 0, hi = x[0];
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  scale = (hi - lo) / static_cast<float>(top);
  offset = -lo;
}

int affine_code(float v, float scale, float offset, int top) {
  return std::clamp(nearest((v + offset) * inverse(scale)), 0, top);
}

int nearest_iq4(float v) {
  int best = 0;
  for (int i = 1; i < 16; ++i)
    if (std::fabs(v - kIQ4Values[i]) < std::fabs(v - kIQ4Values[best])) best = i;
  return best;
}

// K-quants with a minimum (Q2_K 16 groups of 16, 4-bit sub-scales; Q4_K/Q5_K 8 groups of 32,
// 6-bit): per group a min/max fit, then the sub-scales and mins rounded against the super-block's
// d and dmin, then the codes against the rounded sub-scales. Writes d, dmin (fp16), sub-scales
// and mins (integers) and codes 0..top.
void k_affine(const float* x, int groups, int top, int sub_top, std::uint16_t& d16, std::uint16_t& dmin16, int* sc,
              int* mn, int* code) {
  const int n = 256 / groups;
  float scale[16], offset[16], max_scale = 0, max_offset = 0;
  for (int g = 0; g < groups; ++g) {
    affine_fit(x + g * n, n, top, scale[g], offset[g]);
    max_scale = std::max(max_scale, scale[g]);
    max_offset = std::max(max_offset, offset[g]);
  }
  d16 = f32_to_f16(max_scale / static_cast<float>(sub_top));
  dmin16 = f32_to_f16(max_offset / static_cast<float>(sub_top));
  const float d = f16_to_f32(d16), dmin = f16_to_f32(dmin16);
  for (int g = 0; g < groups; ++g) {
    sc[g] = std::clamp(nearest(scale[g] * inverse(d)), 0, sub_top);
    mn[g] = std::clamp(nearest(offset[g] * inverse(dmin)), 0, sub_top);
    const float s = d * static_cast<float>(sc[g]), o = dmin * static_cast<float>(mn[g]);
    for (int i = 0; i < n; ++i) code[g * n + i] = affine_code(x[g * n + i], s, o, top);
  }
}

// Symmetric K-quants (Q3_K codes -4..3 with scales -32..31; Q6_K codes -32..31 with scales
// -128..127; groups of 16): each group's signed maximum maps to the lowest code; the sub-scales
// are rounded against d, which maps the largest one to the lowest sub-scale.
void k_symmetric(const float* x, int code_low, int sub_low, std::uint16_t& d16, int* sc, int* code) {
  float scale[16], top = 0, abs_top = 0;
  for (int g = 0; g < 16; ++g) {
    scale[g] = signed_max(x + 16 * g, 16) / static_cast<float>(code_low);
    if (std::fabs(scale[g]) > abs_top) {
      abs_top = std::fabs(scale[g]);
      top = scale[g];
    }
  }
  d16 = f32_to_f16(top / static_cast<float>(sub_low));
  const float d = f16_to_f32(d16);
  for (int g = 0; g < 16; ++g) {
    sc[g] = std::clamp(nearest(scale[g] * inverse(d)), sub_low, -sub_low - 1);
    const float s = d * static_cast<float>(sc[g]);
    for (int i = 0; i < 16; ++i) code[16 * g + i] = std::clamp(nearest(x[16 * g + i] * inverse(s)), code_low, -code_low - 1);
  }
}

void pack_nibbles(const int* code, std::uint8_t* qs) {
  for (int i = 0; i < 16; ++i) qs[i] = static_cast<std::uint8_t>((code[i] & 15) | ((code[i + 16] & 15) << 4));
}
void pack_fifth_bits(const int* code, std::uint8_t* qh) {
  std::uint32_t h = 0;
  for (int i = 0; i < 32; ++i) h |= static_cast<std::uint32_t>((code[i] >> 4) & 1) << i;
  std::memcpy(qh, &h, 4);
}

}  // namespace

void quantize_block(DType t, const float* x, std::byte* p) {
  int code[256];
  switch (t) {
    case DType::q8_0:
    case DType::q4_0: return encode_row(t, x, p, 32);
    case DType::q4_1:
    case DType::q5_1: {
      // value = d * code + m with m the block's minimum (which may be above zero here).
      const int top = t == DType::q4_1 ? 15 : 31;
      const auto [lo, hi] = std::minmax_element(x, x + 32);
      const std::uint16_t d = f32_to_f16((*hi - *lo) / static_cast<float>(top)), m = f32_to_f16(*lo);
      for (int i = 0; i < 32; ++i) code[i] = affine_code(x[i], f16_to_f32(d), -f16_to_f32(m), top);
      if (t == DType::q4_1) {
        BlockQ4_1 b{d, m, {}};
        pack_nibbles(code, b.qs);
        return store(b, p);
      }
      BlockQ5_1 b{d, m, {}, {}};
      pack_nibbles(code, b.qs);
      pack_fifth_bits(code, b.qh);
      return store(b, p);
    }
    case DType::q5_0: {
      BlockQ5_0 b{f32_to_f16(signed_max(x, 32) / -16.0f), {}, {}};
      const float inv = inverse(f16_to_f32(b.d));
      for (int i = 0; i < 32; ++i) code[i] = std::clamp(nearest(x[i] * inv) + 16, 0, 31);
      pack_nibbles(code, b.qs);
      pack_fifth_bits(code, b.qh);
      return store(b, p);
    }
    case DType::iq4_nl: {
      BlockIQ4_NL b{f32_to_f16(signed_max(x, 32) / static_cast<float>(kIQ4Values[0])), {}};
      const float inv = inverse(f16_to_f32(b.d));
      for (int i = 0; i < 32; ++i) code[i] = nearest_iq4(x[i] * inv);
      pack_nibbles(code, b.qs);
      return store(b, p);
    }
    case DType::q2_K: {
      BlockQ2_K b{};
      int sc[16], mn[16];
      k_affine(x, 16, 3, 15, b.d, b.dmin, sc, mn, code);
      for (int g = 0; g < 16; ++g) b.scales[g] = static_cast<std::uint8_t>(sc[g] | (mn[g] << 4));
      for (int e = 0; e < 256; ++e)
        b.qs[32 * (e / 128) + e % 32] = static_cast<std::uint8_t>(b.qs[32 * (e / 128) + e % 32] | (code[e] << (2 * (e % 128 / 32))));
      return store(b, p);
    }
    case DType::q3_K: {
      BlockQ3_K b{};
      int sc[16];
      k_symmetric(x, -4, -32, b.d, sc, code);
      for (int& s : sc) s += 32;
      pack_scales_q3k(sc, b.scales);
      for (int e = 0; e < 256; ++e) {
        const int u = code[e] + 4;  // 0..7: low 2 bits in qs, the third in hmask
        b.qs[32 * (e / 128) + e % 32] = static_cast<std::uint8_t>(b.qs[32 * (e / 128) + e % 32] | ((u & 3) << (2 * (e % 128 / 32))));
        b.hmask[e % 32] = static_cast<std::uint8_t>(b.hmask[e % 32] | ((u >> 2) << (4 * (e / 128) + e % 128 / 32)));
      }
      return store(b, p);
    }
    case DType::q4_K:
    case DType::q5_K: {
      const bool five = t == DType::q5_K;
      BlockQ5_K b{};  // Q4_K is Q5_K without qh: the two are written through one layout below
      int sc[8], mn[8];
      k_affine(x, 8, five ? 31 : 15, 63, b.d, b.dmin, sc, mn, code);
      pack_scale_min_k4(sc, mn, b.scales);
      for (int e = 0; e < 256; ++e) {
        const int c = e / 64, r = e % 64;
        auto& q = b.qs[32 * c + r % 32];
        q = static_cast<std::uint8_t>(q | ((code[e] & 15) << (r < 32 ? 0 : 4)));
        b.qh[e % 32] = static_cast<std::uint8_t>(b.qh[e % 32] | (((code[e] >> 4) & 1) << (2 * c + (r < 32 ? 0 : 1))));
      }
      if (five) return store(b, p);
      BlockQ4_K b4{b.d, b.dmin, {}, {}};
      std::memcpy(b4.scales, b.scales, 12);
      std::memcpy(b4.qs, b.qs, 128);
      return store(b4, p);
    }
    case DType::q6_K: {
      BlockQ6_K b{};
      int sc[16];
      k_symmetric(x, -32, -128, b.d, sc, code);
      for (int g = 0; g < 16; ++g) b.scales[g] = static_cast<std::int8_t>(sc[g]);
      for (int e = 0; e < 256; ++e) {
        const int h = e / 128, r = e % 128, u = code[e] + 32;
        auto& l = b.ql[64 * h + r % 32 + 32 * (r / 32 % 2)];
        l = static_cast<std::uint8_t>(l | ((u & 15) << (r < 64 ? 0 : 4)));
        b.qh[32 * h + r % 32] = static_cast<std::uint8_t>(b.qh[32 * h + r % 32] | ((u >> 4) << (2 * (r / 32))));
      }
      return store(b, p);
    }
    case DType::iq4_xs: {
      BlockIQ4_XS b{};
      float scale[8], top = 0, abs_top = 0;
      for (int g = 0; g < 8; ++g) {
        scale[g] = signed_max(x + 32 * g, 32) / static_cast<float>(kIQ4Values[0]);
        if (std::fabs(scale[g]) > abs_top) {
          abs_top = std::fabs(scale[g]);
          top = scale[g];
        }
      }
      b.d = f32_to_f16(top / -32.0f);
      const float d = f16_to_f32(b.d);
      for (int g = 0; g < 8; ++g) {
        const int s = std::clamp(nearest(scale[g] * inverse(d)), -32, 31);
        const int ls = s + 32;
        b.scales_l[g / 2] = static_cast<std::uint8_t>(b.scales_l[g / 2] | ((ls & 15) << (4 * (g % 2))));
        b.scales_h = static_cast<std::uint16_t>(b.scales_h | ((ls >> 4) << (2 * g)));
        const float inv = inverse(d * static_cast<float>(s));
        for (int i = 0; i < 32; ++i) code[32 * g + i] = nearest_iq4(x[32 * g + i] * inv);
        pack_nibbles(code + 32 * g, b.qs + 16 * g);
      }
      return store(b, p);
    }
    default: break;
  }
}

}  // namespace xpb
