// The memory workloads run end to end on the ref device with tiny sizes: their figures,
// validation and error reporting, without depending on the machine's speed.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "drivers/ref/ref_ops.hpp"
#include "test_devices.hpp"
#include "xpubench/error.hpp"
#include "xpubench/registry.hpp"

namespace {

xpb::SystemInfo tiny_system() {
  xpb::SystemInfo s;
  s.topology.pus = 2;
  s.topology.cores = 2;
  s.topology.caches = {{1, "data", 32 << 10, 64, 2, 1}, {2, "unified", 512 << 10, 64, 2, 1},
                       {3, "unified", 4 << 20, 64, 1, 2}};
  s.topology.numa_nodes = {{0, 1ull << 30, {0, 1}}};
  s.memory.total_bytes = 1ull << 30;
  s.memory.available_bytes = 512ull << 20;
  return s;
}

struct Harness {
  std::shared_ptr<xpb::Device> ref = xpb::test::open_device("ref");
  xpb::SystemInfo system = tiny_system();
  const std::atomic<bool>* cancel = nullptr;
  std::vector<xpb::BenchmarkRecord> run(const std::string& workload, nlohmann::json params, xpb::Device* device = nullptr) {
    return xpb::test::run_workload(workload, params, device ? *device : *ref, ref.get(), system, cancel);
  }
};

TEST(MemoryWorkloads, BandwidthValidatesEveryKernel) {
  Harness h;
  for (const char* kernel : {"copy", "scale", "add", "triad", "read", "write"}) {
    auto records = h.run("memory.bandwidth", {{"kernel", kernel}, {"threads", 1}, {"array_bytes", "64KiB"}});
    ASSERT_EQ(records.size(), 1u);
    const auto& r = records[0];
    EXPECT_EQ(r.outcome.status, xpb::Status::passed) << kernel << ": " << r.outcome.reason;
    EXPECT_EQ(r.conformance["status"], "passed") << kernel;
    ASSERT_EQ(r.metrics.size(), 1u);
    EXPECT_EQ(r.metrics[0].unit, "GB/s");
    EXPECT_EQ(r.metrics[0].samples.size(), 3u);
    EXPECT_GT(*r.metrics[0].stats.median, 0.0);
    EXPECT_EQ(r.metrics[0].source, xpb::Source::measured);
    EXPECT_TRUE(r.valid) << r.invalid_reason;
  }
}

TEST(MemoryWorkloads, AWorkingSetThatFitsInACacheIsNotCalledMemoryBandwidth) {
  Harness h;
  auto r = h.run("memory.bandwidth", {{"kernel", "copy"}, {"threads", 1}, {"array_bytes", "16KiB"}});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].details["working_set"]["fits_in"], "L1");  // two arrays of 16 KiB in a 32 KiB L1
  EXPECT_NE(r[0].metrics[0].note.find("below 4x the last-level cache"), std::string::npos) << r[0].metrics[0].note;
  auto beyond = h.run("memory.bandwidth", {{"kernel", "copy"}, {"threads", 1}, {"array_bytes", "16MiB"}});
  EXPECT_EQ(beyond[0].details["working_set"]["fits_in"], "memory");
  EXPECT_EQ(beyond[0].metrics[0].note.find("below 4x"), std::string::npos);
}

TEST(MemoryWorkloads, ValuesThatCanOnlyBeWrongAreRefusedWhilePlanning) {
  Harness h;
  auto expand_error = [&](const std::string& workload, nlohmann::json params) -> std::string {
    auto w = xpb::WorkloadRegistry::instance().create(workload);
    auto full = nlohmann::json::object();
    for (const auto& spec : w->params()) full[spec.name] = spec.default_value;
    full.update(params);
    try {
      w->expand(full, h.system);
    } catch (const xpb::InputError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(expand_error("memory.latency", {{"size", 64}}).find("at least two lines per chain"), std::string::npos);
  EXPECT_NE(expand_error("memory.bandwidth", {{"array_bytes", 4}}).find("less than one f64 element"), std::string::npos);
  EXPECT_NE(expand_error("memory.sweep", {{"size", 100}}).find("at least 128 bytes"), std::string::npos);
  EXPECT_NE(expand_error("memory.capacity", {{"bytes", 100}}).find("at least 4 KiB"), std::string::npos);
}

TEST(MemoryWorkloads, BandwidthExpandsThreadScalingAndDropsNontemporalRead) {
  Harness h;
  auto w = xpb::WorkloadRegistry::instance().create("memory.bandwidth");
  auto p = nlohmann::json{{"kernel", "copy"}, {"stores", "regular"}, {"threads", "scaling"},
                          {"array_bytes", "auto"}, {"dtype", "f64"}};
  auto points = w->expand(p, h.system);
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0]["threads"], 1);
  EXPECT_EQ(points[1]["threads"], 2);
  EXPECT_EQ(points[0]["array_bytes"], 16u << 20);  // 4 x the 4 MiB LLC
  p["kernel"] = "read";
  p["stores"] = "nontemporal";
  EXPECT_TRUE(w->expand(p, h.system).empty());
}

