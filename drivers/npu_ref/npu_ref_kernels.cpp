#include "npu_ref_kernels.hpp"

#include <cmath>
#include <cstring>
#include <limits>

namespace npu_ref {
namespace {

// Bit casts through memcpy: the defined way to reinterpret a float's bits (and the compiler
// turns it into a register move).
std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float float_of(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// binary16 -> binary32 without branches, so that loops over f16 data (weights, a KV cache)
// vectorize. The f16 bits are moved into place as if the number were normal; the exponent is
// rebiased by arithmetic rather than by adding 112, which gets the specials right too:
//  - normal and inf/NaN: exponent bits + 224, then x 2^-112. Exponents 1..30 land on
//    113..142 (rebias by 112, exactly); exponent 31 lands on 255, so inf stays inf and a NaN
//    stays a NaN (made quiet by the multiply, as F16C's vcvtph2ps makes it);
//  - zero and subnormal (exponent 0): the 10 mantissa bits m are placed below an exponent of
//    2^-1, giving 0.5 + m * 2^-24; subtracting 0.5 leaves m * 2^-24 exactly.
inline float widen_f16(std::uint16_t h) {
  const std::uint32_t w = static_cast<std::uint32_t>(h) << 16;
  const std::uint32_t sign = w & 0x80000000u;
  const std::uint32_t body = w << 1;  // exponent and mantissa, sign shifted out
  const float normal = float_of((body >> 4) + (224u << 23)) * 0x1p-112f;
  const float subnormal = float_of((body >> 17) | (126u << 23)) - 0.5f;
  // Exponent 0 picks the subnormal reading; a mask rather than ?: keeps the loop branch-free.
  const std::uint32_t is_subnormal = 0u - static_cast<std::uint32_t>(body < (1u << 27));
  return float_of(sign | (bits_of(subnormal) & is_subnormal) | (bits_of(normal) & ~is_subnormal));
}

// A Q8_0 block's f16 scale, read byte-wise (blocks are 34 bytes: no alignment to rely on).
float block_scale(const std::uint8_t* block) {
  std::uint16_t h;
  std::memcpy(&h, block, 2);
  return widen_f16(h);
}

// The sum of a[i] * b[i] in f32, in eight interleaved partial sums: a fixed order (results do
// not depend on the vector width), and independent chains the compiler maps to vector lanes.
float dot_f32(const float* a, const float* b, std::size_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (std::size_t l = 0; l < 8; ++l) acc[l] += a[i + l] * b[i + l];
  float tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

// The same with b in f16 (a KV cache row), widened as it is read.
float dot_f16(const float* a, const std::uint16_t* b, std::size_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (std::size_t l = 0; l < 8; ++l) acc[l] += a[i + l] * widen_f16(b[i + l]);
  float tail = 0;
  for (; i < n; ++i) tail += a[i] * widen_f16(b[i]);
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

// The sum of n values in f32, in the same eight interleaved partial sums.
float sum_f32(const float* a, std::size_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (std::size_t l = 0; l < 8; ++l) acc[l] += a[i + l];
  float tail = 0;
  for (; i < n; ++i) tail += a[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

// One weight row (nb Q8_0 blocks) against one row of quantized activations. The inner loop is
// a plain integer dot product of 32 codes into an int32, which g++ -O3 vectorizes (pmaddwd on
// SSE2, its AVX2 form where -march allows); the block's two scales multiply the sum once.
float dot_q8_0(const std::uint8_t* w, const std::int16_t* xq, const float* xd, std::size_t nb) {
  float sum = 0;
  for (std::size_t b = 0; b < nb; ++b) {
    const std::uint8_t* block = w + b * kQ8BlockBytes;
    const auto* wq = reinterpret_cast<const std::int8_t*>(block + 2);
    const std::int16_t* aq = xq + b * kQ8Block;
    std::int32_t acc = 0;
    for (std::size_t i = 0; i < kQ8Block; ++i)
      acc += static_cast<std::int32_t>(wq[i]) * static_cast<std::int32_t>(aq[i]);
    sum += static_cast<float>(acc) * (block_scale(block) * xd[b]);
  }
  return sum;
}

// splitmix64's finalizer (Steele, Lea, Flood 2014): the random pattern's mixer.
std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// G chains walked together, their positions in registers (G is a constant, so p[] is not
// memory): the loads of different chains are independent and overlap.
template <std::size_t G>
void walk(const std::uint64_t* ring, std::uint64_t lines, std::uint64_t words, std::uint64_t* at, std::uint64_t steps) {
  std::uint64_t p[G];
  for (std::size_t g = 0; g < G; ++g) p[g] = at[g];
  for (std::uint64_t s = 0; s < steps; ++s)
    for (std::size_t g = 0; g < G; ++g) {
      // The ring holds line indices, so the modulo never runs on good data; it keeps a ring
      // the host overwrote with garbage from sending the load outside the tensor.
      const std::uint64_t line = p[g] < lines ? p[g] : p[g] % lines;
      p[g] = ring[line * words];
    }
  for (std::size_t g = 0; g < G; ++g) at[g] = p[g];
}

}  // namespace

// ---- number formats ------------------------------------------------------------------------

float f16_to_f32(std::uint16_t h) { return widen_f16(h); }

std::uint16_t f32_to_f16(float f) {
  const std::uint32_t x = bits_of(f);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t a = x & 0x7FFFFFFFu;
  if (a > 0x7F800000u)  // NaN: stays a quiet NaN, with the top of its payload
    return static_cast<std::uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
  // 65520 = 65504 + half an ulp of f16's largest finite: at and above it rounds to infinity.
  if (a >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);
  if (a >= 0x38800000u) {
    // A normal f16 (|f| >= 2^-14): drop 13 mantissa bits, rounding to nearest even by adding
    // just under half an ulp plus the kept lowest bit. A carry out of the mantissa bumps the
    // exponent, which is then the right answer.
    const std::uint32_t rounded = a + 0x0FFFu + ((a >> 13) & 1u);
    return static_cast<std::uint16_t>(sign | ((rounded - ((127u - 15u) << 23)) >> 13));
  }
  // Subnormal f16 (or zero): the result is |f| / 2^-24 rounded to an integer 0..1024 (1024 is
  // the smallest normal, which the encoding also gets right). At or below 2^-25, half of the
  // smallest subnormal, it rounds to zero (the tie to the even 0).
  if (a <= 0x33000000u) return sign;
  const std::uint32_t mantissa = (a & 0x7FFFFFu) | 0x800000u;
  const unsigned shift = 126u - (a >> 23);  // 14..24 here
  std::uint32_t q = mantissa >> shift;
  const std::uint32_t rest = mantissa & ((1u << shift) - 1u), half = 1u << (shift - 1u);
  if (rest > half || (rest == half && (q & 1u))) ++q;
  return static_cast<std::uint16_t>(sign | q);
}

void quantize_rows_q8_0(const float* x, std::size_t rows, const QuantizedRows& out) {
  const std::size_t nb = out.k / kQ8Block;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t b = 0; b < nb; ++b) {
      const float* v = x + r * out.k + b * kQ8Block;
      float amax = 0;
      for (std::size_t i = 0; i < kQ8Block; ++i) amax = std::fmax(amax, std::fabs(v[i]));
      const float d = amax / 127.0f;
      const float inv = d != 0.0f ? 1.0f / d : 0.0f;
      // The scale goes through f16 as in a stored block_q8_0, so products match llama.cpp's.
      out.d[r * nb + b] = f16_to_f32(f32_to_f16(d));
      std::int16_t* q = out.q + r * out.k + b * kQ8Block;
      for (std::size_t i = 0; i < kQ8Block; ++i) q[i] = static_cast<std::int16_t>(std::round(v[i] * inv));
    }
}

std::size_t row_bytes(WeightFormat f, std::size_t n) {
  switch (f) {
    case WeightFormat::f32: return n * 4;
    case WeightFormat::f16: return n * 2;
    case WeightFormat::q8_0: return n / kQ8Block * kQ8BlockBytes;
  }
  return 0;
}

void decode_row(WeightFormat f, const std::uint8_t* src, float* dst, std::size_t n) {
  switch (f) {
    case WeightFormat::f32: std::memcpy(dst, src, n * 4); return;
    case WeightFormat::f16:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = widen_f16(h);
      }
      return;
    case WeightFormat::q8_0:
      for (std::size_t b = 0; b < n / kQ8Block; ++b) {
        const std::uint8_t* block = src + b * kQ8BlockBytes;
        const float d = block_scale(block);
        const auto* q = reinterpret_cast<const std::int8_t*>(block + 2);
        for (std::size_t i = 0; i < kQ8Block; ++i) dst[b * kQ8Block + i] = d * static_cast<float>(q[i]);
      }
      return;
  }
}

// ---- memory ops ----------------------------------------------------------------------------

void copy(const float* a, float* out, std::size_t n) { std::memmove(out, a, n * sizeof *a); }
void copy(const double* a, double* out, std::size_t n) { std::memmove(out, a, n * sizeof *a); }
void scale(const float* a, float s, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = s * a[i];
}
void scale(const double* a, double s, double* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = s * a[i];
}
void add(const float* a, const float* b, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}
void add(const double* a, const double* b, double* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}
void triad(const float* a, const float* b, float s, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = a[i] + s * b[i];
}
void triad(const double* a, const double* b, double s, double* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = a[i] + s * b[i];
}
void fill(float* out, float v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = v;
}
void fill(double* out, double v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = v;
}

namespace {
template <class T>
double sum_of(const T* a, std::size_t n) {
  double acc[4] = {0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (std::size_t l = 0; l < 4; ++l) acc[l] += static_cast<double>(a[i + l]);
  for (; i < n; ++i) acc[0] += static_cast<double>(a[i]);
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}
}  // namespace
double sum(const float* a, std::size_t n) { return sum_of(a, n); }
double sum(const double* a, std::size_t n) { return sum_of(a, n); }

void chase(const std::uint64_t* ring, std::uint64_t lines, std::uint64_t words, std::uint64_t* at, std::uint64_t chains,
           std::uint64_t steps) {
  std::uint64_t c = 0;
  for (; c + 4 <= chains; c += 4) walk<4>(ring, lines, words, at + c, steps);
  switch (chains - c) {
    case 3: walk<3>(ring, lines, words, at + c, steps); break;
    case 2: walk<2>(ring, lines, words, at + c, steps); break;
    case 1: walk<1>(ring, lines, words, at + c, steps); break;
    default: break;
  }
}

void chase_starts(const std::uint64_t* ring, std::uint64_t lines, std::uint64_t words, std::uint64_t* starts,
                  std::uint64_t chains) {
  const std::uint64_t spacing = lines / chains;
  std::uint64_t line = 0;
  for (std::uint64_t c = 0; c < chains; ++c) {
    starts[c] = line;
    for (std::uint64_t s = 0; s < spacing; ++s) line = ring[line * words] % lines;
  }
}

std::uint64_t pattern_word(Pattern p, std::uint64_t seed, std::uint64_t i, bool invert) {
  std::uint64_t w = 0;
  switch (p) {
    case Pattern::walking_ones: w = std::uint64_t{1} << (i & 63); break;
    case Pattern::walking_zeros: w = ~(std::uint64_t{1} << (i & 63)); break;
    case Pattern::checkerboard: w = (i & 1) ? 0x5555555555555555ull : 0xAAAAAAAAAAAAAAAAull; break;
    case Pattern::random: w = mix64(seed + (i + 1) * 0x9E3779B97F4A7C15ull); break;
    case Pattern::address: w = i * 8; break;
  }
  return invert ? ~w : w;
}

void fill_pattern(std::uint64_t* out, std::uint64_t begin, std::uint64_t end, Pattern p, std::uint64_t seed,
                  bool invert) {
  for (std::uint64_t i = begin; i < end; ++i) out[i] = pattern_word(p, seed, i, invert);
}

std::uint64_t verify_pattern(const std::uint64_t* in, std::uint64_t begin, std::uint64_t end, Pattern p,
                             std::uint64_t seed, bool invert, std::uint64_t* list, std::uint64_t max_listed,
                             std::uint64_t* listed) {
  std::uint64_t errors = 0;
  for (std::uint64_t i = begin; i < end; ++i) {
    const std::uint64_t want = pattern_word(p, seed, i, invert);
    if (in[i] == want) continue;
    ++errors;
    if (*listed < max_listed) {
      std::uint64_t* e = list + *listed * 3;
      e[0] = i;
      e[1] = want;
      e[2] = in[i];
      ++*listed;
    }
  }
  return errors;
}

// ---- transformer ops -------------------------------------------------------------------------

void rms_norm_row(const float* x, const float* w, float eps, float* y, std::size_t n) {
  const float mean_square = n == 0 ? 0.0f : dot_f32(x, x, n) / static_cast<float>(n);
  const float inv = 1.0f / std::sqrt(mean_square + eps);
  for (std::size_t i = 0; i < n; ++i) y[i] = x[i] * inv * w[i];
}

void matmul_f32(const float* w, const float* x, std::size_t rows, std::size_t k, std::size_t n_out, float* out) {
  // A tile of weight rows stays in L1 while every activation row passes over it, so each
  // weight is read from memory once whatever the number of rows (the cost model's premise).
  for (std::size_t j0 = 0; j0 < n_out; j0 += kTileRows) {
    const std::size_t j1 = j0 + kTileRows < n_out ? j0 + kTileRows : n_out;
    for (std::size_t t = 0; t < rows; ++t)
      for (std::size_t j = j0; j < j1; ++j) out[t * n_out + j] = dot_f32(w + j * k, x + t * k, k);
  }
}

void matmul_f16(const std::uint8_t* w, const float* x, std::size_t rows, std::size_t k, std::size_t n_out, float* tile,
                float* out) {
  for (std::size_t j0 = 0; j0 < n_out; j0 += kTileRows) {
    const std::size_t j1 = j0 + kTileRows < n_out ? j0 + kTileRows : n_out;
    for (std::size_t j = j0; j < j1; ++j) decode_row(WeightFormat::f16, w + j * k * 2, tile + (j - j0) * k, k);
    for (std::size_t t = 0; t < rows; ++t)
      for (std::size_t j = j0; j < j1; ++j) out[t * n_out + j] = dot_f32(tile + (j - j0) * k, x + t * k, k);
  }
}

void matmul_q8_0(const std::uint8_t* w, const QuantizedRows& x, std::size_t rows, std::size_t n_out, float* out) {
  const std::size_t nb = x.k / kQ8Block, wrow = nb * kQ8BlockBytes;
  for (std::size_t j0 = 0; j0 < n_out; j0 += kTileRows) {
    const std::size_t j1 = j0 + kTileRows < n_out ? j0 + kTileRows : n_out;
    for (std::size_t t = 0; t < rows; ++t)
      for (std::size_t j = j0; j < j1; ++j)
        out[t * n_out + j] = dot_q8_0(w + j * wrow, x.q + t * x.k, x.d + t * nb, nb);
  }
}

void rope_row(const float* x, float* y, std::size_t width, std::size_t head_dim, double pos, const double* inv_freq,
              const float* factor) {
  for (std::size_t i = 0; i < head_dim / 2; ++i) {
    // The angle in f64: positions reach 10^5 and more, where an f32 angle loses the phase.
    double angle = pos * inv_freq[i];
    if (factor != nullptr) angle /= static_cast<double>(factor[i]);
    const auto c = static_cast<float>(std::cos(angle)), s = static_cast<float>(std::sin(angle));
    for (std::size_t h = 0; h + head_dim <= width; h += head_dim) {
      const float a = x[h + 2 * i], b = x[h + 2 * i + 1];  // read both before y (may be x) is written
      y[h + 2 * i] = a * c - b * s;
      y[h + 2 * i + 1] = a * s + b * c;
    }
  }
}

void store_row(const float* src, void* dst, bool half, std::size_t n) {
  if (half) {
    auto* h = static_cast<std::uint16_t*>(dst);
    for (std::size_t i = 0; i < n; ++i) h[i] = f32_to_f16(src[i]);
  } else {
    std::memcpy(dst, src, n * 4);
  }
}

void attend(const float* q, const void* k, const void* v, bool half, std::size_t first, std::size_t span,
            std::size_t ring, std::size_t stride, std::size_t hd, float scale, float* scores, float* out) {
  // Position j's row: slot first + j, wrapping at `ring` slots.
  auto row = [&](std::size_t j) { return (first + j) % ring * stride; };
  const auto* k32 = static_cast<const float*>(k);
  const auto* v32 = static_cast<const float*>(v);
  const auto* k16 = static_cast<const std::uint16_t*>(k);
  const auto* v16 = static_cast<const std::uint16_t*>(v);
  float top = -std::numeric_limits<float>::infinity();
  for (std::size_t j = 0; j < span; ++j) {
    const float s = half ? dot_f16(q, k16 + row(j), hd) : dot_f32(q, k32 + row(j), hd);
    scores[j] = s * scale;
    top = std::fmax(top, scores[j]);
  }
  // Softmax shifted by the largest score, so no exponential overflows.
  float total = 0;
  for (std::size_t j = 0; j < span; ++j) total += (scores[j] = std::exp(scores[j] - top));
  for (std::size_t e = 0; e < hd; ++e) out[e] = 0;
  for (std::size_t j = 0; j < span; ++j) {
    const float p = scores[j];
    if (half)
      for (std::size_t e = 0; e < hd; ++e) out[e] += p * widen_f16(v16[row(j) + e]);
    else
      for (std::size_t e = 0; e < hd; ++e) out[e] += p * v32[row(j) + e];
  }
  const float inv = total > 0 ? 1.0f / total : 0.0f;
  for (std::size_t e = 0; e < hd; ++e) out[e] *= inv;
}

void silu_mul(const float* a, const float* b, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = a[i] / (1.0f + std::exp(-a[i])) * b[i];
}

std::int32_t argmax(const float* x, std::size_t n) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < n; ++i)
    if (x[best] < x[i]) best = i;  // strictly larger: the first wins ties
  return static_cast<std::int32_t>(best);
}

void add_bias(const float* x, const float* b, float* out, std::size_t rows, std::size_t n) {
  for (std::size_t t = 0; t < rows; ++t)
    for (std::size_t j = 0; j < n; ++j) out[t * n + j] = x[t * n + j] + b[j];
}

// ---- diffusion-transformer ops ---------------------------------------------------------------

void layer_norm_row(const float* x, const float* w, const float* b, float eps, float* y, std::size_t n) {
  if (n == 0) return;
  const auto count = static_cast<float>(n);
  const float mean0 = sum_f32(x, n) / count;
  // The second pass: deviations from the first mean, and their squares, in eight lanes each.
  float sd[8] = {0, 0, 0, 0, 0, 0, 0, 0}, sq[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (std::size_t l = 0; l < 8; ++l) {
      const float d = x[i + l] - mean0;
      sd[l] += d;
      sq[l] += d * d;
    }
  float sd_tail = 0, sq_tail = 0;
  for (; i < n; ++i) {
    const float d = x[i] - mean0;
    sd_tail += d;
    sq_tail += d * d;
  }
  const float dev = ((sd[0] + sd[4]) + (sd[1] + sd[5])) + ((sd[2] + sd[6]) + (sd[3] + sd[7])) + sd_tail;
  const float squares = ((sq[0] + sq[4]) + (sq[1] + sq[5])) + ((sq[2] + sq[6]) + (sq[3] + sq[7])) + sq_tail;
  const float mean = mean0 + dev / count;
  // Rounding could leave a hair below zero for a constant row; the variance is never negative.
  const float var = std::fmax(0.0f, (squares - dev * dev / count) / count);
  const float inv = 1.0f / std::sqrt(var + eps);
  // Every y[i] reads only x[i] after the statistics are known: y may be x.
  if (w == nullptr)
    for (std::size_t j = 0; j < n; ++j) y[j] = (x[j] - mean) * inv;
  else
    for (std::size_t j = 0; j < n; ++j) y[j] = (x[j] - mean) * inv * w[j] + b[j];
}

void modulate(const float* x, const float* shift, const float* scale, float* out, std::size_t rows, std::size_t n) {
  for (std::size_t t = 0; t < rows; ++t)
    for (std::size_t j = 0; j < n; ++j) out[t * n + j] = x[t * n + j] * (1.0f + scale[j]) + shift[j];
}

void gated_add(const float* x, const float* y, const float* gate, float* out, std::size_t rows, std::size_t n) {
  for (std::size_t t = 0; t < rows; ++t)
    for (std::size_t j = 0; j < n; ++j) out[t * n + j] = x[t * n + j] + gate[j] * y[t * n + j];
}

// gelu and silu call libm's expf per element: g++ vectorizes it only under -ffast-math (glibc's
// vector variants), which would also license reassociating every sum here, so the loops stay
// scalar calls. An overflowing exponential is harmless: x / inf is a (signed) zero, the limit.
void gelu(const float* x, float* out, std::size_t n) {
  constexpr float kTwoRoot2OverPi = 1.5957691216057308f;  // 2 sqrt(2 / pi): -2u in one product
  for (std::size_t i = 0; i < n; ++i) {
    const float v = x[i];
    out[i] = v / (1.0f + std::exp(-kTwoRoot2OverPi * (v + 0.044715f * v * v * v)));
  }
}

void silu(const float* x, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = x[i] / (1.0f + std::exp(-x[i]));
}

void cross_attention_row(const float* q, const float* k, const float* v, std::size_t keys, std::size_t heads,
                         std::size_t hd, float scale, float* scores, float* out) {
  // attend() over a plain cache: every key from row 0, `keys` rows that never wrap, a row's
  // head h at column h * hd of rows heads * hd wide.
  const std::size_t width = heads * hd;
  for (std::size_t h = 0; h < heads; ++h)
    attend(q + h * hd, k + h * hd, v + h * hd, false, 0, keys, keys, width, hd, scale, scores, out + h * hd);
}

void flow_step(const float* x, const float* v, const float* noise, float sigma, float sigma_next, float* out,
               std::size_t n) {
  const float keep = 1.0f - sigma_next;
  for (std::size_t i = 0; i < n; ++i) out[i] = keep * (x[i] - sigma * v[i]) + sigma_next * noise[i];
}

void unpatchify(const float* x, const PatchGrid& g, float* out) {
  const std::size_t token_values = g.patch_h * g.patch_w * g.channels, out_w = g.width * g.patch_w;
  // In output order, so the writes stream; each read is one value of a token (stride channels).
  for (std::size_t c = 0; c < g.channels; ++c)
    for (std::size_t f = 0; f < g.frames; ++f)
      for (std::size_t h = 0; h < g.height; ++h)
        for (std::size_t p = 0; p < g.patch_h; ++p) {
          float* row = out + ((c * g.frames + f) * g.height * g.patch_h + h * g.patch_h + p) * out_w;
          const float* tokens = x + (f * g.height + h) * g.width * token_values + p * g.patch_w * g.channels + c;
          for (std::size_t w = 0; w < g.width; ++w)
            for (std::size_t q = 0; q < g.patch_w; ++q)
              row[w * g.patch_w + q] = tokens[w * token_values + q * g.channels];
        }
}

}  // namespace npu_ref
