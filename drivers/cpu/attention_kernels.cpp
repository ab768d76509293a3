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
#include "register_tile-inl.h"  // TileMulAdd, kRegisterRows

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

// Keys and values of one block widened to f32 rows (kw, vw: nb x hd), so that every product
// below reads f32 from L1 and each f16 value is converted once per tile, not once per row.
template <class KT>
void WidenBlock(const KT* k, const KT* v, std::int64_t b0, std::size_t nb, std::size_t ring, std::size_t stride,
                std::size_t hd, float* kw, float* vw) {
  const hn::ScalableTag<float> df;
  const std::size_t n = hn::Lanes(df);
  for (std::size_t j = 0; j < nb; ++j) {
    const std::size_t at = static_cast<std::size_t>(b0 + static_cast<std::int64_t>(j)) % ring * stride;
    std::size_t i = 0;
    for (; i + n <= hd; i += n) {
      hn::StoreU(Widened(k + at + i), df, kw + j * hd + i);
      hn::StoreU(Widened(v + at + i), df, vw + j * hd + i);
    }
    for (; i < hd; ++i) kw[j * hd + i] = Scalar(k + at + i), vw[j * hd + i] = Scalar(v + at + i);
  }
}

// The layout is transposed: rows of the tile run along the vectors (a slab of 2 vectors of
// rows at a time), so that the online softmax's maximum, sum and rescaling over a block of
// keys are vertical vector operations, one per 16 rows (AVX-512), not a reduction per row.
// Per tile, Q^T (scaled) and the output sums O^T are hd x R (R: rows rounded up to a slab);
// per block of keys, S^T (nb x R) holds the scores, then the weights.
template <class KT>
void AttendTileT(const float* q, std::size_t q_stride, std::size_t rows, const std::int64_t* begin,
                 const std::int64_t* end, const KT* k, const KT* v, std::size_t ring, std::size_t stride,
                 std::size_t hd, float scale, float* scratch, float* out, std::size_t out_stride) {
  const hn::ScalableTag<float> df;
  using V = hn::Vec<decltype(df)>;
  const std::size_t n = hn::Lanes(df), slab = 2 * n;
  const std::size_t R = (rows + slab - 1) / slab * slab;
  float* qt = AlignedLine(scratch);       // hd x R: q scaled, transposed (padding rows zero)
  float* ot = qt + kTileRows * hd;        // hd x R: the weighted sums so far
  float* st = ot + kTileRows * hd;        // kTileKeys x R: this block's scores, then weights
  float* kw = st + kTileKeys * kTileRows; // kTileKeys x hd: the block's keys, f32
  float* vw = kw + kTileKeys * hd;        // kTileKeys x hd: its values
  float* m = vw + kTileKeys * hd;         // R: the largest score so far (lowest: none yet)
  float* l = m + kTileRows;               // R: the sum of weights so far, at that maximum
  float* lo = l + kTileRows;              // R: the block's first key for the row (as a float)
  float* hi = lo + kTileRows;             // R: one past its last
  std::int64_t first = std::numeric_limits<std::int64_t>::max(), last = std::numeric_limits<std::int64_t>::min();
  for (std::size_t r = 0; r < rows; ++r)
    if (begin[r] < end[r]) first = std::min(first, begin[r]), last = std::max(last, end[r]);
  for (std::size_t i = 0; i < hd; ++i) {
    for (std::size_t r = 0; r < rows; ++r) qt[i * R + r] = q[r * q_stride + i] * scale;
    std::fill(qt + i * R + rows, qt + (i + 1) * R, 0.0f);
  }
  std::fill_n(ot, hd * R, 0.0f);
  std::fill_n(m, R, std::numeric_limits<float>::lowest());
  std::fill_n(l, R, 0.0f);
  const V lowest = hn::Set(df, std::numeric_limits<float>::lowest()), zero = hn::Zero(df);
  for (std::int64_t b0 = first; b0 < last; b0 += static_cast<std::int64_t>(kTileKeys)) {
    const auto nb = static_cast<std::size_t>(std::min<std::int64_t>(static_cast<std::int64_t>(kTileKeys), last - b0));
    const auto clamp = [&](std::int64_t p) {
      return static_cast<float>(std::clamp<std::int64_t>(p - b0, 0, static_cast<std::int64_t>(nb)));
    };
    for (std::size_t r = 0; r < R; ++r) {
      lo[r] = r < rows ? clamp(begin[r]) : 0.0f;
      hi[r] = r < rows && begin[r] < end[r] ? clamp(end[r]) : 0.0f;
    }
    WidenBlock(k, v, b0, nb, ring, stride, hd, kw, vw);
    // The next block's keys and values on their way from memory while this one is multiplied
    // (a key's row of one head is a few lines, a cache row apart from the next: no stream the
    // hardware prefetcher follows), a share of them before each slab: a burst of all of them
    // at once stalls on the line fill buffers.
    const std::int64_t next = b0 + static_cast<std::int64_t>(kTileKeys);
    const std::int64_t next_end = std::min(last, next + static_cast<std::int64_t>(kTileKeys));
    const std::int64_t per_slab = (static_cast<std::int64_t>(kTileKeys) + static_cast<std::int64_t>(R / slab) - 1) /
                                  static_cast<std::int64_t>(R / slab);
    auto prefetch = [&](std::size_t r0) {
      const std::int64_t from = next + static_cast<std::int64_t>(r0 / slab) * per_slab;
      for (std::int64_t p = from; p < std::min(next_end, from + per_slab); ++p) {
        const std::size_t at = static_cast<std::size_t>(p) % ring * stride;
        for (std::size_t byte = 0; byte < hd * sizeof(KT); byte += 64) {
          __builtin_prefetch(reinterpret_cast<const char*>(k + at) + byte);
          __builtin_prefetch(reinterpret_cast<const char*>(v + at) + byte);
        }
      }
    };
    for (std::size_t r0 = 0; r0 < R; r0 += slab) {
      prefetch(r0);
      // Which rows of the slab take keys of this block: none (skipped: a causal prompt's rows
      // past the block), all of them whole (a video chunk: no masks), or some (masked).
      bool any = false, whole = true;
      for (std::size_t r = r0; r < r0 + slab; ++r) {
        any = any || lo[r] < hi[r];
        whole = whole && lo[r] == 0 && hi[r] == static_cast<float>(nb);
      }
      if (!any) continue;
      // S^T[j][slab] = K_j . Q^T[slab]: keys as the tile's rows, the slab's rows as columns
      // (the common head sizes with their row stride fixed; a group past nb reads kw's rows
      // beyond it: kTileKeys is whole groups).
      for (std::size_t j0 = 0; j0 < nb; j0 += kRegisterRows) {
        const std::size_t keys = std::min(kRegisterRows, nb - j0);
        float* sj = st + j0 * R + r0;
        if (hd == 128) TileMulAdd<128>(kw + j0 * hd, hd, 1, keys, qt + r0, R, hd, sj, R, slab, false);
        else if (hd == 64) TileMulAdd<64>(kw + j0 * hd, hd, 1, keys, qt + r0, R, hd, sj, R, slab, false);
        else TileMulAdd(kw + j0 * hd, hd, 1, keys, qt + r0, R, hd, sj, R, slab, false);
      }
      // Online softmax, one vector of rows at a time: the block's maximum, the weights at the
      // new maximum, the sums so far rescaled to it (skipped when no row's maximum moved).
      for (std::size_t h = r0; h < r0 + slab; h += n) {
        const V vlo = hn::LoadU(df, lo + h), vhi = hn::LoadU(df, hi + h);
        auto mask = [&](std::size_t j) {
          const V vj = hn::Set(df, static_cast<float>(j));
          return hn::And(hn::Ge(vj, vlo), hn::Lt(vj, vhi));
        };
        V top = hn::LoadU(df, m + h);
        const V old = top;
        for (std::size_t j = 0; j < nb; ++j) {
          const V sj = hn::LoadU(df, st + j * R + h);
          top = hn::Max(top, whole ? sj : hn::IfThenElse(mask(j), sj, lowest));
        }
        V sum = zero;
        for (std::size_t j = 0; j < nb; ++j) {
          // Min(.., 0): a masked score may exceed the maximum; its weight is zeroed after.
          V p = hn::Exp(df, hn::Min(hn::Sub(hn::LoadU(df, st + j * R + h), top), zero));
          if (!whole) p = hn::IfThenElseZero(mask(j), p);
          hn::StoreU(p, df, st + j * R + h);
          sum = hn::Add(sum, p);
        }
        const V keep = hn::Exp(df, hn::Max(hn::Sub(old, top), lowest));  // 1 where the maximum held
        hn::StoreU(hn::MulAdd(hn::LoadU(df, l + h), keep, sum), df, l + h);
        hn::StoreU(top, df, m + h);
        if (!hn::AllTrue(df, hn::Eq(old, top)))
          for (std::size_t e = 0; e < hd; ++e)
            hn::StoreU(hn::Mul(hn::LoadU(df, ot + e * R + h), keep), df, ot + e * R + h);
      }
      // O^T[e][slab] += sum_j V_j[e] W^T[j][slab]: head elements as the tile's rows (adjacent:
      // the last group reads up to kRegisterRows - 1 floats past vw's end, into m).
      for (std::size_t e0 = 0; e0 < hd; e0 += kRegisterRows)
        TileMulAdd<1>(vw + e0, 1, hd, std::min(kRegisterRows, hd - e0), st + r0, R, nb, ot + e0 * R + r0, R, slab,
                      true);
    }
  }
  for (std::size_t r = 0; r < rows; ++r) {
    float* y = out + r * out_stride;
    const float inv = l[r] > 0 ? 1.0f / l[r] : 0.0f;
    for (std::size_t i = 0; i < hd; ++i) y[i] = ot[i * R + r] * inv;
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