TEST(MemoryWorkloads, MoreThreadsThanTheDeviceHasIsSkippedWithAReason) {
  Harness h;
  auto r = h.run("memory.bandwidth", {{"threads", 2}, {"array_bytes", "64KiB"}});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].outcome.status, xpb::Status::skipped);
  EXPECT_NE(r[0].outcome.reason.find("at most 1 threads"), std::string::npos);
}

TEST(MemoryWorkloads, MoreMemoryThanTheDeviceHasFreeIsSkippedNotAllocated) {
  Harness h;
  ASSERT_GT(h.ref->caps().memory_bytes, 0u);  // the host's free memory, read from /proc
  const std::pair<const char*, nlohmann::json> cases[] = {
      {"memory.bandwidth", {{"array_bytes", "1024 TiB"}, {"threads", 1}}},
      {"memory.latency", {{"size", "1024 TiB"}}},
      {"memory.sweep", {{"size", "1024 TiB"}}},
  };
  for (const auto& [workload, params] : cases) {
    auto r = h.run(workload, params);
    ASSERT_EQ(r.size(), 1u) << workload;
    EXPECT_EQ(r[0].outcome.status, xpb::Status::skipped) << workload;
    EXPECT_NE(r[0].outcome.reason.find("MiB of memory"), std::string::npos) << r[0].outcome.reason;
  }
}

TEST(MemoryWorkloads, SweepCoversCacheLevelsAndMarksThem) {
  Harness h;
  auto records = h.run("memory.sweep", {{"max_bytes", "1MiB"}, {"points_per_octave", 1}});
  ASSERT_EQ(records.size(), 9u);  // 4 KiB ... 1 MiB
  EXPECT_EQ(records.front().details["fits_in"], "L1");
  EXPECT_EQ(records.back().details["fits_in"], "L3");
  for (const auto& r : records) {
    EXPECT_EQ(r.outcome.status, xpb::Status::passed) << r.outcome.reason;
    ASSERT_EQ(r.metrics.size(), 2u);
    EXPECT_EQ(r.metrics[1].unit, "ns/load");
    EXPECT_EQ(r.details["cache_levels"].size(), 3u);
  }
}

TEST(MemoryWorkloads, LatencyReportsNsPerLoadAndBandwidthPerChain) {
  Harness h;
  auto records = h.run("memory.latency", {{"size", "256KiB"}, {"chains", 4}, {"steps", 10000}});
  ASSERT_EQ(records.size(), 1u);
  const auto& r = records[0];
  EXPECT_EQ(r.outcome.status, xpb::Status::passed) << r.outcome.reason;
  EXPECT_EQ(r.metrics[0].name, "latency");
  EXPECT_GT(*r.metrics[0].stats.median, 0.0);
  // The ref device is also the reference: no self-comparison is claimed.
  EXPECT_EQ(r.conformance["status"], "skipped");
}

TEST(MemoryWorkloads, NumaOnOneNodeSaysSo) {
  Harness h;
  auto records = h.run("memory.numa", {});
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].outcome.status, xpb::Status::skipped);
  EXPECT_NE(records[0].outcome.reason.find("1 NUMA node"), std::string::npos);
}

TEST(MemoryWorkloads, CapacityRespectsAvailableMemory) {
  Harness h;
  auto w = xpb::WorkloadRegistry::instance().create("memory.capacity");
  auto full = nlohmann::json::object();
  for (const auto& spec : w->params()) full[spec.name] = spec.default_value;
  full["fraction"] = 0.95;
  EXPECT_THROW(w->expand(full, h.system), xpb::InputError);
  full["fraction"] = 0.5;
  full["bytes"] = "1GiB";  // more than 90% of the 512 MiB available
  EXPECT_THROW(w->expand(full, h.system), xpb::InputError);
  full["bytes"] = "auto";
  EXPECT_EQ(w->expand(full, h.system).at(0)["bytes"], 256u << 20);
}

