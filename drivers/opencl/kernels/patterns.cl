// The pointer chase and the test patterns of the catalogue (graph.hpp: chase, fill_pattern,
// verify_pattern) on u64 words, and read_bytes' finish, in OpenCL C 1.2 (64-bit integers are
// core).

// The pattern word at index i (graph.hpp pattern_word), pattern codes as Pattern's values:
// 0 walking ones, 1 walking zeros, 2 checkerboard, 3 random (splitmix64), 4 address.
ulong pattern_word(uint pattern, ulong seed, ulong i, uint invert) {
  ulong w = 0;
  switch (pattern) {
    case 0: w = (ulong)1 << (i & 63); break;
    case 1: w = ~((ulong)1 << (i & 63)); break;
    case 2: w = (i & 1) ? 0x5555555555555555UL : 0xAAAAAAAAAAAAAAAAUL; break;
    case 3: {
      ulong z = seed + (i + 1) * 0x9E3779B97F4A7C15UL;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
      w = z ^ (z >> 31);
      break;
    }
    default: w = i * 8; break;
  }
  return invert ? ~w : w;
}

// One work-item walks every chain, interleaved: step s of chain 0, of chain 1, ..., then step
// s + 1, so the loads of different chains are independent and in flight together (memory-level
// parallelism) on any device, rather than chains queued one after another as work-items of one
// group run on a CPU implementation. `steps` dependent loads per chain from where it stands (pos),
// which it leaves where it ends; a word outside the ring is taken modulo the lines (as ref does),
// a test that costs nothing on a well-formed ring.
#define CHASE_BATCH 32
__kernel void chase(__global const ulong* ring, const ulong lines, const ulong words, __global ulong* pos,
                    const ulong steps, const uint chains) {
  if (get_global_id(0) != 0) return;
  for (uint first = 0; first < chains; first += CHASE_BATCH) {
    const uint count = min((uint)CHASE_BATCH, chains - first);
    ulong at[CHASE_BATCH];
    for (uint c = 0; c < count; ++c) at[c] = pos[first + c];
    for (ulong s = 0; s < steps; ++s)
      for (uint c = 0; c < count; ++c) {
        const ulong next = ring[at[c] * words];
        at[c] = next < lines ? next : next % lines;
      }
    for (uint c = 0; c < count; ++c) pos[first + c] = at[c];
  }
}

__kernel void fill_pattern(__global ulong* out, const ulong n, const uint pattern, const ulong seed, const uint invert) {
  const size_t i = get_global_id(0);
  if (i < n) out[i] = pattern_word(pattern, seed, i, invert);
}

// verify_pattern, pass 1: mismatches per work-group, into counts[group].
__kernel void verify_count(__global const ulong* in, const ulong n, const uint pattern, const ulong seed,
                           const uint invert, __global ulong* counts, __local uint* scratch) {
  const size_t i = get_global_id(0), lid = get_local_id(0);
  scratch[lid] = (i < n && in[i] != pattern_word(pattern, seed, i, invert)) ? 1 : 0;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (size_t step = get_local_size(0) / 2; step > 0; step /= 2) {
    if (lid < step) scratch[lid] += scratch[lid + step];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) counts[get_group_id(0)] = scratch[0];
}

// verify_pattern, pass 2 (one work-item): the total, and the first max_errors mismatches in
// index order {index, expected, actual}, found by rescanning only the groups that had any.
__kernel void verify_list(__global const ulong* in, const ulong n, const uint pattern, const ulong seed,
                          const uint invert, __global const ulong* counts, const ulong groups, const ulong group_size,
                          const ulong max_errors, __global ulong* total, __global ulong* list) {
  if (get_global_id(0) != 0) return;
  ulong errors = 0;
  for (ulong g = 0; g < groups; ++g) errors += counts[g];
  total[0] = errors;
  for (ulong k = 0; k < max_errors * 3; ++k) list[k] = 0;
  ulong listed = 0;
  for (ulong g = 0; g < groups && listed < max_errors; ++g) {
    if (counts[g] == 0) continue;
    const ulong end = min(n, (g + 1) * group_size);
    for (ulong i = g * group_size; i < end && listed < max_errors; ++i) {
      const ulong want = pattern_word(pattern, seed, i, invert);
      if (in[i] != want) {
        list[listed * 3 + 0] = i;
        list[listed * 3 + 1] = want;
        list[listed * 3 + 2] = in[i];
        ++listed;
      }
    }
  }
}

// read_bytes, pass 2 (pass 1 is memory.cl's read_sum on ulong words): one work-group adds the
// first pass's partials, the words in [from, words) it left, and the last bytes - 8 x words
// bytes (a little-endian word padded with zeros) into the u64 output, each work-item every
// group_size-th of them, then a tree in local memory (group size a power of two). Sums wrap
// modulo 2^64, as the op defines.
__kernel void read_bytes_finish(__global const ulong* partials, const uint count, __global ulong* out,
                                __local ulong* scratch, __global const ulong* a, const ulong from, const ulong words,
                                const ulong bytes) {
  const size_t lid = get_local_id(0), size = get_local_size(0);
  ulong s = 0;
  for (uint g = lid; g < count; g += size) s += partials[g];
  for (ulong e = from + lid; e < words; e += size) s += a[e];
  if (lid == 0) {
    __global const uchar* tail = (__global const uchar*)(a + words);
    ulong w = 0;
    for (ulong b = 0; b < bytes - words * 8; ++b) w |= (ulong)tail[b] << (8 * b);
    s += w;
  }
  scratch[lid] = s;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (size_t step = size / 2; step > 0; step /= 2) {
    if (lid < step) scratch[lid] += scratch[lid + step];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) out[0] = scratch[0];
}
