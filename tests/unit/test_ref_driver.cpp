#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "drivers/ref/ref_ops.hpp"
#include "test_devices.hpp"
#include "xpubench/op_catalogue.hpp"
#include "xpubench/registry.hpp"

namespace {

using xpb::DType;
using xpb::Op;
using xpb::TensorRole;

std::shared_ptr<xpb::Device> open_ref() { return xpb::test::open_device("ref"); }
using xpb::test::read;

TEST(RefDriver, StreamKernelsComputeTheirDefinitions) {
  auto dev = open_ref();
  xpb::Graph g;
  auto a = g.add_tensor({"a", {5}, DType::f64, TensorRole::input, xpb::TensorInit::filled(1.5)});
  auto b = g.add_tensor({"b", {5}, DType::f64, TensorRole::input, xpb::TensorInit::filled(-2.0)});
  auto c = g.add_tensor({"c", {5}, DType::f64, TensorRole::output, {}});
  auto s = g.add_tensor({"s", {1}, DType::f64, TensorRole::output, {}});
  g.add_node(Op::triad, {a, b}, {c}, {{"scalar", 0.5}});
  g.add_node(Op::read_sum, {c}, {s});
  auto r = dev->compile(g, xpb::CompileOptions{});
  ASSERT_TRUE(r.outcome.passed()) << r.outcome.reason;
  r.exe->run(3);
  for (double v : read<double>(*r.exe, g, c)) EXPECT_DOUBLE_EQ(v, 0.5);  // 1.5 + 0.5 * -2
  EXPECT_DOUBLE_EQ(read<double>(*r.exe, g, s)[0], 2.5);
}

TEST(RefDriver, ChaseFollowsTheCycleFromEvenlySpacedStarts) {
  auto dev = open_ref();
  xpb::Graph g;
  auto ring = g.add_tensor({"ring", {10, 1}, DType::u64, TensorRole::input, {}});
  auto out = g.add_tensor({"out", {2}, DType::u64, TensorRole::output, {}});
  g.add_node(Op::chase, {ring}, {out}, {{"steps", std::int64_t{3}}, {"chains", std::int64_t{2}}});
  auto r = dev->compile(g, xpb::CompileOptions{});
  ASSERT_TRUE(r.outcome.passed());
  // The identity cycle 0 -> 1 -> ... -> 9 -> 0: chain 0 starts at 0, chain 1 at 5.
  std::vector<std::uint64_t> next(10);
  for (std::uint64_t i = 0; i < 10; ++i) next[i] = (i + 1) % 10;
  r.exe->write(ring, {reinterpret_cast<const std::byte*>(next.data()), next.size() * 8});
  r.exe->run(1);
  EXPECT_EQ(read<std::uint64_t>(*r.exe, g, out), (std::vector<std::uint64_t>{3, 8}));
  r.exe->run(1);  // chains go on from where they stood
  EXPECT_EQ(read<std::uint64_t>(*r.exe, g, out), (std::vector<std::uint64_t>{6, 1}));
}

TEST(RefDriver, VerifyPatternListsTheFirstMismatches) {
  auto dev = open_ref();
  xpb::Graph g;
  auto buf = g.add_tensor({"buf", {100}, DType::u64, TensorRole::state, {}});
  auto count = g.add_tensor({"n", {1}, DType::u64, TensorRole::output, {}});
  auto list = g.add_tensor({"l", {2, 3}, DType::u64, TensorRole::output, {}});
  const xpb::Attrs attrs{{"pattern", std::string("checkerboard")}, {"max_errors", std::int64_t{2}}};
  g.add_node(Op::verify_pattern, {buf}, {count, list}, attrs);
  auto r = dev->compile(g, xpb::CompileOptions{});
  ASSERT_TRUE(r.outcome.passed());
  std::vector<std::uint64_t> words(100);
  for (std::uint64_t i = 0; i < 100; ++i) words[i] = xpb::pattern_word(xpb::Pattern::checkerboard, 0, i, false);
  words[7] ^= 1u << 4;
  words[50] ^= 1u;
  words[90] ^= 2u;
  r.exe->write(buf, {reinterpret_cast<const std::byte*>(words.data()), 800});
  r.exe->run(1);
  EXPECT_EQ(read<std::uint64_t>(*r.exe, g, count)[0], 3u);
  const auto l = read<std::uint64_t>(*r.exe, g, list);
  EXPECT_EQ(l[0], 7u);
  EXPECT_EQ(l[1] ^ l[2], 16u);
  EXPECT_EQ(l[3], 50u);
}

TEST(RefDriver, RejectsMalformedGraphsAsInvalidNotCrash) {
  auto dev = open_ref();
  xpb::Graph g;
  auto a = g.add_tensor({"a", {5}, DType::f64, TensorRole::input, {}});
  auto c = g.add_tensor({"c", {6}, DType::f64, TensorRole::output, {}});
  g.add_node(Op::copy, {a}, {c});
  auto r = dev->compile(g, xpb::CompileOptions{});
  EXPECT_EQ(r.outcome.status, xpb::Status::invalid);
  EXPECT_EQ(r.exe, nullptr);
  EXPECT_NE(r.outcome.reason.find("node 0 (copy)"), std::string::npos);
}

TEST(RefDriver, ReadWithWrongSizeThrows) {
  auto dev = open_ref();
  xpb::Graph g;
  auto a = g.add_tensor({"a", {5}, DType::f64, TensorRole::output, {}});
  g.add_node(Op::write_fill, {}, {a}, {{"value", 2.0}});
  auto r = dev->compile(g, xpb::CompileOptions{});
  std::vector<std::byte> small(8);
  EXPECT_THROW(r.exe->read(a, small), std::invalid_argument);
}

}  // namespace

