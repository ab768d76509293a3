// The transformer ops of the catalogue (graph.hpp) in OpenCL C 1.2: activations f32 [rows,
// cols], row-major, only the live rows (an argument) touched. Weights are decoded where they
// are read, exactly (a block scale times an integer), from the storage type WTYPE given at
// build time with -DWTYPE=code (dtype.hpp): 2 f32, 3 f16, 4 bf16, 10 Q8_0, 11 Q4_0; one program
// per weight type. Sums accumulate in f32.

// Element k of a row of weights that starts at byte `row`.
float weight_at(__global const uchar* row, ulong k) {
#if WTYPE == 2
  return ((__global const float*)row)[k];
#elif WTYPE == 3
  return vload_half(k, (__global const half*)row);
#elif WTYPE == 4
  return as_float((uint)((__global const ushort*)row)[k] << 16);
#elif WTYPE == 10
  // GGUF block_q8_0: f16 scale, 32 x int8; 34 bytes (an even size: the scale stays 2-aligned).
  __global const uchar* b = row + (k / 32) * 34;
  return vload_half(0, (__global const half*)b) * (float)((__global const char*)b)[2 + k % 32];
#elif WTYPE == 11
  // GGUF block_q4_0: f16 scale, 16 bytes; byte j holds element j (low nibble) and j + 16 (high).
  __global const uchar* b = row + (k / 32) * 18;
  const uint j = k % 32;
  const uchar q = b[2 + (j & 15)];
  return vload_half(0, (__global const half*)b) * (float)((j < 16 ? (q & 15) : (q >> 4)) - 8);
#else
#error "WTYPE must be a weight dtype code"
#endif
}

// Bytes of one row of `cols` weights.
ulong weight_row_bytes(ulong cols) {
#if WTYPE == 2
  return cols * 4;
#elif WTYPE == 3 || WTYPE == 4
  return cols * 2;
#elif WTYPE == 10
  return cols / 32 * 34;
#else
  return cols / 32 * 18;
#endif
}

// The dot product of block b (32 elements, or what is left of the row) of a row of weights with
// the same elements of x: a quantized block's scale is read once for its 32 values.
float block_dot(__global const uchar* row, __global const float* x, ulong b, ulong k_len) {
  const ulong first = b * 32, count = min((ulong)32, k_len - first);
  float s = 0;
#if WTYPE == 10
  __global const uchar* blk = row + b * 34;
  __global const char* q = (__global const char*)(blk + 2);
  for (uint i = 0; i < 32; ++i) s += x[first + i] * (float)q[i];
  return s * vload_half(0, (__global const half*)blk);
#elif WTYPE == 11
  __global const uchar* blk = row + b * 18;
  for (uint i = 0; i < 16; ++i) {
    const uchar q = blk[2 + i];
    s += x[first + i] * (float)((int)(q & 15) - 8) + x[first + i + 16] * (float)((int)(q >> 4) - 8);
  }
  return s * vload_half(0, (__global const half*)blk);
#else
  for (ulong i = 0; i < count; ++i) s += x[first + i] * weight_at(row, first + i);
  return s;
#endif
}

