#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "xpubench/graph.hpp"

namespace {

using xpb::DType;
using xpb::Op;
using xpb::TensorRole;

TEST(DType, QuantizedBlocksFollowGguf) {
  EXPECT_EQ(xpb::storage_bytes(DType::q8_0, 64), 68u);  // 2 blocks x (2 + 32)
  EXPECT_EQ(xpb::storage_bytes(DType::q4_0, 64), 36u);  // 2 blocks x (2 + 16)
  EXPECT_EQ(xpb::storage_bytes(DType::bf16, 3), 6u);
  EXPECT_EQ(xpb::storage_bytes(DType::q4_K, 512), 288u);  // 2 super-blocks x 144
  EXPECT_EQ(xpb::storage_bytes(DType::iq4_xs, 256), 136u);
  EXPECT_EQ(xpb::parse_dtype("q4_0"), DType::q4_0);
  // ggml's names, in any case (llama-quantize writes Q4_K, ggml_type_name says q4_K).
  EXPECT_EQ(xpb::parse_dtype("q4_K"), DType::q4_K);
  EXPECT_EQ(xpb::parse_dtype("Q6_K"), DType::q6_K);
  EXPECT_EQ(xpb::parse_dtype("IQ4_XS"), DType::iq4_xs);
  EXPECT_FALSE(xpb::parse_dtype("q4_K_M").has_value());  // a llama-quantize preset, not a type
  EXPECT_FALSE(xpb::parse_dtype("q8_1").has_value());
}

TEST(Graph, CheckAcceptsWellFormedMemoryOps) {
  xpb::Graph g;
  auto a = g.add_tensor({"a", {100}, DType::f64, TensorRole::input, {}});
  auto b = g.add_tensor({"b", {100}, DType::f64, TensorRole::input, {}});
  auto c = g.add_tensor({"c", {100}, DType::f64, TensorRole::output, {}});
  g.add_node(Op::triad, {a, b}, {c}, {{"scalar", 3.0}});
  EXPECT_FALSE(g.check().has_value());
}

TEST(Graph, CheckNamesTheNodeAndTheProblem) {
  xpb::Graph g;
  auto a = g.add_tensor({"a", {100}, DType::f64, TensorRole::input, {}});
  auto c = g.add_tensor({"c", {99}, DType::f64, TensorRole::output, {}});
  g.add_node(Op::copy, {a}, {c});
  auto err = g.check();
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->find("node 0 (copy): input 'a' f64[100] differs from output 'c' f64[99]"), std::string::npos) << *err;

  xpb::Graph h;
  auto x = h.add_tensor({"x", {4}, DType::f64, TensorRole::input, {}});
  h.add_node(Op::add, {x}, {x});
  ASSERT_TRUE(h.check().has_value());
  EXPECT_NE(h.check()->find("expects 2 inputs and 1 outputs"), std::string::npos);

  xpb::Graph k;
  auto ring = k.add_tensor({"ring", {16, 8}, DType::u64, TensorRole::input, {}});
  auto out = k.add_tensor({"out", {2}, DType::u64, TensorRole::output, {}});
  k.add_node(Op::chase, {ring}, {out}, {{"steps", std::int64_t{10}}, {"chains", std::int64_t{3}}});
  ASSERT_TRUE(k.check().has_value());
  EXPECT_NE(k.check()->find("u64 [chains] output"), std::string::npos);

  xpb::Graph p;
  auto buf = p.add_tensor({"buf", {16}, DType::u64, TensorRole::state, {}});
  p.add_node(Op::fill_pattern, {}, {buf}, {{"pattern", std::string("stripes")}});
  ASSERT_TRUE(p.check().has_value());
  EXPECT_NE(p.check()->find("unknown pattern 'stripes'"), std::string::npos);
}

TEST(Graph, AShapeWhoseSizeWouldWrapIsRefused) {
  xpb::Graph g;
  const std::int64_t big = std::int64_t{1} << 40;
  auto a = g.add_tensor({"a", {big, big}, DType::f64, TensorRole::input, {}});  // 2^80 elements
  auto c = g.add_tensor({"c", {big, big}, DType::f64, TensorRole::output, {}});
  g.add_node(Op::copy, {a}, {c});
  const auto err = g.check();
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->find("'a': more than 2^50 elements"), std::string::npos) << *err;
}

