// The `opencl` driver: every device of every OpenCL platform the ICD loader finds, as
// `opencl:N` (N counts across platforms in the loader's order). Memory is device-owned
// (cl_mem); time is the device's own, from event profiling. Every op of the catalogue runs:
// the memory ops on f32 (and f64 where the device has cl_khr_fp64), the pointer chase and the
// test patterns on u64, and the transformer ops with f32 activations, weights in any of f32,
// f16, bf16, Q8_0 and Q4_0 and an f32 or f16 KV cache, and fma_loop on f32 and i8 (f64 and
// f16 with cl_khr_fp64 and cl_khr_fp16) at any vector width (kernels/*.cl).
#include <algorithm>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "opencl_buffer.hpp"
#include "opencl_compute.hpp"
#include "opencl_executable.hpp"
#include "opencl_pci.hpp"
#include "xpubench/registry.hpp"

namespace xpb::opencl {
namespace {

struct Found {
  cl_platform_id platform;
  cl_device_id device;
};

// Every device of every platform, or why there is none.
std::vector<Found> find_devices(std::string& why) {
  cl_uint platforms = 0;
  cl_int err = clGetPlatformIDs(0, nullptr, &platforms);
  if (err == -1001 || (err == CL_SUCCESS && platforms == 0)) {
    why = "no OpenCL platform: the ICD loader found no vendor driver (they are listed in /etc/OpenCL/vendors, or "
          "OCL_ICD_VENDORS; install a GPU driver's ICD, or pocl-opencl-icd for the CPU)";
    return {};
  }
  if (err != CL_SUCCESS) {
    why = "the OpenCL ICD loader failed: clGetPlatformIDs returned " + error_name(err);
    return {};
  }
  std::vector<cl_platform_id> ids(platforms);
  clGetPlatformIDs(platforms, ids.data(), nullptr);
  std::vector<Found> out;
  std::string problems;
  for (cl_platform_id p : ids) {
    cl_uint n = 0;
    err = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &n);
    if (err != CL_SUCCESS || n == 0) {
      problems += (problems.empty() ? "" : "; ") + platform_string(p, CL_PLATFORM_NAME) + ": " +
                  (err == CL_SUCCESS || err == CL_DEVICE_NOT_FOUND ? "no device" : error_name(err));
      continue;
    }
    std::vector<cl_device_id> devices(n);
    clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, n, devices.data(), nullptr);
    for (auto d : devices) out.push_back({p, d});
  }
  if (out.empty()) why = "the OpenCL platforms have no device (" + problems + ")";
  return out;
}

bool has_extension(const std::string& extensions, const char* name) {
  // Whole names only: "cl_khr_fp16" must not match inside another extension's name.
  const std::string padded = " " + extensions + " ";
  return padded.find(std::string(" ") + name + " ") != std::string::npos;
}

