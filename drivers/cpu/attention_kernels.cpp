// attention_kernels.hpp, one body per SIMD target (Highway re-includes this file for each).
#include "attention_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "xpubench/quant.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "attention_kernels.cpp"
#include <hwy/foreach_target.h>  // re-includes this file once per target
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

HWY_BEFORE_NAMESPACE();
namespace xpb::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class KT>
HWY_INLINE auto Widened(const KT* p) {
  const hn::ScalableTag<float> df;
  if constexpr (std::is_same_v<KT, float>) {
    return hn::LoadU(df, p);
  } else {
    const hn::Rebind<KT, decltype(df)> dh;
    return hn::PromoteTo(df, hn::LoadU(dh, p));
  }
}

template <class KT>
float Scalar(const KT* p) {
  if constexpr (std::is_same_v<KT, float>) return *p;
  std::uint16_t bits;
  std::memcpy(&bits, p, 2);
  return f16_to_f32(bits);
}

// Scores of four rows against two keys (one of them possibly repeated), over hd: 8 chains.
template <class KT>
void Scores4x2(const float* const* qr, const KT* k0, const KT* k1, std::size_t hd, float out[4][2]) {
  const hn::ScalableTag<float> df;
  const std::size_t n = hn::Lanes(df), whole = hd / n * n;
  auto a00 = hn::Zero(df), a01 = hn::Zero(df), a10 = hn::Zero(df), a11 = hn::Zero(df);
  auto a20 = hn::Zero(df), a21 = hn::Zero(df), a30 = hn::Zero(df), a31 = hn::Zero(df);
  for (std::size_t i = 0; i < whole; i += n) {
    const auto x0 = Widened(k0 + i), x1 = Widened(k1 + i);
    const auto q0 = hn::LoadU(df, qr[0] + i), q1 = hn::LoadU(df, qr[1] + i);
    a00 = hn::MulAdd(q0, x0, a00), a01 = hn::MulAdd(q0, x1, a01);
    a10 = hn::MulAdd(q1, x0, a10), a11 = hn::MulAdd(q1, x1, a11);
    const auto q2 = hn::LoadU(df, qr[2] + i), q3 = hn::LoadU(df, qr[3] + i);
    a20 = hn::MulAdd(q2, x0, a20), a21 = hn::MulAdd(q2, x1, a21);
    a30 = hn::MulAdd(q3, x0, a30), a31 = hn::MulAdd(q3, x1, a31);
  }
  out[0][0] = hn::GetLane(hn::SumOfLanes(df, a00)), out[0][1] = hn::GetLane(hn::SumOfLanes(df, a01));
  out[1][0] = hn::GetLane(hn::SumOfLanes(df, a10)), out[1][1] = hn::GetLane(hn::SumOfLanes(df, a11));
  out[2][0] = hn::GetLane(hn::SumOfLanes(df, a20)), out[2][1] = hn::GetLane(hn::SumOfLanes(df, a21));
  out[3][0] = hn::GetLane(hn::SumOfLanes(df, a30)), out[3][1] = hn::GetLane(hn::SumOfLanes(df, a31));
  for (std::size_t i = whole; i < hd; ++i) {
    const float x0 = Scalar(k0 + i), x1 = Scalar(k1 + i);
    for (int r = 0; r < 4; ++r) out[r][0] += qr[r][i] * x0, out[r][1] += qr[r][i] * x1;
  }
}

