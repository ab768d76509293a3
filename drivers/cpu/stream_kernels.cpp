#include "stream_kernels.hpp"

#include <cmath>
#include <cstring>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "stream_kernels.cpp"
#include <hwy/foreach_target.h>  // re-includes this file once per target
#include <hwy/cache_control.h>
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace xpb::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class T>
HWY_INLINE T scalar_op(StreamOp op, const T* a, const T* b, std::size_t i, T s) {
  switch (op) {
    case StreamOp::copy: return a[i];
    case StreamOp::scale: return s * a[i];
    case StreamOp::add: return a[i] + b[i];
    case StreamOp::triad: return std::fma(s, b[i], a[i]);  // fused, as the vector MulAdd
    case StreamOp::fill: return s;
  }
  return s;
}

template <StreamOp OP, bool NT, class T>
HWY_INLINE void loop(const T* HWY_RESTRICT a, const T* HWY_RESTRICT b, T* HWY_RESTRICT out, std::size_t n,
                     T s) {
  const hn::ScalableTag<T> d;
  const std::size_t N = hn::Lanes(d);
  const auto vs = hn::Set(d, s);
  auto compute = [&](std::size_t i) HWY_ATTR {
    if constexpr (OP == StreamOp::copy) return hn::LoadU(d, a + i);
    else if constexpr (OP == StreamOp::scale) return hn::Mul(vs, hn::LoadU(d, a + i));
    else if constexpr (OP == StreamOp::add) return hn::Add(hn::LoadU(d, a + i), hn::LoadU(d, b + i));
    else if constexpr (OP == StreamOp::triad) return hn::MulAdd(vs, hn::LoadU(d, b + i), hn::LoadU(d, a + i));
    else return vs;
  };
  auto store = [&](decltype(vs) v, std::size_t i) HWY_ATTR {
    if constexpr (NT) hn::Stream(v, d, out + i);
    else hn::Store(v, d, out + i);
  };
  std::size_t i = 0;
  // Aligned stores (streaming stores require them): scalar until `out` is vector-aligned.
  while (i < n && reinterpret_cast<std::uintptr_t>(out + i) % (N * sizeof(T)) != 0) {
    out[i] = scalar_op(OP, a, b, i, s);
    ++i;
  }
  // Four vectors per step: enough independent loads in flight to saturate the memory system.
  for (; i + 4 * N <= n; i += 4 * N) {
    const auto v0 = compute(i), v1 = compute(i + N), v2 = compute(i + 2 * N), v3 = compute(i + 3 * N);
    store(v0, i);
    store(v1, i + N);
    store(v2, i + 2 * N);
    store(v3, i + 3 * N);
  }
  for (; i + N <= n; i += N) store(compute(i), i);
  for (; i < n; ++i) out[i] = scalar_op(OP, a, b, i, s);
}

template <class T>
HWY_INLINE void dispatch(StreamOp op, const T* a, const T* b, T* out, std::size_t n, T s, bool nt) {
  switch (op) {
    case StreamOp::copy: return nt ? loop<StreamOp::copy, true>(a, b, out, n, s) : loop<StreamOp::copy, false>(a, b, out, n, s);
    case StreamOp::scale: return nt ? loop<StreamOp::scale, true>(a, b, out, n, s) : loop<StreamOp::scale, false>(a, b, out, n, s);
    case StreamOp::add: return nt ? loop<StreamOp::add, true>(a, b, out, n, s) : loop<StreamOp::add, false>(a, b, out, n, s);
    case StreamOp::triad: return nt ? loop<StreamOp::triad, true>(a, b, out, n, s) : loop<StreamOp::triad, false>(a, b, out, n, s);
    case StreamOp::fill: return nt ? loop<StreamOp::fill, true>(a, b, out, n, s) : loop<StreamOp::fill, false>(a, b, out, n, s);
  }
}

