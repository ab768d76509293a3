// The arithmetic of npu_ref: one plain function per op, on raw pointers and sizes. Nothing
// here knows about graphs, handles or the plugin ABI (npu_ref.cpp resolves a graph into calls
// of these), so a vendor replacing the arithmetic with their accelerator's touches only this
// pair of files.
//
// Every kernel is scalar C++ on one thread, written so that g++ -O3 vectorizes the hot loops
// for the baseline instruction set (SSE2 on x86-64) without intrinsics. Sums are in f32 (as
// the caps' numeric profile says) except read_sum, whose output is f64.
#pragma once
#include <cstddef>
#include <cstdint>

namespace npu_ref {

// ---- number formats ------------------------------------------------------------------------

// IEEE 754 binary16 <-> binary32. f32_to_f16 rounds to nearest, ties to even; both keep
// infinities, NaNs (quiet) and subnormals.
float f16_to_f32(std::uint16_t h);
std::uint16_t f32_to_f16(float f);

// GGUF's Q8_0 block: an f16 scale d and 32 int8 codes, value i = d * q[i]. 34 bytes with no
// padding, so blocks are read through byte pointers (the scale is not 4-byte aligned).
constexpr std::size_t kQ8Block = 32;
constexpr std::size_t kQ8BlockBytes = 34;

// Activations rounded to Q8_0 for an integer dot product against Q8_0 weights. Kept as two
// arrays rather than 34-byte blocks: the codes then sit contiguous for the vectorized inner
// loop, and the scales are already f32. The codes (-127..127) are stored widened to int16:
// then int8 weight x int16 code -> int32 is the pattern g++ turns into pmaddwd (16-bit
// multiply-add of pairs) even for baseline SSE2, about twice as fast as int8 x int8, for
// which it widens products element by element. Twice the bytes, but a row stays in L1.
struct QuantizedRows {
  std::int16_t* q;  // rows * k codes
  float* d;         // rows * (k / 32) scales
  std::size_t k;    // values per row, a multiple of 32
};

// Rounds `rows` rows of x (k floats each, k a multiple of 32) to Q8_0 into `out`, as
// llama.cpp's quantize_row_q8_0_ref: d = amax / 127 (stored through f16), q = round(x / d).
void quantize_rows_q8_0(const float* x, std::size_t rows, const QuantizedRows& out);

// The storage formats of weights (embedding tables, matmul weights) that npu_ref reads.
enum class WeightFormat : std::uint8_t { f32, f16, q8_0 };
// Bytes of a row of n values (n a multiple of 32 for q8_0).
std::size_t row_bytes(WeightFormat f, std::size_t n);
// A row of n values stored in format f, decoded to f32 (exactly: a Q8_0 value is d * q).
void decode_row(WeightFormat f, const std::uint8_t* src, float* dst, std::size_t n);

// ---- memory ops ----------------------------------------------------------------------------
// STREAM's kernels over n elements. The multiply-adds of scale and triad are in the element
// type (one rounding per operation).
void copy(const float* a, float* out, std::size_t n);
void copy(const double* a, double* out, std::size_t n);
void scale(const float* a, float s, float* out, std::size_t n);
void scale(const double* a, double s, double* out, std::size_t n);
void add(const float* a, const float* b, float* out, std::size_t n);
void add(const double* a, const double* b, double* out, std::size_t n);
void triad(const float* a, const float* b, float s, float* out, std::size_t n);
void triad(const double* a, const double* b, double s, double* out, std::size_t n);
void fill(float* out, float v, std::size_t n);
void fill(double* out, double v, std::size_t n);
// The sum of n elements, in f64 (four partial sums: an order of our choosing, as allowed).
double sum(const float* a, std::size_t n);
double sum(const double* a, std::size_t n);

// Pointer chase: each of `chains` chains (positions at[c], lines of the ring) takes `steps`
// dependent loads, at[c] = ring[(at[c] mod lines) * words]. Chains are interleaved, up to four
// at a time in registers, so independent chains overlap their misses as the op intends.
void chase(const std::uint64_t* ring, std::uint64_t lines, std::uint64_t words, std::uint64_t* at, std::uint64_t chains,
           std::uint64_t steps);
// Where chain c starts: the line reached from line 0 after c * floor(lines / chains) steps.
void chase_starts(const std::uint64_t* ring, std::uint64_t lines, std::uint64_t words, std::uint64_t* starts,
                  std::uint64_t chains);

// The memory test patterns (graph.hpp Pattern), in that enum's order.
enum class Pattern : std::uint8_t { walking_ones, walking_zeros, checkerboard, random, address };
std::uint64_t pattern_word(Pattern p, std::uint64_t seed, std::uint64_t i, bool invert);
// out[i] = pattern word i, for i in [begin, end).
void fill_pattern(std::uint64_t* out, std::uint64_t begin, std::uint64_t end, Pattern p, std::uint64_t seed,
                  bool invert);
// Compares words [begin, end) of `in` with the pattern. Returns the mismatches found; the first
// ones go to list (3 words each: index, expected, actual) while *listed < max_listed.
std::uint64_t verify_pattern(const std::uint64_t* in, std::uint64_t begin, std::uint64_t end, Pattern p,
                             std::uint64_t seed, bool invert, std::uint64_t* list, std::uint64_t max_listed,
                             std::uint64_t* listed);

// ---- transformer ops -------------------------------------------------------------------------

// y = x / sqrt(mean(x^2) + eps) * w over one row of n.
void rms_norm_row(const float* x, const float* w, float eps, float* y, std::size_t n);

// out[t * n_out + j] = sum_i x[t][i] * W[j][i] for t < rows, j < n_out, W row-major [n_out, k]
// in its storage format. The three weight formats npu_ref multiplies:
//  - f32: straight f32 dot products;
//  - f16: weights widened to f32 (a tile of rows at a time into `tile`, kTileRows * k floats);
//  - q8_0: activations pre-rounded by quantize_rows_q8_0, integer codes -> int32 per block,
//    scaled by d_w * d_x and summed in f32.
constexpr std::size_t kTileRows = 8;  // weight rows kept hot in L1 while every x row passes
void matmul_f32(const float* w, const float* x, std::size_t rows, std::size_t k, std::size_t n_out, float* out);
void matmul_f16(const std::uint8_t* w, const float* x, std::size_t rows, std::size_t k, std::size_t n_out, float* tile,
                float* out);
void matmul_q8_0(const std::uint8_t* w, const QuantizedRows& x, std::size_t rows, std::size_t n_out, float* out);

// Rotary embedding of one row in place or not (y may be x): every head of head_dim, pair i
// rotated by pos * inv_freq[i] / factor[i] (factor may be null: all ones).
void rope_row(const float* x, float* y, std::size_t width, std::size_t head_dim, double pos, const double* inv_freq,
              const float* factor);

// One query head q (hd floats) attending over `span` positions of a cache: position j in slot
// (first + j) mod ring (a ring cache; a plain one passes ring larger than every slot), its key
// at k + slot * stride elements (f16 when `half`, else f32), its value likewise. out (hd
// floats) = softmax_j(scale * q . k_j) weighted sum of v_j; `scores` holds span floats.
void attend(const float* q, const void* k, const void* v, bool half, std::size_t first, std::size_t span,
            std::size_t ring, std::size_t stride, std::size_t hd, float scale, float* scores, float* out);
// Stores a row of n floats into a cache row of f32 or f16.
void store_row(const float* src, void* dst, bool half, std::size_t n);

// out[i] = silu(a[i]) * b[i], silu(x) = x / (1 + e^-x).
void silu_mul(const float* a, const float* b, float* out, std::size_t n);
// The index of the largest of n values (the first on ties; 0 when n is 0).
std::int32_t argmax(const float* x, std::size_t n);
// out[t][j] = x[t][j] + b[j] over `rows` rows of n (out may be x).
void add_bias(const float* x, const float* b, float* out, std::size_t rows, std::size_t n);

// ---- diffusion-transformer ops (graph.hpp: layer_norm to unpatchify, Wan2.1's DiT block) -----
// Elementwise ones take out == x (in place); the per-column vectors (shift, scale, gate, w, b)
// hold n floats.

// y = (x - mean) / sqrt(var + eps), then * w + b when w is not null (w and b come together),
// over one row of n. The population variance, as ref and PyTorch's LayerNorm. In f32 by the
// corrected two-pass algorithm (Chan, Golub and LeVeque, "Algorithms for computing the sample
// variance", 1983): a second pass sums the deviations d = x - mean and d^2; sum(d)^2 / n
// corrects the variance for the mean's rounding, and sum(d) / n corrects the mean itself. A
// row of large offset and small spread (x = 3 +- 1) keeps its digits, which a one-pass
// sum(x^2) - n mean^2 in f32 would lose.
void layer_norm_row(const float* x, const float* w, const float* b, float eps, float* y, std::size_t n);
// adaLN modulation: out[t][j] = x[t][j] * (1 + scale[j]) + shift[j].
void modulate(const float* x, const float* shift, const float* scale, float* out, std::size_t rows, std::size_t n);
// A gated residual: out[t][j] = x[t][j] + gate[j] * y[t][j] (out may be x or y).
void gated_add(const float* x, const float* y, const float* gate, float* out, std::size_t rows, std::size_t n);
// GELU's tanh form over n values, 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3),
// computed as x / (1 + e^(-2u)) (the same function: 1 + tanh(u) = 2 / (1 + e^-2u)). The
// logistic form never subtracts nearly equal numbers: for negative x, 1 + tanh(u) would.
void gelu(const float* x, float* out, std::size_t n);
// SiLU over n values: out = x / (1 + e^-x).
void silu(const float* x, float* out, std::size_t n);
// Non-causal attention of one query row over all `keys` rows of k and v ([keys, heads * hd],
// row-major): for each head h, out[h] = softmax_j(scale * q[h] . k[j][h]) weighted sum of
// v[j][h]. `scores` holds `keys` floats; out (heads * hd floats) must not overlap q, k or v.
void cross_attention_row(const float* q, const float* k, const float* v, std::size_t keys, std::size_t heads,
                         std::size_t hd, float scale, float* scores, float* out);
// One flow-matching step over n values: out = (1 - sigma_next) (x - sigma v) + sigma_next
// noise (out may be x, v or noise).
void flow_step(const float* x, const float* v, const float* noise, float sigma, float sigma_next, float* out,
               std::size_t n);
// Patch tokens to latent frames. x [frames * height * width, patch_h * patch_w * channels]
// (tokens in frame, row, column order; a token's values in (p, q, c) order) -> out
// [channels, frames, height * patch_h, width * patch_w], out[c][f][h * patch_h + p][w * patch_w
// + q] = x[(f * height + h) * width + w][(p * patch_w + q) * channels + c]. Sizes in patches.
struct PatchGrid {
  std::size_t frames, height, width, channels, patch_h, patch_w;
};
void unpatchify(const float* x, const PatchGrid& grid, float* out);

}  // namespace npu_ref
