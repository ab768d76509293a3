// The `ref` driver: one device that runs every op with the plain code of ref_ops.cpp, on one
// thread, timed with the host's monotonic clock. It is the oracle other devices are checked
// against, and a baseline that shows what the optimised drivers gain.
#include <cstring>
#include <new>

#include "ref_buffer.hpp"
#include "ref_executable.hpp"
#include "xpubench/gguf_blocks.hpp"
#include "xpubench/registry.hpp"
#include "xpubench/system_probe.hpp"

namespace xpb::ref {
namespace {

class RefDevice final : public Device {
 public:
  RefDevice(std::shared_ptr<Driver> driver, DeviceInfo info) : driver_(std::move(driver)), info_(std::move(info)) {}
  const DeviceInfo& info() const override { return info_; }
  DeviceCaps caps() const override {
    DeviceCaps c;
    for (const auto& d : op_catalogue()) c.ops.push_back(d.op);
    c.dtypes = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i8, DType::i32, DType::u64};
    for (DType t : all_dtypes())
      if (is_block_quantized(t)) c.dtypes.push_back(t);  // decoded exactly (unpack_block)
    c.max_threads = 1;
    // Host memory, read afresh: what other processes (and earlier benchmarks) left free now.
    c.memory_bytes = read_memory_info().usable_bytes();
    c.shares_host_memory = true;
    c.numeric_profile = {{"accumulation", "f64"}, {"weights", "decoded exactly to f32"},
                         {"activations", "f32, never rounded to a smaller format"}};
    return c;
  }
  ClockInfo clock() const override { return host_clock(); }

  AllocResult alloc(const TensorDesc& t, const CompileOptions&) override {
    try {
      auto b = std::make_shared<RefBuffer>(t.bytes());
      fill_initial(t, {b->host_data(), t.bytes()});
      return {Outcome::ok(), std::move(b)};
    } catch (const std::bad_alloc&) {
      return {Outcome::with(Status::failed, "the OS refused " + std::to_string(t.bytes()) + " bytes for tensor '" +
                                                t.name + "'"),
              nullptr};
    }
  }
  void upload(Buffer& dst, std::span<const std::byte> src, std::size_t offset) override { host_upload(dst, src, offset); }
  void download(const Buffer& src, std::span<std::byte> dst, std::size_t offset) override {
    host_download(src, dst, offset);
  }
  // ref computes on host memory: any buffer the host can address will do.
  bool can_bind(const Buffer& b) const override { return b.host_data() != nullptr; }

  CompileResult compile(const Graph& g, const Bindings& bound, const CompileOptions& opts) override {
    if (auto err = g.check()) return {Outcome::with(Status::invalid, *err), nullptr};
    if (auto err = check_bindings(g, bound)) return {Outcome::with(Status::invalid, *err), nullptr};
    std::vector<std::shared_ptr<Buffer>> buffers;
    for (TensorId id = 0; id < g.tensors().size(); ++id) {
      const TensorDesc& t = g.tensor(id);
      if (auto it = bound.find(id); it != bound.end()) {
        buffers.push_back(it->second);
        continue;
      }
      if (opts.cancel != nullptr && opts.cancel->load())
        return {Outcome::with(Status::interrupted, "stopped by the user while allocating"), nullptr};
      auto a = alloc(t, opts);
      if (!a.outcome.passed()) return {a.outcome, nullptr};
      buffers.push_back(std::move(a.buffer));
    }
    return {Outcome::ok(), std::make_shared<RefExecutable>(g, std::move(buffers))};
  }

 private:

  std::shared_ptr<Driver> driver_;
  DeviceInfo info_;
};

class RefDriver final : public Driver {
 public:
  std::string name() const override { return "ref"; }
  std::string description() const override { return "reference: plain scalar code for every op, the conformance oracle"; }
  Enumeration enumerate() override {
    DeviceInfo d;
    d.driver = "ref";
    d.name = "scalar reference (host CPU, 1 thread)";
    d.kind = "reference";
    d.reference = true;
    return {{d}, ""};
  }
  OpenResult open(const DeviceInfo& info, const DeviceOptions& options) override {
    if (auto why = unknown_options("ref", options, {}); !why.empty()) return {Outcome::with(Status::invalid, why), nullptr};
    return {Outcome::ok(), std::make_shared<RefDevice>(shared_from_this(), info)};
  }
};

}  // namespace
}  // namespace xpb::ref

XPB_REGISTER_DRIVER("ref", xpb::ref::RefDriver);
