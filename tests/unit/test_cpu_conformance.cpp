// The cpu driver against ref, op by op, with the catalogue's conformance cases (the same ones
// `xpubench conform` runs) at 1 and 2 threads; and the device contract as the cpu keeps it:
// device-owned buffers, bindings shared by executables, run results, errors and cancellation.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

#include "test_devices.hpp"
#include "xpubench/conformance.hpp"
#include "xpubench/op_catalogue.hpp"
#include "xpubench/registry.hpp"

namespace {

using xpb::DType;
using xpb::Op;
using xpb::TensorRole;
using xpb::test::open_device;
using xpb::test::read;
using xpb::test::write;

int threads_available() { return open_device("cpu")->caps().max_threads; }

// The catalogue's cases, made once for the whole binary (their inputs are large).
const std::vector<xpb::ConformanceCase>& cases() {
  static const auto all = xpb::conformance_cases();
  return all;
}

struct CaseParam {
  std::size_t index;
  int threads;
};

class CatalogueConformance : public ::testing::TestWithParam<CaseParam> {};

TEST_P(CatalogueConformance, CpuMatchesRefWithinTheCaseTolerance) {
  const auto [index, threads] = GetParam();
  if (threads > threads_available()) GTEST_SKIP() << "needs " << threads << " PUs";
  const auto& c = cases().at(index);
  xpb::CompileOptions opts;
  opts.threads = threads;
  auto cpu = open_device("cpu");
  // What the cpu does not claim (fma_loop on bf16 and i8; f16 without AVX512-FP16) it refuses;
  // `conform` holds it to its claims.
  if (!cpu->caps().claims(c.op, c.dtype)) GTEST_SKIP() << c.name << ": not claimed by the cpu";
  auto ref = open_device("ref");
  const auto r = xpb::run_conformance_case(*cpu, *ref, c, opts);
  EXPECT_TRUE(r.outcome.passed()) << c.name << ": " << r.outcome.reason;
  if (c.tolerance.abs == 0 && c.tolerance.rel == 0) {
    EXPECT_EQ(r.max_abs_error, 0.0) << c.name;
  }
}

std::vector<CaseParam> all_cases() {
  std::vector<CaseParam> out;
  const auto n = cases().size();
  for (std::size_t i = 0; i < n; ++i)
    for (int t : {1, 2}) out.push_back({i, t});
  return out;
}
INSTANTIATE_TEST_SUITE_P(EveryOp, CatalogueConformance, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<CaseParam>& p) {
                           auto name = cases()[p.param.index].name;
                           for (auto& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name + "_" + std::to_string(p.param.threads) + "t_" + std::to_string(p.param.index);
                         });

TEST(CpuConformance, AWrongOutputIsCaughtByTheCaseRunner) {
  // The comparison must be able to fail: ref against a device that computes triad as add.
  auto ref = open_device("ref");
  auto cases = xpb::conformance_cases(Op::triad);
  auto& c = cases.front();
  xpb::ConformanceCase wrong = c;
  wrong.graph = xpb::Graph();
  for (const auto& t : c.graph.tensors()) wrong.graph.add_tensor(t);
  const auto& n = c.graph.nodes()[0];
  wrong.graph.add_node(Op::add, n.inputs, n.outputs, n.attrs);
  // Device runs `wrong`, ref runs `c`: give the runner a device whose compile swaps the graph.
  struct Swap final : xpb::test::DelegatingDevice {
    using DelegatingDevice::DelegatingDevice;
    xpb::Graph graph;
    xpb::CompileResult compile(const xpb::Graph&, const xpb::Bindings& bound, const xpb::CompileOptions& o) override {
      return inner->compile(graph, bound, o);
    }
  } swap(open_device("cpu"));
  swap.graph = wrong.graph;
  const auto r = xpb::run_conformance_case(swap, *ref, c);
  EXPECT_EQ(r.outcome.status, xpb::Status::failed);
  EXPECT_NE(r.outcome.reason.find("against ref's"), std::string::npos) << r.outcome.reason;
}

TEST(CpuConformance, ChaseFollowsAWrittenRing) {
  xpb::Graph g;
  auto ring = g.add_tensor({"ring", {10, 1}, DType::u64, TensorRole::input, {}});
  auto out = g.add_tensor({"out", {2}, DType::u64, TensorRole::output, {}});
  g.add_node(Op::chase, {ring}, {out}, {{"steps", std::int64_t{3}}, {"chains", std::int64_t{2}}});
  auto cpu = open_device("cpu")->compile(g, xpb::CompileOptions{});
  ASSERT_TRUE(cpu.outcome.passed());
  std::vector<std::uint64_t> next(10);
  for (std::uint64_t i = 0; i < 10; ++i) next[i] = (i + 1) % 10;
  write(*cpu.exe, ring, next);
  cpu.exe->run(1);
  EXPECT_EQ(read<std::uint64_t>(*cpu.exe, g, out), (std::vector<std::uint64_t>{3, 8}));
  cpu.exe->run(1);
  EXPECT_EQ(read<std::uint64_t>(*cpu.exe, g, out), (std::vector<std::uint64_t>{6, 1}));
  // Positions written to the output are where the chains go on from.
  write(*cpu.exe, out, std::vector<std::uint64_t>{9, 2});
  cpu.exe->run(1);
  EXPECT_EQ(read<std::uint64_t>(*cpu.exe, g, out), (std::vector<std::uint64_t>{2, 5}));
}

TEST(CpuConformance, TooManyThreadsIsInvalidNotACrash) {
  auto dev = open_device("cpu");
  xpb::Graph g;
  auto a = g.add_tensor({"a", {8}, DType::f64, TensorRole::output, {}});
  g.add_node(Op::write_fill, {}, {a}, {{"value", 1.0}});
  xpb::CompileOptions opts;
  opts.threads = dev->caps().max_threads + 1;
  auto r = dev->compile(g, opts);
  EXPECT_EQ(r.outcome.status, xpb::Status::invalid);
  EXPECT_NE(r.outcome.reason.find("PUs available to this process"), std::string::npos) << r.outcome.reason;
}

TEST(CpuConformance, DescribeReportsThreadsTargetAndHugePages) {
  auto dev = open_device("cpu");
  xpb::Graph g;
  auto a = g.add_tensor({"a", {std::int64_t{1} << 22}, DType::f64, TensorRole::output, {}});
  g.add_node(Op::write_fill, {}, {a}, {{"value", 1.0}});
  xpb::CompileOptions opts;
  opts.threads = 1;
  opts.lock_memory = true;
  auto r = dev->compile(g, opts);
  ASSERT_TRUE(r.outcome.passed());
  const auto d = r.exe->describe();
  EXPECT_EQ(d["threads"], 1);
  EXPECT_FALSE(d["simd_target"].get<std::string>().empty());
  ASSERT_EQ(d["tensors"].size(), 1u);
  EXPECT_LE(d["tensors"][0]["huge_page_bytes"].get<std::uint64_t>(), std::uint64_t{32} << 20);
  EXPECT_TRUE(d["mlock"].contains("locked"));
}

// --- the device contract ---------------------------------------------------------------------

TEST(CpuDevice, BuffersAreFilledOnTheDeviceAndCopiedBothWays) {
  auto dev = open_device("cpu");
  const xpb::TensorDesc t{"w", {4, 32}, DType::q8_0, TensorRole::weight, xpb::TensorInit::random(7, 1.0)};
  auto a = dev->alloc(t, {});
  ASSERT_TRUE(a.outcome.passed()) << a.outcome.reason;
  ASSERT_EQ(a.buffer->bytes(), t.bytes());
  std::vector<std::byte> got(t.bytes()), want(t.bytes());
  dev->download(*a.buffer, got);
  // The same synthetic values as ref makes for the same tensor.
  auto ref = open_device("ref");
  auto b = ref->alloc(t, {});
  ref->download(*b.buffer, want);
  EXPECT_EQ(got, want);
  std::vector<std::byte> part(10, std::byte{0x5a});
  dev->upload(*a.buffer, part, 20);
  dev->download(*a.buffer, got);
  EXPECT_EQ(got[20], std::byte{0x5a});
  EXPECT_EQ(got[29], std::byte{0x5a});
  EXPECT_THROW(dev->upload(*a.buffer, part, t.bytes() - 5), std::invalid_argument);
}

TEST(CpuDevice, ExecutablesBoundToOneBufferShareIt) {
  // Two graphs over one weight: both read what the buffer holds, neither has a copy.
  auto dev = open_device("cpu");
  const xpb::TensorDesc wd{"w", {1, 4}, DType::f32, TensorRole::weight, xpb::TensorInit::filled(1.0)};
  auto w = dev->alloc(wd, {});
  ASSERT_TRUE(w.outcome.passed());
  auto make = [&](double scale) {
    xpb::Graph g;
    auto x = g.add_tensor({"x", {1, 4}, DType::f32, TensorRole::input, xpb::TensorInit::filled(scale)});
    auto wi = g.add_tensor(wd);
    auto y = g.add_tensor({"y", {1, 1}, DType::f32, TensorRole::output, {}});
    g.add_node(Op::matmul, {x, wi}, {y});
    auto r = dev->compile(g, xpb::Bindings{{wi, w.buffer}}, xpb::CompileOptions{});
    EXPECT_TRUE(r.outcome.passed()) << r.outcome.reason;
    return std::make_pair(g, r.exe);
  };
  auto [g1, e1] = make(1.0);
  auto [g2, e2] = make(2.0);
  EXPECT_EQ(e1->buffer(1), w.buffer);
  EXPECT_EQ(e2->buffer(1), w.buffer);
  e1->run(1);
  e2->run(1);
  EXPECT_EQ(read<float>(*e1, g1, 2)[0], 4.0f);
  EXPECT_EQ(read<float>(*e2, g2, 2)[0], 8.0f);
  const std::vector<float> threes(4, 3.0f);
  dev->upload(*w.buffer, {reinterpret_cast<const std::byte*>(threes.data()), 16});
  e1->run(1);
  e2->run(1);
  EXPECT_EQ(read<float>(*e1, g1, 2)[0], 12.0f);
  EXPECT_EQ(read<float>(*e2, g2, 2)[0], 24.0f);
}

TEST(CpuDevice, RefBindsTheCpusHostMemory) {
  auto cpu = open_device("cpu");
  auto ref = open_device("ref");
  const xpb::TensorDesc t{"w", {8}, DType::f32, TensorRole::weight, xpb::TensorInit::filled(2.0)};
  auto a = cpu->alloc(t, {});
  EXPECT_TRUE(ref->can_bind(*a.buffer));
  xpb::Graph g;
  auto in = g.add_tensor(t);
  auto sum = g.add_tensor({"s", {1}, DType::f64, TensorRole::output, {}});
  g.add_node(Op::read_sum, {in}, {sum});
  auto r = ref->compile(g, xpb::Bindings{{in, a.buffer}}, xpb::CompileOptions{});
  ASSERT_TRUE(r.outcome.passed()) << r.outcome.reason;
  r.exe->run(1);
  EXPECT_EQ(read<double>(*r.exe, g, sum)[0], 16.0);
}

TEST(ReadBytes, SumsLittleEndianWordsWithTheTailPaddedWithZerosOnCpuAndRef) {
  // 8195 bytes (no multiple of 8): words 1, 2, ... 1024 in
  // little-endian order, then the tail 0x01 0x02 0x03 = the word 0x030201.
  std::vector<std::uint8_t> bytes(8195, 0);
  for (std::uint64_t w = 0; w < 1024; ++w)
    for (int b = 0; b < 8; ++b) bytes[w * 8 + static_cast<std::size_t>(b)] = static_cast<std::uint8_t>((w + 1) >> (8 * b));
  bytes[8192] = 1, bytes[8193] = 2, bytes[8194] = 3;
  const std::uint64_t want = 1024 * 1025 / 2 + 0x030201;
  for (const char* id : {"cpu", "ref"}) {
    auto dev = open_device(id);
    xpb::Graph g;
    auto in = g.add_tensor({"a", {8195}, DType::i8, TensorRole::input, xpb::TensorInit::values(bytes)});
    auto sum = g.add_tensor({"s", {1}, DType::u64, TensorRole::output, {}});
    g.add_node(Op::read_bytes, {in}, {sum});
    xpb::CompileOptions opts;
    opts.threads = std::min(2, threads_available());
    auto r = dev->compile(g, {}, opts);
    ASSERT_TRUE(r.outcome.passed()) << id << ": " << r.outcome.reason;
    r.exe->run(2);
    EXPECT_EQ(read<std::uint64_t>(*r.exe, g, sum)[0], want) << id;
  }
}

TEST(CpuDevice, ABindingOfTheWrongSizeOrAChaseRingIsRefusedWithTheTensorsName) {
  auto cpu = open_device("cpu");
  auto small = cpu->alloc({"s", {4}, DType::u64, TensorRole::input, {}}, {});
  xpb::Graph g;
  auto ring = g.add_tensor({"ring", {16, 1}, DType::u64, TensorRole::input, xpb::TensorInit::cycle(1)});
  auto out = g.add_tensor({"out", {1}, DType::u64, TensorRole::output, {}});
  g.add_node(Op::chase, {ring}, {out}, {{"steps", std::int64_t{4}}});
  auto wrong = cpu->compile(g, xpb::Bindings{{ring, small.buffer}}, xpb::CompileOptions{});
  EXPECT_EQ(wrong.outcome.status, xpb::Status::invalid);
  EXPECT_NE(wrong.outcome.reason.find("tensor 'ring'"), std::string::npos) << wrong.outcome.reason;
  auto right_size = cpu->alloc(g.tensor(ring), {});
  auto bound_ring = cpu->compile(g, xpb::Bindings{{ring, right_size.buffer}}, xpb::CompileOptions{});
  EXPECT_EQ(bound_ring.outcome.status, xpb::Status::unsupported);
}

TEST(CpuDevice, RunResultsSayTheClockAndTheWorkOfTheIterationsThatRan) {
  auto dev = open_device("cpu");
  EXPECT_EQ(dev->clock().kind, xpb::ClockKind::host);
  EXPECT_GT(dev->clock().resolution_s, 0.0);
  EXPECT_LT(dev->clock().resolution_s, 1e-3);
  EXPECT_FALSE(dev->clock().deterministic);
  xpb::Graph g;
  auto a = g.add_tensor({"a", {1000}, DType::f64, TensorRole::input, xpb::TensorInit::filled(1.0)});
  auto c = g.add_tensor({"c", {1000}, DType::f64, TensorRole::output, {}});
  g.add_node(Op::copy, {a}, {c});
  auto r = dev->compile(g, xpb::CompileOptions{});
  const auto run = r.exe->run(5);
  EXPECT_EQ(run.clock, xpb::ClockKind::host);
  EXPECT_EQ(run.iterations, 5u);
  EXPECT_DOUBLE_EQ(run.work.bytes_read, 5 * 8000.0);
  EXPECT_DOUBLE_EQ(run.work.bytes_written, 5 * 8000.0);
  EXPECT_EQ(run.energy_source, xpb::EnergySource::unavailable);
  EXPECT_TRUE(run.error.empty());
}

TEST(CpuDevice, ATokenIdOutsideTheTableFailsTheRun) {
  auto dev = open_device("cpu");
  xpb::Graph g;
  auto table = g.add_tensor({"t", {3, 32}, DType::q8_0, TensorRole::weight, xpb::TensorInit::random(1, 1.0)});
  auto ids = g.add_tensor({"ids", {3}, DType::i32, TensorRole::input, xpb::TensorInit::values(std::vector<std::int32_t>{0, -1, 2})});
  auto out = g.add_tensor({"out", {3, 32}, DType::f32, TensorRole::output, {}});
  g.add_node(Op::embedding, {table, ids}, {out});
  auto r = dev->compile(g, xpb::CompileOptions{});
  ASSERT_TRUE(r.outcome.passed());
  const auto run = r.exe->run(1);
  EXPECT_NE(run.error.find("token id -1 at row 1"), std::string::npos) << run.error;
}

TEST(CpuDevice, ALongRunStopsSoonAfterCancelAndSaysItWasInterrupted) {
  // A pattern pass over 512 MiB takes about a second; cancel lands 20 ms in.
  auto dev = open_device("cpu");
  xpb::Graph g;
  auto buf = g.add_tensor({"buf", {std::int64_t{64} << 20}, DType::u64, TensorRole::state, {}});
  for (int i = 0; i < 4; ++i)
    g.add_node(Op::fill_pattern, {}, {buf}, {{"pattern", std::string("random")}, {"seed", std::int64_t{i}}});
  auto r = dev->compile(g, xpb::CompileOptions{});
  ASSERT_TRUE(r.outcome.passed()) << r.outcome.reason;
  std::atomic<bool> cancel{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    cancel.store(true);
  });
  const auto run = r.exe->run(xpb::RunArgs{100, {}, &cancel});
  stopper.join();
  EXPECT_TRUE(run.interrupted);
  EXPECT_LT(run.iterations, 100u);
}

