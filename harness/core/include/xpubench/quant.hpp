// Number formats of weights and activations: half-precision conversions and the GGUF block
// quantizations Q8_0 and Q4_0, plus the deterministic synthetic values that stand in for real
// weights. Every driver, the GGUF exporter and the tests use these, so a tensor means the
// same bits everywhere.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "xpubench/dtype.hpp"
#include "xpubench/export.hpp"

namespace xpb {

// IEEE 754 binary16 <-> binary32, round to nearest even (as F16C's vcvtps2ph does).
XPB_API float f16_to_f32(std::uint16_t h);
XPB_API std::uint16_t f32_to_f16(float f);

// bfloat16 is the top half of a binary32; conversion to it rounds to nearest even (NaN kept).
inline float bf16_to_f32(std::uint16_t h) {
  const std::uint32_t bits = std::uint32_t{h} << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
XPB_API std::uint16_t f32_to_bf16(float f);

// GGUF's block formats, 32 values per block (ggml's block_q8_0 and block_q4_0):
//   Q8_0: fp16 d, int8 q[32];            value i = d * q[i]
//   Q4_0: fp16 d, uint8 qs[16];          value i = d * ((qs[i % 16] >> (4 * (i / 16))) & 15) - 8)
//         (the low nibbles hold values 0..15 of the block, the high nibbles 16..31)
inline constexpr std::size_t kQuantBlock = 32;
struct BlockQ8_0 {
  std::uint16_t d;
  std::int8_t q[32];
};
struct BlockQ4_0 {
  std::uint16_t d;
  std::uint8_t qs[16];
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18, "GGUF block layout");

// Converts n values (n a multiple of the block size for quantized types) from f32 into
// `dtype`'s storage, or back. Quantization of Q8_0 and Q4_0 follows ggml's reference rounding:
// Q8_0 scales by amax / 127 and rounds to nearest; Q4_0 scales by (the value of largest
// magnitude) / -8 so that value maps exactly to code 0, and truncates x / d + 8.5 into 0..15.
// The other block formats quantize through quantize_block and decode through unpack_block
// (xpubench/gguf_blocks.hpp): decoding is bit-identical to ggml's.
XPB_API void encode_row(DType dtype, const float* src, std::byte* dst, std::size_t n);
XPB_API void decode_row(DType dtype, const std::byte* src, float* dst, std::size_t n);
// The dtypes encode_row/decode_row accept: f32, f16, bf16 and every block format.
XPB_API bool is_weight_dtype(DType dtype);
// Their names in code order ("f32", "f16", "bf16", "q8_0", ...), and the same as one phrase
// ("f32, f16, bf16, q8_0, ... or iq4_xs") for messages that say what was expected.
XPB_API std::vector<std::string> weight_dtype_names();
XPB_API std::string weight_dtype_list();

// SplitMix64 (Steele, Lea and Flood, OOPSLA 2014), the one hash behind every seeded value in
// xpubench (weights, test patterns, random arrays, noise, arrival times). mix64 is its
// finalizer, a bijection whose every output bit depends on every input bit; splitmix64 adds the
// golden-ratio increment first (one step of the generator from state x).
inline constexpr std::uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ull;
inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
inline std::uint64_t splitmix64(std::uint64_t x) { return mix64(x + kGoldenGamma); }

// The synthetic value of element `index` of a tensor with seed `seed`: uniform in
// [-scale, scale), from a counter-based hash (splitmix64), so any range of a tensor can be
// generated independently, on any thread, in any order, with the same result.
XPB_API float synthetic_value(std::uint64_t seed, std::uint64_t index, float scale);

}  // namespace xpb