// Memory with one bit stuck at 1: word 1000, bit 5. Runs the graph with the reference ops and
// forces the fault after every write of the buffer. Its clock is `clock`.
class StuckBitExecutable final : public xpb::Executable {
 public:
  StuckBitExecutable(const xpb::Graph& g, xpb::ClockKind clock) : g_(g), clock_(clock) {
    for (const auto& t : g_.tensors()) {
      mem_.emplace_back((t.bytes() + 7) / 8);
      store_.views.emplace_back(reinterpret_cast<std::byte*>(mem_.back().data()), t.bytes());
    }
  }
  xpb::RunResult run(const xpb::RunArgs& a) override {
    for (std::uint64_t i = 0; i < a.iterations; ++i)
      for (const auto& node : g_.nodes()) {
        xpb::ref::run_node(g_, node, store_);
        if (node.op == xpb::Op::fill_pattern) mem_[node.outputs[0]][1000] |= 1u << 5;
      }
    xpb::RunResult r;
    r.seconds = 1e-3 * static_cast<double>(a.iterations);
    r.clock = clock_;
    r.iterations = a.iterations;
    return r;
  }
  void read(xpb::TensorId id, std::span<std::byte> dst) const override {
    std::memcpy(dst.data(), store_[id].data(), dst.size());
  }
  void write(xpb::TensorId, std::span<const std::byte>) override {}
  std::shared_ptr<xpb::Buffer> buffer(xpb::TensorId) const override { return nullptr; }

 private:
  xpb::Graph g_;
  xpb::ClockKind clock_;
  std::vector<std::vector<std::uint64_t>> mem_;
  xpb::ref::TensorStore store_;
};

class StuckBitDevice final : public xpb::Device {
 public:
  explicit StuckBitDevice(xpb::ClockKind clock = xpb::ClockKind::host) : clock_(clock) { info_.driver = "stuck"; }
  const xpb::DeviceInfo& info() const override { return info_; }
  xpb::DeviceCaps caps() const override {
    xpb::DeviceCaps c;
    c.max_threads = 2;
    return c;
  }
  xpb::ClockInfo clock() const override { return {clock_, 1e-9, false}; }
  xpb::AllocResult alloc(const xpb::TensorDesc&, const xpb::CompileOptions&) override {
    return {xpb::Outcome::with(xpb::Status::unsupported, "no buffers"), nullptr};
  }
  void upload(xpb::Buffer&, std::span<const std::byte>, std::size_t) override {}
  void download(const xpb::Buffer&, std::span<std::byte>, std::size_t) override {}
  bool can_bind(const xpb::Buffer&) const override { return false; }
  xpb::CompileResult compile(const xpb::Graph& g, const xpb::Bindings&, const xpb::CompileOptions&) override {
    return {xpb::Outcome::ok(), std::make_shared<StuckBitExecutable>(g, clock_)};
  }

 private:
  xpb::ClockKind clock_;
  xpb::DeviceInfo info_;
};

TEST(MemoryWorkloads, CapacityReportsEveryErrorWithOffsetAndBit) {
  Harness h;
  StuckBitDevice faulty;
  auto records = h.run("memory.capacity", {{"bytes", "64KiB"}, {"patterns", "checkerboard,walking_zeros"}}, &faulty);
  ASSERT_EQ(records.size(), 1u);
  const auto& r = records[0];
  EXPECT_EQ(r.outcome.status, xpb::Status::failed);
  // Word 1000 is even: checkerboard 0xAAAA... has bit 5 set (no error), its complement does
  // not (error); walking_zeros has bit 5 clear only at i % 64 == 5 (1000 % 64 = 40: no error),
  // its complement walking-ones word has bit 5 clear (error). Two errors in all.
  EXPECT_EQ(r.details["errors_total"], 2);
  ASSERT_EQ(r.details["errors"].size(), 2u);
  for (const auto& e : r.details["errors"]) {
    EXPECT_EQ(e["offset"], 8000);
    EXPECT_EQ(e["bits"], nlohmann::json::array({5}));
    EXPECT_EQ(e["inverted"], true);
  }
  EXPECT_EQ(r.details["errors"][0]["pattern"], "checkerboard");
  EXPECT_EQ(r.details["errors"][1]["pattern"], "walking_zeros");
  EXPECT_EQ(r.metrics[1].name, "errors");
  EXPECT_EQ(r.metrics[1].source, xpb::Source::measured);
}