TEST(Graph, ACopiedTensorMustHaveExactlyItsBytesInItsSource) {
  xpb::Graph g;
  auto a = g.add_tensor({"a", {4}, DType::f32, TensorRole::input, xpb::TensorInit::values(std::vector<float>{1, 2, 3})});
  auto c = g.add_tensor({"c", {4}, DType::f32, TensorRole::output, {}});
  g.add_node(Op::copy, {a}, {c});
  const auto err = g.check();
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->find("its source holds 12 bytes, the tensor 16"), std::string::npos) << *err;
}

TEST(Graph, DimValuesAreOnePerDynamicDimWithinItsMaximum) {
  xpb::Graph g;
  g.add_dim("rows", 8);
  g.add_dim("context", 100);
  EXPECT_FALSE(g.check_dims({}).has_value());  // every dim at its max
  const std::vector<std::int64_t> good{3, 100}, few{3}, above{9, 1}, negative{0, -1};
  EXPECT_FALSE(g.check_dims(good).has_value());
  EXPECT_NE(g.check_dims(few).value_or("").find("1 dim values for a graph of 2"), std::string::npos);
  EXPECT_NE(g.check_dims(above).value_or("").find("'rows' = 9 is outside 0..8"), std::string::npos);
  EXPECT_NE(g.check_dims(negative).value_or("").find("'context' = -1"), std::string::npos);
}

TEST(Graph, RandomCycleVisitsEveryLineOnce) {
  for (std::size_t lines : {1u, 2u, 3u, 1000u, 4097u}) {
    std::vector<std::uint64_t> words(lines * 8, 99);
    xpb::fill_random_cycle(words.data(), lines, 8, 42);
    std::set<std::uint64_t> seen;
    std::uint64_t at = 0;
    for (std::size_t k = 0; k < lines; ++k) {
      EXPECT_TRUE(seen.insert(at).second) << "line " << at << " visited twice";
      at = words[at * 8];
      ASSERT_LT(at, lines);
    }
    EXPECT_EQ(at, 0u) << "the walk must close after visiting every line";
    EXPECT_EQ(seen.size(), lines);
    for (std::size_t i = 0; i < lines; ++i)
      for (std::size_t w = 1; w < 8; ++w) EXPECT_EQ(words[i * 8 + w], 0u);
  }
}

TEST(Graph, RandomCycleDependsOnTheSeedOnly) {
  std::vector<std::uint64_t> a(512), b(512), c(512);
  xpb::fill_random_cycle(a.data(), 512, 1, 7);
  xpb::fill_random_cycle(b.data(), 512, 1, 7);
  xpb::fill_random_cycle(c.data(), 512, 1, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Graph, PatternWords) {
  using xpb::Pattern;
  EXPECT_EQ(xpb::pattern_word(Pattern::walking_ones, 0, 3, false), 8u);
  EXPECT_EQ(xpb::pattern_word(Pattern::walking_ones, 0, 67, false), 8u);
  EXPECT_EQ(xpb::pattern_word(Pattern::walking_zeros, 0, 0, false), ~std::uint64_t{1});
  EXPECT_EQ(xpb::pattern_word(Pattern::checkerboard, 0, 0, false), 0xAAAAAAAAAAAAAAAAull);
  EXPECT_EQ(xpb::pattern_word(Pattern::checkerboard, 0, 1, false), 0x5555555555555555ull);
  EXPECT_EQ(xpb::pattern_word(Pattern::address, 0, 5, false), 40u);
  EXPECT_EQ(xpb::pattern_word(Pattern::address, 0, 5, true), ~std::uint64_t{40});
  EXPECT_NE(xpb::pattern_word(Pattern::random, 1, 0, false), xpb::pattern_word(Pattern::random, 1, 1, false));
  EXPECT_NE(xpb::pattern_word(Pattern::random, 1, 0, false), xpb::pattern_word(Pattern::random, 2, 0, false));
}

}  // namespace
