// The compute ops on an OpenCL device (fma_loop, kernels/compute.cl): which element types this
// device runs them on, and the vector width it uses when a node does not set one.
#pragma once
#include <string>
#include <vector>

#include "opencl_context.hpp"
#include "xpubench/dtype.hpp"

namespace xpb::opencl {

// Independent vectors each work-item of fma_loop keeps in flight (ACC in compute.cl).
inline constexpr int kFmaLoopVectors = 8;

// f32 and i8 (uchar) everywhere; f64 with cl_khr_fp64; f16 with cl_khr_fp16.
std::vector<DType> fma_loop_dtypes(const Context& ctx);
// Why fma_loop cannot run on `t` on this device; "" when it can.
std::string fma_loop_refusal(const Context& ctx, DType t);
// CL_DEVICE_PREFERRED_VECTOR_WIDTH_{DOUBLE,FLOAT,HALF,CHAR} rounded down to 1, 2, 4, 8 or 16
// (1 when the device answers 0).
int fma_loop_default_width(const Context& ctx, DType t);

}  // namespace xpb::opencl
