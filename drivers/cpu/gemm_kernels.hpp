// The f32 GEMM of float weights on the CPU (many activation rows: a prompt, a video chunk),
// dispatched at run time (Highway) to the best instruction set the CPU has. matmul_float
// (llm_kernels.hpp) takes each weight row against each activation row as dot products, whose
// loads bound it; here a register tile of activation rows x 2 vectors of output columns (12
// rows with AVX-512, 6 with 16 vector registers: register_tile-inl.h) is kept in registers over
// a block of 256 of k, each step one broadcast per row and two vector loads of weights packed
// for it (BLIS's method, Van Zee and van de Geijn 2015): 24 multiply-adds per 14 loads (12 per
// 8 with 6 rows), the arithmetic's own bound rather than the loads'.
#pragma once
#include <cstddef>

#include "xpubench/dtype.hpp"

namespace xpb::cpu {

// Output columns a packed weight panel holds (2 vectors of the widest target: 32 floats);
// callers hand out columns in multiples of it where they can.
constexpr std::size_t kGemmPanel = 32;
// Output columns packed together for one pass over the activations (128 KiB of panels).
constexpr std::size_t kGemmGroup = 128;
// Floats of a 64-byte cache line: the slack every scratch buffer of these kernels carries, so
// that its packed operands start on a line (register_tile-inl.h, AlignedLine).
constexpr std::size_t kLineFloats = 16;
// Activation rows from which the cpu driver takes gemm_float rather than dot products.
constexpr std::size_t kGemmMinRows = 8;

// out[t * ldo + j] = sum_i x[t * k + i] * W[j][i] for t in [0, rows), j in [j_begin, j_end):
// weights f32, f16 or bf16 (row j at w + j * k elements), x f32 rows of k. `scratch` holds
// gemm_scratch() floats (the packed panels). Any rows, k and column range.
void gemm_float(DType weights, const std::byte* w, std::size_t k, std::size_t j_begin, std::size_t j_end,
                const float* x, std::size_t rows, float* out, std::size_t ldo, float* scratch);
std::size_t gemm_scratch();

}  // namespace xpb::cpu
