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

// The rows of one register tile: 6 query rows against one block of keys (2 vectors).
constexpr std::size_t kGroup = 6;

template <class KT>
void AttendTileT(const float* q, std::size_t q_stride, std::size_t rows, const std::int64_t* begin,
                 const std::int64_t* end, const KT* k, const KT* v, std::size_t ring, std::size_t stride,
                 std::size_t hd, float scale, float* scratch, float* out, std::size_t out_stride) {
  const hn::ScalableTag<float> df;
  const std::size_t n = hn::Lanes(df), B = 2 * n;  // keys per block: one register tile wide
  float* o = scratch;                   // rows x hd: the weighted sums so far
  float* s = o + kTileRows * hd;        // rows x B: this block's scores, then weights
  float* m = s + kTileRows * kTileKeys; // per row: the largest score so far
  float* l = m + kTileRows;             // per row: the sum of weights so far (at that maximum)
  float* kt = l + kTileRows;            // hd x B: the block's keys, transposed, widened
  std::int64_t lo = std::numeric_limits<std::int64_t>::max(), hi = std::numeric_limits<std::int64_t>::min();
  for (std::size_t r = 0; r < rows; ++r) {
    if (begin[r] < end[r]) lo = std::min(lo, begin[r]), hi = std::max(hi, end[r]);
    m[r] = -std::numeric_limits<float>::infinity();
    l[r] = 0;
  }
  std::fill_n(o, rows * hd, 0.0f);
  const KT* vals[kTileKeys];
  float wide[kMaxHeadDim];
  for (std::int64_t b0 = lo; b0 < hi; b0 += static_cast<std::int64_t>(B)) {
    const auto nb = static_cast<std::size_t>(std::min<std::int64_t>(static_cast<std::int64_t>(B), hi - b0));
    // The block's keys transposed once for every row of the tile: kt[i][j] = key j's value i.
    for (std::size_t j = 0; j < B; ++j) {
      if (j >= nb) {
        for (std::size_t i = 0; i < hd; ++i) kt[i * B + j] = 0;
        continue;
      }
      const std::size_t at = static_cast<std::size_t>(b0 + static_cast<std::int64_t>(j)) % ring * stride;
      vals[j] = v + at;
      if constexpr (std::is_same_v<KT, float>) std::memcpy(wide, k + at, hd * 4);
      else decode_row(DType::f16, reinterpret_cast<const std::byte*>(k + at), wide, hd);
      for (std::size_t i = 0; i < hd; ++i) kt[i * B + j] = wide[i];
    }
    for (std::size_t r0 = 0; r0 < rows; r0 += kGroup) {
      const std::size_t g = std::min(kGroup, rows - r0);
      // Rows whose range misses this block take nothing from it; a group of such rows is skipped
      // (a causal prompt's rows skip the blocks past their position).
      std::size_t first[kGroup], last[kGroup];
      bool any = false;
      for (std::size_t r = 0; r < g; ++r) {
        first[r] = static_cast<std::size_t>(std::clamp<std::int64_t>(begin[r0 + r] - b0, 0, static_cast<std::int64_t>(nb)));
        last[r] = static_cast<std::size_t>(std::clamp<std::int64_t>(end[r0 + r] - b0, 0, static_cast<std::int64_t>(nb)));
        any = any || first[r] < last[r];
      }
      if (!any) continue;
      // Scores: 6 rows x 2 vectors of keys, one broadcast of q per row and step.
      const float* qr[kGroup];
      for (std::size_t r = 0; r < kGroup; ++r) qr[r] = q + (r0 + std::min(r, g - 1)) * q_stride;
      auto c00 = hn::Zero(df), c01 = hn::Zero(df), c10 = hn::Zero(df), c11 = hn::Zero(df), c20 = hn::Zero(df),
           c21 = hn::Zero(df), c30 = hn::Zero(df), c31 = hn::Zero(df), c40 = hn::Zero(df), c41 = hn::Zero(df),
           c50 = hn::Zero(df), c51 = hn::Zero(df);
      for (std::size_t i = 0; i < hd; ++i) {
        const auto k0 = hn::LoadU(df, kt + i * B), k1 = hn::LoadU(df, kt + i * B + n);
        auto b = hn::Set(df, qr[0][i]);
        c00 = hn::MulAdd(b, k0, c00), c01 = hn::MulAdd(b, k1, c01);
        b = hn::Set(df, qr[1][i]);
        c10 = hn::MulAdd(b, k0, c10), c11 = hn::MulAdd(b, k1, c11);
        b = hn::Set(df, qr[2][i]);
        c20 = hn::MulAdd(b, k0, c20), c21 = hn::MulAdd(b, k1, c21);
        b = hn::Set(df, qr[3][i]);
        c30 = hn::MulAdd(b, k0, c30), c31 = hn::MulAdd(b, k1, c31);
        b = hn::Set(df, qr[4][i]);
        c40 = hn::MulAdd(b, k0, c40), c41 = hn::MulAdd(b, k1, c41);
        b = hn::Set(df, qr[5][i]);
        c50 = hn::MulAdd(b, k0, c50), c51 = hn::MulAdd(b, k1, c51);
      }
      const auto vs = hn::Set(df, scale);
      const decltype(c00) sc[kGroup][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
      for (std::size_t r = 0; r < g; ++r) {
        hn::StoreU(hn::Mul(sc[r][0], vs), df, s + (r0 + r) * kTileKeys);
        hn::StoreU(hn::Mul(sc[r][1], vs), df, s + (r0 + r) * kTileKeys + n);
      }
      // Online softmax: each row's weights at its new maximum, its sums so far rescaled to it.
      for (std::size_t r = 0; r < g; ++r) {
        float* sr = s + (r0 + r) * kTileKeys;
        const std::size_t row = r0 + r;
        if (first[r] >= last[r]) {
          std::fill_n(sr, B, 0.0f);
          continue;
        }
        const bool whole = first[r] == 0 && last[r] == B;  // the common case: vector max and sum
        const float block_top = whole ? hn::GetLane(hn::MaxOfLanes(df, hn::Max(hn::LoadU(df, sr), hn::LoadU(df, sr + n))))
                                      : *std::max_element(sr + first[r], sr + last[r]);
        const float top = std::max(m[row], block_top);
        const float keep = std::exp(m[row] - top);  // 0 for the row's first block (m = -inf)
        // Min(.., 0): scores outside the row's range may exceed the maximum; zeroed below.
        const auto vt = hn::Set(df, top), zero = hn::Zero(df);
        const auto e0 = hn::Exp(df, hn::Min(hn::Sub(hn::LoadU(df, sr), vt), zero));
        const auto e1 = hn::Exp(df, hn::Min(hn::Sub(hn::LoadU(df, sr + n), vt), zero));
        hn::StoreU(e0, df, sr), hn::StoreU(e1, df, sr + n);
        float sum = 0;
        if (whole) {
          sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(e0, e1)));
        } else {
          std::fill_n(sr, first[r], 0.0f);
          std::fill(sr + last[r], sr + B, 0.0f);
          for (std::size_t j = first[r]; j < last[r]; ++j) sum += sr[j];
        }
        l[row] = l[row] * keep + sum;
        m[row] = top;
        if (keep != 1.0f) {
          const auto vk = hn::Set(df, keep);
          float* orow = o + row * hd;
          std::size_t i = 0;
          for (; i + n <= hd; i += n) hn::StoreU(hn::Mul(hn::LoadU(df, orow + i), vk), df, orow + i);
          for (; i < hd; ++i) orow[i] *= keep;
        }
      }
      // Weighted values: 6 rows x 2 vectors of the head, one broadcast of a weight per row and
      // key; rows past the group's end repeat its last (weights 0 there: stored first, then
      // overwritten by the real row, which is stored last).
      static constexpr float kNoWeights[kTileKeys] = {};
      const float* wr[kGroup];
      float* orow[kGroup];
      for (std::size_t r = 0; r < kGroup; ++r) {
        wr[r] = r < g ? s + (r0 + r) * kTileKeys : kNoWeights;
        orow[r] = o + (r0 + std::min(r, g - 1)) * hd;
      }
      std::size_t e = 0;
      for (; e + 2 * n <= hd; e += 2 * n) {
        decltype(c00) a[kGroup][2];
        for (std::size_t r = 0; r < kGroup; ++r) a[r][0] = hn::LoadU(df, orow[r] + e), a[r][1] = hn::LoadU(df, orow[r] + e + n);
        for (std::size_t j = 0; j < nb; ++j) {
          const auto v0 = Widened(vals[j] + e), v1 = Widened(vals[j] + e + n);
          for (std::size_t r = 0; r < kGroup; ++r) {
            const auto w = hn::Set(df, wr[r][j]);
            a[r][0] = hn::MulAdd(w, v0, a[r][0]), a[r][1] = hn::MulAdd(w, v1, a[r][1]);
          }
        }
        for (std::size_t r = kGroup; r-- > 0;) hn::StoreU(a[r][0], df, orow[r] + e), hn::StoreU(a[r][1], df, orow[r] + e + n);
      }
      for (; e < hd; ++e)
        for (std::size_t r = 0; r < g; ++r) {
          float acc = orow[r][e];
          for (std::size_t j = 0; j < nb; ++j) acc += wr[r][j] * Scalar(vals[j] + e);
          orow[r][e] = acc;
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
