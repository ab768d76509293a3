// The 8-bit dot-product chains of int8_dot_loop (graph.hpp) over one thread's share of the
// elements, on the CPU's VNNI instruction (vpdpbusd: four u8 x s8 products summed into each
// 32-bit lane, wrapping). One instruction per step is what makes the chain countable: without
// it (plain AVX2 or SSE) the products would be separate instructions that do not depend on
// the accumulator, which a compiler hoists out of the loop, so the cpu does not claim the op.
#pragma once
#include <cstddef>
#include <cstdint>

namespace xpb::cpu {

// Which VNNI form this CPU runs ("avx512vnni", "avxvnni"), or "" for none.
const char* int8_dot_isa();

// Elements per block of independent accumulators on that form: a share cut into multiples of
// it runs at full rate.
std::size_t int8_dot_block();

// out[i] = chain * dot(x[4i..4i+3] as u8, w as i8), wrapping in 32 bits, for i < n; by
// `chain` dependent vpdpbusd per vector. Only when int8_dot_isa() is not empty.
void int8_dot_chain(const std::uint8_t* x, const std::int8_t* w, std::int32_t* out, std::size_t n, std::uint64_t chain);

}  // namespace xpb::cpu