namespace {

TEST(RefDriver, EveryCatalogueCaseRunsOnRef) {
  // The reference kernel of every op: each conformance case compiles and runs without error.
  auto dev = open_ref();
  for (const auto& c : xpb::conformance_cases()) {
    auto r = dev->compile(c.graph, xpb::CompileOptions{});
    ASSERT_TRUE(r.outcome.passed()) << c.name << ": " << r.outcome.reason;
    const auto run = r.exe->run(xpb::RunArgs{c.iterations, c.dims, nullptr});
    EXPECT_TRUE(run.error.empty()) << c.name << ": " << run.error;
    EXPECT_EQ(run.iterations, c.iterations);
    EXPECT_GT(run.work.bytes_read + run.work.bytes_written, 0.0) << c.name;
  }
}

TEST(RefDriver, ATokenIdOutsideTheTableFailsTheRunRatherThanReadingZeros) {
  auto dev = open_ref();
  xpb::Graph g;
  auto table = g.add_tensor({"t", {3, 32}, DType::f32, TensorRole::weight, xpb::TensorInit::random(1, 1.0)});
  auto ids = g.add_tensor({"ids", {2}, DType::i32, TensorRole::input, xpb::TensorInit::values(std::vector<std::int32_t>{1, 3})});
  auto out = g.add_tensor({"out", {2, 32}, DType::f32, TensorRole::output, {}});
  g.add_node(Op::embedding, {table, ids}, {out});
  auto r = dev->compile(g, xpb::CompileOptions{});
  ASSERT_TRUE(r.outcome.passed()) << r.outcome.reason;
  const auto run = r.exe->run(1);
  EXPECT_NE(run.error.find("token id 3 at row 1 is outside the table's 3 rows"), std::string::npos) << run.error;
}

TEST(RefDriver, TakesNoDeviceOptions) {
  std::shared_ptr<xpb::Driver> driver = xpb::DriverRegistry::instance().create("ref");
  const auto r = driver->open(driver->enumerate().devices.at(0), {{"mode", "fast"}});
  EXPECT_EQ(r.outcome.status, xpb::Status::invalid);
  EXPECT_NE(r.outcome.reason.find("device option 'mode' is not known to driver ref (it takes none)"), std::string::npos)
      << r.outcome.reason;
}

}  // namespace