// Sums `v` over the work-group (of any size) through `scratch`; every item gets it.
float group_sum(float v, __local float* scratch) {
  const size_t lid = get_local_id(0), size = get_local_size(0);
  scratch[lid] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  size_t top = 1;
  while (top * 2 < size) top *= 2;
  for (size_t step = top; step > 0; step /= 2) {
    if (lid < step && lid + step < size) scratch[lid] += scratch[lid + step];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float total = scratch[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  return total;
}

// out[t] = row ids[t] of the table. Global (dim, rows). A bad id zeroes the row and records the
// first such row and id in err {flag, row, id} for the host to report.
__kernel void embedding(__global const uchar* table, const ulong vocab, const ulong dim, __global const int* ids,
                        __global float* out, const uint rows, __global volatile int* err) {
  const size_t e = get_global_id(0), t = get_global_id(1);
  if (e >= dim || t >= rows) return;
  const int id = ids[t];
  if (id < 0 || (ulong)id >= vocab) {
    out[t * dim + e] = 0;
    if (e == 0 && atomic_cmpxchg(&err[0], 0, 1) == 0) {
      err[1] = (int)t;
      err[2] = id;
    }
    return;
  }
  out[t * dim + e] = weight_at(table + (ulong)id * weight_row_bytes(dim), e);
}

// One work-group per row: out = x / sqrt(mean(x^2) + eps) * w.
__kernel void rms_norm(__global const float* x, __global const float* w, __global float* out, const ulong n,
                       const float eps, const uint rows, __local float* scratch) {
  const size_t t = get_group_id(0), lid = get_local_id(0), size = get_local_size(0);
  if (t >= rows) return;
  float ss = 0;
  for (ulong i = lid; i < n; i += size) ss += x[t * n + i] * x[t * n + i];
  const float inv = rsqrt(group_sum(ss, scratch) / (float)n + eps);
  for (ulong i = lid; i < n; i += size) out[t * n + i] = x[t * n + i] * inv * w[i];
}

// out[t][j] = x[t] . W[j]: one work-group per (j, t), its items taking blocks of 32 weights in
// turn (block_dot), then a tree.
__kernel void matmul(__global const float* x, __global const uchar* w, __global float* out, const ulong k_len,
                     const ulong n_out, const uint rows, __local float* scratch) {
  const size_t j = get_group_id(0), t = get_global_id(1), lid = get_local_id(0), size = get_local_size(0);
  if (j >= n_out || t >= rows) return;
  __global const uchar* row = w + j * weight_row_bytes(k_len);
  __global const float* xt = x + t * k_len;
  float s = 0;
  for (ulong b = lid; b * 32 < k_len; b += size) s += block_dot(row, xt, b, k_len);
  s = group_sum(s, scratch);
  if (lid == 0) out[t * n_out + j] = s;
}

// The dot product of a whole row of weights with x, in 8-wide vectors (explicit: a compiler may
// not reorder a scalar float sum into SIMD lanes), for matmul_rows. Rows whose length is not a
// multiple of 32 (only f32/f16/bf16 allow that) finish element by element.
float row_dot(__global const uchar* row, __global const float* x, ulong k_len) {
  float8 acc = (float8)(0);
  float tail = 0;
#if WTYPE == 10
  for (ulong b = 0; b * 32 < k_len; ++b) {
    __global const uchar* blk = row + b * 34;
    __global const char* q = (__global const char*)(blk + 2);
    __global const float* xb = x + b * 32;
    float8 s = vload8(0, xb) * convert_float8(vload8(0, q));
    s += vload8(1, xb) * convert_float8(vload8(1, q));
    s += vload8(2, xb) * convert_float8(vload8(2, q));
    s += vload8(3, xb) * convert_float8(vload8(3, q));
    acc += s * vload_half(0, (__global const half*)blk);
  }
#elif WTYPE == 11
  for (ulong b = 0; b * 32 < k_len; ++b) {
    __global const uchar* blk = row + b * 18;
    __global const float* xb = x + b * 32;
    const uchar16 q = vload16(0, blk + 2);
    const float16 lo = convert_float16(q & (uchar16)(15)) - 8.0f;
    const float16 hi = convert_float16(q >> (uchar16)(4)) - 8.0f;
    const float16 s = vload16(0, xb) * lo + vload16(1, xb) * hi;
    acc += (s.lo + s.hi) * vload_half(0, (__global const half*)blk);
  }
#else
  const ulong whole = k_len / 8 * 8;
  for (ulong i = 0; i < whole; i += 8) {
#if WTYPE == 2
    const float8 w = vload8(0, (__global const float*)row + i);
#elif WTYPE == 3
    const float8 w = vload_half8(0, (__global const half*)row + i);
#else
    const float8 w = as_float8(convert_uint8(vload8(0, (__global const ushort*)row + i)) << 16);
#endif
    acc += vload8(0, x + i) * w;
  }
  for (ulong i = whole; i < k_len; ++i) tail += x[i] * weight_at(row, i);
#endif
  const float4 h = acc.lo + acc.hi;
  return (h.x + h.y) + (h.z + h.w) + tail;
}

// out[t][j] = x[t] . W[j] on CPU implementations: one work-item per (j, t), the whole row in
// 8-wide vectors, no barrier (PoCL runs the work-group as one loop; matmul's tree would split it).
// Global (n_out rounded up, rows).
__kernel void matmul_rows(__global const float* x, __global const uchar* w, __global float* out, const ulong k_len,
                          const ulong n_out, const uint rows) {
  const size_t j = get_global_id(0), t = get_global_id(1);
  if (j >= n_out || t >= rows) return;
  out[t * n_out + j] = row_dot(w + j * weight_row_bytes(k_len), x + t * k_len, k_len);
}

// Rotary embedding of adjacent pairs. Global (head_dim / 2, heads, rows).
__kernel void rope(__global const float* x, __global const int* pos, __global const float* factor, const uint has_factor,
                   __global float* out, const uint head_dim, const float theta, const ulong width, const uint rows) {
  const size_t i = get_global_id(0), h = get_global_id(1), t = get_global_id(2);
  if (i >= head_dim / 2 || t >= rows) return;
  float freq = pow(theta, -2.0f * (float)i / (float)head_dim);
  if (has_factor) freq /= factor[i];
  const float angle = (float)pos[t] * freq;
  const float c = cos(angle), s = sin(angle);
  const ulong at = t * width + h * head_dim + 2 * i;
  const float a = x[at], b = x[at + 1];
  out[at] = a * c - b * s;
  out[at + 1] = a * s + b * c;
}

// Cache element i, in the cache's storage type (CACHE_HALF: f16).
#ifdef CACHE_HALF
#define CACHE_T half
#define CACHE_LOAD(c, i) vload_half((i), (c))
#define CACHE_STORE(c, i, v) vstore_half((v), (i), (c))
#else
#define CACHE_T float
#define CACHE_LOAD(c, i) ((c)[i])
#define CACHE_STORE(c, i, v) ((c)[i] = (v))
#endif

// Whether row t is in the cache: a sequence it has, a position it holds (any, in a ring).
#define IN_CACHE(t) (pos[t] >= 0 && (ring || (uint)pos[t] < context) && seq[t] >= 0 && (uint)seq[t] < slots)
// The slot of position p: p, or p mod context in a ring (graph.hpp).
#define SLOT(p) (ring ? (ulong)(p) % context : (ulong)(p))
// The positions row t attends, [first, end): to the end of its chunk of `chunk` positions,
// within the ring's reach.
#define ATTENDED(t)                                                          \
  const uint chunk_end = ((uint)pos[t] / chunk + 1) * chunk;                 \
  const uint end = ring ? chunk_end : min(chunk_end, context);              \
  const uint first = ring && end > context ? end - context : 0;

// attention, pass 1: row t's k and v into the caches at [seq[t]][slot of pos[t]]. Global
// (kv_width, rows).
__kernel void kv_store(__global const float* k, __global const float* v, __global const int* pos,
                       __global const int* seq, __global CACHE_T* k_cache, __global CACHE_T* v_cache,
                       const uint slots, const uint context, const ulong kv_width, const uint rows, const uint ring) {
  const size_t e = get_global_id(0), t = get_global_id(1);
  if (e >= kv_width || t >= rows) return;
  if (!IN_CACHE(t)) return;
  const ulong at = ((ulong)seq[t] * context + SLOT(pos[t])) * kv_width + e;
  CACHE_STORE(k_cache, at, k[t * kv_width + e]);
  CACHE_STORE(v_cache, at, v[t * kv_width + e]);
}

// attention, pass 2: one work-group per (head, row) with one item per element of the head; the
// scores are folded in as they come (a running maximum and sum, as flash attention does), so no
// row of scores is ever stored. Every item is a real element: a group rounded up to a power of
// two with its extra items idle was seen to corrupt host memory on PoCL 3.1 at head_dim 48
// (cause not found; group_sum takes any group size instead).
__kernel void attend(__global const float* q, __global const int* pos, __global const int* seq,
                     __global const CACHE_T* k_cache, __global const CACHE_T* v_cache, __global float* out,
                     const uint heads, const uint kv_heads, const uint head_dim, const float scale, const uint slots,
                     const uint context, const uint rows, __local float* scratch, const uint chunk,
                     const uint ring) {
  const size_t e = get_local_id(0), h = get_group_id(0), t = get_global_id(1);
  if (h >= heads || t >= rows) return;
  const ulong width = (ulong)heads * head_dim, kv_width = (ulong)kv_heads * head_dim;
  if (!IN_CACHE(t)) {
    out[t * width + h * head_dim + e] = 0;
    return;
  }
  const ulong kvh = h / (heads / kv_heads);
  const float qe = q[t * width + h * head_dim + e];
  const ulong base = (ulong)seq[t] * context * kv_width + kvh * head_dim + e;
  float top = -INFINITY, total = 0, acc = 0;
  ATTENDED(t)
  for (uint j = first; j < end; ++j) {
    const float s = group_sum(qe * CACHE_LOAD(k_cache, base + SLOT(j) * kv_width), scratch) * scale;
    const float new_top = fmax(top, s);
    const float keep = exp(top - new_top), weight = exp(s - new_top);
    total = total * keep + weight;
    acc = acc * keep + weight * CACHE_LOAD(v_cache, base + SLOT(j) * kv_width);
    top = new_top;
  }
  out[t * width + h * head_dim + e] = acc / total;
}

// attention, pass 2 on CPU implementations: one work-item per (head, row), each score a whole
// dot product, the output row kept in the item's own array; no barrier (attend's group_sum puts
// two in every key position, and PoCL runs each barrier region as a separate loop). Heads up to
// ATTEND_ROWS_MAX_HEAD_DIM elements (the host uses attend beyond). Global (heads, rows).
#define ATTEND_ROWS_MAX_HEAD_DIM 256
__kernel void attend_rows(__global const float* q, __global const int* pos, __global const int* seq,
                          __global const CACHE_T* k_cache, __global const CACHE_T* v_cache, __global float* out,
                          const uint heads, const uint kv_heads, const uint head_dim, const float scale,
                          const uint slots, const uint context, const uint rows, const uint chunk,
                          const uint ring) {
  const size_t h = get_global_id(0), t = get_global_id(1);
  if (h >= heads || t >= rows) return;
  const ulong width = (ulong)heads * head_dim, kv_width = (ulong)kv_heads * head_dim;
  __global float* o = out + t * width + h * head_dim;
  if (!IN_CACHE(t)) {
    for (uint e = 0; e < head_dim; ++e) o[e] = 0;
    return;
  }
  __global const float* qh = q + t * width + h * head_dim;
  const ulong base = (ulong)seq[t] * context * kv_width + (h / (heads / kv_heads)) * head_dim;
  float acc[ATTEND_ROWS_MAX_HEAD_DIM];
  for (uint e = 0; e < head_dim; ++e) acc[e] = 0;
  float top = -INFINITY, total = 0;
  ATTENDED(t)
  for (uint j = first; j < end; ++j) {
    const ulong row = base + SLOT(j) * kv_width;
    float s = 0;
    for (uint e = 0; e < head_dim; ++e) s += qh[e] * CACHE_LOAD(k_cache, row + e);
    s *= scale;
    const float new_top = fmax(top, s);
    const float keep = exp(top - new_top), weight = exp(s - new_top);
    total = total * keep + weight;
    for (uint e = 0; e < head_dim; ++e) acc[e] = acc[e] * keep + weight * CACHE_LOAD(v_cache, row + e);
    top = new_top;
  }
  for (uint e = 0; e < head_dim; ++e) o[e] = acc[e] / total;
}

// out = silu(a) * b over n elements.
__kernel void silu_mul(__global const float* a, __global const float* b, __global float* out, const ulong n) {
  const size_t i = get_global_id(0);
  if (i < n) out[i] = a[i] / (1.0f + exp(-a[i])) * b[i];
}

// out[i] = x[i] + b[i % cols] over n elements (a bias on every row).
__kernel void add_bias(__global const float* x, __global const float* b, __global float* out, const ulong cols,
                       const ulong n) {
  const size_t i = get_global_id(0);
  if (i < n) out[i] = x[i] + b[i % cols];
}

// out[t] = the index of the largest value of row t (the first, on ties). One work-group per row.
__kernel void argmax(__global const float* x, __global int* out, const ulong n, const uint rows,
                     __local float* best, __local uint* where) {
  const size_t t = get_group_id(0), lid = get_local_id(0), size = get_local_size(0);
  if (t >= rows) return;
  float v = -INFINITY;
  uint at = 0xFFFFFFFFu;
  for (ulong i = lid; i < n; i += size) {
    const float xi = x[t * n + i];
    if (xi > v || at == 0xFFFFFFFFu) {
      v = xi;
      at = (uint)i;
    }
  }
  best[lid] = v;
  where[lid] = at;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (size_t step = size / 2; step > 0; step /= 2) {
    if (lid < step) {
      const float o = best[lid + step];
      const uint oi = where[lid + step];
      if (oi != 0xFFFFFFFFu && (where[lid] == 0xFFFFFFFFu || o > best[lid] || (o == best[lid] && oi < where[lid]))) {
        best[lid] = o;
        where[lid] = oi;
      }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) out[t] = (int)where[0];
}

// out[r] = in[idx[r]], zeros for an index outside in's live rows. Global (n, rows).
__kernel void gather_rows(__global const float* in, __global const int* idx, __global float* out, const ulong n,
                          const uint src_rows, const uint rows) {
  const size_t e = get_global_id(0), r = get_global_id(1);
  if (e >= n || r >= rows) return;
  const int i = idx[r];
  out[r * n + e] = (i < 0 || (uint)i >= src_rows) ? 0.0f : in[(ulong)i * n + e];
}

// ---- the DiT ops (graph.hpp: layer_norm to unpatchify) ----------------------------------------

// out[t] = (x[t] - mean) / sqrt(var + eps) (* w + b when `affine`): one work-item per row (no
// barrier: a work-group version with two group sums wrote past its output on PoCL 3.1, cause
// not found), the mean first and then the variance of the differences. Global (rows).
__kernel void layer_norm(__global const float* x, __global const float* w, __global const float* b,
                         __global float* out, const ulong n, const float eps, const uint rows, const uint affine) {
  const size_t t = get_global_id(0);
  if (t >= rows) return;
  __global const float* xr = x + t * n;
  float s = 0;
  for (ulong i = 0; i < n; ++i) s += xr[i];
  const float mean = s / (float)n;
  float v = 0;
  for (ulong i = 0; i < n; ++i) v += (xr[i] - mean) * (xr[i] - mean);
  const float inv = rsqrt(v / (float)n + eps);
  for (ulong i = 0; i < n; ++i) {
    const float y = (xr[i] - mean) * inv;
    out[t * n + i] = affine ? y * w[i] + b[i] : y;
  }
}

// out = x * (1 + scale[col]) + shift[col] over `count` elements of rows of `cols`.
__kernel void modulate(__global const float* x, __global const float* shift, __global const float* scale,
                       __global float* out, const ulong cols, const ulong count) {
  const size_t i = get_global_id(0);
  if (i < count) out[i] = x[i] * (1.0f + scale[i % cols]) + shift[i % cols];
}

// out = x + gate[col] * y over `count` elements of rows of `cols`.
__kernel void gated_add(__global const float* x, __global const float* y, __global const float* gate,
                        __global float* out, const ulong cols, const ulong count) {
  const size_t i = get_global_id(0);
  if (i < count) out[i] = x[i] + gate[i % cols] * y[i];
}

// GELU, tanh form (0.7978845608 = sqrt(2 / pi)).
__kernel void gelu(__global const float* x, __global float* out, const ulong count) {
  const size_t i = get_global_id(0);
  if (i >= count) return;
  const float v = x[i];
  out[i] = 0.5f * v * (1.0f + tanh(0.7978845608f * (v + 0.044715f * v * v * v)));
}

__kernel void silu(__global const float* x, __global float* out, const ulong count) {
  const size_t i = get_global_id(0);
  if (i < count) out[i] = x[i] / (1.0f + exp(-x[i]));
}

// out = (1 - next) * (x - sigma * v) + next * noise.
__kernel void flow_step(__global const float* x, __global const float* v, __global const float* noise,
                        __global float* out, const float sigma, const float next, const ulong count) {
  const size_t i = get_global_id(0);
  if (i < count) out[i] = (1.0f - next) * (x[i] - sigma * v[i]) + next * noise[i];
}

// One output element per item: out[c][f][r][col] from token (f, r / ph, col / pw), value
// ((r % ph) * pw + col % pw) * channels + c.
__kernel void unpatchify(__global const float* x, __global float* out, const uint frames, const uint height,
                         const uint width, const uint channels, const uint ph, const uint pw) {
  const size_t o = get_global_id(0);
  const size_t cols = (size_t)width * pw, prow = (size_t)height * ph;
  if (o >= (size_t)channels * frames * prow * cols) return;
  const size_t col = o % cols, r = o / cols % prow, f = o / (cols * prow) % frames, c = o / (cols * prow * frames);
  const size_t token = (f * height + r / ph) * width + col / pw;
  out[o] = x[token * ph * pw * channels + ((r % ph) * pw + col % pw) * channels + c];
}

// cross_attention: one work-item per (head, row), over every key, the softmax folded in as the
// scores come (a running maximum and sum), the output row in the item's own array. Global
// (heads, rows). Heads up to ATTEND_ROWS_MAX_HEAD_DIM elements.
__kernel void cross_attend_rows(__global const float* q, __global const float* k, __global const float* v,
                                __global float* out, const uint heads, const uint head_dim, const float scale,
                                const uint keys, const uint rows) {
  const size_t h = get_global_id(0), t = get_global_id(1);
  if (h >= heads || t >= rows) return;
  const ulong width = (ulong)heads * head_dim;
  __global const float* qh = q + t * width + h * head_dim;
  float acc[ATTEND_ROWS_MAX_HEAD_DIM];
  for (uint e = 0; e < head_dim; ++e) acc[e] = 0;
  float top = -INFINITY, total = 0;
  for (uint j = 0; j < keys; ++j) {
    __global const float* kr = k + j * width + h * head_dim;
    __global const float* vr = v + j * width + h * head_dim;
    float s = 0;
    for (uint e = 0; e < head_dim; ++e) s += qh[e] * kr[e];
    s *= scale;
    const float new_top = fmax(top, s);
    const float keep = exp(top - new_top), weight = exp(s - new_top);
    total = total * keep + weight;
    for (uint e = 0; e < head_dim; ++e) acc[e] = acc[e] * keep + weight * vr[e];
    top = new_top;
  }
  for (uint e = 0; e < head_dim; ++e) out[t * width + h * head_dim + e] = acc[e] / total;
}
