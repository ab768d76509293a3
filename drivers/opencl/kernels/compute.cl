#ifdef XPB_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
#ifdef XPB_FP16
#pragma OPENCL EXTENSION cl_khr_fp16 : enable
#endif
// fma_loop (graph.hpp) in OpenCL C 1.2: y = f^chain(x), each step one multiply-add in the
// element type. Built once per element type and vector width:
//   -DT=float|double|half|uchar -DW=1|2|4|8|16 -DACC=<vectors per work-item> [-DXPB_INT]
//   [-DXPB_FP64] [-DXPB_FP16]
// Each work-item loads ACC vectors of W elements (consecutive: work-item i owns vectors
// i*ACC .. i*ACC+ACC-1), runs every step on all of them, then stores them: ACC independent
// multiply-add chains for the ILP that hides the FMA's latency, in registers for the whole
// chain. Only one work-item, the one
// whose vectors would run past n, handles elements one at a time.
//
// Floats step v * 0.5 + 0.5: OpenCL C contracts it into an FMA where the device has one (FP_CONTRACT
// is on by default), and as v * 0.5 is exact a fused and an unfused step give the same bits.
// uchar steps v * 5 + 1, wrapping modulo 256 (vector arithmetic does not promote; a scalar
// promotes to int and is truncated back on assignment, the same residue).
#define VEC2(t, w) t##w
#define VEC(t, w) VEC2(t, w)
#define VLOAD2(w) vload##w
#define VLOAD(w) VLOAD2(w)
#define VSTORE2(w) vstore##w
#define VSTORE(w) VSTORE2(w)
#if W == 1
#define VT T
#define LOADV(i, p) ((p)[i])
#define STOREV(v, i, p) ((p)[i] = (v))
#else
#define VT VEC(T, W)
#define LOADV(i, p) VLOAD(W)(i, p)
#define STOREV(v, i, p) VSTORE(W)(v, i, p)
#endif
#ifdef XPB_INT
#define MUL_S ((T)5)
#define ADD_S ((T)1)
#else
#define MUL_S ((T)0.5f)
#define ADD_S ((T)0.5f)
#endif

// Eight accumulators, named rather than an array: an array's loops may be split by the
// compiler into one chain after another (PoCL did), which leaves one FMA in flight.
#if ACC != 8
#error "compute.cl is written for ACC = 8"
#endif
#define EACH_ACC(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define LOAD_ACC(k) VT a##k = LOADV(item * ACC + (k), x);
#define STEP_ACC(k) a##k = a##k * mul + add;
#define STORE_ACC(k) STOREV(a##k, item * ACC + (k), y);

__kernel void fma_loop(__global const T* restrict x, __global T* restrict y, const ulong n, const uint chain) {
  const ulong item = get_global_id(0);
  const ulong first = item * (ulong)(W * ACC);
  if (first + (ulong)(W * ACC) <= n) {
    const VT mul = (VT)(MUL_S);
    const VT add = (VT)(ADD_S);
    EACH_ACC(LOAD_ACC)
    for (uint s = 0; s < chain; ++s) {
      EACH_ACC(STEP_ACC)
    }
    EACH_ACC(STORE_ACC)
  } else {
    for (ulong i = first; i < n; ++i) {
      T v = x[i];
      for (uint s = 0; s < chain; ++s) v = v * MUL_S + ADD_S;
      y[i] = v;
    }
  }
}
