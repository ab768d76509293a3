// memory.transfer: host <-> device copies through the device's upload and download, timed on
// the host clock around each blocking copy (what a program waits for), from pageable host
// memory (an ordinary allocation, which the driver may bounce through a page-locked copy) or
// pinned memory (Device::alloc_host: page-locked and mapped, moved by DMA directly) — the
// paths NVIDIA's bandwidthTest, nvbandwidth and clpeak measure.
//
// A device that computes on the host's own memory (DeviceCaps::shares_host_memory: the cpu,
// PoCL, an integrated GPU) has no bus between the two: its "transfer" is a copy within host
// DRAM. Its figure is recorded as host_copy_bandwidth, labelled zero-copy, never as a transfer
// rate.
//
// The bytes are random f64 values in [1, 2) (memory_common: incompressible). Checked after
// timing: host -> device, the device's buffer read back equals the source and the device's own
// read_sum over it equals the host's sum (so the device computes on what arrived, not only
// its read-back path); device -> host, the destination equals what the device held.
#include <chrono>
#include <cstring>

#include "memory_common.hpp"
#include "xpubench/error.hpp"
#include "xpubench/registry.hpp"

namespace xpb::memory {
namespace {

using Clock = std::chrono::steady_clock;

class Transfer final : public Workload {
 public:
  std::string name() const override { return "memory.transfer"; }
  std::string description() const override {
    return "host <-> device copy bandwidth (GB/s = 1e9 B/s) from pageable or pinned host memory, on the host "
           "clock; a zero-copy device (its memory is the host's) is labelled so";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"direction", "host_to_device or device_to_host", "host_to_device", {"host_to_device", "device_to_host"}},
        {"host_memory", "pageable (an ordinary allocation) or pinned (page-locked, from the device)", "pageable",
         {"pageable", "pinned"}},
        {"bytes", "bytes per copy", "256MiB", {}},
    };
  }

  std::vector<nlohmann::json> expand(const nlohmann::json& p, const SystemInfo&) const override {
    auto q = p;
    q["bytes"] = size_param(p["bytes"], 0, "bytes");
    if (q["bytes"].get<std::uint64_t>() < 8) throw InputError("parameter 'bytes' must be at least 8 (one f64 value)");
    return {q};
  }

  Outcome check(const nlohmann::json& p, RunContext& ctx) override {
    to_device_ = p["direction"] == "host_to_device";
    pinned_ = p["host_memory"] == "pinned";
    n_ = static_cast<std::int64_t>(p["bytes"].get<std::uint64_t>() / 8);
    device_ = &ctx.device;
    const auto caps = ctx.device.caps();
    zero_copy_ = caps.shares_host_memory;
    with_sum_ = caps.claims(Op::read_sum, DType::f64);
    // The device's buffer, the host's side of the copy and the host's copy to check against.
    const std::uint64_t bytes = static_cast<std::uint64_t>(n_) * 8;
    return memory_fits(ctx, bytes * (zero_copy_ ? 3 : 1));
  }

  BuildResult build(const nlohmann::json&, RunContext& ctx) override {
    const auto n = static_cast<std::size_t>(n_);
    expected_ = random_array<double>(n, 202);
    const std::span<const std::byte> random_bytes{reinterpret_cast<const std::byte*>(expected_->data()), n * 8};
    // The host's side of the copies: the source (random) or the destination (zeroed).
    if (pinned_) {
      auto a = ctx.device.alloc_host(n * 8);
      if (!a.outcome.passed()) return {a.outcome, {}};
      host_buffer_ = a.buffer;
      host_ = {host_buffer_->host_data(), n * 8};
    } else {
      pageable_.assign(n * 8, std::byte{0});
      host_ = pageable_;
    }
    if (to_device_)
      std::memcpy(host_.data(), random_bytes.data(), host_.size());
    else
      std::memset(host_.data(), 0, host_.size());
    // The graph only gives the device its buffer (and, for the check, a read of it where the
    // device has read_sum): the copies are the device's upload/download, timed by sample(). It
    // starts random for device -> host, and at 0.5 (no value in [1, 2)) for host -> device, so an
    // upload that moved nothing shows.
    Stage stage;
    Graph& g = stage.graph;
    g.set_name("memory.transfer");
    TensorDesc d{"data", {n_}, DType::f64, TensorRole::input,
                 to_device_ ? TensorInit::filled(0.5) : TensorInit::copy_of(random_bytes, expected_)};
    data_ = g.add_tensor(std::move(d));
    if (with_sum_) {
      sum_ = g.add_tensor({"sum", {1}, DType::f64, TensorRole::output, {}});
      g.add_node(Op::read_sum, {data_}, {sum_});
    }
    stage.clock = host_clock();
    graph_ = g;
    BuildResult r;
    r.stages.push_back(std::move(stage));
    return r;
  }