TEST(CpuDevice, ALongChaseStopsSoonAfterCancel) {
  // 2^26 dependent loads over 64 MiB take seconds; cancel lands 20 ms in.
  auto dev = open_device("cpu");
  xpb::Graph g;
  auto ring = g.add_tensor({"ring", {std::int64_t{1} << 20, 8}, DType::u64, TensorRole::input, xpb::TensorInit::cycle(3)});
  auto out = g.add_tensor({"out", {1}, DType::u64, TensorRole::output, {}});
  g.add_node(Op::chase, {ring}, {out}, {{"steps", std::int64_t{1} << 26}});
  auto r = dev->compile(g, xpb::CompileOptions{});
  ASSERT_TRUE(r.outcome.passed()) << r.outcome.reason;
  std::atomic<bool> cancel{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    cancel.store(true);
  });
  const auto t0 = std::chrono::steady_clock::now();
  const auto run = r.exe->run(xpb::RunArgs{1, {}, &cancel});
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stopper.join();
  EXPECT_TRUE(run.interrupted);
  EXPECT_LT(took, 2.0);  // a generous bound for a loaded machine: the walk itself takes ~10 s
}

TEST(Devices, EveryDriverRefusesTheSameBadBindingsAndDims) {
  for (const char* id : {"cpu", "ref"}) {
    auto dev = open_device(id);
    xpb::Graph g;
    const auto rows = g.add_dim("rows", 4);
    xpb::TensorDesc in{"a", {4, 8}, DType::f32, TensorRole::input, xpb::TensorInit::filled(1.0)};
    in.rows_dim = rows;
    auto a = g.add_tensor(in);
    auto c = g.add_tensor({"c", {4, 8}, DType::f32, TensorRole::output, {}});
    g.add_node(Op::copy, {a}, {c});
    auto other = dev->alloc({"o", {4, 8}, DType::f32, TensorRole::input, {}}, {});
    auto nowhere = dev->compile(g, xpb::Bindings{{7, other.buffer}}, xpb::CompileOptions{});
    EXPECT_EQ(nowhere.outcome.status, xpb::Status::invalid) << id;
    EXPECT_NE(nowhere.outcome.reason.find("tensor 7, which the graph does not have"), std::string::npos)
        << id << ": " << nowhere.outcome.reason;
    auto r = dev->compile(g, xpb::CompileOptions{});
    ASSERT_TRUE(r.outcome.passed()) << id << ": " << r.outcome.reason;
    const std::vector<std::int64_t> too_many_rows{5};
    EXPECT_THROW(r.exe->run(xpb::RunArgs{1, too_many_rows, nullptr}), std::invalid_argument) << id;
  }
}

TEST(CpuDevice, TakesNoDeviceOptions) {
  std::shared_ptr<xpb::Driver> driver = xpb::DriverRegistry::instance().create("cpu");
  const auto r = driver->open(driver->enumerate().devices.at(0), {{"threads", "4"}});
  EXPECT_EQ(r.outcome.status, xpb::Status::invalid);
  EXPECT_NE(r.outcome.reason.find("'threads' is not known to driver cpu"), std::string::npos) << r.outcome.reason;
}

TEST(CpuDevice, ADeviceKeepsItsDriverAlive) {
  std::weak_ptr<xpb::Driver> weak;
  std::shared_ptr<xpb::Device> device;
  {
    std::shared_ptr<xpb::Driver> driver = xpb::DriverRegistry::instance().create("cpu");
    weak = driver;
    device = driver->open(driver->enumerate().devices.at(0), {}).device;
  }
  EXPECT_FALSE(weak.expired());
  device.reset();
  EXPECT_TRUE(weak.expired());
}

}  // namespace