TEST(MemoryWorkloads, CapacityListsAtMostMaxErrorsInAllButCountsEveryOne) {
  // Two errors a pass, five passes: ten counted, three listed.
  Harness h;
  StuckBitDevice faulty;
  auto records = h.run("memory.capacity",
                       {{"bytes", "64KiB"}, {"patterns", "checkerboard,walking_zeros"}, {"passes", 5}, {"max_errors", 3}},
                       &faulty);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].details["errors_total"], 10);
  EXPECT_EQ(records[0].details["errors"].size(), 3u);
}

TEST(MemoryWorkloads, ALatencyOfMoreThan2To30StepsIsRefusedWhilePlanning) {
  auto workload = xpb::WorkloadRegistry::instance().create("memory.latency");
  auto params = nlohmann::json{{"size", "64MiB"}, {"chains", 1}, {"stride", 64}, {"huge_pages", true},
                               {"steps", std::int64_t{1} << 31}};
  EXPECT_THROW(workload->expand(params, tiny_system()), xpb::InputError);
}

TEST(MemoryWorkloads, ErrorCountsOnASimulatedDeviceAreSimulated) {
  Harness h;
  StuckBitDevice simulated(xpb::ClockKind::simulated);
  auto records = h.run("memory.capacity", {{"bytes", "64KiB"}, {"patterns", "checkerboard"}}, &simulated);
  ASSERT_EQ(records.size(), 1u);
  ASSERT_EQ(records[0].metrics.size(), 2u);
  for (const auto& m : records[0].metrics) EXPECT_EQ(m.source, xpb::Source::simulated) << m.name;
}

TEST(MemoryWorkloads, CtrlCDuringACapacityPassStopsItAndRecordsItInterrupted) {
  Harness h;
  h.system.memory.available_bytes = 8ull << 30;
  auto cpu = xpb::test::open_device("cpu");
  std::atomic<bool> cancel{false};
  h.cancel = &cancel;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel.store(true);
  });
  auto records = h.run("memory.capacity", {{"bytes", "256MiB"}, {"passes", 1000}, {"threads", 1}}, cpu.get());
  stopper.join();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].outcome.status, xpb::Status::interrupted) << records[0].outcome.reason;
}

TEST(MemoryWorkloads, CapacityOnHealthyMemoryPasses) {
  Harness h;
  auto records = h.run("memory.capacity", {{"bytes", "64KiB"}, {"passes", 2}, {"threads", 1}});
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].outcome.status, xpb::Status::passed) << records[0].outcome.reason;
  EXPECT_EQ(records[0].details["errors_total"], 0);
  EXPECT_EQ(records[0].metrics[0].samples.size(), 2u);
}

}  // namespace

// A device that does everything ref does, except that each run flips a bit of its last
// output's seventh byte after the graph ran (the exponent of an f64 there, of the second f32),
// and each upload one bit of the first byte it moves:
// what the memory workloads' checks are there to catch.
namespace {
class CorruptingDevice final : public xpb::test::DelegatingDevice {
 public:
  using DelegatingDevice::DelegatingDevice;
  void upload(xpb::Buffer& dst, std::span<const std::byte> src, std::size_t offset) override {
    std::vector<std::byte> bad(src.begin(), src.end());
    if (!bad.empty()) bad[0] ^= std::byte{1};
    inner->upload(dst, bad, offset);
  }
  xpb::CompileResult compile(const xpb::Graph& g, const xpb::Bindings& bound, const xpb::CompileOptions& o) override {
    auto r = inner->compile(g, bound, o);
    if (r.exe) r.exe = std::make_shared<Exe>(r.exe, g.nodes().back().outputs[0]);
    return r;
  }

 private:
  struct Exe final : xpb::Executable {
    Exe(std::shared_ptr<xpb::Executable> wrapped, xpb::TensorId corrupted) : inner(std::move(wrapped)), out(corrupted) {}
    xpb::RunResult run(const xpb::RunArgs& a) override {
      auto r = inner->run(a);
      auto b = inner->buffer(out);
      b->host_data()[6] ^= std::byte{0x40};  // ref's buffers are host memory
      return r;
    }
    void read(xpb::TensorId id, std::span<std::byte> dst) const override { inner->read(id, dst); }
    void write(xpb::TensorId id, std::span<const std::byte> src) override { inner->write(id, src); }
    std::shared_ptr<xpb::Buffer> buffer(xpb::TensorId id) const override { return inner->buffer(id); }
    std::shared_ptr<xpb::Executable> inner;
    xpb::TensorId out;
  };
};
}  // namespace

