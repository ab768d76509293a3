// The opencl driver on whatever OpenCL platform this machine has (PoCL in CI): discovery, the
// device contract (device-owned buffers, the event-profiling clock), and every op x dtype case
// it claims against ref. Skipped, saying why, where the driver is not built or there is no
// platform; the no-platform path itself is tested end to end (test_cli.py), since the ICD
// loader reads its vendor list once per process.
#include <gtest/gtest.h>

#include "test_devices.hpp"
#include "xpubench/conformance.hpp"
#include "xpubench/registry.hpp"
#include "xpubench/workload.hpp"

namespace {

#define OPENCL_DEVICE_OR_SKIP(var)          \
  std::string why;                          \
  auto var = xpb::test::open_opencl(why);   \
  if (!var) GTEST_SKIP() << why

TEST(OpenCl, DescribesTheDeviceAndItsClock) {
  OPENCL_DEVICE_OR_SKIP(device);
  const auto& info = device->info();
  EXPECT_EQ(info.driver, "opencl");
  EXPECT_FALSE(info.name.empty());
  for (const char* key : {"vendor", "driver_version", "opencl_version", "compute_units", "global_memory_bytes",
                          "max_allocation_bytes", "fp16", "fp64", "int8_dot_product", "subgroups"})
    EXPECT_EQ(info.properties.count(key), 1u) << key;
  const auto clock = device->clock();
  EXPECT_EQ(clock.kind, xpb::ClockKind::device_events);
  EXPECT_GT(clock.resolution_s, 0);
  EXPECT_EQ(device->caps().max_threads, 0);
}

TEST(OpenCl, EveryCaseItClaimsMatchesRefAndTheRestIsRefusedByName) {
  OPENCL_DEVICE_OR_SKIP(device);
  auto ref = xpb::test::open_device("ref");
  const auto caps = device->caps();
  int passed = 0;
  for (const auto& c : xpb::conformance_cases()) {
    const auto r = xpb::run_conformance_case(*device, *ref, c);
    if (caps.claims(c.op, c.dtype)) {
      EXPECT_TRUE(r.outcome.passed()) << c.name << ": " << r.outcome.reason;
      passed += r.outcome.passed() ? 1 : 0;
    } else {
      EXPECT_EQ(r.outcome.status, xpb::Status::unsupported) << c.name << ": " << r.outcome.reason;
      EXPECT_NE(r.outcome.reason.find(std::string(xpb::name(c.op))), std::string::npos) << r.outcome.reason;
    }
  }
  EXPECT_GE(passed, 80);  // every op of the catalogue; f64 cases too where the device has cl_khr_fp64
}

// The kernels written for GPUs (work-group trees) and for CPU implementations (barrier-free)
// both run wherever there is a platform, by the device option: neither goes untested because
// this machine's device is only one kind.
TEST(OpenCl, BothKernelKindsMatchRefWhateverTheDevice) {
  OPENCL_DEVICE_OR_SKIP(device);
  auto ref = xpb::test::open_device("ref");
  std::shared_ptr<xpb::Driver> driver = xpb::DriverRegistry::instance().create("opencl");  // open() needs a shared owner
  const auto first = driver->enumerate().devices.at(0);
  for (const char* kind : {"cpu", "gpu"}) {
    auto opened = driver->open(first, {{"kernels", kind}});
    ASSERT_TRUE(opened.outcome.passed()) << opened.outcome.reason;
    EXPECT_EQ(opened.device->info().properties.at("kernels").rfind(kind, 0), 0u);
    int ran = 0;
    for (const auto& c : xpb::conformance_cases()) {
      // The ops with a kernel of each kind.
      const bool two_kinds = c.op == xpb::Op::read_sum || c.op == xpb::Op::read_bytes || c.op == xpb::Op::matmul ||
                             c.op == xpb::Op::attention;
      if (!two_kinds || !opened.device->caps().claims(c.op, c.dtype)) continue;
      const auto r = xpb::run_conformance_case(*opened.device, *ref, c);
      EXPECT_TRUE(r.outcome.passed()) << kind << " " << c.name << ": " << r.outcome.reason;
      ++ran;
    }
    EXPECT_GE(ran, 4 + 3 + 15 + 2) << kind;  // read_sum, read_bytes (q4_0, f32, u64), matmul in every weight dtype, attention
  }
  EXPECT_EQ(driver->open(first, {{"kernels", "fpga"}}).outcome.status, xpb::Status::invalid);
}

TEST(OpenCl, RunsAreTimedOnTheDeviceAndCountTheirWork) {
  OPENCL_DEVICE_OR_SKIP(device);
  xpb::Graph g("triad");
  const std::int64_t n = 1 << 20;
  auto a = g.add_tensor({"a", {n}, xpb::DType::f32, xpb::TensorRole::input, xpb::TensorInit::filled(1)});
  auto b = g.add_tensor({"b", {n}, xpb::DType::f32, xpb::TensorRole::input, xpb::TensorInit::filled(2)});
  auto c = g.add_tensor({"c", {n}, xpb::DType::f32, xpb::TensorRole::output, {}});
  g.add_node(xpb::Op::triad, {a, b}, {c}, xpb::Attrs{{"scalar", 3.0}});
  auto compiled = device->compile(g, {});
  ASSERT_TRUE(compiled.outcome.passed()) << compiled.outcome.reason;
  const auto r = compiled.exe->run(600);  // more than one batch of enqueued iterations
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.iterations, 600u);
  EXPECT_EQ(r.clock, xpb::ClockKind::device_events);
  EXPECT_GT(r.seconds, 0);
  EXPECT_DOUBLE_EQ(r.work.bytes_read, 600.0 * 2 * 4 * n);
  EXPECT_EQ(xpb::test::read<float>(*compiled.exe, g, c)[n - 1], 7.0f);
  std::atomic<bool> stop{true};
  const auto stopped = compiled.exe->run(xpb::RunArgs{1000000, {}, &stop});
  EXPECT_TRUE(stopped.interrupted);
  EXPECT_LT(stopped.iterations, 1000000u);
}