template <class KT>
void AttendTileT(const float* q, std::size_t q_stride, std::size_t rows, const std::int64_t* begin,
                 const std::int64_t* end, const KT* k, const KT* v, std::size_t ring, std::size_t stride,
                 std::size_t hd, float scale, float* scratch, float* out, std::size_t out_stride) {
  const hn::ScalableTag<float> df;
  const std::size_t n = hn::Lanes(df), whole = hd / n * n;
  constexpr std::size_t B = kTileKeys;
  float* o = scratch;                  // rows x hd: the weighted sums so far
  float* s = o + kTileRows * hd;       // rows x B: this block's scores, then weights
  float* m = s + kTileRows * B;        // per row: the largest score so far
  float* l = m + kTileRows;            // per row: the sum of weights so far (at that maximum)
  std::int64_t lo = std::numeric_limits<std::int64_t>::max(), hi = std::numeric_limits<std::int64_t>::min();
  for (std::size_t r = 0; r < rows; ++r) {
    if (begin[r] < end[r]) lo = std::min(lo, begin[r]), hi = std::max(hi, end[r]);
    m[r] = -std::numeric_limits<float>::infinity();
    l[r] = 0;
  }
  std::fill_n(o, rows * hd, 0.0f);
  // Four row pointers per group: rows past the last repeat it (computed, never stored).
  auto group = [&](std::size_t r0, const float* base, std::size_t step, const float** ptrs) {
    for (std::size_t r = 0; r < 4; ++r) ptrs[r] = base + std::min(r0 + r, rows - 1) * step;
  };
  const KT* keys[B];
  const KT* vals[B];
  for (std::int64_t b0 = lo; b0 < hi; b0 += static_cast<std::int64_t>(B)) {
    const auto nb = static_cast<std::size_t>(std::min<std::int64_t>(static_cast<std::int64_t>(B), hi - b0));
    for (std::size_t j = 0; j < nb; ++j) {
      const std::size_t at = static_cast<std::size_t>(b0 + static_cast<std::int64_t>(j)) % ring * stride;
      keys[j] = k + at;
      vals[j] = v + at;
    }
    // Scores: each key read once for four rows, each row once for two keys.
    for (std::size_t r0 = 0; r0 < rows; r0 += 4) {
      const float* qr[4];
      group(r0, q, q_stride, qr);
      for (std::size_t j = 0; j < nb; j += 2) {
        float sc[4][2];
        Scores4x2(qr, keys[j], keys[std::min(j + 1, nb - 1)], hd, sc);
        for (std::size_t r = 0; r < 4 && r0 + r < rows; ++r) {
          s[(r0 + r) * B + j] = sc[r][0] * scale;
          if (j + 1 < nb) s[(r0 + r) * B + j + 1] = sc[r][1] * scale;
        }
      }
    }
    // Online softmax: each row's weights at its new maximum, its sums so far rescaled to it.
    for (std::size_t r = 0; r < rows; ++r) {
      float* sr = s + r * B;
      const auto first = static_cast<std::size_t>(std::clamp<std::int64_t>(begin[r] - b0, 0, static_cast<std::int64_t>(nb)));
      const auto last = static_cast<std::size_t>(std::clamp<std::int64_t>(end[r] - b0, 0, static_cast<std::int64_t>(nb)));
      if (first >= last) {
        std::fill_n(sr, nb, 0.0f);
        continue;
      }
      const float top = std::max(m[r], *std::max_element(sr + first, sr + last));
      const float keep = std::exp(m[r] - top);  // 0 for the first block (m = -inf)
      std::size_t j = 0;
      const auto vt = hn::Set(df, top), zero = hn::Zero(df);
      auto total = hn::Zero(df);
      for (; j + n <= nb; j += n) {
        // Min(.., 0): scores outside the row's range may exceed the maximum; zeroed below.
        const auto e = hn::Exp(df, hn::Min(hn::Sub(hn::LoadU(df, sr + j), vt), zero));
        hn::StoreU(e, df, sr + j);
      }
      for (; j < nb; ++j) sr[j] = std::exp(std::min(sr[j] - top, 0.0f));
      std::fill_n(sr, first, 0.0f);
      std::fill(sr + last, sr + nb, 0.0f);
      for (j = 0; j + n <= nb; j += n) total = hn::Add(total, hn::LoadU(df, sr + j));
      float sum = hn::GetLane(hn::SumOfLanes(df, total));
      for (; j < nb; ++j) sum += sr[j];
      l[r] = l[r] * keep + sum;
      m[r] = top;
      if (keep != 1.0f) {
        const auto vk = hn::Set(df, keep);
        float* orow = o + r * hd;
        std::size_t i = 0;
        for (; i < whole; i += n) hn::StoreU(hn::Mul(hn::LoadU(df, orow + i), vk), df, orow + i);
        for (; i < hd; ++i) orow[i] *= keep;
      }
    }
    // Weighted values: each value read once for four rows.
    for (std::size_t r0 = 0; r0 < rows; r0 += 4) {
      float* orow[4];
      for (std::size_t r = 0; r < 4; ++r) orow[r] = o + std::min(r0 + r, rows - 1) * hd;
      const float* wr[4];
      group(r0, s, B, wr);
      // Rows past the last get weights of 0 into a repeated row: a no-op, never stored twice.
      float zeros[B] = {};
      for (std::size_t r = 0; r < 4; ++r)
        if (r0 + r >= rows) wr[r] = zeros;
      for (std::size_t i = 0; i < whole; i += n) {
        auto a0 = hn::LoadU(df, orow[0] + i), a1 = hn::LoadU(df, orow[1] + i);
        auto a2 = hn::LoadU(df, orow[2] + i), a3 = hn::LoadU(df, orow[3] + i);
        for (std::size_t j = 0; j < nb; ++j) {
          const auto x = Widened(vals[j] + i);
          a0 = hn::MulAdd(hn::Set(df, wr[0][j]), x, a0);
          a1 = hn::MulAdd(hn::Set(df, wr[1][j]), x, a1);
          a2 = hn::MulAdd(hn::Set(df, wr[2][j]), x, a2);
          a3 = hn::MulAdd(hn::Set(df, wr[3][j]), x, a3);
        }
        // Stored last row first: a repeated row pointer then ends holding the real row's sum.
        hn::StoreU(a3, df, orow[3] + i), hn::StoreU(a2, df, orow[2] + i);
        hn::StoreU(a1, df, orow[1] + i), hn::StoreU(a0, df, orow[0] + i);
      }
      for (std::size_t i = whole; i < hd; ++i)
        for (std::size_t r = 0; r < 4 && r0 + r < rows; ++r) {
          float acc = orow[r][i];
          for (std::size_t j = 0; j < nb; ++j) acc += wr[r][j] * Scalar(vals[j] + i);
          orow[r][i] = acc;
        }
    }
  }
  for (std::size_t r = 0; r < rows; ++r) {
    float* y = out + r * out_stride;
    const float inv = l[r] > 0 ? 1.0f / l[r] : 0.0f;
    for (std::size_t i = 0; i < hd; ++i) y[i] = o[r * hd + i] * inv;
  }
}