TEST(MemoryWorkloads, BandwidthOnRandomDataCatchesOneWrongElementInEveryKernel) {
  Harness h;
  CorruptingDevice bad(h.ref);
  for (const char* dtype : {"f64", "f32"})
    for (const char* kernel : {"copy", "scale", "add", "triad", "read", "write"}) {
      auto good = h.run("memory.bandwidth", {{"kernel", kernel}, {"threads", 1}, {"array_bytes", "64KiB"}, {"dtype", dtype}});
      ASSERT_EQ(good.size(), 1u);
      EXPECT_EQ(good[0].conformance["status"], "passed") << kernel << " " << dtype << ": " << good[0].conformance.dump();
      EXPECT_EQ(good[0].details["data"], "random values in [1, 2), every mantissa bit random (seeded)");
      auto r = h.run("memory.bandwidth", {{"kernel", kernel}, {"threads", 1}, {"array_bytes", "64KiB"}, {"dtype", dtype}}, &bad);
      ASSERT_EQ(r.size(), 1u);
      EXPECT_EQ(r[0].conformance["status"], "failed") << kernel << " " << dtype << ": " << r[0].conformance.dump();
      if (std::string(kernel) != "read") {
        EXPECT_NE(r[0].conformance["reason"].get<std::string>().find(std::string(dtype) == "f64" ? "at index 0" : "at index 1"),
                  std::string::npos)
            << r[0].conformance.dump();
      }
    }
}

TEST(MemoryWorkloads, AVectorWidthIsForDevicesThatTakeOne) {
  Harness h;
  auto r = h.run("memory.bandwidth", {{"kernel", "copy"}, {"threads", 1}, {"array_bytes", "64KiB"}, {"vector_width", 8}});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].outcome.status, xpb::Status::unsupported);
  EXPECT_NE(r[0].outcome.reason.find("picks its own vector width"), std::string::npos) << r[0].outcome.reason;
  auto w = xpb::WorkloadRegistry::instance().create("memory.bandwidth");
  auto p = nlohmann::json{{"kernel", "copy"}, {"stores", "regular"}, {"threads", 1}, {"array_bytes", "auto"},
                          {"dtype", "f64"}, {"vector_width", 3}};
  EXPECT_THROW(w->expand(p, h.system), xpb::InputError);
}

TEST(MemoryWorkloads, TransfersOnAHostMemoryDeviceAreLabelledZeroCopyAndTimedOnTheHost) {
  Harness h;
  for (const char* direction : {"host_to_device", "device_to_host"}) {
    auto r = h.run("memory.transfer", {{"direction", direction}, {"bytes", "1MiB"}});
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].outcome.status, xpb::Status::passed) << r[0].outcome.reason;
    EXPECT_EQ(r[0].conformance["status"], "passed") << r[0].conformance.dump();
    ASSERT_EQ(r[0].metrics.size(), 1u);
    EXPECT_EQ(r[0].metrics[0].name, "host_copy_bandwidth");  // never "transfer_bandwidth" here
    EXPECT_NE(r[0].metrics[0].note.find("zero-copy"), std::string::npos);
    EXPECT_EQ(r[0].details["zero_copy"], true);
    EXPECT_EQ(r[0].timing["clock"]["kind"], "host");
  }
  // ref has no page-locked memory of its own: pinned is unsupported, saying so.
  auto pinned = h.run("memory.transfer", {{"host_memory", "pinned"}, {"bytes", "1MiB"}});
  EXPECT_EQ(pinned[0].outcome.status, xpb::Status::unsupported);
  EXPECT_NE(pinned[0].outcome.reason.find("page-locked"), std::string::npos);
}

TEST(MemoryWorkloads, ATransferThatCorruptsAByteFails) {
  Harness h;
  CorruptingDevice bad(h.ref);
  auto r = h.run("memory.transfer", {{"direction", "host_to_device"}, {"bytes", "64KiB"}}, &bad);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].conformance["status"], "failed") << r[0].conformance.dump();
  EXPECT_NE(r[0].conformance["reason"].get<std::string>().find("differ from the source"), std::string::npos);
}

TEST(MemoryWorkloads, LaunchLatencyIsTimedOnTheHostInBothModes) {
  Harness h;
  for (const char* mode : {"round_trip", "back_to_back"}) {
    auto r = h.run("memory.launch", {{"mode", mode}});
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].outcome.status, xpb::Status::passed) << r[0].outcome.reason;
    EXPECT_EQ(r[0].conformance["status"], "passed");
    ASSERT_EQ(r[0].metrics.size(), 1u);
    EXPECT_EQ(r[0].metrics[0].unit, "us");
    EXPECT_GT(*r[0].metrics[0].stats.median, 0.0);
    EXPECT_EQ(r[0].timing["clock"]["kind"], "host");
  }
}
