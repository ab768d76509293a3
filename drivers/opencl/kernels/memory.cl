#ifdef XPB_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
// The memory ops of the catalogue (graph.hpp) in OpenCL C 1.2, for T = float and, where the
// device has cl_khr_fp64, T = double. One element per work-item, the global size rounded up to
// whole work-groups: consecutive work-items touch consecutive elements, which GPUs coalesce and
// CPU implementations (PoCL) vectorise across the work-items of a group.
//
// Built with -DT=float (or double) -DSUFFIX=f32 (or f64); the host picks kernels by name.
#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)

__kernel void CAT(copy, SUFFIX)(__global const T* a, __global T* out, const ulong n) {
  const size_t i = get_global_id(0);
  if (i < n) out[i] = a[i];
}

__kernel void CAT(scale, SUFFIX)(__global const T* a, __global T* out, const ulong n, const T s) {
  const size_t i = get_global_id(0);
  if (i < n) out[i] = s * a[i];
}

__kernel void CAT(add, SUFFIX)(__global const T* a, __global const T* b, __global T* out, const ulong n) {
  const size_t i = get_global_id(0);
  if (i < n) out[i] = a[i] + b[i];
}

__kernel void CAT(triad, SUFFIX)(__global const T* a, __global const T* b, __global T* out, const ulong n,
                                 const T s) {
  const size_t i = get_global_id(0);
  if (i < n) out[i] = a[i] + s * b[i];
}

__kernel void CAT(write_fill, SUFFIX)(__global T* out, const ulong n, const T v) {
  const size_t i = get_global_id(0);
  if (i < n) out[i] = v;
}

// read_sum, pass 1: work-group g sums the block of group_size x READ_SUM_PER_ITEM consecutive
// elements that starts at g times that (each work-item every group_size-th of them, so a group's
// reads stay consecutive), in T (the device's accumulation), then a tree in local memory; one
// partial per group.
#define READ_SUM_PER_ITEM 16
__kernel void CAT(read_sum_partial, SUFFIX)(__global const T* a, const ulong n, __global T* partials,
                                            __local T* scratch) {
  const size_t lid = get_local_id(0), group_size = get_local_size(0);
  const ulong base = (ulong)get_group_id(0) * group_size * READ_SUM_PER_ITEM;
  T sum = 0;
  for (uint k = 0; k < READ_SUM_PER_ITEM; ++k) {
    const ulong i = base + k * group_size + lid;
    if (i < n) sum += a[i];
  }
  scratch[lid] = sum;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (size_t step = group_size / 2; step > 0; step /= 2) {
    if (lid < step) scratch[lid] += scratch[lid + step];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) partials[get_group_id(0)] = scratch[0];
}
