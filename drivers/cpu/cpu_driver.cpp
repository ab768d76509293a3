// The `cpu` driver: the host CPU as one device. Threads are pinned with hwloc, tensors are
// first touched by the threads that use them, kernels are SIMD through Highway with run-time
// dispatch, and stores can stream past the caches (non-temporal) where the ISA has them.
#include <algorithm>
#include <new>

#include "cpu_executable.hpp"
#include "stream_kernels.hpp"
#include "topology_handle.hpp"
#include "xpubench/registry.hpp"
#include "xpubench/system.hpp"

namespace xpb::cpu {
namespace {

std::string cpu_model() {
  hwloc_obj_t pkg = hwloc_get_obj_by_type(topology(), HWLOC_OBJ_PACKAGE, 0);
  const char* model = pkg != nullptr ? hwloc_obj_get_info_by_name(pkg, "CPUModel") : nullptr;
  return model != nullptr ? model : "host CPU";
}

class CpuDevice final : public Device {
 public:
  explicit CpuDevice(DeviceInfo info) : info_(std::move(info)) {}
  const DeviceInfo& info() const override { return info_; }
  DeviceCaps caps() const override {
    DeviceCaps c;
    c.ops = all_ops();
    c.dtypes = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i32,
                DType::u64, DType::q8_0, DType::q4_0};
    c.max_threads = static_cast<int>(pinning_order().size());
    // Host memory, read afresh: what other processes (and earlier benchmarks) left free now.
    c.memory_bytes = read_memory_info().usable_bytes();
#if defined(__x86_64__)
    // Highway's Stream is a true streaming store on x86 only (a plain store on NEON/SVE).
    c.nontemporal_stores = true;
#endif
    return c;
  }
  ClockKind clock() const override { return ClockKind::host; }

  CompileResult compile(const Graph& g, const CompileOptions& opts) override {
    if (auto err = g.check()) return {Outcome::with(Status::invalid, *err), nullptr};
    // A decoder graph runs as one pool job (barriers between nodes); the chase runs on the
    // calling thread between jobs. The two do not mix in one graph.
    const auto& nodes = g.nodes();
    const bool chase = std::any_of(nodes.begin(), nodes.end(), [](const Node& n) { return n.op == Op::chase; });
    const bool decoder = std::any_of(nodes.begin(), nodes.end(), [](const Node& n) { return is_transformer_op(n.op); });
    if (chase && decoder)
      return {Outcome::with(Status::unsupported, "the cpu driver runs chase and transformer ops in separate graphs"), nullptr};
    auto pus = pinning_order(opts.cpu_node);
    if (pus.empty())
      return {Outcome::with(Status::invalid, "NUMA node " + std::to_string(opts.cpu_node) + " has no PUs"), nullptr};
    const int threads = opts.threads == 0 ? static_cast<int>(pus.size()) : opts.threads;
    if (threads < 1 || threads > static_cast<int>(pus.size()))
      return {Outcome::with(Status::invalid, std::to_string(opts.threads) + " threads asked for; " +
                                                 std::to_string(pus.size()) + " PUs available"),
              nullptr};
    pus.resize(static_cast<std::size_t>(threads));
    try {
      return {Outcome::ok(), std::make_unique<CpuExecutable>(g, opts, std::move(pus))};
    } catch (const std::bad_alloc&) {
      return {Outcome::with(Status::failed, "the OS refused the memory for the graph's tensors"), nullptr};
    }
  }

 private:
  DeviceInfo info_;
};

class CpuDriver final : public Driver {
 public:
  std::string name() const override { return "cpu"; }
  std::string description() const override {
    return "host CPU: hwloc-pinned threads, first-touch placement, Highway SIMD, non-temporal stores";
  }
  std::vector<DeviceInfo> enumerate() override {
    DeviceInfo d;
    d.driver = "cpu";
    d.name = cpu_model();
    d.kind = "cpu";
    d.properties["simd_target"] = simd_target();
    d.properties["pus"] = std::to_string(pinning_order().size());
    return {d};
  }
  std::unique_ptr<Device> open(const DeviceInfo& info) override { return std::make_unique<CpuDevice>(info); }
};

}  // namespace
}  // namespace xpb::cpu

XPB_REGISTER_DRIVER("cpu", xpb::cpu::CpuDriver);
