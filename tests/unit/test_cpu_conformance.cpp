// The cpu driver against the ref driver, op by op: same graph, same inputs, outputs compared.
// Sizes are chosen to hit the vector tails and uneven thread shares; threads 1 and 2 and
// streaming stores on and off.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "xpubench/registry.hpp"

namespace {

using xpb::DType;
using xpb::Op;
using xpb::TensorRole;

std::unique_ptr<xpb::Device> open(const std::string& driver) {
  auto d = xpb::DriverRegistry::instance().create(driver);
  EXPECT_NE(d, nullptr) << driver;
  return d->open(d->enumerate().at(0));
}

template <class T>
std::vector<T> read(const xpb::Executable& exe, const xpb::Graph& g, xpb::TensorId id) {
  std::vector<T> out(g.tensor(id).bytes() / sizeof(T));
  exe.read(id, {reinterpret_cast<std::byte*>(out.data()), out.size() * sizeof(T)});
  return out;
}

template <class T>
void write(xpb::Executable& exe, xpb::TensorId id, const std::vector<T>& v) {
  exe.write(id, {reinterpret_cast<const std::byte*>(v.data()), v.size() * sizeof(T)});
}

int threads_available() { return open("cpu")->caps().max_threads; }

struct Case {
  Op op;
  DType dtype;
  std::int64_t n;
  int threads;
  bool nontemporal;
};

class StreamConformance : public ::testing::TestWithParam<Case> {};

// Inputs are not constant (so a wrong index shows), outputs compared within one rounding of
// the dtype: the cpu triad fuses the multiply-add, ref rounds twice.
template <class T>
void check_stream(const Case& c) {
  xpb::Graph g;
  auto a = g.add_tensor({"a", {c.n}, c.dtype, TensorRole::input, {}});
  auto b = g.add_tensor({"b", {c.n}, c.dtype, TensorRole::input, {}});
  auto out = g.add_tensor({"out", {c.n}, c.dtype, TensorRole::output, {}});
  const xpb::Attrs attrs{{"scalar", 1.75}, {"value", -4.5}, {"nontemporal", c.nontemporal}};
  if (c.op == Op::write_fill) g.add_node(c.op, {}, {out}, attrs);
  else if (c.op == Op::add || c.op == Op::triad) g.add_node(c.op, {a, b}, {out}, attrs);
  else g.add_node(c.op, {a}, {out}, attrs);
  std::vector<T> va(static_cast<std::size_t>(c.n)), vb(va.size());
  for (std::size_t i = 0; i < va.size(); ++i) {
    va[i] = static_cast<T>(std::sin(static_cast<double>(i)) * 100);
    vb[i] = static_cast<T>(static_cast<double>(i % 97) - 48.25);
  }
  auto ref = open("ref")->compile(g, {});
  xpb::CompileOptions opts;
  opts.threads = c.threads;
  auto cpu = open("cpu")->compile(g, opts);
  ASSERT_TRUE(cpu.outcome.passed()) << cpu.outcome.reason;
  for (auto* exe : {ref.exe.get(), cpu.exe.get()}) {
    write(*exe, a, va);
    write(*exe, b, vb);
    exe->run(3);
  }
  const auto want = read<T>(*ref.exe, g, out);
  const auto got = read<T>(*cpu.exe, g, out);
  const double eps = std::numeric_limits<T>::epsilon();
  for (std::size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 2 * eps * (std::fabs(static_cast<double>(want[i])) + 100)) << "element " << i;
}

TEST_P(StreamConformance, MatchesRef) {
  const Case& c = GetParam();
  if (c.threads > threads_available()) GTEST_SKIP() << "needs " << c.threads << " PUs";
  if (c.dtype == DType::f64) check_stream<double>(c);
  else check_stream<float>(c);
}

std::vector<Case> stream_cases() {
  std::vector<Case> out;
  for (Op op : {Op::copy, Op::scale, Op::add, Op::triad, Op::write_fill})
    for (DType t : {DType::f64, DType::f32})
      for (std::int64_t n : {1, 7, 1000003})
        for (int threads : {1, 2})
          for (bool nt : {false, true}) out.push_back({op, t, n, threads, nt});
  return out;
}
INSTANTIATE_TEST_SUITE_P(AllOps, StreamConformance, ::testing::ValuesIn(stream_cases()));

TEST(CpuConformance, ReadSumIsExactOnIntegersAndCloseOtherwise) {
  for (int threads : {1, 2}) {
    if (threads > threads_available()) continue;
    for (std::int64_t n : {1, 13, 3000017}) {
      xpb::Graph g;
      auto a = g.add_tensor({"a", {n}, DType::f32, TensorRole::input, xpb::TensorInit::filled(1.0)});
      auto s = g.add_tensor({"s", {1}, DType::f64, TensorRole::output, {}});
      g.add_node(Op::read_sum, {a}, {s});
      xpb::CompileOptions opts;
      opts.threads = threads;
      auto cpu = open("cpu")->compile(g, opts);
      ASSERT_TRUE(cpu.outcome.passed());
      cpu.exe->run(2);
      EXPECT_EQ(read<double>(*cpu.exe, g, s)[0], static_cast<double>(n));
    }
  }
}

TEST(CpuConformance, ChaseEndsWhereRefEnds) {
  for (std::int64_t lines : {2, 97, 40000}) {  // 40000 lines of 64 B: beyond L2
    for (std::int64_t chains : {1, 2, 3, 5, 8, 16, 20, 33}) {
      if (chains > lines) continue;
      xpb::Graph g;
      auto ring = g.add_tensor({"ring", {lines, 8}, DType::u64, TensorRole::input, xpb::TensorInit::cycle(99)});
      auto out = g.add_tensor({"out", {chains}, DType::u64, TensorRole::output, {}});
      g.add_node(Op::chase, {ring}, {out}, {{"steps", std::int64_t{12345}}, {"chains", chains}});
      auto ref = open("ref")->compile(g, {});
      auto cpu = open("cpu")->compile(g, {});
      ASSERT_TRUE(cpu.outcome.passed()) << cpu.outcome.reason;
      // Chains go on from where the last run left them: 2 runs of 12345 steps here, 1 + 1 there.
      ref.exe->run(2);
      cpu.exe->run(1);
      cpu.exe->run(1);
      EXPECT_EQ(read<std::uint64_t>(*cpu.exe, g, out), read<std::uint64_t>(*ref.exe, g, out))
          << lines << " lines, " << chains << " chains";
      // The ring reads back in index form, identical to ref's.
      EXPECT_EQ(read<std::uint64_t>(*cpu.exe, g, ring), read<std::uint64_t>(*ref.exe, g, ring));
    }
  }
}

TEST(CpuConformance, ChaseFollowsAWrittenRing) {
  xpb::Graph g;
  auto ring = g.add_tensor({"ring", {10, 1}, DType::u64, TensorRole::input, {}});
  auto out = g.add_tensor({"out", {2}, DType::u64, TensorRole::output, {}});
  g.add_node(Op::chase, {ring}, {out}, {{"steps", std::int64_t{3}}, {"chains", std::int64_t{2}}});
  auto cpu = open("cpu")->compile(g, {});
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

TEST(CpuConformance, PatternsFillAndVerifyAndFindInjectedFlips) {
  const std::int64_t n = 1 << 20;  // 8 MiB: several pages per thread
  for (const char* pattern : {"walking_ones", "walking_zeros", "checkerboard", "random", "address"}) {
    for (bool invert : {false, true}) {
      xpb::Graph g;
      auto buf = g.add_tensor({"buf", {n}, DType::u64, TensorRole::state, {}});
      const xpb::Attrs attrs{{"pattern", std::string(pattern)}, {"seed", std::int64_t{5}},
                             {"invert", invert}, {"max_errors", std::int64_t{3}}};
      g.add_node(Op::fill_pattern, {}, {buf}, attrs);
      auto ref = open("ref")->compile(g, {});
      auto cpu = open("cpu")->compile(g, {});
      ref.exe->run(1);
      cpu.exe->run(1);
      auto words = read<std::uint64_t>(*cpu.exe, g, buf);
      ASSERT_EQ(words, read<std::uint64_t>(*ref.exe, g, buf)) << pattern;

      // Verify over the same words with four flips, two of them in the second thread's share.
      xpb::Graph v;
      auto vbuf = v.add_tensor({"buf", {n}, DType::u64, TensorRole::state, {}});
      auto vcount = v.add_tensor({"n", {1}, DType::u64, TensorRole::output, {}});
      auto vlist = v.add_tensor({"l", {3, 3}, DType::u64, TensorRole::output, {}});
      v.add_node(Op::verify_pattern, {vbuf}, {vcount, vlist}, attrs);
      auto check = open("cpu")->compile(v, {});
      ASSERT_TRUE(check.outcome.passed());
      const std::vector<std::size_t> flips{5, 70000, 600000, 1048575};
      for (auto i : flips) words[i] ^= std::uint64_t{1} << (i % 64);
      write(*check.exe, vbuf, words);
      check.exe->run(1);
      EXPECT_EQ(read<std::uint64_t>(*check.exe, v, vcount)[0], 4u) << pattern;
      const auto l = read<std::uint64_t>(*check.exe, v, vlist);
      for (std::size_t k = 0; k < 3; ++k) {
        EXPECT_EQ(l[k * 3], flips[k]) << pattern;
        EXPECT_EQ(l[k * 3 + 1] ^ l[k * 3 + 2], std::uint64_t{1} << (flips[k] % 64)) << pattern;
        EXPECT_EQ(l[k * 3 + 2], words[flips[k]]);
      }
    }
  }
}

TEST(CpuConformance, TooManyThreadsIsInvalidNotACrash) {
  auto dev = open("cpu");
  xpb::Graph g;
  auto a = g.add_tensor({"a", {8}, DType::f64, TensorRole::output, {}});
  g.add_node(Op::write_fill, {}, {a}, {{"value", 1.0}});
  xpb::CompileOptions opts;
  opts.threads = dev->caps().max_threads + 1;
  auto r = dev->compile(g, opts);
  EXPECT_EQ(r.outcome.status, xpb::Status::invalid);
  EXPECT_NE(r.outcome.reason.find("PUs available"), std::string::npos);
}

TEST(CpuConformance, DescribeReportsThreadsTargetAndHugePages) {
  auto dev = open("cpu");
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

}  // namespace