DeviceInfo describe(const Found& f, int index) {
  DeviceInfo d;
  d.driver = "opencl";
  d.index = index;
  d.name = device_string(f.device, CL_DEVICE_NAME);
  const auto type = device_value<cl_device_type>(f.device, CL_DEVICE_TYPE);
  d.kind = (type & CL_DEVICE_TYPE_GPU) ? "gpu" : (type & CL_DEVICE_TYPE_CPU) ? "cpu" : (type & CL_DEVICE_TYPE_ACCELERATOR) ? "accelerator" : "other";
  const std::string ext = device_string(f.device, CL_DEVICE_EXTENSIONS);
  d.properties = {
      {"platform", platform_string(f.platform, CL_PLATFORM_NAME)},
      {"platform_version", platform_string(f.platform, CL_PLATFORM_VERSION)},
      {"vendor", device_string(f.device, CL_DEVICE_VENDOR)},
      {"driver_version", device_string(f.device, CL_DRIVER_VERSION)},
      {"opencl_version", device_string(f.device, CL_DEVICE_VERSION)},
      {"opencl_c_version", device_string(f.device, CL_DEVICE_OPENCL_C_VERSION)},
      {"compute_units", std::to_string(device_value<cl_uint>(f.device, CL_DEVICE_MAX_COMPUTE_UNITS))},
      {"max_clock_mhz", std::to_string(device_value<cl_uint>(f.device, CL_DEVICE_MAX_CLOCK_FREQUENCY))},
      {"global_memory_bytes", std::to_string(device_value<cl_ulong>(f.device, CL_DEVICE_GLOBAL_MEM_SIZE))},
      {"global_memory_cache_bytes", std::to_string(device_value<cl_ulong>(f.device, CL_DEVICE_GLOBAL_MEM_CACHE_SIZE))},
      {"local_memory_bytes", std::to_string(device_value<cl_ulong>(f.device, CL_DEVICE_LOCAL_MEM_SIZE))},
      {"max_allocation_bytes", std::to_string(device_value<cl_ulong>(f.device, CL_DEVICE_MAX_MEM_ALLOC_SIZE))},
      {"host_unified_memory", device_value<cl_bool>(f.device, CL_DEVICE_HOST_UNIFIED_MEMORY) ? "true" : "false"},
      {"profiling_timer_resolution_ns", std::to_string(device_value<std::size_t>(f.device, CL_DEVICE_PROFILING_TIMER_RESOLUTION))},
      {"fp16", has_extension(ext, "cl_khr_fp16") ? "true" : "false"},
      {"fp64", has_extension(ext, "cl_khr_fp64") ? "true" : "false"},
      {"int8_dot_product", has_extension(ext, "cl_khr_integer_dot_product") || has_extension(ext, "cl_arm_integer_dot_product_int8")
                               ? "true" : "false"},
      {"subgroups", has_extension(ext, "cl_khr_subgroups") || has_extension(ext, "cl_intel_subgroups") ? "true" : "false"},
  };
  return d;
}

// The ops this driver runs, and on which dtypes.
bool runs(Op op) {
  switch (op) {
    case Op::copy:
    case Op::scale:
    case Op::add:
    case Op::triad:
    case Op::write_fill:
    case Op::read_sum:
    case Op::read_bytes:
    case Op::chase:
    case Op::fill_pattern:
    case Op::verify_pattern:
    case Op::embedding:
    case Op::rms_norm:
    case Op::matmul:
    case Op::rope:
    case Op::attention:
    case Op::silu_mul:
    case Op::add_bias:
    case Op::argmax:
    case Op::gather_rows:
    case Op::layer_norm:
    case Op::modulate:
    case Op::gated_add:
    case Op::gelu:
    case Op::silu:
    case Op::cross_attention:
    case Op::flow_step:
    case Op::unpatchify:
    case Op::fma_loop: return true;
    default: return false;
  }
}

class ClDevice final : public Device {
 public:
  ClDevice(std::shared_ptr<Driver> driver, DeviceInfo info, std::shared_ptr<Context> ctx)
      : driver_(std::move(driver)), info_(std::move(info)), ctx_(std::move(ctx)) {}
  const DeviceInfo& info() const override { return info_; }
  DeviceCaps caps() const override {
    DeviceCaps c;
    std::vector<DType> types = {DType::f32};
    if (ctx_->fp64) types.push_back(DType::f64);
    for (const auto& d : op_catalogue()) {
      if (!runs(d.op)) continue;
      // read_sum writes an f64 sum: only with cl_khr_fp64.
      if (d.op == Op::read_sum && !ctx_->fp64) continue;
      c.ops.push_back(d.op);
      if (d.op == Op::chase || d.op == Op::fill_pattern || d.op == Op::verify_pattern)
        c.op_dtypes.emplace_back(d.op, DType::u64);
      else if (d.op == Op::matmul || d.op == Op::embedding)  // weights decoded where they are read
        for (DType t : {DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0}) c.op_dtypes.emplace_back(d.op, t);
      else if (d.op == Op::attention)  // the KV cache's type
        for (DType t : {DType::f32, DType::f16}) c.op_dtypes.emplace_back(d.op, t);
      else if (d.op == Op::read_bytes)  // bytes of any tensor the device holds, added after the loop
        continue;
      else if (d.op == Op::fma_loop)
        for (DType t : fma_loop_dtypes(*ctx_)) c.op_dtypes.emplace_back(d.op, t);
      else if (d.family == OpFamily::transformer)
        c.op_dtypes.emplace_back(d.op, DType::f32);
      else
        for (DType t : types) c.op_dtypes.emplace_back(d.op, t);
    }
    c.dtypes = types;
    c.dtypes.push_back(DType::f64);  // read_sum's output
    for (DType t : {DType::u64, DType::f16, DType::bf16, DType::i8, DType::i32, DType::q8_0, DType::q4_0}) c.dtypes.push_back(t);
    std::sort(c.dtypes.begin(), c.dtypes.end());
    c.dtypes.erase(std::unique(c.dtypes.begin(), c.dtypes.end()), c.dtypes.end());
    for (DType t : c.dtypes) c.op_dtypes.emplace_back(Op::read_bytes, t);
    c.memory_bytes = device_value<cl_ulong>(ctx_->device, CL_DEVICE_GLOBAL_MEM_SIZE);
    c.max_threads = 0;  // the device schedules its own work-items
    c.vector_widths = {1, 2, 4, 8, 16};  // OpenCL C's vector types
    c.shares_host_memory = ctx_->host_unified;
    c.max_buffer_bytes = ctx_->max_alloc;
    c.numeric_profile = {{"accumulation", "the element type (read_sum: per work-item, then a tree per work-group)"},
                         {"compiler", "the device's OpenCL C compiler, default options (no -cl-fast-relaxed-math)"}};
    return c;
  }
  ClockInfo clock() const override { return {ClockKind::device_events, ctx_->timer_resolution_s, false}; }

