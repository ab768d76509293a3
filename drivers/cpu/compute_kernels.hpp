// The multiply-add chains of fma_loop (graph.hpp) over one thread's share of the elements,
// SIMD with run-time dispatch (Highway). Built to reach the core's peak: a block of several
// independent vectors stays in registers for the whole chain, so the FMA units always have as
// many independent multiply-adds in flight as their latency needs.
#pragma once
#include <cstddef>
#include <cstdint>

namespace xpb::cpu {

// out[i] = f^chain(in[i]), f(v) = v * 0.5 + 0.5 rounded to the type after every step.
void fma_chain_f64(const double* in, double* out, std::size_t n, std::uint64_t chain);
void fma_chain_f32(const float* in, float* out, std::size_t n, std::uint64_t chain);

// Elements of one block (independent vectors x lanes) on the target the dispatcher picked, for
// an element of `elem_bytes` (4 or 8): a share cut into multiples of it runs at full rate to
// its end (a last partial block runs one vector at a time, bound by the FMA's latency).
std::size_t fma_chain_block(std::size_t elem_bytes);

}  // namespace xpb::cpu
