#include "xpubench/quant.hpp"

#include <algorithm>
#include <cmath>

#include "xpubench/gguf_blocks.hpp"

namespace xpb {

float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t{h & 0x8000u} << 16;
  const std::uint32_t exp = (h >> 10) & 0x1Fu;
  std::uint32_t mant = h & 0x3FFu;
  std::uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf or NaN
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 -> 127
  } else if (mant == 0) {
    bits = sign;
  } else {
    // Subnormal half: normalise the mantissa into a binary32 normal.
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400u) == 0);
    bits = sign | (static_cast<std::uint32_t>(112 - e) << 23) | ((mant & 0x3FFu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::uint16_t f32_to_f16(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t abs = x & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return static_cast<std::uint16_t>(sign | 0x7E00u);  // NaN
  if (abs >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // rounds to inf
  if (abs < 0x38800000u) {
    // Result is subnormal (or zero): value / 2^-24, rounded to nearest even.
    if (abs < 0x33000000u) return sign;  // below half the smallest subnormal
    const std::uint32_t mant = (abs & 0x7FFFFFu) | 0x800000u;
    const int shift = 126 - static_cast<int>(abs >> 23);  // 14..24
    const std::uint32_t half = 1u << (shift - 1);
    std::uint32_t q = mant >> shift;
    const std::uint32_t rest = mant & ((1u << shift) - 1);
    if (rest > half || (rest == half && (q & 1u))) ++q;
    return static_cast<std::uint16_t>(sign | q);
  }
  // Normal: drop 13 mantissa bits with round to nearest even; a carry into the exponent is
  // the correct result (up to inf, excluded above).
  std::uint32_t r = abs + 0xFFFu + ((abs >> 13) & 1u);
  r -= 0x38000000u;  // rebias 127 -> 15 (112 << 23)
  return static_cast<std::uint16_t>(sign | (r >> 13));
}

std::uint16_t f32_to_bf16(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  x += 0x7FFFu + ((x >> 16) & 1u);
  return static_cast<std::uint16_t>(x >> 16);
}

bool is_weight_dtype(DType dtype) {
  return dtype == DType::f32 || dtype == DType::f16 || dtype == DType::bf16 || is_block_quantized(dtype);
}

std::vector<std::string> weight_dtype_names() {
  std::vector<std::string> out;
  for (DType t : all_dtypes())
    if (is_weight_dtype(t)) out.emplace_back(name(t));
  return out;
}

std::string weight_dtype_list() {
  const auto names = weight_dtype_names();
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return out;
}

void encode_row(DType dtype, const float* src, std::byte* dst, std::size_t n) {
  switch (dtype) {
    case DType::f32: std::memcpy(dst, src, n * 4); return;
    case DType::f16:
    case DType::bf16:
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint16_t h = dtype == DType::f16 ? f32_to_f16(src[i]) : f32_to_bf16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
    case DType::q8_0:
      for (std::size_t b = 0; b < n / kQuantBlock; ++b) {
        const float* x = src + b * kQuantBlock;
        float amax = 0;
        for (std::size_t i = 0; i < kQuantBlock; ++i) amax = std::max(amax, std::fabs(x[i]));
        const float d = amax / 127.0f;
        const float inv = d != 0 ? 1.0f / d : 0.0f;
        BlockQ8_0 blk;
        blk.d = f32_to_f16(d);
        for (std::size_t i = 0; i < kQuantBlock; ++i)
          blk.q[i] = static_cast<std::int8_t>(std::lround(x[i] * inv));
        std::memcpy(dst + b * sizeof(BlockQ8_0), &blk, sizeof blk);
      }
      return;
    case DType::q4_0:
      for (std::size_t b = 0; b < n / kQuantBlock; ++b) {
        const float* x = src + b * kQuantBlock;
        float amax = 0, max = 0;
        for (std::size_t i = 0; i < kQuantBlock; ++i)
          if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            max = x[i];
          }
        const float d = max / -8.0f;
        const float inv = d != 0 ? 1.0f / d : 0.0f;
        BlockQ4_0 blk;
        blk.d = f32_to_f16(d);
        auto code = [&](float v) {
          const int c = static_cast<int>(v * inv + 8.5f);
          return static_cast<std::uint8_t>(std::clamp(c, 0, 15));
        };
        for (std::size_t i = 0; i < 16; ++i)
          blk.qs[i] = static_cast<std::uint8_t>(code(x[i]) | (code(x[i + 16]) << 4));
        std::memcpy(dst + b * sizeof(BlockQ4_0), &blk, sizeof blk);
      }
      return;
    default:
      if (!is_block_quantized(dtype)) return;
      const auto& tr = traits(dtype);
      for (std::size_t b = 0; b < n / tr.block_elements; ++b)
        quantize_block(dtype, src + b * tr.block_elements, dst + b * tr.block_bytes);
      return;
  }
}

void decode_row(DType dtype, const std::byte* src, float* dst, std::size_t n) {
  switch (dtype) {
    case DType::f32: std::memcpy(dst, src, n * 4); return;
    case DType::f16:
    case DType::bf16:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = dtype == DType::f16 ? f16_to_f32(h) : bf16_to_f32(h);
      }
      return;
    case DType::q8_0:
      for (std::size_t b = 0; b < n / kQuantBlock; ++b) {
        BlockQ8_0 blk;
        std::memcpy(&blk, src + b * sizeof blk, sizeof blk);
        const float d = f16_to_f32(blk.d);
        for (std::size_t i = 0; i < kQuantBlock; ++i) dst[b * kQuantBlock + i] = d * static_cast<float>(blk.q[i]);
      }
      return;
    case DType::q4_0:
      for (std::size_t b = 0; b < n / kQuantBlock; ++b) {
        BlockQ4_0 blk;
        std::memcpy(&blk, src + b * sizeof blk, sizeof blk);
        const float d = f16_to_f32(blk.d);
        for (std::size_t i = 0; i < 16; ++i) {
          dst[b * kQuantBlock + i] = d * static_cast<float>((blk.qs[i] & 15) - 8);
          dst[b * kQuantBlock + i + 16] = d * static_cast<float>((blk.qs[i] >> 4) - 8);
        }
      }
      return;
    default:
      if (!is_block_quantized(dtype)) return;
      const auto& tr = traits(dtype);
      UnpackedBlock u;
      for (std::size_t b = 0; b < n / tr.block_elements; ++b) {
        unpack_block(dtype, src + b * tr.block_bytes, u);
        float* y = dst + b * tr.block_elements;
        for (std::size_t i = 0; i < tr.block_elements; ++i)
          y[i] = u.scale[i / 16] * static_cast<float>(u.code[i]) - u.offset[i / 16];
      }
      return;
  }
}

float synthetic_value(std::uint64_t seed, std::uint64_t index, float scale) {
  const std::uint64_t z = mix64(seed ^ ((index + 1) * kGoldenGamma));
  // Top 24 bits -> [0, 1) exactly representable, then to [-1, 1).
  const float u = static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
  return scale * (2.0f * u - 1.0f);
}

}  // namespace xpb