  // Made on first use (loading the vendor library and measuring its counter's update take a
  // fraction of a second), once, whichever thread asks first; it lives as long as the device.
  EnergySensor* energy_sensor() override {
    std::call_once(sensor_once_, [this] { sensor_ = make_energy_sensor(); });
    return sensor_.get();
  }

  AllocResult alloc(const TensorDesc& t, const CompileOptions&) override {
    if (t.bytes() == 0) return {Outcome::with(Status::invalid, "tensor '" + t.name + "' has no bytes"), nullptr};
    const auto max_alloc = ctx_->max_alloc;
    if (t.bytes() > max_alloc)
      return {Outcome::with(Status::unsupported, "tensor '" + t.name + "' needs " + std::to_string(t.bytes()) +
                                                     " bytes; the device allocates at most " + std::to_string(max_alloc) +
                                                     " in one buffer"),
              nullptr};
    cl_int err = CL_SUCCESS;
    cl_mem mem = clCreateBuffer(ctx_->context, CL_MEM_READ_WRITE, t.bytes(), nullptr, &err);
    if (err != CL_SUCCESS)
      return {Outcome::with(Status::failed, "clCreateBuffer of " + std::to_string(t.bytes()) + " bytes for tensor '" +
                                                t.name + "': " + error_name(err)),
              nullptr};
    auto b = std::make_shared<ClBuffer>(ctx_, mem, t.bytes());
    if (t.init.kind != TensorInit::Kind::none) {
      try {
        std::vector<std::byte> staging;
        const auto src = initial_contents(t, staging);
        write_buffer(*ctx_, *b, 0, src.data(), src.size());
      } catch (const std::bad_alloc&) {
        return {Outcome::with(Status::failed, "the host could not stage " + std::to_string(t.bytes()) + " bytes for tensor '" +
                                                  t.name + "'"),
                nullptr};
      } catch (const ClError& e) {
        return {Outcome::with(Status::failed, std::string("filling tensor '") + t.name + "': " + e.what()), nullptr};
      }
    }
    return {Outcome::ok(), std::move(b)};
  }
  AllocResult alloc_host(std::size_t bytes) override {
    if (bytes == 0) return {Outcome::with(Status::invalid, "a host buffer of 0 bytes"), nullptr};
    if (bytes > ctx_->max_alloc)
      return {Outcome::with(Status::unsupported, std::to_string(bytes) + " bytes of pinned host memory: the device maps at most " +
                                                     std::to_string(ctx_->max_alloc) + " in one buffer"),
              nullptr};
    cl_int err = CL_SUCCESS;
    cl_mem mem = clCreateBuffer(ctx_->context, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, bytes, nullptr, &err);
    if (err != CL_SUCCESS)
      return {Outcome::with(Status::failed, "clCreateBuffer(CL_MEM_ALLOC_HOST_PTR) of " + std::to_string(bytes) +
                                                " bytes: " + error_name(err)),
              nullptr};
    void* mapped = clEnqueueMapBuffer(ctx_->queue, mem, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, bytes, 0, nullptr,
                                      nullptr, &err);
    if (err != CL_SUCCESS || mapped == nullptr) {
      clReleaseMemObject(mem);
      return {Outcome::with(Status::failed, "clEnqueueMapBuffer of a pinned host buffer: " + error_name(err)), nullptr};
    }
    return {Outcome::ok(), std::make_shared<ClHostBuffer>(ctx_, mem, static_cast<std::byte*>(mapped), bytes)};
  }
  void upload(Buffer& dst, std::span<const std::byte> src, std::size_t offset) override {
    auto& b = own(dst);
    check_range(b.bytes(), offset, src.size());
    write_buffer(*ctx_, b, offset, src.data(), src.size());
  }
  void download(const Buffer& src, std::span<std::byte> dst, std::size_t offset) override {
    auto& b = own(src);
    check_range(b.bytes(), offset, dst.size());
    read_buffer(*ctx_, b, offset, dst.data(), dst.size());
  }
  bool can_bind(const Buffer& b) const override {
    const auto* c = dynamic_cast<const ClBuffer*>(&b);
    return c != nullptr && c->context() == ctx_.get();
  }

