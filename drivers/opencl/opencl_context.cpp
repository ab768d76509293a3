#include "opencl_context.hpp"

#include <algorithm>
#include <vector>

namespace xpb::opencl {

std::string error_name(cl_int code) {
  const char* name = nullptr;
  switch (code) {
    case CL_DEVICE_NOT_FOUND: name = "CL_DEVICE_NOT_FOUND"; break;
    case CL_DEVICE_NOT_AVAILABLE: name = "CL_DEVICE_NOT_AVAILABLE"; break;
    case CL_COMPILER_NOT_AVAILABLE: name = "CL_COMPILER_NOT_AVAILABLE"; break;
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: name = "CL_MEM_OBJECT_ALLOCATION_FAILURE"; break;
    case CL_OUT_OF_RESOURCES: name = "CL_OUT_OF_RESOURCES"; break;
    case CL_OUT_OF_HOST_MEMORY: name = "CL_OUT_OF_HOST_MEMORY"; break;
    case CL_PROFILING_INFO_NOT_AVAILABLE: name = "CL_PROFILING_INFO_NOT_AVAILABLE"; break;
    case CL_BUILD_PROGRAM_FAILURE: name = "CL_BUILD_PROGRAM_FAILURE"; break;
    case CL_INVALID_VALUE: name = "CL_INVALID_VALUE"; break;
    case CL_INVALID_DEVICE: name = "CL_INVALID_DEVICE"; break;
    case CL_INVALID_BUFFER_SIZE: name = "CL_INVALID_BUFFER_SIZE"; break;
    case CL_INVALID_KERNEL_NAME: name = "CL_INVALID_KERNEL_NAME"; break;
    case CL_INVALID_ARG_SIZE: name = "CL_INVALID_ARG_SIZE"; break;
    case CL_INVALID_WORK_GROUP_SIZE: name = "CL_INVALID_WORK_GROUP_SIZE"; break;
    case CL_INVALID_GLOBAL_WORK_SIZE: name = "CL_INVALID_GLOBAL_WORK_SIZE"; break;
    case -1001: name = "CL_PLATFORM_NOT_FOUND_KHR"; break;  // cl_khr_icd: the loader found no vendor
    default: break;
  }
  return (name != nullptr ? std::string(name) : std::string("OpenCL error")) + " (" + std::to_string(code) + ")";
}

namespace {

// The text a clGet*Info call gives, asked for its size first.
template <class Query>
std::string info_string(Query query) {
  std::size_t n = 0;
  if (query(0, nullptr, &n) != CL_SUCCESS || n == 0) return "";
  std::string s(n, '\0');
  if (query(n, s.data(), nullptr) != CL_SUCCESS) return "";
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

}  // namespace

std::string device_string(cl_device_id d, cl_device_info what) {
  return info_string([&](std::size_t n, void* p, std::size_t* r) { return clGetDeviceInfo(d, what, n, p, r); });
}

std::string platform_string(cl_platform_id p, cl_platform_info what) {
  return info_string([&](std::size_t n, void* v, std::size_t* r) { return clGetPlatformInfo(p, what, n, v, r); });
}

Context::Context(cl_platform_id platform, cl_device_id d) : device(d) {
  const cl_context_properties props[] = {CL_CONTEXT_PLATFORM, reinterpret_cast<cl_context_properties>(platform), 0};
  cl_int err = CL_SUCCESS;
  context = clCreateContext(props, 1, &device, nullptr, nullptr, &err);
  check(err, "clCreateContext");
  // In order, with profiling: every command's start and end on the device's own timer.
  queue = clCreateCommandQueue(context, device, CL_QUEUE_PROFILING_ENABLE, &err);
  if (err != CL_SUCCESS) {
    clReleaseContext(context);
    throw ClError("clCreateCommandQueue", err);
  }
  fp64 = device_string(device, CL_DEVICE_EXTENSIONS).find("cl_khr_fp64") != std::string::npos;
  host_unified = device_value<cl_bool>(device, CL_DEVICE_HOST_UNIFIED_MEMORY) == CL_TRUE;
  cpu_kernels = (device_value<cl_device_type>(device, CL_DEVICE_TYPE) & CL_DEVICE_TYPE_CPU) != 0;
  max_alloc = device_value<cl_ulong>(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
  auto vector_width = [](cl_uint preferred) {
    int w = 1;
    while (w < 16 && static_cast<cl_uint>(w * 2) <= preferred) w *= 2;
    return w;
  };
  preferred_width_f32 = vector_width(device_value<cl_uint>(device, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT));
  preferred_width_f64 = vector_width(device_value<cl_uint>(device, CL_DEVICE_PREFERRED_VECTOR_WIDTH_DOUBLE));
  max_work_group = std::max<std::size_t>(1, device_value<std::size_t>(device, CL_DEVICE_MAX_WORK_GROUP_SIZE));
  compute_units = std::max<cl_uint>(1, device_value<cl_uint>(device, CL_DEVICE_MAX_COMPUTE_UNITS));
  const auto ns = device_value<std::size_t>(device, CL_DEVICE_PROFILING_TIMER_RESOLUTION);
  timer_resolution_s = ns > 0 ? static_cast<double>(ns) * 1e-9 : 1e-9;
}

Context::~Context() {
  for (auto& [name, p] : programs_) clReleaseProgram(p);
  clReleaseCommandQueue(queue);
  clReleaseContext(context);
}

cl_program Context::program(const std::string& name, const std::string& options) {
  std::lock_guard lock(mu_);
  const std::string key = name + "|" + options;
  if (auto it = programs_.find(key); it != programs_.end()) return it->second;
  const std::string& src = kernel_source(name);
  const char* text = src.c_str();
  const std::size_t length = src.size();
  cl_int err = CL_SUCCESS;
  cl_program p = clCreateProgramWithSource(context, 1, &text, &length, &err);
  check(err, "clCreateProgramWithSource");
  err = clBuildProgram(p, 1, &device, options.c_str(), nullptr, nullptr);
  if (err != CL_SUCCESS) {
    // The build log is what a driver developer needs: kept in the error (and so in the record).
    std::size_t n = 0;
    clGetProgramBuildInfo(p, device, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n);
    std::string log(n, '\0');
    clGetProgramBuildInfo(p, device, CL_PROGRAM_BUILD_LOG, n, log.data(), nullptr);
    clReleaseProgram(p);
    if (log.size() > 4000) log = log.substr(0, 4000) + "\n... (log cut at 4000 characters)";
    throw std::runtime_error("the device's OpenCL compiler refused kernels/" + name + ".cl (" + options +
                             "): " + error_name(err) + "; build log:\n" + log);
  }
  programs_[key] = p;
  return p;
}

}  // namespace xpb::opencl
