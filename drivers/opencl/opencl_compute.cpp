#include "opencl_compute.hpp"

#include <algorithm>

#include "opencl_executable.hpp"

namespace xpb::opencl {
namespace {

bool has_fp16(const Context& ctx) {
  const std::string padded = " " + device_string(ctx.device, CL_DEVICE_EXTENSIONS) + " ";
  return padded.find(" cl_khr_fp16 ") != std::string::npos;
}

// The OpenCL C type and build options of compute.cl for `t` at width `w`.
std::string program_options(DType t, int w) {
  const char* type = t == DType::f64 ? "double -DXPB_FP64" : t == DType::f16 ? "half -DXPB_FP16" : t == DType::i8 ? "uchar -DXPB_INT" : "float";
  return std::string("-DT=") + type + " -DW=" + std::to_string(w) + " -DACC=" + std::to_string(kFmaLoopVectors);
}

template <class V>
void set_arg(cl_kernel k, cl_uint index, const V& v) {
  check(clSetKernelArg(k, index, sizeof v, &v), "clSetKernelArg");
}

}  // namespace

std::vector<DType> fma_loop_dtypes(const Context& ctx) {
  std::vector<DType> out = {DType::f32, DType::i8};
  if (ctx.fp64) out.push_back(DType::f64);
  if (has_fp16(ctx)) out.push_back(DType::f16);
  return out;
}

std::string fma_loop_refusal(const Context& ctx, DType t) {
  const auto ok = fma_loop_dtypes(ctx);
  if (std::find(ok.begin(), ok.end(), t) != ok.end()) return "";
  if (t == DType::f64) return "opencl: fma_loop on f64 needs cl_khr_fp64, which this device lacks";
  if (t == DType::f16) return "opencl: fma_loop on f16 needs cl_khr_fp16, which this device lacks";
  return "opencl: fma_loop on " + std::string(name(t)) + " is not supported (f32, f64, f16 and i8 are)";
}

int fma_loop_default_width(const Context& ctx, DType t) {
  const cl_device_info what = t == DType::f64   ? CL_DEVICE_PREFERRED_VECTOR_WIDTH_DOUBLE
                              : t == DType::f16 ? CL_DEVICE_PREFERRED_VECTOR_WIDTH_HALF
                              : t == DType::i8  ? CL_DEVICE_PREFERRED_VECTOR_WIDTH_CHAR
                                                : CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT;
  const auto preferred = device_value<cl_uint>(ctx.device, what);
  int w = 1;
  while (w < 16 && static_cast<cl_uint>(w * 2) <= preferred) w *= 2;
  return w;
}

void ClExecutable::plan_compute(const Node& n, Step& s) {
  const TensorDesc& y = graph_.tensor(n.outputs[0]);
  const int width = static_cast<int>(n.attrs.get_int("vector_width", fma_loop_default_width(*ctx_, y.dtype)));
  s.width = static_cast<std::size_t>(width);
  s.elem_bytes = traits(y.dtype).block_bytes;
  cl_int err = CL_SUCCESS;
  cl_kernel k = clCreateKernel(ctx_->program("compute", program_options(y.dtype, width)), "fma_loop", &err);
  check(err, "clCreateKernel");
  s.kernels.push_back(k);
  const auto count = static_cast<cl_ulong>(y.elements());
  set_arg(k, 0, buffers_[n.inputs[0]]->mem());
  set_arg(k, 1, buffers_[n.outputs[0]]->mem());
  set_arg(k, 2, count);
  set_arg(k, 3, static_cast<cl_uint>(n.attrs.get_int("chain", 1)));
  // One work-item per kFmaLoopVectors vectors, in whole work-groups (items past the end do
  // nothing).
  const std::size_t per_item = s.width * kFmaLoopVectors;
  const std::size_t items = (static_cast<std::size_t>(count) + per_item - 1) / per_item;
  const std::size_t local = local_;
  const std::size_t global = std::max<std::size_t>(local, (items + local - 1) / local * local);
  s.plan = [=](std::span<const std::int64_t>, std::vector<Launch>& l) {
    l.push_back({k, 1, {global, 1, 1}, {local, 1, 1}, true});
  };
}

}  // namespace xpb::opencl