  CompileResult compile(const Graph& g, const Bindings& bound, const CompileOptions& opts) override {
    if (auto err = g.check()) return {Outcome::with(Status::invalid, *err), nullptr};
    if (auto err = check_bindings(g, bound)) return {Outcome::with(Status::invalid, *err), nullptr};
    const auto c = caps();
    for (const Node& n : g.nodes()) {
      // The dtype a claim is about (DeviceCaps::op_dtypes): the weights' for matmul and
      // embedding, the input's for read_sum and read_bytes, else the output's.
      const bool of_input = n.op == Op::embedding || n.op == Op::read_sum || n.op == Op::read_bytes || n.op == Op::argmax;
      const TensorId about = n.op == Op::matmul      ? n.inputs[1]
                             : n.op == Op::attention ? n.inputs[5]
                             : of_input              ? n.inputs[0]
                                                     : n.outputs[0];
      const DType t = g.tensor(about).dtype;
      if (n.op == Op::fma_loop && !c.claims(n.op, t))
        return {Outcome::with(Status::unsupported, fma_loop_refusal(*ctx_, t)), nullptr};
      if (!c.claims(n.op, t))
        return {Outcome::with(Status::unsupported, "opencl: " + std::string(name(n.op)) + " on " + std::string(name(t)) +
                                                       " is not supported by this driver (it runs every op of the "
                                                       "catalogue but the analog ones; weights f32, f16, bf16, q8_0 "
                                                       "and q4_0; the memory ops on f32" +
                                                       (ctx_->fp64 ? std::string(" and f64)") : std::string("; f64 needs cl_khr_fp64)"))),
                nullptr};
      // A `nontemporal` attribute is a hint about stores the results never depend on: ignored
      // here (caps say there are no such stores, so no figure claims them).
    }
    std::vector<std::shared_ptr<ClBuffer>> buffers;
    for (TensorId id = 0; id < g.tensors().size(); ++id) {
      if (auto it = bound.find(id); it != bound.end()) {
        buffers.push_back(std::static_pointer_cast<ClBuffer>(it->second));
        continue;
      }
      if (opts.cancel != nullptr && opts.cancel->load())
        return {Outcome::with(Status::interrupted, "stopped by the user while allocating"), nullptr};
      auto a = alloc(g.tensor(id), opts);
      if (!a.outcome.passed()) return {a.outcome, nullptr};
      buffers.push_back(std::static_pointer_cast<ClBuffer>(a.buffer));
    }
    try {
      return {Outcome::ok(), std::make_shared<ClExecutable>(ctx_, g, std::move(buffers))};
    } catch (const std::exception& e) {
      return {Outcome::with(Status::failed, e.what()), nullptr};
    }
  }

 private:
  const ClBuffer& own(const Buffer& b) const {
    if (!can_bind(b)) throw std::invalid_argument("the buffer is not one of device " + info_.id() + "'s");
    return static_cast<const ClBuffer&>(b);
  }

