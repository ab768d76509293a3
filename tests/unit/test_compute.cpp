// The compute peak (issue 9): the fma_loop op's definition (check, cost model), ref's exact
// values, the cpu and OpenCL kernels against ref at every vector width, and compute.peak end to
// end: its bit-exact verification, its GFLOPS figure and what it refuses.
#include <gtest/gtest.h>

#include <cstring>

#include "f16_fma_kernels.hpp"
#include "test_devices.hpp"
#include "xpubench/conformance.hpp"
#include "xpubench/error.hpp"
#include "xpubench/op_catalogue.hpp"
#include "xpubench/quant.hpp"
#include "xpubench/registry.hpp"

namespace {

using xpb::DType;
using xpb::Op;
using xpb::TensorRole;
using xpb::test::open_device;

// x -> y = fma_loop(x) of n elements of `t`, x from `bytes`.
struct FmaGraph {
  xpb::Graph g;
  xpb::TensorId x = 0, y = 0;
};
FmaGraph fma_graph(DType t, std::vector<std::byte> bytes, std::int64_t chain, std::int64_t width = 0) {
  FmaGraph f;
  const auto n = static_cast<std::int64_t>(bytes.size() / xpb::traits(t).block_bytes);
  f.x = f.g.add_tensor({"x", {n}, t, TensorRole::input, xpb::TensorInit::values(std::move(bytes))});
  f.y = f.g.add_tensor({"y", {n}, t, TensorRole::output, {}});
  xpb::Attrs attrs{{"chain", chain}};
  if (width != 0) attrs.set("vector_width", width);
  f.g.add_node(Op::fma_loop, {f.x}, {f.y}, attrs);
  return f;
}

template <class T>
std::vector<std::byte> bytes_of(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Seeded values in [-1, 1) in `t` (i8: every byte value, repeated).
std::vector<std::byte> varied(DType t, std::size_t n) {
  std::vector<std::byte> b(xpb::storage_bytes(t, n));
  for (std::size_t i = 0; i < n; ++i) {
    const float v = xpb::synthetic_value(3, i, 1.0f);
    if (t == DType::f64) reinterpret_cast<double*>(b.data())[i] = v;
    else if (t == DType::f32) reinterpret_cast<float*>(b.data())[i] = v;
    else if (t == DType::f16) reinterpret_cast<std::uint16_t*>(b.data())[i] = xpb::f32_to_f16(v);
    else reinterpret_cast<std::uint8_t*>(b.data())[i] = static_cast<std::uint8_t>(i * 37 + 11);
  }
  return b;
}

// y after one run of g on `device` (threads 0: all).
std::vector<std::byte> run_on(xpb::Device& device, const FmaGraph& f, int threads = 0) {
  xpb::CompileOptions opts;
  opts.threads = threads;
  auto c = device.compile(f.g, opts);
  EXPECT_TRUE(c.outcome.passed()) << c.outcome.reason;
  if (!c.outcome.passed()) return {};
  const auto r = c.exe->run(1);
  EXPECT_TRUE(r.error.empty()) << r.error;
  std::vector<std::byte> y(f.g.tensor(f.y).bytes());
  c.exe->read(f.y, y);
  return y;
}

// --- the op ------------------------------------------------------------------------------------

TEST(FmaLoop, ItsCheckNamesWhatIsWrong) {
  auto problem = [](DType tx, DType ty, std::vector<std::int64_t> shape, xpb::Attrs attrs) -> std::string {
    xpb::Graph g;
    auto x = g.add_tensor({"x", shape, tx, TensorRole::input, {}});
    auto y = g.add_tensor({"y", shape, ty, TensorRole::output, {}});
    g.add_node(Op::fma_loop, {x}, {y}, std::move(attrs));
    const auto err = g.check();
    return err ? *err : "";
  };
  EXPECT_EQ(problem(DType::f32, DType::f32, {64}, {{"chain", std::int64_t{3}}}), "");
  EXPECT_EQ(problem(DType::i8, DType::i8, {64}, {{"chain", std::int64_t{1}}, {"vector_width", std::int64_t{16}}}), "");
  EXPECT_NE(problem(DType::f32, DType::f32, {64}, {}).find("needs the attribute 'chain'"), std::string::npos);
  EXPECT_NE(problem(DType::f32, DType::f32, {64}, {{"chain", std::int64_t{0}}}).find("'chain' in 1.."), std::string::npos);
  EXPECT_NE(problem(DType::f32, DType::f32, {64}, {{"chain", std::int64_t{2}}, {"vector_width", std::int64_t{3}}})
                .find("'vector_width' 1, 2, 4, 8 or 16"),
            std::string::npos);
  EXPECT_NE(problem(DType::f32, DType::f64, {64}, {{"chain", std::int64_t{2}}}).find("differs from output"),
            std::string::npos);
  EXPECT_NE(problem(DType::u64, DType::u64, {64}, {{"chain", std::int64_t{2}}}).find("f64, f32, f16, bf16 or i8"),
            std::string::npos);
  EXPECT_NE(problem(DType::f32, DType::f32, {4, 16}, {{"chain", std::int64_t{2}}}).find("1-D"), std::string::npos);
}

TEST(FmaLoop, CostCountsAMultiplyAddAsTwoOperations) {
  const std::pair<DType, double> types[] = {{DType::f64, 8.0}, {DType::f32, 4.0}, {DType::f16, 2.0}, {DType::i8, 1.0}};
  for (const auto& [t, elem] : types) {
    auto f = fma_graph(t, std::vector<std::byte>(static_cast<std::size_t>(1000 * elem)), 300);
    ASSERT_FALSE(f.g.check());
    const auto w = xpb::graph_work(f.g, {});
    EXPECT_DOUBLE_EQ(w.flops, 2.0 * 300 * 1000) << xpb::name(t);
    EXPECT_DOUBLE_EQ(w.bytes_read, 1000 * elem);
    EXPECT_DOUBLE_EQ(w.bytes_written, 1000 * elem);
  }
  EXPECT_EQ(xpb::name(xpb::op_def(Op::fma_loop).family), "compute");
}

TEST(FmaLoop, EveryConformanceCaseIsExact) {
  const auto cases = xpb::conformance_cases(Op::fma_loop);
  EXPECT_EQ(cases.size(), 30u);  // 6 shapes x f64, f32, f16, bf16, i8
  for (const auto& c : cases) {
    EXPECT_EQ(c.tolerance.abs, 0) << c.name;
    EXPECT_EQ(c.tolerance.rel, 0) << c.name;
  }
}

// --- ref -----------------------------------------------------------------------------------------

TEST(FmaLoop, RefStepsEachDtypeExactly) {
  auto ref = open_device("ref");
  {  // f32: -1 -> 0 -> 0.5 -> 0.75; 1 is the fixed point
    auto f = fma_graph(DType::f32, bytes_of(std::vector<float>{-1.0f, 0.0f, 0.5f, 1.0f}), 3);
    std::vector<float> y(4);
    std::memcpy(y.data(), run_on(*ref, f).data(), 16);
    EXPECT_EQ(y, (std::vector<float>{0.75f, 0.875f, 0.9375f, 1.0f}));
  }
  {  // f64 after 2 steps: (v + 3) / 4
    auto f = fma_graph(DType::f64, bytes_of(std::vector<double>{-0.25, 0.1}), 2);
    std::vector<double> y(2);
    std::memcpy(y.data(), run_on(*ref, f).data(), 16);
    EXPECT_EQ(y[0], 0.6875);
    EXPECT_EQ(y[1], (0.1 * 0.5 + 0.5) * 0.5 + 0.5);
  }
  {  // f16: each step rounds to f16
    const std::vector<std::uint16_t> x = {xpb::f32_to_f16(-1.0f), xpb::f32_to_f16(1.0f - 1.0f / 2048),
                                          xpb::f32_to_f16(0.5f + 1.0f / 1024), 0x0001};
    auto f = fma_graph(DType::f16, bytes_of(x), 1);
    std::vector<std::uint16_t> y(4);
    std::memcpy(y.data(), run_on(*ref, f).data(), 8);
    EXPECT_EQ(xpb::f16_to_f32(y[0]), 0.0f);
    // 1 - 2^-12 lies halfway between 1 - 2^-11 and 1: a tie, rounded to the even one, 1.
    EXPECT_EQ(xpb::f16_to_f32(y[1]), 1.0f);
    EXPECT_EQ(xpb::f16_to_f32(y[2]), 0.75f + 1.0f / 2048);  // exact
    EXPECT_EQ(xpb::f16_to_f32(y[3]), 0.5f);  // the smallest subnormal: 0.5 + 2^-25 rounds to 0.5
  }
  {  // i8 as bytes: 0 -> 1 -> 6 -> 31; 255 -> 252 (1276 mod 256)
    auto f = fma_graph(DType::i8, bytes_of(std::vector<std::uint8_t>{0, 255}), 3);
    const auto y = run_on(*ref, f);
    EXPECT_EQ(static_cast<int>(y[0]), 31);
    auto g = fma_graph(DType::i8, bytes_of(std::vector<std::uint8_t>{255}), 1);
    EXPECT_EQ(static_cast<int>(run_on(*ref, g)[0]), 252);
  }
}

TEST(FmaLoop, TheI8ChainHasTheFullPeriod256) {
  // Every byte returns to itself after 256 steps and to no earlier one: the values never settle.
  auto ref = open_device("ref");
  std::vector<std::uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(run_on(*ref, fma_graph(DType::i8, bytes_of(all), 256)), bytes_of(all));
  const auto half = run_on(*ref, fma_graph(DType::i8, bytes_of(all), 128));
  for (int i = 0; i < 256; ++i) EXPECT_NE(static_cast<int>(half[static_cast<std::size_t>(i)]), i);
}

// --- cpu -----------------------------------------------------------------------------------------

TEST(FmaLoop, CpuMatchesRefBitForBitOnEveryThreadCount) {
  auto cpu = open_device("cpu");
  auto ref = open_device("ref");
  for (DType t : {DType::f32, DType::f64, DType::f16})
    for (int threads : {1, 2}) {
      if (threads > cpu->caps().max_threads || (t == DType::f16 && !xpb::cpu::f16_fma_native())) continue;
      // Not a multiple of any block, vector or page share; chains long enough to reach 1 for
      // some elements and not for others.
      auto f = fma_graph(t, varied(t, 20011), 40);
      EXPECT_EQ(run_on(*cpu, f, threads), run_on(*ref, f)) << xpb::name(t) << " " << threads << " threads";
    }
}

TEST(FmaLoop, CpuClaimsWhatItHasNativeArithmeticForAndRefusesTheRestByName) {
  auto cpu = open_device("cpu");
  const auto caps = cpu->caps();
  EXPECT_TRUE(caps.claims(Op::fma_loop, DType::f32));
  EXPECT_TRUE(caps.claims(Op::fma_loop, DType::f64));
  EXPECT_EQ(caps.claims(Op::fma_loop, DType::f16), xpb::cpu::f16_fma_native());  // AVX512-FP16
  EXPECT_FALSE(caps.claims(Op::fma_loop, DType::bf16));
  EXPECT_FALSE(caps.claims(Op::fma_loop, DType::i8));
  EXPECT_TRUE(caps.vector_widths.empty());  // it picks its own SIMD width
  auto f = fma_graph(DType::bf16, varied(DType::bf16, 64), 4);
  const auto c = cpu->compile(f.g, xpb::CompileOptions{});
  EXPECT_EQ(c.outcome.status, xpb::Status::unsupported);
  EXPECT_NE(c.outcome.reason.find("fma_loop on bf16"), std::string::npos) << c.outcome.reason;
  auto h = fma_graph(DType::f16, varied(DType::f16, 64), 4);
  const auto ch = cpu->compile(h.g, xpb::CompileOptions{});
  if (xpb::cpu::f16_fma_native()) {
    EXPECT_TRUE(ch.outcome.passed()) << ch.outcome.reason;
  } else {
    EXPECT_NE(ch.outcome.reason.find("AVX512-FP16 is missing"), std::string::npos) << ch.outcome.reason;
  }
}

// --- opencl --------------------------------------------------------------------------------------

TEST(FmaLoop, OpenClMatchesRefAtEveryVectorWidth) {
  std::string why;
  auto cl = xpb::test::open_opencl(why);
  if (!cl) GTEST_SKIP() << why;
  auto ref = open_device("ref");
  const auto caps = cl->caps();
  EXPECT_EQ(caps.vector_widths, (std::vector<int>{1, 2, 4, 8, 16}));
  EXPECT_TRUE(caps.claims(Op::fma_loop, DType::f32));
  EXPECT_TRUE(caps.claims(Op::fma_loop, DType::i8));
  for (DType t : {DType::f64, DType::f32, DType::f16, DType::i8}) {
    if (!caps.claims(Op::fma_loop, t)) {
      auto f = fma_graph(t, varied(t, 64), 4);
      const auto c = cl->compile(f.g, xpb::CompileOptions{});
      EXPECT_EQ(c.outcome.status, xpb::Status::unsupported) << xpb::name(t);
      EXPECT_NE(c.outcome.reason.find("fma_loop on " + std::string(xpb::name(t))), std::string::npos) << c.outcome.reason;
      continue;
    }
    // 1999 elements: whole work-items at every width and a tail of single elements.
    for (std::int64_t w : {0, 1, 2, 4, 8, 16}) {
      auto f = fma_graph(t, varied(t, 1999), 23, w);
      EXPECT_EQ(run_on(*cl, f), run_on(*ref, f)) << xpb::name(t) << " vector_width " << w;
    }
  }
}

// --- compute.peak -------------------------------------------------------------------------------

struct Harness {
  std::shared_ptr<xpb::Device> ref = open_device("ref");
  xpb::SystemInfo system;
  Harness() {
    system.topology.pus = 2;
    system.topology.cores = 2;
  }
  std::vector<xpb::BenchmarkRecord> run(nlohmann::json params, xpb::Device& device) {
    return xpb::test::run_workload("compute.peak", params, device, ref.get(), system);
  }
};

TEST(ComputePeak, RunsOnTheCpuVerifiedWithAGflopsFigure) {
  Harness h;
  auto cpu = open_device("cpu");
  for (const char* dtype : {"f32", "f64"}) {
    auto records = h.run({{"dtype", dtype}, {"threads", 1}, {"elements", 65536}, {"chain", 256}}, *cpu);
    ASSERT_EQ(records.size(), 1u);
    const auto& r = records[0];
    EXPECT_EQ(r.outcome.status, xpb::Status::passed) << dtype << ": " << r.outcome.reason;
    EXPECT_EQ(r.conformance["status"], "passed") << r.conformance.dump();
    EXPECT_EQ(r.conformance["elements_wrong"], 0);
    ASSERT_EQ(r.metrics.size(), 1u);
    EXPECT_EQ(r.metrics[0].unit, "GFLOPS");
    EXPECT_EQ(r.metrics[0].source, xpb::Source::measured);
    EXPECT_EQ(r.metrics[0].samples.size(), 3u);
    EXPECT_GT(*r.metrics[0].stats.median, 0.0);
    EXPECT_NE(r.metrics[0].note.find("a multiply-add counts 2"), std::string::npos);
    EXPECT_EQ(r.details["operations_per_run"], 2.0 * 256 * 65536);
  }
}

TEST(ComputePeak, I8IsCountedInGiopsAndVerifiedOnRef) {
  Harness h;
  auto records = h.run({{"dtype", "i8"}, {"threads", 1}, {"elements", 1000}, {"chain", 300}}, *h.ref);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].outcome.status, xpb::Status::passed) << records[0].outcome.reason;
  ASSERT_EQ(records[0].metrics.size(), 1u);
  EXPECT_EQ(records[0].metrics[0].unit, "GIOPS");
  auto f16 = h.run({{"dtype", "f16"}, {"threads", 1}, {"elements", 1000}, {"chain", 30}}, *h.ref);
  EXPECT_EQ(f16[0].outcome.status, xpb::Status::passed) << f16[0].outcome.reason;
}

