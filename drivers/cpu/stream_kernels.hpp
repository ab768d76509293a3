// SIMD loops of the bandwidth ops over one thread's share of the elements, dispatched at run
// time to the best instruction set the CPU has (Highway). Pointers are to the first element
// of the share; `nontemporal` streams the stores past the caches (then call stream_fence()
// before the time is read, so the stores are globally visible).
#pragma once
#include <cstddef>
#include <cstdint>

namespace xpb::cpu {

enum class StreamOp : int { copy, scale, add, triad, fill };

// out[i] = f(a[i], b[i]) for the op: copy a; scale s*a; add a+b; triad a + s*b; fill s.
// Unused inputs may be null.
void stream_f64(StreamOp op, const double* a, const double* b, double* out, std::size_t n, double s,
                bool nontemporal);
void stream_f32(StreamOp op, const float* a, const float* b, float* out, std::size_t n, float s,
                bool nontemporal);

// Sum of n elements with several independent accumulators (so the loop is limited by
// bandwidth, not by the latency of one add chain). f32 partial sums are folded into a double
// every 2^20 elements, so the result is exact for sums of small integers.
double sum_f64(const double* a, std::size_t n);
double sum_f32(const float* a, std::size_t n);

// Sum modulo 2^64 of the 64-bit words of `bytes` bytes from `p` in the host's byte order, a
// last word of fewer than 8 bytes padded with zeros (the read_bytes op).
std::uint64_t sum_words(const std::byte* p, std::size_t bytes);

void stream_fence();

// The instruction set the dispatcher picked, e.g. "AVX2".
const char* simd_target();

}  // namespace xpb::cpu