TEST(OpenCl, BuffersAreTheDevicesAndBindAcrossExecutables) {
  OPENCL_DEVICE_OR_SKIP(device);
  xpb::Graph g("copy");
  auto in = g.add_tensor({"in", {64}, xpb::DType::f32, xpb::TensorRole::input, xpb::TensorInit::filled(5)});
  auto out = g.add_tensor({"out", {64}, xpb::DType::f32, xpb::TensorRole::output, {}});
  g.add_node(xpb::Op::copy, {in}, {out});
  auto buf = device->alloc(g.tensor(in), {});
  ASSERT_TRUE(buf.outcome.passed()) << buf.outcome.reason;
  EXPECT_EQ(buf.buffer->host_data(), nullptr);  // device memory: reached only by copies
  std::vector<float> back(64);
  device->download(*buf.buffer, {reinterpret_cast<std::byte*>(back.data()), 256});
  EXPECT_EQ(back[10], 5.0f);
  EXPECT_THROW(device->download(*buf.buffer, {reinterpret_cast<std::byte*>(back.data()), 256}, 8), std::invalid_argument);
  auto first = device->compile(g, xpb::Bindings{{in, buf.buffer}}, {});
  ASSERT_TRUE(first.outcome.passed()) << first.outcome.reason;
  auto second = device->compile(g, xpb::Bindings{{in, first.exe->buffer(out)}}, {});
  ASSERT_TRUE(second.outcome.passed()) << second.outcome.reason;
  xpb::test::write<float>(*first.exe, in, std::vector<float>(64, 9.0f));
  first.exe->run(1);
  second.exe->run(1);
  EXPECT_EQ(xpb::test::read<float>(*second.exe, g, out)[63], 9.0f);
  // A host buffer (ref's) is not this device's: refused, as the contract says.
  auto ref = xpb::test::open_device("ref");
  auto host = ref->alloc(g.tensor(in), {});
  EXPECT_FALSE(device->can_bind(*host.buffer));
  EXPECT_EQ(device->compile(g, xpb::Bindings{{in, host.buffer}}, {}).outcome.status, xpb::Status::invalid);
}