void StreamF64(StreamOp op, const double* a, const double* b, double* out, std::size_t n, double s, bool nt) {
  dispatch<double>(op, a, b, out, n, s, nt);
}
void StreamF32(StreamOp op, const float* a, const float* b, float* out, std::size_t n, float s, bool nt) {
  dispatch<float>(op, a, b, out, n, s, nt);
}

// The sum, in T, of a[i, stop) taken whole vectors at a time from i (left at the first element
// no whole vector covers): four independent accumulators, so the loop is bound by bandwidth and
// not by the latency of one add chain.
template <class T>
HWY_INLINE T VectorSum(const T* HWY_RESTRICT a, std::size_t& i, std::size_t stop) {
  const hn::ScalableTag<T> d;
  const std::size_t N = hn::Lanes(d);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  for (; i + 4 * N <= stop; i += 4 * N) {
    s0 = hn::Add(s0, hn::LoadU(d, a + i));
    s1 = hn::Add(s1, hn::LoadU(d, a + i + N));
    s2 = hn::Add(s2, hn::LoadU(d, a + i + 2 * N));
    s3 = hn::Add(s3, hn::LoadU(d, a + i + 3 * N));
  }
  for (; i + N <= stop; i += N) s0 = hn::Add(s0, hn::LoadU(d, a + i));
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
}

template <class T>
HWY_INLINE double sum(const T* HWY_RESTRICT a, std::size_t n) {
  // f32 lanes stay exact for integer sums below 2^24 per lane: fold into double per block.
  const std::size_t block = sizeof(T) == 4 ? (std::size_t{1} << 20) : n;
  double total = 0;
  std::size_t i = 0;
  while (i < n) {
    const std::size_t stop = std::min(n, i + block);
    total += static_cast<double>(VectorSum(a, i, stop));
    for (; i < stop; ++i) total += static_cast<double>(a[i]);
  }
  return total;
}

std::uint64_t SumWords(const std::byte* p, std::size_t bytes) {
  const std::size_t words = bytes / 8;
  std::size_t i = 0;
  // A tensor may start at any byte (after one of 18-byte blocks): LoadU takes any address.
  std::uint64_t total = VectorSum(reinterpret_cast<const std::uint64_t*>(p), i, words);
  for (; i < words; ++i) {
    std::uint64_t word;
    std::memcpy(&word, p + i * 8, 8);
    total += word;
  }
  if (const std::size_t tail = bytes % 8; tail != 0) {
    std::uint64_t word = 0;
    std::memcpy(&word, p + words * 8, tail);
    total += word;
  }
  return total;
}

double SumF64(const double* a, std::size_t n) { return sum(a, n); }
double SumF32(const float* a, std::size_t n) { return sum(a, n); }

}  // namespace xpb::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace xpb::cpu {

HWY_EXPORT(StreamF64);
HWY_EXPORT(StreamF32);
HWY_EXPORT(SumF64);
HWY_EXPORT(SumF32);
HWY_EXPORT(SumWords);

void stream_f64(StreamOp op, const double* a, const double* b, double* out, std::size_t n, double s, bool nt) {
  HWY_DYNAMIC_DISPATCH(StreamF64)(op, a, b, out, n, s, nt);
}
void stream_f32(StreamOp op, const float* a, const float* b, float* out, std::size_t n, float s, bool nt) {
  HWY_DYNAMIC_DISPATCH(StreamF32)(op, a, b, out, n, s, nt);
}
double sum_f64(const double* a, std::size_t n) { return HWY_DYNAMIC_DISPATCH(SumF64)(a, n); }
double sum_f32(const float* a, std::size_t n) { return HWY_DYNAMIC_DISPATCH(SumF32)(a, n); }
std::uint64_t sum_words(const std::byte* p, std::size_t bytes) { return HWY_DYNAMIC_DISPATCH(SumWords)(p, bytes); }

void stream_fence() { hwy::FlushStream(); }

const char* simd_target() {
  const std::int64_t targets = hwy::SupportedTargets() & HWY_TARGETS;
  return hwy::TargetName(targets & -targets);  // the lowest bit is the best target
}

}  // namespace xpb::cpu
#endif