TEST(ComputePeak, RefusesWhatTheDeviceDoesNotDoWithTheReason) {
  Harness h;
  auto cpu = open_device("cpu");
  auto i8 = h.run({{"dtype", "i8"}, {"threads", 1}, {"elements", 1000}}, *cpu);
  EXPECT_EQ(i8[0].outcome.status, xpb::Status::unsupported);
  EXPECT_NE(i8[0].outcome.reason.find("fma_loop on i8"), std::string::npos) << i8[0].outcome.reason;
  auto width = h.run({{"vector_width", 4}, {"threads", 1}, {"elements", 1000}}, *cpu);
  EXPECT_EQ(width[0].outcome.status, xpb::Status::unsupported);
  EXPECT_NE(width[0].outcome.reason.find("the device picks its own vector width"), std::string::npos);
}

TEST(ComputePeak, AWrongChainFailsVerification) {
  // A device that runs one step fewer than asked: the i8 chain never settles, so every element
  // differs from the expected value.
  Harness h;
  struct ShortChain final : xpb::test::DelegatingDevice {
    using DelegatingDevice::DelegatingDevice;
    xpb::CompileResult compile(const xpb::Graph& g, const xpb::Bindings& bound, const xpb::CompileOptions& o) override {
      xpb::Graph shorter;
      for (const auto& t : g.tensors()) shorter.add_tensor(t);
      for (const auto& n : g.nodes()) {
        auto attrs = n.attrs;
        attrs.set("chain", attrs.get_int("chain", 1) - 1);
        shorter.add_node(n.op, n.inputs, n.outputs, attrs);
      }
      return inner->compile(shorter, bound, o);
    }
  } device(h.ref);
  auto r = h.run({{"dtype", "i8"}, {"threads", 1}, {"elements", 512}, {"chain", 10}}, device);
  EXPECT_EQ(r[0].outcome.status, xpb::Status::failed);
  EXPECT_EQ(r[0].conformance["elements_wrong"], 512);
  EXPECT_TRUE(r[0].conformance.contains("first_mismatch"));
}

TEST(ComputePeak, RefusesParametersThatCanOnlyBeWrong) {
  Harness h;
  auto w = xpb::WorkloadRegistry::instance().create("compute.peak");
  auto full = nlohmann::json::object();
  for (const auto& spec : w->params()) full[spec.name] = spec.default_value;
  const std::pair<const char*, nlohmann::json> bad[] = {{"chain", 0}, {"elements", -5}, {"vector_width", 3}};
  for (const auto& [key, value] : bad) {
    auto p = full;
    p[key] = value;
    EXPECT_THROW(w->expand(p, h.system), xpb::InputError) << key;
  }
}

}  // namespace
