// The GGUF block formats: layouts decoded value by value from hand-made blocks, and the
// quantizers' error for each format on seeded values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <vector>

#include "xpubench/gguf_blocks.hpp"
#include "xpubench/quant.hpp"

namespace {

using xpb::DType;

std::vector<float> decode(DType t, const void* block) {
  std::vector<float> out(xpb::traits(t).block_elements);
  xpb::decode_row(t, static_cast<const std::byte*>(block), out.data(), out.size());
  return out;
}

TEST(GgufBlocks, SmallBlocksPlaceEachValueWhereGgmlDoes) {
  // Q5_1: value i = d * (nibble | fifth bit << 4) + m.
  xpb::BlockQ5_1 b{xpb::f32_to_f16(0.5f), xpb::f32_to_f16(-1.0f), {}, {}};
  for (int i = 0; i < 16; ++i) b.qs[i] = static_cast<std::uint8_t>(i | ((15 - i) << 4));
  const std::uint32_t qh = 0x80000001u;  // the fifth bit of values 0 and 31
  std::memcpy(b.qh, &qh, 4);
  const auto v = decode(DType::q5_1, &b);
  EXPECT_EQ(v[0], 0.5f * 16 - 1.0f);
  EXPECT_EQ(v[3], 0.5f * 3 - 1.0f);
  EXPECT_EQ(v[16], 0.5f * 15 - 1.0f);  // high nibble of qs[0]
  EXPECT_EQ(v[31], 0.5f * (0 + 16) - 1.0f);
  // IQ4_NL: the non-linear levels.
  xpb::BlockIQ4_NL n{xpb::f32_to_f16(0.25f), {}};
  n.qs[0] = 0xF0;
  const auto w = decode(DType::iq4_nl, &n);
  EXPECT_EQ(w[0], 0.25f * -127);
  EXPECT_EQ(w[16], 0.25f * 113);
}

TEST(GgufBlocks, SuperBlocksPlaceEachValueWhereGgmlDoes) {
  // Q4_K: scale/min pair 5 (values 160-191) lives in the nibbles of byte 9 and the top bits of
  // bytes 1 and 5; values 160-191 are the high nibbles of qs[64..95] (chunk 2, whose low
  // nibbles are values 128-159).
  xpb::BlockQ4_K k{xpb::f32_to_f16(2.0f), xpb::f32_to_f16(1.0f), {}, {}};
  k.scales[9] = 0x3 | (0x4 << 4);      // scale 5 low bits 3, min 5 low bits 4
  k.scales[1] = 1 << 6;                 // scale 5 high bits 1: scale 16 + 3 = 19
  k.scales[5] = 2 << 6;                 // min 5 high bits 2: min 32 + 4 = 36
  k.qs[64 + 7] = 0x5A;                  // value 135: low nibble 10 (pair 4); value 167: high nibble 5
  const auto v = decode(DType::q4_K, &k);
  EXPECT_EQ(v[167], 2.0f * 19 * 5 - 1.0f * 36);
  EXPECT_EQ(v[160], 2.0f * 19 * 0 - 1.0f * 36);
  EXPECT_EQ(v[135], 0.0f);  // pair 4's scale and min are 0
  // Q6_K: value 200 is in half 1, r = 72: low nibble... high nibble of ql[64 + 8] (r < 64 is
  // low), high bits at shift 4 of qh[32 + 8]; scale 200 / 16 = 12.
  xpb::BlockQ6_K q6{};
  q6.d = xpb::f32_to_f16(0.5f);
  q6.scales[12] = -3;
  q6.ql[64 + 8] = 0x70;  // high nibble 7
  q6.qh[32 + 8] = 2 << 4;
  const auto w = decode(DType::q6_K, &q6);
  EXPECT_EQ(w[200], 0.5f * -3 * ((7 | (2 << 4)) - 32));
  // Q3_K: value 130 (n = 1, j = 0, l = 2): two bits of qs[32 + 2] at shift 0, the third bit 4 of
  // hmask[2]; scale 8 (130 / 16) from byte 0's high nibble and bits 4-5 of byte 8.
  xpb::BlockQ3_K q3{};
  q3.d = xpb::f32_to_f16(1.0f);
  q3.scales[0] = 0x5 << 4;
  q3.scales[8] = 0x2 << 4;  // scale 8 = 0x25 = 37 -> 37 - 32 = 5
  q3.qs[34] = 0x3;
  const auto u = decode(DType::q3_K, &q3);
  EXPECT_EQ(u[130], 5.0f * (3 - 4));  // third bit clear: code - 4
  q3.hmask[2] = 1 << 4;
  EXPECT_EQ(decode(DType::q3_K, &q3)[130], 5.0f * 3);
}

// Quantizing seeded values and decoding them again stays within a bound for each format: its
// step (the range of a group over its codes) at the bits it has. The bounds are RMS errors
// relative to the values' RMS, about 1.5x those observed.
TEST(GgufBlocks, EveryFormatQuantizesWithinItsStep) {
  const std::map<DType, double> bound = {
      {DType::q8_0, 0.006}, {DType::q4_0, 0.10}, {DType::q4_1, 0.10},  {DType::q5_0, 0.05},
      {DType::q5_1, 0.05},  {DType::q2_K, 0.42}, {DType::q3_K, 0.20},  {DType::q4_K, 0.10},
      {DType::q5_K, 0.05},  {DType::q6_K, 0.023}, {DType::iq4_nl, 0.11}, {DType::iq4_xs, 0.11},
  };
  const std::size_t n = 4096;
  std::vector<float> x(n), y(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = xpb::synthetic_value(5, i, 1.0f) * (1.0f + static_cast<float>(i % 300) / 100.0f);
  for (DType t : xpb::all_dtypes()) {
    if (!xpb::is_block_quantized(t)) continue;
    ASSERT_TRUE(bound.count(t)) << xpb::name(t);
    std::vector<std::byte> buf(xpb::storage_bytes(t, n));
    xpb::encode_row(t, x.data(), buf.data(), n);
    xpb::decode_row(t, buf.data(), y.data(), n);
    double err = 0, ref = 0;
    for (std::size_t i = 0; i < n; ++i) {
      err += (x[i] - y[i]) * double(x[i] - y[i]);
      ref += double(x[i]) * x[i];
    }
    const double rel = std::sqrt(err / ref);
    std::printf("%-7s RMS error %.4f of the values' RMS\n", std::string(xpb::name(t)).c_str(), rel);
    EXPECT_LT(rel, bound.at(t)) << xpb::name(t);
    // And not suspiciously exact: every format loses something on these values.
    EXPECT_GT(rel, 1e-4) << xpb::name(t);
  }
}

TEST(GgufBlocks, AllZeroBlocksDecodeToZero) {
  std::vector<float> x(256, 0.0f), y(256, 1.0f);
  for (DType t : xpb::all_dtypes()) {
    if (!xpb::is_block_quantized(t)) continue;
    std::vector<std::byte> buf(xpb::storage_bytes(t, 256));
    xpb::encode_row(t, x.data(), buf.data(), 256);
    xpb::decode_row(t, buf.data(), y.data(), 256);
    for (float v : y) ASSERT_EQ(v, 0.0f) << xpb::name(t);
  }
}

}  // namespace
