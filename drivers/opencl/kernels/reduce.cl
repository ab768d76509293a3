// read_sum, pass 2: one work-group adds the first pass's partials and the elements of `a` in
// [from, n) that the first pass left (on CPU devices: past its last whole block; none on GPUs)
// into the f64 output, each work-item every group_size-th of them, then a tree in local memory. One group, not one
// work-item: a GPU's first pass leaves tens of thousands of partials (one per 4096 vectors),
// which a single work-item would add more slowly than the GPU reads the whole array, and a CPU
// device's one per work-item. Needs cl_khr_fp64 for the f64 output; a device without it does
// not claim read_sum.
#pragma OPENCL EXTENSION cl_khr_fp64 : enable

#define FINISH(SUFFIX, T)                                                                                \
  __kernel void read_sum_finish_##SUFFIX(__global const T* partials, const uint count, __global double* out, \
                                         __local double* scratch, __global const T* a, const ulong from,  \
                                         const ulong n) {                                                 \
    const size_t lid = get_local_id(0), size = get_local_size(0);                                         \
    double s = 0;                                                                                         \
    for (uint g = lid; g < count; g += size) s += (double)partials[g];                                    \
    for (ulong e = from + lid; e < n; e += size) s += (double)a[e];                                       \
    scratch[lid] = s;                                                                                     \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                         \
    for (size_t step = size / 2; step > 0; step /= 2) {                                                   \
      if (lid < step) scratch[lid] += scratch[lid + step];                                                \
      barrier(CLK_LOCAL_MEM_FENCE);                                                                       \
    }                                                                                                     \
    if (lid == 0) out[0] = scratch[0];                                                                    \
  }

FINISH(f64, double)
FINISH(f32, float)
