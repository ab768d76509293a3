#ifdef XPB_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
// The memory ops of the catalogue (graph.hpp) in OpenCL C 1.2, for T = float and, where the
// device has cl_khr_fp64, T = double, each work-item moving one vector of W elements (W = 1, 2,
// 4, 8 or 16: the op's vector_width; clpeak measures global bandwidth the same way, float1..16).
// Consecutive work-items touch consecutive vectors, which GPUs coalesce and CPU implementations
// (PoCL) vectorise across the work-items of a group. The last work-item of an array whose length
// is not a multiple of W finishes it element by element.
//
// Built with -DT=float (or double) -DSUFFIX=f32 (or f64) -DW=<width> -DITEM_VECTORS=<vectors
// each work-item of read_sum adds>; the host picks kernels by name. Buffers start at their cl_mem's base, aligned for any vector type
// (CL_DEVICE_MEM_BASE_ADDR_ALIGN is at least the largest built-in type), so the vector casts
// below are aligned.
#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define VEC2(t, w) t##w
#define VEC(t, w) VEC2(t, w)
#if W == 1
#define VT T
#define HSUM(v) (v)
#else
#define VT VEC(T, W)
#endif
#if W == 2
#define HSUM(v) ((v).s0 + (v).s1)
#elif W == 4
#define HSUM(v) (((v).s0 + (v).s1) + ((v).s2 + (v).s3))
#elif W == 8
#define HSUM(v) ((((v).s0 + (v).s1) + ((v).s2 + (v).s3)) + (((v).s4 + (v).s5) + ((v).s6 + (v).s7)))
#elif W == 16
#define HSUM(v) (HSUM8((v).lo) + HSUM8((v).hi))
#endif
#define HSUM8(v) ((((v).s0 + (v).s1) + ((v).s2 + (v).s3)) + (((v).s4 + (v).s5) + ((v).s6 + (v).s7)))

// Vector i covers elements [i*W, i*W + W); the tail past the last whole vector is handled by the
// work-item of the vector it would be. ELEMENTWISE(expr) writes out = expr for one element index
// e (scalar) or one vector index i (vector), with x(p) reading array p there.
#define ELEMENTWISE(out, expr_vec, expr_elem)                               \
  const size_t i = get_global_id(0);                                        \
  const ulong whole = n / W;                                                \
  if (i < whole) {                                                          \
    ((__global VT*)out)[i] = expr_vec;                                      \
  } else if (i == whole) {                                                  \
    for (ulong e = whole * W; e < n; ++e) out[e] = expr_elem;               \
  }
#define V(p) (((__global const VT*)(p))[i])

__kernel void CAT(copy, SUFFIX)(__global const T* a, __global T* out, const ulong n) {
  ELEMENTWISE(out, V(a), a[e])
}

__kernel void CAT(scale, SUFFIX)(__global const T* a, __global T* out, const ulong n, const T s) {
  ELEMENTWISE(out, s * V(a), s * a[e])
}

__kernel void CAT(add, SUFFIX)(__global const T* a, __global const T* b, __global T* out, const ulong n) {
  ELEMENTWISE(out, V(a) + V(b), a[e] + b[e])
}

__kernel void CAT(triad, SUFFIX)(__global const T* a, __global const T* b, __global T* out, const ulong n,
                                 const T s) {
  ELEMENTWISE(out, V(a) + s * V(b), a[e] + s * b[e])
}

__kernel void CAT(write_fill, SUFFIX)(__global T* out, const ulong n, const T v) {
  ELEMENTWISE(out, (VT)(v), v)
}

// read_sum, pass 1 on GPUs: work-group g sums the block of group_size x ITEM_VECTORS consecutive
// vectors that starts at g times that (each work-item every group_size-th of them, so a group's
// reads stay consecutive), in T (the device's accumulation), then a tree in local memory; one
// partial per group. The elements past the last whole vector are added by work-item 0 of the
// group whose block would hold them.
__kernel void CAT(read_sum_partial, SUFFIX)(__global const T* a, const ulong n, __global T* partials,
                                            __local T* scratch) {
  const size_t lid = get_local_id(0), group_size = get_local_size(0);
  const ulong base = (ulong)get_group_id(0) * group_size * ITEM_VECTORS;
  const ulong whole = n / W;
  VT acc = (VT)(0);
  for (uint k = 0; k < ITEM_VECTORS; ++k) {
    const ulong i = base + k * group_size + lid;
    if (i < whole) acc += ((__global const VT*)a)[i];
  }
  T sum = HSUM(acc);
  if (lid == 0 && whole >= base && whole < base + group_size * ITEM_VECTORS)
    for (ulong e = whole * W; e < n; ++e) sum += a[e];
  scratch[lid] = sum;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (size_t step = group_size / 2; step > 0; step /= 2) {
    if (lid < step) scratch[lid] += scratch[lid + step];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) partials[get_group_id(0)] = scratch[0];
}

// read_sum, pass 1 on CPU implementations: no bounds and one barrier. PoCL runs a work-group
// whose items all take the same path as one vectorised loop over them, and splits it into a loop
// per barrier region otherwise: the tree above (a barrier per level) read at 10 GB/s where this
// reads at 14-25. Work-group g reads the block of group_size x ITEM_VECTORS consecutive vectors
// that starts at g times that, work-item l vectors l, l + group_size, ... of it (clpeak's
// layout: a group's reads stay in one stretch, which a CPU thread's prefetcher follows). After
// the one barrier a single item adds the group's partials, 16 at a time (a partial per work-item
// left the finish, one work-group on one thread, 1/16 of the array to add again at width 1:
// 8 GB/s there, 14-19 this way). The host launches whole blocks only; the finish adds the rest.
__kernel void CAT(read_sum_items, SUFFIX)(__global const T* a, const ulong n, __global T* partials,
                                          __local T* scratch) {
  const size_t lid = get_local_id(0), group_size = get_local_size(0);
  __global const VT* v = (__global const VT*)a + (ulong)get_group_id(0) * group_size * ITEM_VECTORS;
  VT acc = (VT)(0);
#pragma unroll
  for (uint k = 0; k < ITEM_VECTORS; ++k) acc += v[k * group_size + lid];
  scratch[lid] = HSUM(acc);
  barrier(CLK_LOCAL_MEM_FENCE);
  if (lid == 0) {
    VEC(T, 16) s16 = (VEC(T, 16))(0);
    size_t i = 0;
    for (; i + 16 <= group_size; i += 16) s16 += vload16(0, scratch + i);
    T sum = HSUM8(s16.lo) + HSUM8(s16.hi);
    for (; i < group_size; ++i) sum += scratch[i];
    partials[get_group_id(0)] = sum;
  }
}
