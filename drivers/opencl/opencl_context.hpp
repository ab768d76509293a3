// What an open OpenCL device shares with its buffers and executables: the context, the
// in-order profiling queue, the facts about the device the driver needs, and the programs
// built for it (cached, so every executable after the first reuses them).
#pragma once
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

namespace xpb::opencl {

// "CL_OUT_OF_RESOURCES (-5)" for an OpenCL error code.
std::string error_name(cl_int code);

// An OpenCL call that failed: what was called and the code.
struct ClError : std::runtime_error {
  ClError(const std::string& what, cl_int error) : std::runtime_error(what + ": " + error_name(error)), code(error) {}
  cl_int code;
};
inline void check(cl_int code, const char* what) {
  if (code != CL_SUCCESS) throw ClError(what, code);
}

// Facts about a device or a platform: the text (without its terminating NUL) or the value, ""
// or 0 where the implementation does not answer.
std::string device_string(cl_device_id d, cl_device_info what);
std::string platform_string(cl_platform_id p, cl_platform_info what);
template <class T>
T device_value(cl_device_id d, cl_device_info what) {
  T v{};
  clGetDeviceInfo(d, what, sizeof v, &v, nullptr);
  return v;
}

struct Context {
  cl_device_id device = nullptr;
  cl_context context = nullptr;
  cl_command_queue queue = nullptr;
  bool fp64 = false;
  // CL_DEVICE_HOST_UNIFIED_MEMORY: the device's global memory is the host's (PoCL, integrated GPUs).
  bool host_unified = false;
  // Kernels written for a CPU implementation (no barriers: PoCL vectorises a barrier-free
  // work-group as one loop) rather than for a GPU (work-group trees in local memory). By default
  // CL_DEVICE_TYPE_CPU; the device option `kernels=cpu|gpu` chooses (so both kinds run, and are
  // tested, on any device).
  bool cpu_kernels = false;
  // CL_DEVICE_MAX_MEM_ALLOC_SIZE: the largest single buffer.
  std::uint64_t max_alloc = 0;
  // CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT / _DOUBLE, rounded down to a width OpenCL C has a
  // type for (1, 2, 4, 8, 16): the memory ops' vector width when a node does not set one.
  int preferred_width_f32 = 1;
  int preferred_width_f64 = 1;
  std::size_t max_work_group = 1;
  unsigned compute_units = 1;
  double timer_resolution_s = 1e-9;

  Context(cl_platform_id platform, cl_device_id device);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // The program of embedded source `name` built with `options`, built on first use. Throws
  // std::runtime_error with the build log when the device's compiler refuses it.
  cl_program program(const std::string& name, const std::string& options);

 private:
  std::mutex mu_;
  std::map<std::string, cl_program> programs_;
};

// The embedded kernel source `name` ("memory", "reduce"), from kernels/*.cl at build time.
const std::string& kernel_source(const std::string& name);

}  // namespace xpb::opencl
