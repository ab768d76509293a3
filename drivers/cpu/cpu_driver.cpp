// The `cpu` driver: the host CPU as one device. Threads are pinned with hwloc within the
// process's allowed CPUs, tensors are first touched by the threads that use them, kernels are
// SIMD through Highway with run-time dispatch, and stores can stream past the caches
// (non-temporal) where the ISA has them.
#include <algorithm>
#include <cstring>
#include <new>

#include "cpu_buffer.hpp"
#include "xpubench/gguf_blocks.hpp"
#include "cpu_executable.hpp"
#include "f16_fma_kernels.hpp"
#include "int8_dot_kernels.hpp"
#include "stream_kernels.hpp"
#include "topology_handle.hpp"
#include "xpubench/registry.hpp"
#include "xpubench/system_probe.hpp"

namespace xpb::cpu {
namespace {

// Where the CPU multiplies and adds a dtype in one native instruction: f32 and f64 everywhere,
// f16 with AVX512-FP16. Not bf16 (AVX512-BF16 has dot products, not a multiply-add) nor i8 (x86
// has no 8-bit multiply; int8_dot_loop is the 8-bit figure).
bool fma_loop_native(DType t) { return t == DType::f32 || t == DType::f64 || (t == DType::f16 && f16_fma_native()); }

std::string cpu_model() {
  hwloc_obj_t pkg = hwloc_get_obj_by_type(topology(), HWLOC_OBJ_PACKAGE, 0);
  const char* model = pkg != nullptr ? hwloc_obj_get_info_by_name(pkg, "CPUModel") : nullptr;
  return model != nullptr ? model : "host CPU";
}

class CpuDevice final : public Device {
 public:
  CpuDevice(std::shared_ptr<Driver> driver, DeviceInfo info) : driver_(std::move(driver)), info_(std::move(info)) {}
  const DeviceInfo& info() const override { return info_; }
  DeviceCaps caps() const override {
    DeviceCaps c;
    for (const auto& d : op_catalogue()) c.ops.push_back(d.op);
    c.dtypes = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i8, DType::i32, DType::u64};
    for (DType t : all_dtypes())
      if (is_block_quantized(t)) c.dtypes.push_back(t);
    c.max_threads = static_cast<int>(pinning_order().size());
    // Host memory, read afresh: what other processes (and earlier benchmarks) left free now.
    c.memory_bytes = read_memory_info().usable_bytes();
    c.shares_host_memory = true;
#if defined(__x86_64__)
    // Highway's Stream is a true streaming store on x86 only (a plain store on NEON/SVE).
    c.nontemporal_stores = true;
#endif
    c.numeric_profile = {{"accumulation", "f32"},
                         {"quantized_matmul", "activations rounded as llama.cpp rounds them: Q8_0 per 32 values "
                                              "(Q8_K per 256 for the K-quants and IQ4_XS), int8 dot products"},
                         {"f16_matmul", "activations rounded to f16, as llama.cpp rounds them, then f32 products and sums"},
                         {"exp", "Highway's vectorised exponential"}};
    // Each op on the dtypes of its definition that the cpu holds; fma_loop only where the CPU
    // multiplies and adds natively (fma_loop_native): a peak figure is never one of emulation.
    // int8_dot_loop only with a VNNI instruction (int8_dot_kernels.hpp says why).
    for (const auto& d : op_catalogue())
      for (DType t : d.dtypes)
        if (c.supports(t) && (d.op != Op::fma_loop || fma_loop_native(t)) &&
            (d.op != Op::int8_dot_loop || *int8_dot_isa() != '\0'))
          c.op_dtypes.emplace_back(d.op, t);
    return c;
  }
  ClockInfo clock() const override { return host_clock(); }

  AllocResult alloc(const TensorDesc& t, const CompileOptions& opts) override {
    auto pus = pus_for(opts);
    if (!pus.outcome.passed()) return {pus.outcome, nullptr};
    try {
      auto b = std::make_shared<CpuBuffer>(t.bytes(), opts);
      ThreadPool pool(std::move(pus.pus));
      initialize_tensor(b->host_data(), t, pool, opts.cancel);
      if (opts.lock_memory) b->lock();
      return {Outcome::ok(), std::move(b)};
    } catch (const std::bad_alloc&) {
      return {Outcome::with(Status::failed, "the OS refused " + std::to_string(t.bytes()) + " bytes for tensor '" +
                                                t.name + "'"),
              nullptr};
    } catch (const InitCancelled&) {
      return {Outcome::with(Status::interrupted, "stopped by the user while tensor '" + t.name + "' was made"), nullptr};
    }
  }
  void upload(Buffer& dst, std::span<const std::byte> src, std::size_t offset) override { host_upload(dst, src, offset); }
  void download(const Buffer& src, std::span<std::byte> dst, std::size_t offset) override {
    host_download(src, dst, offset);
  }
  // The cpu computes on host memory: its own buffers, and any other the host can address.
  bool can_bind(const Buffer& b) const override { return b.host_data() != nullptr; }

