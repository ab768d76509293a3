// gemm_kernels.hpp, one body per SIMD target (Highway re-includes this file for each).
#include "gemm_kernels.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "xpubench/quant.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "gemm_kernels.cpp"
#include <hwy/foreach_target.h>  // re-includes this file once per target
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace xpb::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr std::size_t kRows = 6;    // activation rows of the register tile
constexpr std::size_t kBlock = 256; // values of k per packed panel

// Packs columns [j0, j0 + cols) (cols <= 2 lanes) of W, values [i0, i0 + len) of k, as
// panel[i][c] (2 lanes wide, columns past `cols` zero), widened to f32.
template <class WT>
void Pack(const WT* w, std::size_t k, std::size_t j0, std::size_t cols, std::size_t i0, std::size_t len,
          std::size_t width, float* panel) {
  std::fill_n(panel, len * width, 0.0f);
  for (std::size_t c = 0; c < cols; ++c) {
    const WT* row = w + (j0 + c) * k + i0;
    if constexpr (std::is_same_v<WT, float>) {
      for (std::size_t i = 0; i < len; ++i) panel[i * width + c] = row[i];
    } else {
      float wide[kBlock];
      decode_row(std::is_same_v<WT, hwy::float16_t> ? DType::f16 : DType::bf16, reinterpret_cast<const std::byte*>(row),
                 wide, len);
      for (std::size_t i = 0; i < len; ++i) panel[i * width + c] = wide[i];
    }
  }
}

// C[6 x 2 lanes] (+)= X[6 rows, len] . panel[len x 2 lanes]. Rows past `rows` repeat the last
// (computed, not stored); columns past `cols` are not stored. `first`: C starts at zero.
void Tile(const float* x, std::size_t k, std::size_t rows, const float* panel, std::size_t len, float* out,
          std::size_t ldo, std::size_t cols, bool first) {
  const hn::ScalableTag<float> df;
  const std::size_t n = hn::Lanes(df);
  const float* xr[kRows];
  for (std::size_t r = 0; r < kRows; ++r) xr[r] = x + std::min(r, rows - 1) * k;
  auto c00 = hn::Zero(df), c01 = hn::Zero(df), c10 = hn::Zero(df), c11 = hn::Zero(df), c20 = hn::Zero(df),
       c21 = hn::Zero(df), c30 = hn::Zero(df), c31 = hn::Zero(df), c40 = hn::Zero(df), c41 = hn::Zero(df),
       c50 = hn::Zero(df), c51 = hn::Zero(df);
  for (std::size_t i = 0; i < len; ++i) {
    const auto w0 = hn::LoadU(df, panel + i * 2 * n), w1 = hn::LoadU(df, panel + i * 2 * n + n);
    auto b = hn::Set(df, xr[0][i]);
    c00 = hn::MulAdd(b, w0, c00), c01 = hn::MulAdd(b, w1, c01);
    b = hn::Set(df, xr[1][i]);
    c10 = hn::MulAdd(b, w0, c10), c11 = hn::MulAdd(b, w1, c11);
    b = hn::Set(df, xr[2][i]);
    c20 = hn::MulAdd(b, w0, c20), c21 = hn::MulAdd(b, w1, c21);
    b = hn::Set(df, xr[3][i]);
    c30 = hn::MulAdd(b, w0, c30), c31 = hn::MulAdd(b, w1, c31);
    b = hn::Set(df, xr[4][i]);
    c40 = hn::MulAdd(b, w0, c40), c41 = hn::MulAdd(b, w1, c41);
    b = hn::Set(df, xr[5][i]);
    c50 = hn::MulAdd(b, w0, c50), c51 = hn::MulAdd(b, w1, c51);
  }
  const decltype(c00) acc[kRows][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  for (std::size_t r = 0; r < std::min(rows, kRows); ++r) {
    float* y = out + r * ldo;
    if (cols == 2 * n) {
      for (std::size_t h = 0; h < 2; ++h) {
        const auto prev = first ? hn::Zero(df) : hn::LoadU(df, y + h * n);
        hn::StoreU(hn::Add(prev, acc[r][h]), df, y + h * n);
      }
    } else {
      HWY_ALIGN float tmp[2 * hn::MaxLanes(df)];
      hn::Store(acc[r][0], df, tmp);
      hn::Store(acc[r][1], df, tmp + n);
      for (std::size_t c = 0; c < cols; ++c) y[c] = (first ? 0.0f : y[c]) + tmp[c];
    }
  }
}

// Columns in groups of up to kGemmGroup: for each block of k, every panel of the group packed
// (kGemmGroup x 256 floats, in L2), then each 6-row tile of x (in L1) multiplied with all of
// them, so x streams from memory once per group of columns, not once per panel.
template <class WT>
void GemmT(const WT* w, std::size_t k, std::size_t j_begin, std::size_t j_end, const float* x, std::size_t rows,
           float* out, std::size_t ldo, float* packed) {
  const hn::ScalableTag<float> df;
  const std::size_t width = 2 * hn::Lanes(df);
  for (std::size_t g0 = j_begin; g0 < j_end; g0 += kGemmGroup) {
    const std::size_t g1 = std::min(j_end, g0 + kGemmGroup);
    for (std::size_t i0 = 0; i0 < k; i0 += kBlock) {
      const std::size_t len = std::min(kBlock, k - i0);
      for (std::size_t j0 = g0; j0 < g1; j0 += width)
        Pack(w, k, j0, std::min(width, g1 - j0), i0, len, width, packed + (j0 - g0) * kBlock);
      for (std::size_t t = 0; t < rows; t += kRows)
        for (std::size_t j0 = g0; j0 < g1; j0 += width)
          Tile(x + t * k + i0, k, std::min(kRows, rows - t), packed + (j0 - g0) * kBlock, len, out + t * ldo + j0, ldo,
               std::min(width, g1 - j0), i0 == 0);
    }
  }
}

void Gemm(DType weights, const std::byte* w, std::size_t k, std::size_t j_begin, std::size_t j_end, const float* x,
          std::size_t rows, float* out, std::size_t ldo, float* panel) {
  switch (weights) {
    case DType::f16:
      return GemmT(reinterpret_cast<const hwy::float16_t*>(w), k, j_begin, j_end, x, rows, out, ldo, panel);
    case DType::bf16:
      return GemmT(reinterpret_cast<const hwy::bfloat16_t*>(w), k, j_begin, j_end, x, rows, out, ldo, panel);
    default: return GemmT(reinterpret_cast<const float*>(w), k, j_begin, j_end, x, rows, out, ldo, panel);
  }
}

}  // namespace xpb::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace xpb::cpu {
HWY_EXPORT(Gemm);

void gemm_float(DType weights, const std::byte* w, std::size_t k, std::size_t j_begin, std::size_t j_end,
                const float* x, std::size_t rows, float* out, std::size_t ldo, float* scratch) {
  HWY_DYNAMIC_DISPATCH(Gemm)(weights, w, k, j_begin, j_end, x, rows, out, ldo, scratch);
}
std::size_t gemm_scratch() { return 256 * kGemmGroup; }
}  // namespace xpb::cpu
#endif
