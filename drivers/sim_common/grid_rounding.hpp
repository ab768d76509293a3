// Rounding values to the few levels a simulated device holds them in: weights burnt into an
// HC1's ROM at 3 or 6 bits, inputs through a photonic core's DACs. Symmetric, one scale per
// block: each block of `block` consecutive values is mapped to q * s, q an integer in
// [-(2^(bits-1) - 1), 2^(bits-1) - 1] and s the block's largest magnitude over that bound
// (3 bits: 7 levels, -3..3; 6 bits: -31..31), rounding to nearest.
#pragma once
#include <cstddef>
#include <span>

#include "xpubench/dtype.hpp"

namespace xpb::sim {

// Rounds x in place; the last block may be shorter. bits >= 2, block >= 1.
void round_to_grid(std::span<float> x, int bits, std::size_t block);

// A tensor of `rows` x `cols` values stored in `dtype` (f32, f16, bf16, q8_0, q4_0: the
// dtypes quant.hpp encodes), each row rounded in place through f32: decoded, rounded with
// round_to_grid, encoded back (a quantized dtype then rounds the grid's values once more, to
// its own). Returns the RMS of the change over the RMS of the values (0 when all are zero).
double round_rows(DType dtype, std::byte* data, std::size_t rows, std::size_t cols, int bits, std::size_t block);

}  // namespace xpb::sim