// The memory workloads that only a device with its own queue makes interesting, end to end.
std::vector<xpb::BenchmarkRecord> run_workload(xpb::Device& device, const std::string& workload, const nlohmann::json& params) {
  xpb::SystemInfo system;
  system.topology.pus = 2;
  system.topology.cores = 2;
  system.topology.caches = {{3, "unified", 4 << 20, 64, 1, 2}};
  auto ref = xpb::test::open_device("ref");
  return xpb::test::run_workload(workload, params, device, ref.get(), system);
}

TEST(OpenCl, BandwidthRunsAtEveryVectorWidthOnRandomData) {
  OPENCL_DEVICE_OR_SKIP(device);
  ASSERT_EQ(device->caps().vector_widths, (std::vector<int>{1, 2, 4, 8, 16}));
  for (int width : {1, 2, 4, 8, 16})
    for (const char* kernel : {"triad", "read"}) {
      // 1 MiB + 12 bytes of f32: a tail past the last whole vector at every width but 1.
      auto r = run_workload(*device, "memory.bandwidth",
                            {{"kernel", kernel}, {"dtype", "f32"}, {"array_bytes", (1 << 20) + 12}, {"vector_width", width}});
      ASSERT_EQ(r.size(), 1u);
      EXPECT_EQ(r[0].outcome.status, xpb::Status::passed) << width << " " << kernel << ": " << r[0].outcome.reason;
      EXPECT_EQ(r[0].conformance["status"], "passed") << width << " " << kernel << ": " << r[0].conformance.dump();
      EXPECT_EQ(r[0].details["executable"]["vector_width"], width);
      EXPECT_EQ(r[0].timing["clock"]["kind"], "device_events");
    }
}

TEST(OpenCl, TransfersFromPinnedAndPageableMemoryArriveAndAreLabelledByWhereTheMemoryIs) {
  OPENCL_DEVICE_OR_SKIP(device);
  const bool zero_copy = device->caps().shares_host_memory;
  for (const char* direction : {"host_to_device", "device_to_host"})
    for (const char* host_memory : {"pageable", "pinned"}) {
      auto r = run_workload(*device, "memory.transfer", {{"direction", direction}, {"host_memory", host_memory}, {"bytes", "4MiB"}});
      ASSERT_EQ(r.size(), 1u);
      EXPECT_EQ(r[0].outcome.status, xpb::Status::passed) << direction << " " << host_memory << ": " << r[0].outcome.reason;
      EXPECT_EQ(r[0].conformance["status"], "passed") << r[0].conformance.dump();
      EXPECT_EQ(r[0].metrics.at(0).name, zero_copy ? "host_copy_bandwidth" : "transfer_bandwidth");
      EXPECT_EQ(r[0].timing["clock"]["kind"], "host");
    }
  auto pinned = device->alloc_host(4096);
  ASSERT_TRUE(pinned.outcome.passed()) << pinned.outcome.reason;
  EXPECT_NE(pinned.buffer->host_data(), nullptr);  // mapped for the host for its whole life
}

TEST(OpenCl, LaunchLatencyIsMeasuredOnTheHostBothWays) {
  OPENCL_DEVICE_OR_SKIP(device);
  for (const char* mode : {"round_trip", "back_to_back"}) {
    auto r = run_workload(*device, "memory.launch", {{"mode", mode}});
    ASSERT_EQ(r[0].outcome.status, xpb::Status::passed) << mode << ": " << r[0].outcome.reason;
    EXPECT_EQ(r[0].conformance["status"], "passed");
    EXPECT_EQ(r[0].timing["clock"]["kind"], "host");  // the device's clock does not see the launch
    EXPECT_GT(*r[0].metrics[0].stats.median, 0.0);
  }
}

}  // namespace