  CompileResult compile(const Graph& g, const Bindings& bound, const CompileOptions& opts) override {
    if (auto err = g.check()) return {Outcome::with(Status::invalid, *err), nullptr};
    // A decoder graph runs as one pool job (barriers between nodes); the chase runs on the
    // calling thread between jobs. The two do not mix in one graph.
    const auto& nodes = g.nodes();
    const bool chase = std::any_of(nodes.begin(), nodes.end(), [](const Node& n) { return n.op == Op::chase; });
    const bool decoder = std::any_of(nodes.begin(), nodes.end(),
                                     [](const Node& n) { return op_def(n.op).family != OpFamily::memory; });
    if (chase && decoder)
      return {Outcome::with(Status::unsupported, "the cpu driver runs chase and transformer ops in separate graphs"),
              nullptr};
    if (auto err = check_bindings(g, bound)) return {Outcome::with(Status::invalid, *err), nullptr};
    for (const auto& n : nodes)
      if (n.op == Op::int8_dot_loop && *int8_dot_isa() == '\0')
        return {Outcome::with(Status::unsupported, "cpu: int8_dot_loop needs AVX512-VNNI or AVX-VNNI (one instruction "
                                                   "per 4-way dot product), which this CPU lacks"),
                nullptr};
    for (const auto& n : nodes)
      if (const DType t = g.tensor(n.outputs[0]).dtype; n.op == Op::fma_loop && !fma_loop_native(t))
        return {Outcome::with(Status::unsupported,
                              "cpu: fma_loop on " + std::string(name(t)) + " is not supported (this CPU has no native " +
                                  std::string(name(t)) + " multiply-add" +
                                  (t == DType::f16 ? ": AVX512-FP16 is missing" : "") + "; f32 and f64 it has)"),
                nullptr};
    for (const auto& [id, buffer] : bound) {
      const TensorDesc& t = g.tensor(id);
      for (const auto& n : nodes)
        if (n.op == Op::chase && n.inputs[0] == id)
          return {Outcome::with(Status::unsupported, "the chase ring '" + t.name + "' cannot be bound: the cpu "
                                                     "rewrites it as addresses"),
                  nullptr};
    }
    auto pus = pus_for(opts);
    if (!pus.outcome.passed()) return {pus.outcome, nullptr};
    try {
      return {Outcome::ok(), std::make_shared<CpuExecutable>(g, bound, opts, std::move(pus.pus))};
    } catch (const std::bad_alloc&) {
      return {Outcome::with(Status::failed, "the OS refused the memory for the graph's tensors"), nullptr};
    } catch (const InitCancelled&) {
      return {Outcome::with(Status::interrupted, "stopped by the user while the graph's tensors were made"), nullptr};
    }
  }

 private:
  struct Pus {
    Outcome outcome;
    std::vector<int> pus;
  };
  // The PUs for opts.threads threads (all when 0), within opts.cpu_node when it is set.
  static Pus pus_for(const CompileOptions& opts) {
    auto pus = pinning_order(opts.cpu_node);
    if (pus.empty()) return {Outcome::with(Status::invalid, "NUMA node " + std::to_string(opts.cpu_node) + " has no PUs"), {}};
    const int threads = opts.threads == 0 ? static_cast<int>(pus.size()) : opts.threads;
    if (threads < 1 || threads > static_cast<int>(pus.size()))
      return {Outcome::with(Status::invalid, std::to_string(opts.threads) + " threads asked for; " +
                                                 std::to_string(pus.size()) + " PUs available to this process"),
              {}};
    pus.resize(static_cast<std::size_t>(threads));
    return {Outcome::ok(), std::move(pus)};
  }

  std::shared_ptr<Driver> driver_;
  DeviceInfo info_;
};

class CpuDriver final : public Driver {
 public:
  std::string name() const override { return "cpu"; }
  std::string description() const override {
    return "host CPU: hwloc-pinned threads within the process's allowed CPUs, first-touch placement, Highway SIMD, "
           "non-temporal stores";
  }
  Enumeration enumerate() override {
    DeviceInfo d;
    d.driver = "cpu";
    d.name = cpu_model();
    d.kind = "cpu";
    d.properties["simd_target"] = simd_target();
    d.properties["pus"] = std::to_string(pinning_order().size());
    return {{d}, ""};
  }
  OpenResult open(const DeviceInfo& info, const DeviceOptions& options) override {
    if (auto why = unknown_options("cpu", options, {}); !why.empty()) return {Outcome::with(Status::invalid, why), nullptr};
    return {Outcome::ok(), std::make_shared<CpuDevice>(shared_from_this(), info)};
  }
};

}  // namespace
}  // namespace xpb::cpu

XPB_REGISTER_DRIVER("cpu", xpb::cpu::CpuDriver);
