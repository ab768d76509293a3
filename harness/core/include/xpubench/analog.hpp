// What the catalogue's analog ops compute (graph.hpp: dac_round, analog_readout), element by
// element, so every device that runs them — ref, the cpu — computes the same bits: the
// converter rounding and the output noise of an analog matrix engine (photonic-sim).
#pragma once
#include <cstddef>
#include <cstdint>

#include "xpubench/export.hpp"

namespace xpb::analog {

// The largest level of a symmetric `bits`-bit grid: 2^(bits-1) - 1 (3 for 3 bits, 127 for 8).
inline float top_level(int bits) { return static_cast<float>((1u << (bits - 1)) - 1); }

// x[0..n) rounded in place to a symmetric `bits`-bit grid whose full scale is the largest
// magnitude among them: s = amax / top_level(bits) in f32, x = s * nearbyint(x / s) (all f32;
// nothing when amax is 0). Returns amax.
XPB_API float round_block(float* x, std::size_t n, int bits);

// A standard normal value, the same for the same (seed, step, index) on every device: Box and
// Muller's transform, in f64, of two uniforms from splitmix64 (Steele, Lea and Flood 2014)
// hashes of the three.
XPB_API double standard_normal(std::uint64_t seed, std::uint64_t step, std::uint64_t index);

// One output of an analog multiply-accumulate read through an ADC. `y` is the exact product
// of the rounded inputs and weights, `scale` the product of their full scales (one input at
// full scale times one weight at full scale reads 1). In those units: add `noise` * z, clip
// to [-bound, bound], round to a symmetric `bits`-bit grid over [-bound, bound]; back in the
// units of y. 0 when scale is 0.
XPB_API float readout(float y, float scale, double z, float noise, float bound, int bits);

}  // namespace xpb::analog