  Outcome prepare(std::size_t, const std::shared_ptr<Executable>& exe, RunContext&) override {
    buffer_ = exe->buffer(data_);
    return Outcome::ok();
  }

  RunResult sample(std::size_t, Executable&, const RunArgs& args) override {
    RunResult r;
    r.clock = ClockKind::host;
    const auto t0 = Clock::now();
    for (; r.iterations < args.iterations; ++r.iterations) {
      if (args.cancel != nullptr && args.cancel->load(std::memory_order_relaxed)) {
        r.interrupted = true;
        break;
      }
      if (to_device_)
        device_->upload(*buffer_, host_);
      else
        device_->download(*buffer_, host_);
    }
    r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const double moved = static_cast<double>(host_.size()) * static_cast<double>(r.iterations);
    r.work = {0, moved, moved};
    return r;
  }

  nlohmann::json verify(std::size_t, Executable& exe, RunContext&) override {
    const std::size_t bytes = host_.size();
    const auto* want = reinterpret_cast<const std::byte*>(expected_->data());
    if (!to_device_) {
      const bool same = std::memcmp(host_.data(), want, bytes) == 0;
      nlohmann::json j = {{"status", same ? "passed" : "failed"},
                          {"method", "the host's destination compared byte for byte with what the device held"}};
      if (!same) j["reason"] = "the bytes downloaded differ from the device's";
      return j;
    }
    std::vector<std::byte> back(bytes);
    device_->download(*buffer_, back);
    const bool same = std::memcmp(back.data(), want, bytes) == 0;
    nlohmann::json j = {{"method", "the device's buffer read back and compared byte for byte with the source"}};
    bool sum_ok = true;
    if (with_sum_) {
      exe.run(1);
      const double got = read_tensor<double>(exe, graph_, sum_)[0];
      double sum = 0;
      for (double v : *expected_) sum += v;
      sum_ok = std::fabs(got - sum) <= 1e-10 * sum;  // f64 partial sums, in any order
      j["method"] = j["method"].get<std::string>() + "; the device's read_sum over it against the host's sum (relative 1e-10)";
      j["device_sum"] = got;
      j["host_sum"] = sum;
    }
    j["status"] = same && sum_ok ? "passed" : "failed";
    if (!same) j["reason"] = "the bytes read back differ from the source";
    else if (!sum_ok) j["reason"] = "the device's sum of the uploaded values differs from the host's";
    return j;
  }

  void metrics(const std::vector<Measurement>& m, BenchmarkRecord& record, RunContext& ctx) override {
    const double bytes = static_cast<double>(host_.size());
    auto metric = Metric::from(m[0], zero_copy_ ? "host_copy_bandwidth" : "transfer_bandwidth", "GB/s",
                               Direction::higher_is_better, [bytes](double s) { return bytes / s / kGB; });
    metric.note = std::string(to_device_ ? "host -> device" : "device -> host") + ", " +
                  (pinned_ ? "pinned" : "pageable") + " host memory, one blocking copy per iteration on the host clock";
    if (zero_copy_)
      metric.note += "; zero-copy: " + ctx.device.info().id() +
                     " computes on host memory, so this is a copy within host DRAM, not a transfer over a bus";
    record.metrics.push_back(std::move(metric));
    record.details = {{"bytes", host_.size()},
                      {"direction", to_device_ ? "host_to_device" : "device_to_host"},
                      {"host_memory", pinned_ ? "pinned (Device::alloc_host)" : "pageable"},
                      {"zero_copy", zero_copy_},
                      {"timed_on", "host clock around each blocking upload/download"}};
  }

 private:
  bool to_device_ = true;
  bool pinned_ = false;
  bool zero_copy_ = false;
  bool with_sum_ = false;  // the device runs read_sum on f64
  std::int64_t n_ = 0;
  Device* device_ = nullptr;
  std::shared_ptr<std::vector<double>> expected_;  // the random values
  std::shared_ptr<Buffer> host_buffer_;           // pinned host memory
  std::vector<std::byte> pageable_;
  std::span<std::byte> host_;                      // the host's side of every copy
  Graph graph_;
  TensorId data_ = 0, sum_ = 0;
  std::shared_ptr<Buffer> buffer_;                 // the device's side
};

}  // namespace
}  // namespace xpb::memory

XPB_REGISTER_WORKLOAD("memory.transfer", xpb::memory::Transfer);
