// The SIMD kernels of a decoder on the CPU, dispatched at run time (Highway) to the best
// instruction set the CPU has. Chief among them the matrix products
// out[t][j] = sum_k x[t][k] * W[j][k] over one thread's range of output columns j, for every
// weight format of the catalogue.
//
// Block-quantized weights (Q8_0, Q4_0) are multiplied with activations rounded to Q8_0 as
// llama.cpp does, so the inner loop is an 8-bit integer dot product: AVX-512 VNNI (vpdpbusd)
// where the CPU has it, AVX2's vpmaddubsw otherwise. Float weights (f32, f16, bf16) are
// widened to f32 and multiplied with f32 activations.
#pragma once
#include <cstddef>
#include <cstdint>

#include "xpubench/dtype.hpp"

namespace xpb::cpu {

// Activations rounded to Q8_0, row by row: q holds rows * k int8 values; d the scale of each
// block of 32; sum the scale times the sum of the block's codes (for Q4_0's offset of -8; in
// the Q8_1 form, llama.cpp's s: fp16 of the unrounded scale times the code sum, which Q4_1's
// and Q5_1's offsets multiply).
// neg_sum is minus the sum of each block's codes, for the AVX-512 kernels' offsets that make
// weights unsigned. (Everything but q is 4 bytes per 32 values: the activations are re-read
// for every weight row, and must stay small next to the weights so they stay in L1.)
// sum16 holds the sum of each 16 codes (for the offsets of Q4_1, Q5_1 and the K-quants; at
// most 16 x 127 in magnitude, so int16 as llama.cpp's Q8_K bsums).
struct QuantizedRows {
  std::int8_t* q;
  float* d;
  float* sum;
  std::int32_t* neg_sum;
  std::int16_t* sum16;
  std::size_t k;  // values per row, a multiple of 32 (of 256 for Q8_K)
};

// How llama.cpp rounds the activations a weight format multiplies (its vec_dot_type): Q8_0
// per 32 values; Q8_1, the same codes and scales with each block's sum in fp16, for Q4_1 and
// Q5_1; or Q8_K per 256 for the K-quants and IQ4_XS.
enum class ActivationBlocks { q8_0, q8_1, q8_K };
inline constexpr std::size_t kActivationForms = 3;
ActivationBlocks activation_blocks(DType weights);

// Rounds rows [row_begin, row_end) of x (rows of k floats) into `out` as `form` says: Q8_0 and
// Q8_1 with their fp16 scale (as llama.cpp stores it), or Q8_K (gguf_kernels.cpp) with d
// repeated per 32 values (sum and neg_sum are left alone: Q4_0 and Q8_0 weights never take Q8_K).
void quantize_rows(ActivationBlocks form, const float* x, std::size_t row_begin, std::size_t row_end,
                   const QuantizedRows& out);
void quantize_rows_q8_K(const float* x, std::size_t row_begin, std::size_t row_end, const QuantizedRows& out);

// out[t * ldo + j] for t in [0, rows), j in [j_begin, j_end): weights Q8_0 or Q4_0 (row j at
// w + j * row_bytes), activations rounded to Q8_0 by quantize_rows.
void matmul_quantized(DType weights, const std::byte* w, std::size_t row_bytes, std::size_t j_begin,
                      std::size_t j_end, const QuantizedRows& x, std::size_t rows, float* out,
                      std::size_t ldo);

// The same for the other GGUF block formats (gguf_kernels.cpp), with activations rounded as
// activation_blocks(weights) says.
void matmul_gguf(DType weights, const std::byte* w, std::size_t row_bytes, std::size_t j_begin, std::size_t j_end,
                 const QuantizedRows& x, std::size_t rows, float* out, std::size_t ldo);

// The same for f32, f16 or bf16 weights with f32 activations x (rows of k floats).
void matmul_float(DType weights, const std::byte* w, std::size_t k, std::size_t j_begin, std::size_t j_end,
                  const float* x, std::size_t rows, float* out, std::size_t ldo);

// One query head q (hd floats) attending over `span` cached positions: position j in slot
// s = first + j, wrapping to 0 at `ring` slots (a ring cache; pass span or more for none), its
// key at k + s * stride and value at v + s * stride (elements of f16 when `f16`, else f32).
// out = softmax_j(scale * q . k_j) weighted sum of v_j; `scores` holds span floats of scratch.
void attend(const float* q, const void* k, const void* v, bool f16, std::size_t first, std::size_t span,
            std::size_t ring, std::size_t stride,
            std::size_t hd, float scale, float* scores, float* out);
// out[i] = silu(g[i]) * u[i]
void silu_mul(const float* g, const float* u, float* out, std::size_t n);
// x[i] = e^(x[i] - shift); returns the sum of the new values.
float exp_shifted(float* x, std::size_t n, float shift);

}  // namespace xpb::cpu
