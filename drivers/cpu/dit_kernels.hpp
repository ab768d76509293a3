// The SIMD kernels of a diffusion transformer's elementwise ops on the CPU (the catalogue's
// layer_norm to flow_step, graph.hpp), dispatched at run time (Highway) to the best instruction
// set the CPU has. Each works on one thread's share: whole rows, or a run of elements. Outputs
// may alias the first input (the ops run in place).
#pragma once
#include <cstddef>

namespace xpb::cpu {

// y = (x - mean(x)) / sqrt(var(x) + eps) over one row of n, then * w + b when w is not null
// (both given or neither). Mean first, then the variance of the differences (two passes: a
// one-pass sum of squares loses digits when the mean is large next to the spread).
void layer_norm_row(const float* x, std::size_t n, float eps, const float* w, const float* b, float* y);
// y[i] = x[i] * (1 + scale[i]) + shift[i] over one row of n.
void modulate_row(const float* x, const float* shift, const float* scale, float* y, std::size_t n);
// out[i] = x[i] + gate[i] * y[i] over one row of n.
void gated_add_row(const float* x, const float* y, const float* gate, float* out, std::size_t n);
// y[i] = gelu(x[i]), tanh form, as x * sigmoid(2u) with u = sqrt(2/pi) (x + 0.044715 x^3)
// (0.5 (1 + tanh u) = 1 / (1 + e^-2u), exactly).
void gelu(const float* x, float* y, std::size_t n);
// y[i] = x[i] / (1 + e^-x[i])
void silu(const float* x, float* y, std::size_t n);
// y[i] = (1 - sigma_next) * (x[i] - sigma * v[i]) + sigma_next * noise[i]
void flow_step(const float* x, const float* v, const float* noise, float* y, std::size_t n, float sigma,
               float sigma_next);

}  // namespace xpb::cpu
