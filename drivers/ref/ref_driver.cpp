// The `ref` driver: one device that runs every op with the plain code of ref_ops.cpp, on one
// thread, timed with the host's monotonic clock. It is the oracle other devices are checked
// against, and a baseline that shows what the optimised drivers gain.
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "ref_ops.hpp"
#include "xpubench/registry.hpp"
#include "xpubench/system.hpp"

namespace xpb::ref {
namespace {

class RefExecutable final : public Executable {
 public:
  explicit RefExecutable(const Graph& g) : graph_(g) {
    for (const auto& t : graph_.tensors()) {
      // u64 storage keeps every tensor 8-byte aligned for the typed views.
      storage_.emplace_back((t.bytes() + 7) / 8);
      views_.emplace_back(reinterpret_cast<std::byte*>(storage_.back().data()), t.bytes());
      initialize(t, views_.back());
    }
    for (TensorId id = 0; id < graph_.tensors().size(); ++id) reset_chase_positions(graph_, views_, id);
  }

  Timing run(std::uint64_t iterations) override {
    const auto t0 = std::chrono::steady_clock::now();
    for (std::uint64_t it = 0; it < iterations; ++it)
      for (const auto& node : graph_.nodes()) run_node(graph_, node, views_);
    const auto t1 = std::chrono::steady_clock::now();
    return {std::chrono::duration<double>(t1 - t0).count(), ClockKind::host};
  }

  void read(TensorId id, std::span<std::byte> dst) const override {
    check_size(id, dst.size());
    std::memcpy(dst.data(), views_.at(id).data(), dst.size());
  }
  void write(TensorId id, std::span<const std::byte> src) override {
    check_size(id, src.size());
    std::memcpy(views_.at(id).data(), src.data(), src.size());
    reset_chase_positions(graph_, views_, id);
  }
  nlohmann::json describe() const override { return {{"threads", 1}, {"code", "scalar reference"}}; }

 private:
  void check_size(TensorId id, std::size_t size) const {
    if (size != views_.at(id).size())
      throw std::invalid_argument("tensor " + std::to_string(id) + " has " +
                                  std::to_string(views_.at(id).size()) + " bytes, not " +
                                  std::to_string(size));
  }

  Graph graph_;
  std::vector<std::vector<std::uint64_t>> storage_;
  TensorStore views_;
};

class RefDevice final : public Device {
 public:
  explicit RefDevice(DeviceInfo info) : info_(std::move(info)) {}
  const DeviceInfo& info() const override { return info_; }
  DeviceCaps caps() const override {
    DeviceCaps c;
    c.ops = all_ops();
    c.dtypes = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i32,
                DType::u64, DType::q8_0, DType::q4_0};
    c.max_threads = 1;
    // Host memory, read afresh: what other processes (and earlier benchmarks) left free now.
    c.memory_bytes = read_memory_info().usable_bytes();
    return c;
  }
  ClockKind clock() const override { return ClockKind::host; }
  CompileResult compile(const Graph& g, const CompileOptions&) override {
    if (auto err = g.check()) return {Outcome::with(Status::invalid, *err), nullptr};
    const auto c = caps();
    for (const auto& node : g.nodes())
      if (!c.supports(node.op))
        return {Outcome::with(Status::unsupported, "op " + std::string(name(node.op)) + " not in ref"), nullptr};
    return {Outcome::ok(), std::make_unique<RefExecutable>(g)};
  }

 private:
  DeviceInfo info_;
};

class RefDriver final : public Driver {
 public:
  std::string name() const override { return "ref"; }
  std::string description() const override {
    return "reference: plain scalar code for every op, the conformance oracle";
  }
  std::vector<DeviceInfo> enumerate() override {
    DeviceInfo d;
    d.driver = "ref";
    d.name = "scalar reference (host CPU, 1 thread)";
    d.kind = "reference";
    return {d};
  }
  std::unique_ptr<Device> open(const DeviceInfo& info) override {
    return std::make_unique<RefDevice>(info);
  }
};

}  // namespace
}  // namespace xpb::ref

XPB_REGISTER_DRIVER("ref", xpb::ref::RefDriver);