  // A GPU's board sensor from its vendor's library: NVML for NVIDIA, AMD SMI for AMD, the GPU
  // found by its PCI address, else by its name. An absent library or GPU makes an unavailable
  // sensor, whose reason goes in the record. Anything else has none here (a CPU device is the
  // host's sensor's).
  std::unique_ptr<EnergySensor> make_energy_sensor() const {
    const cl_device_id d = ctx_->device;
    if ((device_value<cl_device_type>(d, CL_DEVICE_TYPE) & CL_DEVICE_TYPE_GPU) == 0) return nullptr;
    // CL_DEVICE_VENDOR_ID is the PCI vendor id on both vendors' runtimes (and Mesa's); the
    // vendor strings cover a runtime that says otherwise.
    const auto vendor_id = device_value<cl_uint>(d, CL_DEVICE_VENDOR_ID);
    const auto platform = device_value<cl_platform_id>(d, CL_DEVICE_PLATFORM);
    const std::string vendors = device_string(d, CL_DEVICE_VENDOR) + " | " + platform_string(platform, CL_PLATFORM_VENDOR);
    const auto names = [&](const char* a, const char* b) {
      return vendors.find(a) != std::string::npos || vendors.find(b) != std::string::npos;
    };
    if (vendor_id == 0x10de || names("NVIDIA", "Nvidia"))
      return make_nvml_sensor(pci_address_of(d), device_string(d, CL_DEVICE_NAME));
    if (vendor_id == 0x1002 || names("Advanced Micro Devices", "AMD")) {
      // AMD's runtime names the device by its architecture ("gfx942"); the board's name, which
      // AMD SMI gives too, is CL_DEVICE_BOARD_NAME_AMD (0x4038, cl_amd_device_attribute_query).
      std::string board = device_string(d, 0x4038);
      return make_amdsmi_sensor(pci_address_of(d), board.empty() ? device_string(d, CL_DEVICE_NAME) : board);
    }
    return nullptr;
  }

  std::shared_ptr<Driver> driver_;
  DeviceInfo info_;
  std::shared_ptr<Context> ctx_;
  std::once_flag sensor_once_;
  std::unique_ptr<EnergySensor> sensor_;
};

class ClDriver final : public Driver {
 public:
  std::string name() const override { return "opencl"; }
  std::string description() const override {
    return "OpenCL 1.2+ devices through the ICD loader: device-owned buffers, event-profiling clock";
  }
  Enumeration enumerate() override {
    Enumeration e;
    const auto found = find_devices(e.reason);
    for (std::size_t i = 0; i < found.size(); ++i) e.devices.push_back(describe(found[i], static_cast<int>(i)));
    return e;
  }
  OpenResult open(const DeviceInfo& info, const DeviceOptions& options) override {
    if (auto why = unknown_options("opencl", options, {"kernels"}); !why.empty()) return {Outcome::with(Status::invalid, why), nullptr};
    const auto kernels = options.count("kernels") != 0 ? options.at("kernels") : std::string("auto");
    if (kernels != "auto" && kernels != "cpu" && kernels != "gpu")
      return {Outcome::with(Status::invalid, "option 'kernels' of opencl is '" + kernels + "'; expected auto, cpu or gpu"), nullptr};
    std::string why;
    const auto found = find_devices(why);
    if (info.index < 0 || static_cast<std::size_t>(info.index) >= found.size())
      return {Outcome::with(Status::failed, "opencl:" + std::to_string(info.index) + " is gone" + (why.empty() ? "" : ": " + why)),
              nullptr};
    try {
      auto ctx = std::make_shared<Context>(found[info.index].platform, found[info.index].device);
      if (kernels != "auto") ctx->cpu_kernels = kernels == "cpu";
      DeviceInfo opened = info;
      opened.properties["kernels"] = ctx->cpu_kernels ? "cpu (barrier-free)" : "gpu (work-group trees)";
      return {Outcome::ok(), std::make_shared<ClDevice>(shared_from_this(), std::move(opened), std::move(ctx))};
    } catch (const ClError& e) {
      return {Outcome::with(Status::failed, e.what()), nullptr};
    }
  }
};

}  // namespace
}  // namespace xpb::opencl

XPB_REGISTER_DRIVER("opencl", xpb::opencl::ClDriver);
