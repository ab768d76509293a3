// The cpu driver's decoder kernels on every instruction set this build has and this CPU runs
// (Highway's targets: the AVX-512 VNNI, AVX-512, AVX2 and portable paths are different code),
// against plain arithmetic on the same rounded inputs.
#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "drivers/cpu/attention_kernels.hpp"
#include "drivers/cpu/gemm_kernels.hpp"
#include "drivers/cpu/llm_kernels.hpp"
#include "drivers/cpu/stream_kernels.hpp"
#include "xpubench/gguf_blocks.hpp"
#include "xpubench/quant.hpp"

namespace {

using xpb::DType;

// Activations rounded as the weight format `t` has them rounded (Q8_0, Q8_1 or Q8_K).
struct Rows {
  std::vector<float> x;
  std::vector<std::int8_t> q;
  std::vector<float> d, sum;
  std::vector<std::int32_t> neg_sum;
  std::vector<std::int16_t> sum16;
  xpb::cpu::QuantizedRows view;
  Rows(std::size_t rows, std::size_t k, DType t)
      : x(rows * k), q(rows * k), d(rows * k / 32), sum(rows * k / 32), neg_sum(rows * k / 32), sum16(rows * k / 16) {
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = xpb::synthetic_value(11, i, 2.0f);
    view = {q.data(), d.data(), sum.data(), neg_sum.data(), sum16.data(), k};
    xpb::cpu::quantize_rows(xpb::cpu::activation_blocks(t), x.data(), 0, rows, view);
  }
};

// Every weight format of the catalogue, and row lengths for it: odd and even numbers of its
// blocks (a multiple of 256 for the K-quants and IQ4_XS); 7 blocks of 32 take a decode loop's
// steps of four, of two and a last single block.
std::vector<std::pair<DType, std::size_t>> formats_and_lengths() {
  std::vector<std::pair<DType, std::size_t>> out;
  for (DType t : xpb::all_dtypes()) {
    if (!xpb::is_weight_dtype(t)) continue;
    const std::size_t block = xpb::traits(t).block_elements;
    for (std::size_t k : block == 256 ? std::vector<std::size_t>{256, 768} : std::vector<std::size_t>{96, 128, 224})
      out.emplace_back(t, k);
  }
  return out;
}

// Restores the CPU's own targets however the test ends.
struct TargetGuard {
  ~TargetGuard() { hwy::SetSupportedTargetsForTest(0); }
};

TEST(LlmKernels, EveryTargetMatchesPlainArithmetic) {
  TargetGuard guard;
  const std::size_t n = 13;  // output columns: tiles of 4 (and 2) plus a tail
  // The targets libxpubench is built for (HWY_WANT_AVX3_DL adds AVX3_DL), where this CPU runs them.
  std::vector<std::int64_t> targets;
  for (std::int64_t t : {std::int64_t{HWY_AVX3_DL}, std::int64_t{HWY_AVX3}, std::int64_t{HWY_AVX2}, std::int64_t{HWY_SSE4},
                         std::int64_t{HWY_SSSE3}, std::int64_t{HWY_SCALAR}})
    if ((hwy::SupportedTargets() & t) != 0) targets.push_back(t);
  ASSERT_FALSE(targets.empty());
  for (std::int64_t target : targets) {
    hwy::SetSupportedTargetsForTest(target);
    const std::string tname = hwy::TargetName(target);
    RecordProperty("target_" + tname, "tested");
    std::printf("kernels on %s (dispatch picks %s)\n", tname.c_str(), xpb::cpu::simd_target());
    for (const auto& [t, k] : formats_and_lengths()) {
      for (std::size_t rows : {std::size_t{1}, std::size_t{6}}) {
        Rows a(rows, k, t);
        // The rounded activations exactly as the kernels see them.
        std::vector<float> xr(rows * k);
        for (std::size_t i = 0; i < xr.size(); ++i) xr[i] = a.d[i / 32] * a.q[i];
        {
          std::vector<float> wf(n * k), wr(n * k);
          for (std::size_t i = 0; i < wf.size(); ++i) wf[i] = xpb::synthetic_value(12, i, 0.5f);
          const std::size_t row_bytes = xpb::storage_bytes(t, k);
          std::vector<std::byte> w(n * row_bytes);
          for (std::size_t j = 0; j < n; ++j) {
            xpb::encode_row(t, wf.data() + j * k, w.data() + j * row_bytes, k);
            xpb::decode_row(t, w.data() + j * row_bytes, wr.data() + j * k, k);
          }
          const bool quantized = xpb::is_block_quantized(t);
          std::vector<float> out(rows * n, -1.0f);
          if (t == DType::q8_0 || t == DType::q4_0)
            xpb::cpu::matmul_quantized(t, w.data(), row_bytes, 0, n, a.view, rows, out.data(), n);
          else if (quantized)
            xpb::cpu::matmul_gguf(t, w.data(), row_bytes, 0, n, a.view, rows, out.data(), n);
          else
            xpb::cpu::matmul_float(t, w.data(), k, 0, n, a.x.data(), rows, out.data(), n);
          for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t j = 0; j < n; ++j) {
              double want = 0, scale = 0;
              for (std::size_t i = 0; i < k; ++i) {
                const double xv = quantized ? xr[r * k + i] : a.x[r * k + i];
                want += xv * wr[j * k + i];
                scale += std::fabs(xv * wr[j * k + i]);
              }
              // Q8_1 (Q4_1, Q5_1): the offsets meet the activations through each block's
              // sum as Q8_1 keeps it (fp16), in place of d x (sum of codes).
              if (xpb::cpu::activation_blocks(t) == xpb::cpu::ActivationBlocks::q8_1)
                for (std::size_t b = 0; b < k / 32; ++b) {
                  xpb::UnpackedBlock u;
                  xpb::unpack_block(t, w.data() + j * row_bytes + b * xpb::traits(t).block_bytes, u);
                  double exact = 0;
                  for (std::size_t i = 0; i < 32; ++i) exact += xr[r * k + 32 * b + i];
                  want -= u.offset[0] * (a.sum[(r * k) / 32 + b] - exact);
                }
              EXPECT_NEAR(out[r * n + j], want, 1e-5 * scale + 1e-6)
                  << tname << " " << xpb::name(t) << " k=" << k << " rows=" << rows << " [" << r << "][" << j << "]";
            }
        }
      }
    }
    // The attention helpers and SwiGLU's gate.
    std::vector<float> a(37), b(37), g(37);
    for (std::size_t i = 0; i < a.size(); ++i) {
      a[i] = xpb::synthetic_value(1, i, 3.0f);
      b[i] = xpb::synthetic_value(2, i, 3.0f);
    }
    // One head over a ring cache of 7 (odd) slots of stride 40, head size 20 (not whole
    // vectors), 6 positions from slot 4 (wrapping after slot 6), in both cache formats, against
    // the softmax written out.
    for (bool half : {false, true}) {
      const std::size_t ring = 7, first = 4, span = 6, stride = 40, hd = 20;
      auto row = [&](std::size_t j) { return (first + j) % ring * stride; };
      std::vector<float> kf(ring * stride), vf(ring * stride), q(hd), out(hd), scores(span);
      std::vector<std::uint16_t> kh(kf.size()), vh(vf.size());
      for (std::size_t i = 0; i < kf.size(); ++i) {
        kf[i] = xpb::synthetic_value(3, i, 1.0f);
        vf[i] = xpb::synthetic_value(4, i, 1.0f);
        kh[i] = xpb::f32_to_f16(kf[i]);
        vh[i] = xpb::f32_to_f16(vf[i]);
        if (half) kf[i] = xpb::f16_to_f32(kh[i]), vf[i] = xpb::f16_to_f32(vh[i]);
      }
      for (std::size_t i = 0; i < hd; ++i) q[i] = xpb::synthetic_value(5, i, 1.0f);
      xpb::cpu::attend(q.data(), half ? static_cast<const void*>(kh.data()) : kf.data(),
                       half ? static_cast<const void*>(vh.data()) : vf.data(), half, first, span, ring, stride, hd, 0.5f,
                       scores.data(), out.data());
      std::vector<double> p(span);
      double top = -1e300, total = 0;
      for (std::size_t j = 0; j < span; ++j) {
        double s = 0;
        for (std::size_t i = 0; i < hd; ++i) s += double(q[i]) * kf[row(j) + i];
        p[j] = 0.5 * s;
        top = std::max(top, p[j]);
      }
      for (auto& x : p) total += (x = std::exp(x - top));
      for (std::size_t i = 0; i < hd; ++i) {
        double want = 0;
        for (std::size_t j = 0; j < span; ++j) want += p[j] / total * vf[row(j) + i];
        EXPECT_NEAR(out[i], want, 1e-5) << tname << (half ? " f16" : " f32") << " [" << i << "]";
      }
    }
    // Gates far below zero: silu -> 0 (Highway's Exp is only valid up to +104).
    std::vector<float> big(37, 1.0f), neg(37), gz(37);
    for (std::size_t i = 0; i < neg.size(); ++i) neg[i] = -90.0f - 10.0f * static_cast<float>(i);
    xpb::cpu::silu_mul(neg.data(), big.data(), gz.data(), gz.size());
    for (std::size_t i = 0; i < gz.size(); ++i) EXPECT_LE(std::fabs(gz[i]), 1e-30f) << tname << " g=" << neg[i];
    xpb::cpu::silu_mul(a.data(), b.data(), g.data(), g.size());
    for (std::size_t i = 0; i < g.size(); ++i)
      EXPECT_NEAR(g[i], a[i] / (1 + std::exp(-a[i])) * b[i], 1e-4 * (1 + std::fabs(g[i]))) << tname;
    std::vector<float> e = a;
    const float total = xpb::cpu::exp_shifted(e.data(), e.size(), 2.0f);
    double want_total = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_NEAR(e[i], std::exp(a[i] - 2.0f), 1e-5 * std::exp(a[i] - 2.0f) + 1e-7) << tname;
      want_total += std::exp(a[i] - 2.0);
    }
    EXPECT_NEAR(total, want_total, 1e-4 * want_total) << tname;
  }
}

