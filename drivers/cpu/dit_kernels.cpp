// dit_kernels.hpp, one body per SIMD target (Highway re-includes this file for each).
#include "dit_kernels.hpp"

#include <cmath>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "dit_kernels.cpp"
#include <hwy/foreach_target.h>  // re-includes this file once per target
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

HWY_BEFORE_NAMESPACE();
namespace xpb::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Calls body(i, vector) over whole vectors of n, then body_tail(i) for the rest.
template <class D, class Body, class Tail>
void over(D d, std::size_t n, Body body, Tail tail) {
  const std::size_t lanes = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) body(i);
  for (; i < n; ++i) tail(i);
}

void LayerNormRow(const float* x, std::size_t n, float eps, const float* w, const float* b, float* y) {
  const hn::ScalableTag<float> d;
  auto acc = hn::Zero(d);
  float tail = 0;
  over(d, n, [&](std::size_t i) { acc = hn::Add(acc, hn::LoadU(d, x + i)); }, [&](std::size_t i) { tail += x[i]; });
  const float mean = (hn::GetLane(hn::SumOfLanes(d, acc)) + tail) / static_cast<float>(n);
  const auto vm = hn::Set(d, mean);
  acc = hn::Zero(d);
  tail = 0;
  over(d, n, [&](std::size_t i) {
        const auto c = hn::Sub(hn::LoadU(d, x + i), vm);
        acc = hn::MulAdd(c, c, acc);
      },
      [&](std::size_t i) { tail += (x[i] - mean) * (x[i] - mean); });
  const float inv = 1.0f / std::sqrt((hn::GetLane(hn::SumOfLanes(d, acc)) + tail) / static_cast<float>(n) + eps);
  const auto vi = hn::Set(d, inv);
  if (w == nullptr) {
    over(d, n, [&](std::size_t i) { hn::StoreU(hn::Mul(hn::Sub(hn::LoadU(d, x + i), vm), vi), d, y + i); },
         [&](std::size_t i) { y[i] = (x[i] - mean) * inv; });
  } else {
    over(d, n, [&](std::size_t i) {
          const auto z = hn::Mul(hn::Sub(hn::LoadU(d, x + i), vm), vi);
          hn::StoreU(hn::MulAdd(z, hn::LoadU(d, w + i), hn::LoadU(d, b + i)), d, y + i);
        },
        [&](std::size_t i) { y[i] = (x[i] - mean) * inv * w[i] + b[i]; });
  }
}

void ModulateRow(const float* x, const float* shift, const float* scale, float* y, std::size_t n) {
  const hn::ScalableTag<float> d;
  const auto one = hn::Set(d, 1.0f);
  over(d, n, [&](std::size_t i) {
        const auto s = hn::Add(one, hn::LoadU(d, scale + i));
        hn::StoreU(hn::MulAdd(hn::LoadU(d, x + i), s, hn::LoadU(d, shift + i)), d, y + i);
      },
      [&](std::size_t i) { y[i] = x[i] * (1.0f + scale[i]) + shift[i]; });
}

void GatedAddRow(const float* x, const float* y, const float* gate, float* out, std::size_t n) {
  const hn::ScalableTag<float> d;
  over(d, n, [&](std::size_t i) { hn::StoreU(hn::MulAdd(hn::LoadU(d, gate + i), hn::LoadU(d, y + i), hn::LoadU(d, x + i)), d, out + i); },
       [&](std::size_t i) { out[i] = x[i] + gate[i] * y[i]; });
}

// 1 / (1 + e^-a). Highway's Exp is valid up to +104 (and wraps beyond ~177): e^88 already
// makes the sigmoid 0 to f32 precision, so larger arguments are clamped there.
template <class D, class V>
V Sigmoid(D d, V a) {
  const auto one = hn::Set(d, 1.0f);
  return hn::Div(one, hn::Add(one, hn::Exp(d, hn::Min(hn::Neg(a), hn::Set(d, 88.0f)))));
}

void Gelu(const float* x, float* y, std::size_t n) {
  const hn::ScalableTag<float> d;
  const float c = 0.7978845608028654f;  // sqrt(2 / pi)
  const auto vc = hn::Set(d, 2.0f * c), vk = hn::Set(d, 2.0f * c * 0.044715f);
  over(d, n, [&](std::size_t i) {
        const auto v = hn::LoadU(d, x + i);
        const auto two_u = hn::Mul(v, hn::MulAdd(hn::Mul(v, v), vk, vc));  // 2u = 2c x + 2c 0.044715 x^3
        hn::StoreU(hn::Mul(v, Sigmoid(d, two_u)), d, y + i);
      },
      [&](std::size_t i) {
        const float v = x[i];
        y[i] = 0.5f * v * (1.0f + std::tanh(c * (v + 0.044715f * v * v * v)));
      });
}

void Silu(const float* x, float* y, std::size_t n) {
  const hn::ScalableTag<float> d;
  over(d, n, [&](std::size_t i) {
        const auto v = hn::LoadU(d, x + i);
        hn::StoreU(hn::Mul(v, Sigmoid(d, v)), d, y + i);
      },
      [&](std::size_t i) { y[i] = x[i] / (1.0f + std::exp(-x[i])); });
}

void FlowStep(const float* x, const float* v, const float* noise, float* y, std::size_t n, float sigma, float next) {
  const hn::ScalableTag<float> d;
  const auto vs = hn::Set(d, -sigma), keep = hn::Set(d, 1.0f - next), vn = hn::Set(d, next);
  over(d, n, [&](std::size_t i) {
        const auto x0 = hn::MulAdd(vs, hn::LoadU(d, v + i), hn::LoadU(d, x + i));
        hn::StoreU(hn::MulAdd(keep, x0, hn::Mul(vn, hn::LoadU(d, noise + i))), d, y + i);
      },
      [&](std::size_t i) { y[i] = (1.0f - next) * (x[i] - sigma * v[i]) + next * noise[i]; });
}

}  // namespace xpb::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace xpb::cpu {
HWY_EXPORT(LayerNormRow);
HWY_EXPORT(ModulateRow);
HWY_EXPORT(GatedAddRow);
HWY_EXPORT(Gelu);
HWY_EXPORT(Silu);
HWY_EXPORT(FlowStep);

void layer_norm_row(const float* x, std::size_t n, float eps, const float* w, const float* b, float* y) {
  HWY_DYNAMIC_DISPATCH(LayerNormRow)(x, n, eps, w, b, y);
}
void modulate_row(const float* x, const float* shift, const float* scale, float* y, std::size_t n) {
  HWY_DYNAMIC_DISPATCH(ModulateRow)(x, shift, scale, y, n);
}
void gated_add_row(const float* x, const float* y, const float* gate, float* out, std::size_t n) {
  HWY_DYNAMIC_DISPATCH(GatedAddRow)(x, y, gate, out, n);
}
void gelu(const float* x, float* y, std::size_t n) { HWY_DYNAMIC_DISPATCH(Gelu)(x, y, n); }
void silu(const float* x, float* y, std::size_t n) { HWY_DYNAMIC_DISPATCH(Silu)(x, y, n); }
void flow_step(const float* x, const float* v, const float* noise, float* y, std::size_t n, float sigma,
               float sigma_next) {
  HWY_DYNAMIC_DISPATCH(FlowStep)(x, v, noise, y, n, sigma, sigma_next);
}
}  // namespace xpb::cpu
#endif
