// fma_loop on f16 (graph.hpp) over one thread's share of the elements, on AVX512-FP16's native
// half-precision multiply-add (vfmadd213ph: 32 lanes a zmm register, one rounding to f16 a
// step, the rounding ref's definition gives). Without AVX512-FP16 there is no native f16
// arithmetic on x86 (F16C only converts), and a figure taken by converting to f32 would be one
// of emulation, so the cpu does not claim the op then.
#pragma once
#include <cstddef>
#include <cstdint>

namespace xpb::cpu {

// Whether this CPU has AVX512-FP16 (and the AVX512-BW the masked tail needs).
bool f16_fma_native();

// Elements per block of independent vectors: a share cut into multiples of it runs at full rate.
std::size_t f16_fma_block();

// out[i] = f^chain(in[i]), f(v) = v * 0.5 + 0.5 in f16 (raw IEEE binary16 bits), for i < n.
// Only when f16_fma_native().
void fma_chain_f16(const std::uint16_t* in, std::uint16_t* out, std::size_t n, std::uint64_t chain);

}  // namespace xpb::cpu
