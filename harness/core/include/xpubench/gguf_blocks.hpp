// ggml's block-quantized weight formats, byte for byte as GGUF files store them (the structs of
// ggml-common.h, llama.cpp; the formats are described in llama.cpp PRs #1684 "k-quants" and
// #5590 "IQ4_NL"). Every format is read through one form, UnpackedBlock: integer codes with a
// scale and an offset per group of 16 values. Drivers multiply the codes with int8 activations
// and apply the scales per group; ref and the GGUF reader turn them into floats.
//
// Value layouts inside a block (element e of the block):
//   Q4_0/Q4_1/IQ4_NL: e < 16 is the low nibble of qs[e], e >= 16 the high nibble of qs[e - 16];
//     Q5_0/Q5_1 add bit e of the little-endian 32-bit qh as the fifth bit.
//   Q2_K/Q3_K: 2 bits of qs[32 * (e / 128) + e % 32] at shift 2 * (e % 128 / 32); Q3_K's third
//     bit is bit 4 * (e / 128) + e % 128 / 32 of hmask[e % 32] (set: code - 0, clear: code - 4).
//   Q4_K/Q5_K: chunk c = e / 64 uses qs[32c .. 32c + 31], low nibbles for e % 64 < 32, high
//     nibbles after; Q5_K's fifth bit is bit 2c (low) or 2c + 1 (high) of qh[e % 32].
//   Q6_K: half h = e / 128, r = e % 128: low 4 bits in ql[64h + r % 32 + 32 * (r / 32 % 2)]
//     (low nibble for r < 64, high after), high 2 bits at shift 2 * (r / 32) of qh[32h + r % 32].
//   IQ4_XS: group g = e / 32 uses qs[16g .. 16g + 15] as IQ4_NL does.
#pragma once
#include <cstddef>
#include <cstdint>

#include "xpubench/dtype.hpp"
#include "xpubench/export.hpp"

namespace xpb {

inline constexpr std::size_t kSuperBlock = 256;  // QK_K: values per K-quant (and IQ4_XS) block

struct BlockQ4_1 {
  std::uint16_t d, m;  // fp16: value = d * code + m, code 0..15
  std::uint8_t qs[16];
};
struct BlockQ5_0 {
  std::uint16_t d;  // fp16: value = d * (code - 16), code 0..31
  std::uint8_t qh[4];
  std::uint8_t qs[16];
};
struct BlockQ5_1 {
  std::uint16_t d, m;  // fp16: value = d * code + m, code 0..31
  std::uint8_t qh[4];
  std::uint8_t qs[16];
};
struct BlockQ2_K {
  std::uint8_t scales[16];  // per 16 values: low nibble scale, high nibble min (4 bits each)
  std::uint8_t qs[64];
  std::uint16_t d, dmin;  // fp16: value = d * scale * code - dmin * min, code 0..3
};
struct BlockQ3_K {
  std::uint8_t hmask[32];
  std::uint8_t qs[64];
  std::uint8_t scales[12];  // 16 scales of 6 bits, biased by 32 (see unpack_block)
  std::uint16_t d;          // fp16: value = d * (scale - 32) * code, code -4..3
};
struct BlockQ4_K {
  std::uint16_t d, dmin;    // fp16: value = d * scale * code - dmin * min, code 0..15
  std::uint8_t scales[12];  // 8 scales and 8 mins of 6 bits, one pair per 32 values
  std::uint8_t qs[128];
};
struct BlockQ5_K {
  std::uint16_t d, dmin;  // as Q4_K, code 0..31
  std::uint8_t scales[12];
  std::uint8_t qh[32];
  std::uint8_t qs[128];
};
struct BlockQ6_K {
  std::uint8_t ql[128];
  std::uint8_t qh[64];
  std::int8_t scales[16];  // one per 16 values
  std::uint16_t d;         // fp16: value = d * scale * code, code -32..31
};
struct BlockIQ4_NL {
  std::uint16_t d;  // fp16: value = d * kIQ4Values[nibble]
  std::uint8_t qs[16];
};
struct BlockIQ4_XS {
  std::uint16_t d;         // fp16: value = d * (scale - 32) * kIQ4Values[nibble]
  std::uint16_t scales_h;  // high 2 bits of the 8 scales (6 bits each, one per 32 values)
  std::uint8_t scales_l[4];
  std::uint8_t qs[128];
};
static_assert(sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24, "GGUF layout");
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144, "GGUF layout");
static_assert(sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210, "GGUF layout");
static_assert(sizeof(BlockIQ4_NL) == 18 && sizeof(BlockIQ4_XS) == 136, "GGUF layout");

// The 16 levels of IQ4_NL and IQ4_XS (ggml's kvalues_iq4nl, llama.cpp PR #5590): a non-linear
// grid fitted to the distribution of trained weights.
inline constexpr std::int8_t kIQ4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                               1,    13,   25,  38,  53,  69,  89,  113};

// Every block format: q8_0 ... iq4_xs.
XPB_API bool is_block_quantized(DType t);

// One block as codes: value[i] = scale[i / 16] * code[i] - offset[i / 16], for i below
// traits(t).block_elements (32 or 256; a 32-value block fills two groups). The f32 scale and
// offset are the very products ggml's dequantize_row_* forms (d * sub-scale, dmin * sub-min), so
// the values come out bit-identical to ggml's. Codes span at most -128..127.
struct UnpackedBlock {
  std::int8_t code[kSuperBlock];
  float scale[kSuperBlock / 16];
  float offset[kSuperBlock / 16];
};
// Unpacks the block at `block` (traits(t).block_bytes bytes, any alignment) of a block format.
XPB_API void unpack_block(DType t, const std::byte* block, UnpackedBlock& out);

// Quantizes one block of values (traits(t).block_elements floats) into `block`. The codes come
// from a direct min/max fit per group and its sub-scales rounded to the format's bits, not
// from ggml's iterative search: files written so are valid and close, not identical to
// llama-quantize's (which a user can run on an f16 export for that).
XPB_API void quantize_block(DType t, const float* values, std::byte* block);

}  // namespace xpb
