// The op catalogue is data: frozen codes, arity, typed attributes, checks, cost models and
// conformance cases, one entry per op.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "xpubench/op_catalogue.hpp"

namespace {

using xpb::DType;
using xpb::Op;
using xpb::TensorRole;

TEST(OpCatalogue, CodesAreFrozenAsThePluginAbiCarriesThem) {
  // Appending is allowed; changing any of these breaks every plugin and result file.
  const std::pair<Op, unsigned> frozen[] = {
      {Op::copy, 1},         {Op::scale, 2},      {Op::add, 3},        {Op::triad, 4},     {Op::read_sum, 5},
      {Op::write_fill, 6},   {Op::chase, 7},      {Op::fill_pattern, 8}, {Op::verify_pattern, 9},
      {Op::embedding, 10},   {Op::rms_norm, 11},  {Op::matmul, 12},    {Op::rope, 13},     {Op::attention, 14},
      {Op::silu_mul, 15},    {Op::argmax, 16},    {Op::gather_rows, 17}, {Op::fma_loop, 18},
      {Op::dac_round, 19},   {Op::analog_readout, 20}, {Op::add_bias, 21}, {Op::read_bytes, 22},
      {Op::layer_norm, 23},  {Op::modulate, 24},  {Op::gated_add, 25}, {Op::gelu, 26},    {Op::silu, 27},
      {Op::cross_attention, 28}, {Op::flow_step, 29}, {Op::unpatchify, 30}, {Op::int8_dot_loop, 31}};
  for (const auto& [op, code] : frozen) {
    EXPECT_EQ(static_cast<unsigned>(op), code);
    EXPECT_EQ(xpb::op_from_code(code), op);
    EXPECT_EQ(xpb::op_def(op).op, op);  // every enumerator has its entry
  }
  EXPECT_EQ(xpb::op_catalogue().size(), std::size(frozen));
  EXPECT_FALSE(xpb::op_from_code(0));
  EXPECT_FALSE(xpb::op_from_code(32));
  EXPECT_FALSE(xpb::op_from_code(65535));
}

TEST(OpCatalogue, DtypeCodesAreFrozenToo) {
  const std::pair<DType, unsigned> frozen[] = {{DType::f64, 1}, {DType::f32, 2}, {DType::f16, 3}, {DType::bf16, 4},
                                               {DType::i8, 5},  {DType::u8, 6},  {DType::i32, 7}, {DType::u32, 8},
                                               {DType::u64, 9}, {DType::q8_0, 10}, {DType::q4_0, 11},
                                               {DType::q4_1, 12}, {DType::q5_0, 13}, {DType::q5_1, 14},
                                               {DType::q2_K, 15}, {DType::q3_K, 16}, {DType::q4_K, 17},
                                               {DType::q5_K, 18}, {DType::q6_K, 19}, {DType::iq4_nl, 20},
                                               {DType::iq4_xs, 21}};
  for (const auto& [t, code] : frozen) {
    EXPECT_EQ(static_cast<unsigned>(t), code);
    EXPECT_EQ(xpb::dtype_from_code(code), t);
    EXPECT_EQ(xpb::parse_dtype(xpb::name(t)), t);
  }
  EXPECT_EQ(xpb::all_dtypes().size(), std::size(frozen));
  EXPECT_FALSE(xpb::dtype_from_code(0));
  EXPECT_FALSE(xpb::dtype_from_code(22));
}

TEST(OpCatalogue, NamesAreUniqueAndParseBack) {
  std::set<std::string_view> names;
  for (const auto& d : xpb::op_catalogue()) {
    EXPECT_TRUE(names.insert(d.name).second) << d.name;
    EXPECT_EQ(xpb::parse_op(d.name), d.op);
    EXPECT_EQ(xpb::name(d.op), d.name);
    EXPECT_FALSE(d.summary.empty());
    EXPECT_FALSE(d.dtypes.empty());
    EXPECT_LE(d.min_inputs, d.max_inputs);
  }
  EXPECT_FALSE(xpb::parse_op("conv2d"));
}

TEST(OpCatalogue, EveryOpHasWellFormedConformanceCases) {
  for (const auto& d : xpb::op_catalogue()) {
    const auto cases = d.conformance();
    EXPECT_FALSE(cases.empty()) << d.name;
    for (const auto& c : cases) {
      EXPECT_EQ(c.op, d.op) << c.name;
      EXPECT_FALSE(c.tolerance.why.empty()) << c.name;
      EXPECT_FALSE(c.outputs.empty()) << c.name;
      EXPECT_EQ(c.dims.size(), c.graph.dims().size()) << c.name;
      const auto err = c.graph.check();
      EXPECT_FALSE(err) << c.name << ": " << *err;
      // A device claims op x dtype pairs from the definition's dtypes (the cpu builds its
      // claims so), so every case must be about one of them.
      EXPECT_NE(std::find(d.dtypes.begin(), d.dtypes.end(), c.dtype), d.dtypes.end()) << c.name;
    }
  }
}

TEST(OpCatalogue, AttributesAreCheckedByNameAndType) {
  auto graph_with = [](xpb::Attrs attrs) {
    xpb::Graph g;
    auto ring = g.add_tensor({"ring", {16, 8}, DType::u64, TensorRole::input, xpb::TensorInit::cycle(1)});
    auto out = g.add_tensor({"out", {1}, DType::u64, TensorRole::output, {}});
    g.add_node(Op::chase, {ring}, {out}, std::move(attrs));
    return g.check();
  };
  EXPECT_FALSE(graph_with({{"steps", std::int64_t{10}}}));
  const auto missing = graph_with({});
  ASSERT_TRUE(missing);
  EXPECT_NE(missing->find("needs the attribute 'steps'"), std::string::npos) << *missing;
  const auto unknown = graph_with({{"steps", std::int64_t{10}}, {"stride", std::int64_t{2}}});
  ASSERT_TRUE(unknown);
  EXPECT_NE(unknown->find("unknown attribute 'stride'"), std::string::npos) << *unknown;
  const auto typed = graph_with({{"steps", std::string("many")}});
  ASSERT_TRUE(typed);
  EXPECT_NE(typed->find("attribute 'steps' expects a integer value"), std::string::npos) << *typed;
}

TEST(OpCatalogue, MatmulCostCountsEveryWeightOnceAndTheLiveRows) {
  xpb::Graph g;
  const auto rows = g.add_dim("rows", 3);
  xpb::TensorDesc xd{"x", {3, 64}, DType::f32, TensorRole::input, {}};
  xd.rows_dim = rows;
  xpb::TensorDesc yd{"y", {3, 40}, DType::f32, TensorRole::output, {}};
  yd.rows_dim = rows;
  const auto x = g.add_tensor(xd);
  const auto w = g.add_tensor({"W", {40, 64}, DType::q8_0, TensorRole::weight, xpb::TensorInit::random(1, 1.0)});
  const auto y = g.add_tensor(yd);
  g.add_node(Op::matmul, {x, w}, {y});
  ASSERT_FALSE(g.check());
  const auto full = xpb::graph_work(g, {});
  EXPECT_DOUBLE_EQ(full.flops, 2.0 * 3 * 40 * 64);
  EXPECT_DOUBLE_EQ(full.bytes_read, 40.0 * 2 * 34 + 3 * 64 * 4);  // q8_0 rows of 2 blocks, then x
  EXPECT_DOUBLE_EQ(full.bytes_written, 3.0 * 40 * 4);
  const std::vector<std::int64_t> one_row{1};
  const auto decode = xpb::graph_work(g, one_row);
  EXPECT_DOUBLE_EQ(decode.flops, 2.0 * 40 * 64);
  EXPECT_DOUBLE_EQ(decode.bytes_read, 40.0 * 2 * 34 + 64 * 4);  // the weights still once
}

TEST(OpCatalogue, StreamCostsFollowStreamsByteCounting) {
  xpb::Graph g;
  auto a = g.add_tensor({"a", {1000}, DType::f64, TensorRole::input, {}});
  auto b = g.add_tensor({"b", {1000}, DType::f64, TensorRole::input, {}});
  auto c = g.add_tensor({"c", {1000}, DType::f64, TensorRole::output, {}});
  g.add_node(Op::triad, {a, b}, {c}, {{"scalar", 3.0}});
  const auto w = xpb::graph_work(g, {});
  EXPECT_DOUBLE_EQ(w.flops, 2000);           // a multiply and an add per element
  EXPECT_DOUBLE_EQ(w.bytes_read, 16000);     // two arrays read
  EXPECT_DOUBLE_EQ(w.bytes_written, 8000);   // one written; write-allocate not counted
}

TEST(Graph, CarriesANameAndAModelIdentity) {
  xpb::Graph g("tiny decoder");
  EXPECT_EQ(g.name(), "tiny decoder");
  g.set_identity(xpb::ModelIdentity::make("llama", "dim=64 layers=2", "q8_0"));
  EXPECT_EQ(g.identity().architecture, "llama");
  EXPECT_EQ(g.identity().fingerprint.rfind("fnv1a64:", 0), 0u);
  EXPECT_EQ(g.identity().fingerprint, xpb::ModelIdentity::make("llama", "dim=64 layers=2", "q8_0").fingerprint);
  EXPECT_NE(g.identity().fingerprint, xpb::ModelIdentity::make("llama", "dim=64 layers=2", "q4_0").fingerprint);
  EXPECT_TRUE(xpb::Graph().identity().empty());
}

TEST(Graph, LiveRowsFollowTheDynamicDimClampedToTheShape) {
  xpb::Graph g;
  const auto d = g.add_dim("rows", 8);
  xpb::TensorDesc t{"x", {8, 4}, DType::f32, TensorRole::activation, {}};
  t.rows_dim = d;
  const auto x = g.add_tensor(t);
  const auto fixed = g.add_tensor({"y", {8, 4}, DType::f32, TensorRole::activation, {}});
  EXPECT_EQ(g.live_rows(x, {}), 8u);
  const std::vector<std::int64_t> three{3}, many{100}, negative{-2};
  EXPECT_EQ(g.live_rows(x, three), 3u);
  EXPECT_EQ(g.live_rows(x, many), 8u);
  EXPECT_EQ(g.live_rows(x, negative), 0u);
  EXPECT_EQ(g.live_rows(fixed, three), 8u);
}

}  // namespace
