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
#include "register_tile-inl.h"  // TileMulAdd, kRegisterRows

HWY_BEFORE_NAMESPACE();
namespace xpb::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

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

// Columns in groups of up to kGemmGroup: for each block of k, every panel of the group packed
// (kGemmGroup x 256 floats, in L2), then each register tile's rows of x (in L1) multiplied
// with all of them, so x streams from memory once per group of columns, not once per panel.
template <class WT>
void GemmT(const WT* w, std::size_t k, std::size_t j_begin, std::size_t j_end, const float* x, std::size_t rows,
           float* out, std::size_t ldo, float* scratch) {
  const hn::ScalableTag<float> df;
  float* packed = AlignedLine(scratch);
  const std::size_t width = 2 * hn::Lanes(df);
  for (std::size_t g0 = j_begin; g0 < j_end; g0 += kGemmGroup) {
    const std::size_t g1 = std::min(j_end, g0 + kGemmGroup);
    for (std::size_t i0 = 0; i0 < k; i0 += kBlock) {
      const std::size_t len = std::min(kBlock, k - i0);
      for (std::size_t j0 = g0; j0 < g1; j0 += width)
        Pack(w, k, j0, std::min(width, g1 - j0), i0, len, width, packed + (j0 - g0) * kBlock);
      for (std::size_t t = 0; t < rows; t += kRegisterRows)
        for (std::size_t j0 = g0; j0 < g1; j0 += width)
          TileMulAdd(x + t * k + i0, k, 1, std::min(kRegisterRows, rows - t), packed + (j0 - g0) * kBlock, width, len,
                     out + t * ldo + j0, ldo, std::min(width, g1 - j0), i0 != 0);
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
std::size_t gemm_scratch() { return 256 * kGemmGroup + kLineFloats; }
}  // namespace xpb::cpu
#endif