void AttendTile(const float* q, std::size_t q_stride, std::size_t rows, const std::int64_t* begin,
                const std::int64_t* end, const void* k, const void* v, bool f16, std::size_t ring, std::size_t stride,
                std::size_t hd, float scale, float* scratch, float* out, std::size_t out_stride) {
  if (f16)
    AttendTileT(q, q_stride, rows, begin, end, static_cast<const hwy::float16_t*>(k),
                static_cast<const hwy::float16_t*>(v), ring, stride, hd, scale, scratch, out, out_stride);
  else
    AttendTileT(q, q_stride, rows, begin, end, static_cast<const float*>(k), static_cast<const float*>(v), ring, stride,
                hd, scale, scratch, out, out_stride);
}

}  // namespace xpb::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace xpb::cpu {
HWY_EXPORT(AttendTile);

void attend_tile(const float* q, std::size_t q_stride, std::size_t rows, const std::int64_t* begin,
                 const std::int64_t* end, const void* k, const void* v, bool f16, std::size_t ring, std::size_t stride,
                 std::size_t hd, float scale, float* scratch, float* out, std::size_t out_stride) {
  HWY_DYNAMIC_DISPATCH(AttendTile)(q, q_stride, rows, begin, end, k, v, f16, ring, stride, hd, scale, scratch, out,
                                   out_stride);
}
}  // namespace xpb::cpu
#endif
