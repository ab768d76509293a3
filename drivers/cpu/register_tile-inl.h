// The register tile every product of the cpu driver's GEMM-shaped kernels runs on (the packed
// GEMM of gemm_kernels.cpp, the scores and weighted values of attention_kernels.cpp): a block of
// C, kRegisterRows rows by two vectors, kept in registers while the steps of the sum go by, each
// step one broadcast per row and two vector loads (BLIS's micro-kernel, Van Zee and van de Geijn
// 2015). Highway re-includes this header once per SIMD target, from the files that use it.
#if defined(XPB_CPU_REGISTER_TILE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef XPB_CPU_REGISTER_TILE_INL_H_
#undef XPB_CPU_REGISTER_TILE_INL_H_
#else
#define XPB_CPU_REGISTER_TILE_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace xpb::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Rows of the tile: with AVX-512's 32 vector registers, 12 rows (24 sums, 2 loads and a
// broadcast live: 27); with 16 registers (AVX2, SSE), 6 (12 sums: 15). More rows per loaded
// vector is fewer loads per multiply-add: 14 loads to 24 at 12 rows, 8 to 12 at 6.
constexpr std::size_t kRegisterRows = HWY_MAX_BYTES >= 64 ? 12 : 6;

// The first float of `scratch` on a 64-byte cache line (at most kLineFloats - 1 floats on):
// a vector load that straddles two lines costs two loads, and the tile's B rows are loaded
// whole, so buffers of B start on a line (and their rows are whole lines apart).
HWY_INLINE float* AlignedLine(float* scratch) {
  const auto at = reinterpret_cast<std::uintptr_t>(scratch);
  return scratch + ((64 - at % 64) % 64) / sizeof(float);
}

// C[r][c] = (accumulate ? C[r][c] : 0) + sum over s < steps of A(r, s) * B(s, c), for rows
// r < rows (<= kRegisterRows) and columns c < cols (<= 2 vectors of f32), where
// A(r, s) = a[r * a_row + s * a_step], B(s, c) = b[s * b_step + c] (b_step >= 2 vectors; every
// B row is read whole, columns past `cols` included), C[r][c] = c[r * ldc + c]. Rows past
// `rows` repeat the last (computed, not stored); columns past `cols` are not stored. Strides in
// floats: one kernel serves x W^T (A rows of x, B a packed panel), Q K^T and P V (attention).
// kRowStride > 0: a_row is kRowStride, known when compiling, so every row of A is one base
// plus a constant offset rather than a register of its own (12 pointers do not fit beside the
// sums), and all kRegisterRows rows of A are read, those past `rows` too: the caller's
// buffer holds them.
template <std::size_t kRowStride = 0>
HWY_INLINE void TileMulAdd(const float* a, std::size_t a_row, std::size_t a_step, std::size_t rows,
                           const float* HWY_RESTRICT b, std::size_t b_step, std::size_t steps, float* c,
                           std::size_t ldc, std::size_t cols, bool accumulate) {
  const hn::ScalableTag<float> df;
  using V = hn::Vec<decltype(df)>;
  const std::size_t n = hn::Lanes(df);
  const float* ar[kRegisterRows];
  for (std::size_t r = 0; r < kRegisterRows; ++r) ar[r] = a + (kRowStride > 0 ? r : std::min(r, rows - 1)) * a_row;
  V acc[kRegisterRows][2];
  HWY_UNROLL(16)
  for (std::size_t r = 0; r < kRegisterRows; ++r) acc[r][0] = hn::Zero(df), acc[r][1] = hn::Zero(df);
  for (std::size_t s = 0; s < steps; ++s) {
    const V w0 = hn::LoadU(df, b + s * b_step), w1 = hn::LoadU(df, b + s * b_step + n);
    const std::size_t at = s * a_step;
    const float* as = a + at;  // kRowStride > 0: row r at as + r * kRowStride
    HWY_UNROLL(16)
    for (std::size_t r = 0; r < kRegisterRows; ++r) {
      const V x = hn::Set(df, kRowStride > 0 ? as[r * kRowStride] : ar[r][at]);
      acc[r][0] = hn::MulAdd(x, w0, acc[r][0]);
      acc[r][1] = hn::MulAdd(x, w1, acc[r][1]);
    }
  }
  // Stored with constant indices only (the loop unrolled), so the sums never leave registers
  // for an array in memory while the steps run.
  HWY_UNROLL(16)
  for (std::size_t r = 0; r < kRegisterRows; ++r) {
    if (r >= rows) break;
    float* y = c + r * ldc;
    if (cols == 2 * n) {
      hn::StoreU(accumulate ? hn::Add(hn::LoadU(df, y), acc[r][0]) : acc[r][0], df, y);
      hn::StoreU(accumulate ? hn::Add(hn::LoadU(df, y + n), acc[r][1]) : acc[r][1], df, y + n);
    } else {
      HWY_ALIGN float tmp[2 * hn::MaxLanes(df)];
      hn::Store(acc[r][0], df, tmp);
      hn::Store(acc[r][1], df, tmp + n);
      for (std::size_t j = 0; j < cols; ++j) y[j] = (accumulate ? y[j] : 0.0f) + tmp[j];
    }
  }
}

}  // namespace xpb::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // XPB_CPU_REGISTER_TILE_INL_H_
