#include "compute_kernels.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "compute_kernels.cpp"
#include <hwy/foreach_target.h>  // re-includes this file once per target
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace xpb::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Independent vectors per block. A core with P FMA pipes of latency L needs P x L multiply-adds
// in flight (Zen 3, Skylake: 2 x 4 = 8); 12 leave room for longer latencies and still fit the
// 16 registers of AVX2/SSE with the constant. Where the ISA has 32 (AVX-512, AArch64), 16.
// Written out as named variables, not an array, so sizeless vector types (SVE, RVV) work too.
#undef XPB_EACH_VECTOR
#if (HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3) || HWY_ARCH_ARM_A64
#define XPB_EACH_VECTOR(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
constexpr std::size_t kVectors = 16;
#else
#define XPB_EACH_VECTOR(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
constexpr std::size_t kVectors = 12;
#endif

template <class T>
HWY_INLINE void chain_loop(const T* HWY_RESTRICT in, T* HWY_RESTRICT out, std::size_t n, std::uint64_t chain) {
  const hn::ScalableTag<T> d;
  const std::size_t N = hn::Lanes(d);
  const auto half = hn::Set(d, static_cast<T>(0.5));
  std::size_t i = 0;
  // The chain count is a run-time value and each step depends on the last, so the compiler can
  // neither drop nor fold the steps; MulAdd is one FMA instruction where the target has one.
  for (; i + kVectors * N <= n; i += kVectors * N) {
#define XPB_LOAD(k) auto v##k = hn::LoadU(d, in + i + (k) * N);
#define XPB_STEP(k) v##k = hn::MulAdd(v##k, half, half);
#define XPB_STORE(k) hn::StoreU(v##k, d, out + i + (k) * N);
    XPB_EACH_VECTOR(XPB_LOAD)
    for (std::uint64_t s = 0; s < chain; ++s) {
      XPB_EACH_VECTOR(XPB_STEP)
    }
    XPB_EACH_VECTOR(XPB_STORE)
#undef XPB_LOAD
#undef XPB_STEP
#undef XPB_STORE
  }
  for (; i + N <= n; i += N) {
    auto v = hn::LoadU(d, in + i);
    for (std::uint64_t s = 0; s < chain; ++s) v = hn::MulAdd(v, half, half);
    hn::StoreU(v, d, out + i);
  }
  for (; i < n; ++i) {
    T v = in[i];
    for (std::uint64_t s = 0; s < chain; ++s) v = v * static_cast<T>(0.5) + static_cast<T>(0.5);
    out[i] = v;
  }
}

void FmaChainF64(const double* in, double* out, std::size_t n, std::uint64_t chain) { chain_loop(in, out, n, chain); }
void FmaChainF32(const float* in, float* out, std::size_t n, std::uint64_t chain) { chain_loop(in, out, n, chain); }
std::size_t FmaChainBlock(std::size_t elem_bytes) {
  return elem_bytes == 8 ? kVectors * hn::Lanes(hn::ScalableTag<double>())
                         : kVectors * hn::Lanes(hn::ScalableTag<float>());
}

}  // namespace xpb::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace xpb::cpu {

HWY_EXPORT(FmaChainF64);
HWY_EXPORT(FmaChainF32);
HWY_EXPORT(FmaChainBlock);

void fma_chain_f64(const double* in, double* out, std::size_t n, std::uint64_t chain) {
  HWY_DYNAMIC_DISPATCH(FmaChainF64)(in, out, n, chain);
}
void fma_chain_f32(const float* in, float* out, std::size_t n, std::uint64_t chain) {
  HWY_DYNAMIC_DISPATCH(FmaChainF32)(in, out, n, chain);
}
std::size_t fma_chain_block(std::size_t elem_bytes) { return HWY_DYNAMIC_DISPATCH(FmaChainBlock)(elem_bytes); }

}  // namespace xpb::cpu
#endif