// The kernels of many rows (a prompt, a video chunk): the packed GEMM of float weights and the
// tiled attention, on every target, with tails everywhere, against plain double arithmetic.
TEST(LlmKernels, TheGemmAndTheTiledAttentionMatchPlainArithmeticOnEveryTarget) {
  TargetGuard guard;
  std::vector<std::int64_t> targets;
  for (std::int64_t t : {std::int64_t{HWY_AVX3_DL}, std::int64_t{HWY_AVX3}, std::int64_t{HWY_AVX2}, std::int64_t{HWY_SSE4},
                         std::int64_t{HWY_SSSE3}, std::int64_t{HWY_SCALAR}})
    if ((hwy::SupportedTargets() & t) != 0) targets.push_back(t);
  for (std::int64_t target : targets) {
    hwy::SetSupportedTargetsForTest(target);
    const std::string tname = hwy::TargetName(target);
    // GEMM: columns [3, 40) (no whole panel), rows past a register tile (6 or 12), k past a 256 block.
    std::vector<float> scratch(xpb::cpu::gemm_scratch());
    for (DType t : {DType::f32, DType::f16, DType::bf16})
      for (std::size_t rows : {std::size_t{1}, std::size_t{13}})
        for (std::size_t k : {std::size_t{20}, std::size_t{300}}) {
          const std::size_t n = 40;
          std::vector<float> x(rows * k), wf(n * k), wr(n * k);
          for (std::size_t i = 0; i < x.size(); ++i) x[i] = xpb::synthetic_value(21, i, 1.0f);
          for (std::size_t i = 0; i < wf.size(); ++i) wf[i] = xpb::synthetic_value(22, i, 0.5f);
          const std::size_t row_bytes = xpb::storage_bytes(t, k);
          std::vector<std::byte> w(n * row_bytes);
          for (std::size_t j = 0; j < n; ++j) {
            xpb::encode_row(t, wf.data() + j * k, w.data() + j * row_bytes, k);
            xpb::decode_row(t, w.data() + j * row_bytes, wr.data() + j * k, k);
          }
          std::vector<float> out(rows * n, -7.0f);
          xpb::cpu::gemm_float(t, w.data(), k, 3, n, x.data(), rows, out.data(), n, scratch.data());
          for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t j = 0; j < n; ++j) {
              if (j < 3) {
                EXPECT_EQ(out[r * n + j], -7.0f) << tname << " wrote outside its columns";
                continue;
              }
              double want = 0, scale = 0;
              for (std::size_t i = 0; i < k; ++i) want += double(x[r * k + i]) * wr[j * k + i], scale += std::fabs(x[r * k + i] * wr[j * k + i]);
              EXPECT_NEAR(out[r * n + j], want, 1e-5 * (1 + scale)) << tname << " " << xpb::name(t) << " k=" << k << " [" << r << "][" << j << "]";
            }
        }
    // Attention, two tiles: 13 rows of their own ranges (empty, from 0, wrapping past slot 49
    // of a ring of 50, one key alone: masks in every block), and 40 rows of which the first 32
    // share one range over three blocks of keys (whole slabs: no masks) and the rest wrap a
    // ring of 150.
    for (std::size_t rows : {std::size_t{13}, std::size_t{40}})
    for (std::size_t hd : {std::size_t{20}, std::size_t{64}})
      for (bool half : {false, true}) {
        const std::size_t ring = rows == 13 ? 50 : 150, stride = hd + 3;
        std::vector<float> kf(ring * stride), vf(ring * stride), q(rows * hd), out(rows * hd, -7.0f);
        std::vector<std::uint16_t> kh(kf.size()), vh(vf.size());
        for (std::size_t i = 0; i < kf.size(); ++i) {
          kf[i] = xpb::synthetic_value(23, i, 1.0f), vf[i] = xpb::synthetic_value(24, i, 1.0f);
          kh[i] = xpb::f32_to_f16(kf[i]), vh[i] = xpb::f32_to_f16(vf[i]);
          if (half) kf[i] = xpb::f16_to_f32(kh[i]), vf[i] = xpb::f16_to_f32(vh[i]);
        }
        for (std::size_t i = 0; i < q.size(); ++i) q[i] = xpb::synthetic_value(25, i, 1.0f);
        std::int64_t begin[40], end[40];
        for (std::size_t r = 0; r < rows; ++r) begin[r] = static_cast<std::int64_t>(3 * r), end[r] = begin[r] + 5 + static_cast<std::int64_t>(4 * r);
        if (rows == 13) {
          begin[2] = end[2] = 9;        // nothing: zeros
          begin[5] = 40, end[5] = 88;   // slots 40-49 then 0-37
          begin[7] = 17, end[7] = 18;   // one key
        } else {
          std::fill_n(begin, 32, 5), std::fill_n(end, 32, 130);
        }
        std::vector<float> tile(xpb::cpu::attend_tile_scratch(hd));
        xpb::cpu::attend_tile(q.data(), hd, rows, begin, end, half ? static_cast<const void*>(kh.data()) : kf.data(),
                              half ? static_cast<const void*>(vh.data()) : vf.data(), half, ring, stride, hd, 0.3f,
                              tile.data(), out.data(), hd);
        for (std::size_t r = 0; r < rows; ++r) {
          std::vector<double> p;
          double top = -1e300, total = 0;
          for (std::int64_t pos = begin[r]; pos < end[r]; ++pos) {
            double sc = 0;
            for (std::size_t i = 0; i < hd; ++i) sc += double(q[r * hd + i]) * kf[static_cast<std::size_t>(pos) % ring * stride + i];
            p.push_back(0.3 * sc);
            top = std::max(top, p.back());
          }
          for (auto& x : p) total += (x = std::exp(x - top));
          for (std::size_t i = 0; i < hd; ++i) {
            double want = 0;
            for (std::size_t j = 0; j < p.size(); ++j)
              want += p[j] / total * vf[static_cast<std::size_t>(begin[r] + static_cast<std::int64_t>(j)) % ring * stride + i];
            EXPECT_NEAR(out[r * hd + i], want, 1e-5) << tname << " hd=" << hd << (half ? " f16" : " f32") << " row " << r << " [" << i << "]";
          }
        }
      }
  }
}

}  // namespace
