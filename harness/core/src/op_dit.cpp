// The diffusion-transformer ops of the catalogue (a Wan2.1-style DiT block, the `video`
// workloads; graph.hpp says what each computes): shapes, costs, and conformance cases at sizes
// that leave vector tails and cross thread boundaries.
#include <cmath>
#include <tuple>

#include "op_families.hpp"

namespace xpb {
namespace {

using opcheck::cols;
using opcheck::live;
using opcheck::Problem;
using opcheck::rows;

double f(std::int64_t v) { return static_cast<double>(v); }

// An f32 tensor of exactly n elements ([n] or [1, n]): a per-column vector.
Problem column_vector(const Graph& g, TensorId id, std::int64_t n, const char* what) {
  const TensorDesc& t = g.tensor(id);
  if (t.dtype != DType::f32 || t.shape.empty() || t.shape.size() > 2 || static_cast<std::int64_t>(t.elements()) != n ||
      (t.shape.size() == 2 && t.shape[0] != 1))
    return "expects " + std::string(what) + " f32 [" + std::to_string(n) + "] or [1, " + std::to_string(n) + "], got " +
           opcheck::describe(g, id);
  return std::nullopt;
}

// x [T, n] f32 and an output of its shape: what every elementwise op here starts with.
Problem same_shape_out(const Graph& g, const Node& n, const char* what) {
  Problem err;
  if ((err = opcheck::matrix(g, n.inputs[0], -1, -1, DType::f32, what)) ||
      (err = opcheck::matrix(g, n.outputs[0], rows(g, n.inputs[0]), cols(g, n.inputs[0]), DType::f32, "an output")))
    return err;
  return std::nullopt;
}

// --- checks -----------------------------------------------------------------------------------

Problem check_layer_norm(const Graph& g, const Node& n) {
  if (n.inputs.size() == 2) return std::string("expects x alone, or x with both a weight and a bias");
  Problem err;
  if ((err = same_shape_out(g, n, "x"))) return err;
  if (n.inputs.size() == 3 &&
      ((err = opcheck::vector_of(g, n.inputs[1], cols(g, n.inputs[0]), DType::f32, "a weight")) ||
       (err = opcheck::vector_of(g, n.inputs[2], cols(g, n.inputs[0]), DType::f32, "a bias"))))
    return err;
  if (!(n.attrs.get_double("eps", 1e-5) > 0)) return std::string("expects a positive 'eps'");
  return std::nullopt;
}

Problem check_modulate(const Graph& g, const Node& n) {
  Problem err;
  if ((err = same_shape_out(g, n, "x")) || (err = column_vector(g, n.inputs[1], cols(g, n.inputs[0]), "a shift")) ||
      (err = column_vector(g, n.inputs[2], cols(g, n.inputs[0]), "a scale")))
    return err;
  return std::nullopt;
}

Problem check_gated_add(const Graph& g, const Node& n) {
  Problem err;
  if ((err = same_shape_out(g, n, "x")) ||
      (err = opcheck::matrix(g, n.inputs[1], rows(g, n.inputs[0]), cols(g, n.inputs[0]), DType::f32, "y")) ||
      (err = column_vector(g, n.inputs[2], cols(g, n.inputs[0]), "a gate")))
    return err;
  return std::nullopt;
}

Problem check_unary(const Graph& g, const Node& n) { return same_shape_out(g, n, "x"); }

Problem check_cross_attention(const Graph& g, const Node& n) {
  const auto heads = n.attrs.get_int("heads", 0), hd = n.attrs.get_int("head_dim", 0);
  if (heads < 1 || hd < 1) return std::string("expects heads and head_dim attributes >= 1");
  const auto s = rows(g, n.inputs[1]);
  Problem err;
  if ((err = opcheck::matrix(g, n.inputs[0], -1, heads * hd, DType::f32, "q")) ||
      (err = opcheck::matrix(g, n.inputs[1], -1, heads * hd, DType::f32, "k")) ||
      (err = opcheck::matrix(g, n.inputs[2], s, heads * hd, DType::f32, "v")) ||
      (err = opcheck::matrix(g, n.outputs[0], rows(g, n.inputs[0]), heads * hd, DType::f32, "an output")))
    return err;
  if (s < 1) return std::string("expects at least one key");
  return std::nullopt;
}

Problem check_flow_step(const Graph& g, const Node& n) {
  Problem err;
  if ((err = same_shape_out(g, n, "x")) ||
      (err = opcheck::matrix(g, n.inputs[1], rows(g, n.inputs[0]), cols(g, n.inputs[0]), DType::f32, "v")) ||
      (err = opcheck::matrix(g, n.inputs[2], rows(g, n.inputs[0]), cols(g, n.inputs[0]), DType::f32, "noise")))
    return err;
  for (const char* a : {"sigma", "sigma_next"}) {
    const double v = n.attrs.get_double(a, -1);
    if (!(v >= 0 && v <= 1)) return "expects '" + std::string(a) + "' in [0, 1]";
  }
  return std::nullopt;
}

Problem check_unpatchify(const Graph& g, const Node& n) {
  std::int64_t v[6];
  const char* names[6] = {"frames", "height", "width", "channels", "patch_h", "patch_w"};
  for (int i = 0; i < 6; ++i)
    if ((v[i] = n.attrs.get_int(names[i], 0)) < 1) return "expects '" + std::string(names[i]) + "' >= 1";
  const auto [fr, h, w, c, ph, pw] = std::tuple{v[0], v[1], v[2], v[3], v[4], v[5]};
  Problem err;
  if ((err = opcheck::matrix(g, n.inputs[0], fr * h * w, ph * pw * c, DType::f32, "tokens"))) return err;
  const TensorDesc& o = g.tensor(n.outputs[0]);
  if (o.dtype != DType::f32 || o.shape != std::vector<std::int64_t>{c, fr, h * ph, w * pw} || o.rows_dim)
    return "expects an output f32 " + opcheck::shape_text({c, fr, h * ph, w * pw}) + ", got " +
           opcheck::describe(g, n.outputs[0]);
  if (g.tensor(n.inputs[0]).rows_dim) return std::string("expects tokens with a fixed number of rows");
  return std::nullopt;
}

// --- costs (per run, over the live rows) --------------------------------------------------------

Work elementwise(const Graph& g, const Node& n, std::span<const std::int64_t> dims, double flops_each, double inputs) {
  const double e = live(g, n.inputs[0], dims) * f(cols(g, n.inputs[0]));
  return {flops_each * e, inputs * e * 4, e * 4};
}

Work layer_norm_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) {
  const double c = f(cols(g, n.inputs[0]));
  // Per element: the mean (an add), the variance (a subtract, a multiply, an add), then
  // subtract and scale, and with an affine a multiply and an add.
  Work w = elementwise(g, n, dims, n.inputs.size() == 3 ? 8 : 6, 1);
  if (n.inputs.size() == 3) w.bytes_read += 2 * c * 4;
  return w;
}

Work modulate_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) {
  Work w = elementwise(g, n, dims, 3, 1);  // an add (1 + scale), a multiply, an add
  w.bytes_read += 2 * f(cols(g, n.inputs[0])) * 4;
  return w;
}

Work gated_add_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) {
  Work w = elementwise(g, n, dims, 2, 2);  // a multiply and an add
  w.bytes_read += f(cols(g, n.inputs[0])) * 4;
  return w;
}

// tanh and the exponential counted as one operation each, as silu_mul counts its exponential.
Work gelu_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) { return elementwise(g, n, dims, 8, 1); }
Work silu_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) { return elementwise(g, n, dims, 3, 1); }
Work flow_step_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) {
  return elementwise(g, n, dims, 5, 3);  // x - sigma v (2), (1 - s') x0 + s' noise (3)
}

Work cross_attention_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) {
  const double t = live(g, n.inputs[0], dims), s = f(rows(g, n.inputs[1]));
  const double heads = f(n.attrs.get_int("heads", 1)), hd = f(n.attrs.get_int("head_dim", 1));
  // Scores and weighted values: 2 MACs per head, key and element; softmax ~3 per score.
  return {t * heads * s * (4 * hd + 3), (t + 2 * s) * heads * hd * 4, t * heads * hd * 4};
}

Work unpatchify_cost(const Graph& g, const Node& n, std::span<const std::int64_t>) {
  const double bytes = static_cast<double>(g.tensor(n.inputs[0]).bytes());
  return {0, bytes, bytes};
}

// --- conformance cases ------------------------------------------------------------------------


ConformanceCase one(Op op, std::string name) {
  ConformanceCase c;
  c.op = op;
  c.dtype = DType::f32;
  c.name = std::move(name);
  return c;
}

std::vector<ConformanceCase> layer_norm_cases() {
  std::vector<ConformanceCase> out;
  for (bool affine : {false, true}) {
    auto c = one(Op::layer_norm, std::string("layer_norm f32 [5, 131]") + (affine ? " with weight and bias" : ""));
    // An offset of 3 under a spread of 1: a one-pass variance in f32 would lose digits here.
    TensorDesc xd = opcase::seeded("x", {5, 131}, DType::f32, 101, 1.0);
    const auto x = c.graph.add_tensor(std::move(xd));
    const auto shifted = c.graph.add_tensor({"x3", {5, 131}, DType::f32, TensorRole::activation, {}});
    const auto three = c.graph.add_tensor({"three", {131}, DType::f32, TensorRole::weight, TensorInit::filled(3.0)});
    c.graph.add_node(Op::add_bias, {x, three}, {shifted});
    std::vector<TensorId> ins{shifted};
    if (affine) {
      ins.push_back(c.graph.add_tensor(opcase::seeded("w", {131}, DType::f32, 102, 1.0, TensorRole::weight)));
      ins.push_back(c.graph.add_tensor(opcase::seeded("b", {131}, DType::f32, 103, 0.5, TensorRole::weight)));
    }
    const auto o = c.graph.add_tensor({"out", {5, 131}, DType::f32, TensorRole::output, {}});
    c.graph.add_node(Op::layer_norm, ins, {o}, Attrs{{"eps", 1e-6}});
    c.outputs = {o};
    c.tolerance = {2e-5, 1e-5, 0, "f32 arithmetic on the device against f64 on ref: a mean and a variance of 131 values"};
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<ConformanceCase> modulate_cases() {
  auto c = one(Op::modulate, "modulate f32 [6, 67] with 4 live rows, in place");
  const DimId d = c.graph.add_dim("rows", 6);
  TensorDesc xd = opcase::seeded("x", {6, 67}, DType::f32, 111, 2.0);
  xd.rows_dim = d;
  xd.role = TensorRole::output;
  const auto x = c.graph.add_tensor(std::move(xd));
  const auto shift = c.graph.add_tensor(opcase::seeded("shift", {1, 67}, DType::f32, 112, 1.0));
  const auto scale = c.graph.add_tensor(opcase::seeded("scale", {67}, DType::f32, 113, 1.0));
  c.graph.add_node(Op::modulate, {x, shift, scale}, {x});
  c.dims = {4};
  c.outputs = {x};
  c.tolerance = {1e-6, 1e-6, 0, "a multiply and two adds per element (a fused multiply-add rounds once less)"};
  std::vector<ConformanceCase> out;
  out.push_back(std::move(c));
  return out;
}

std::vector<ConformanceCase> gated_add_cases() {
  auto c = one(Op::gated_add, "gated_add f32 [5, 67], in place");
  TensorDesc xd = opcase::seeded("x", {5, 67}, DType::f32, 121, 2.0);
  xd.role = TensorRole::output;
  const auto x = c.graph.add_tensor(std::move(xd));
  const auto y = c.graph.add_tensor(opcase::seeded("y", {5, 67}, DType::f32, 122, 2.0));
  const auto gate = c.graph.add_tensor(opcase::seeded("gate", {1, 67}, DType::f32, 123, 1.0));
  c.graph.add_node(Op::gated_add, {x, y, gate}, {x});
  c.outputs = {x};
  c.tolerance = {1e-6, 1e-6, 0, "a multiply and an add per element (a fused multiply-add rounds once less)"};
  std::vector<ConformanceCase> out;
  out.push_back(std::move(c));
  return out;
}

std::vector<ConformanceCase> unary_cases(Op op, const char* nm, std::uint64_t seed) {
  auto c = one(op, std::string(nm) + " f32 [4, 67]");
  // Inputs to +-12: both tails of the curve, where tanh and the exponential saturate.
  const auto x = c.graph.add_tensor(opcase::seeded("x", {4, 67}, DType::f32, seed, 12.0));
  const auto o = c.graph.add_tensor({"out", {4, 67}, DType::f32, TensorRole::output, {}});
  c.graph.add_node(op, {x}, {o});
  c.outputs = {o};
  c.tolerance = {1e-6, 1e-5, 0, "a vectorised tanh or exponential within a few f32 ulps of libm's"};
  std::vector<ConformanceCase> out;
  out.push_back(std::move(c));
  return out;
}
std::vector<ConformanceCase> gelu_cases() { return unary_cases(Op::gelu, "gelu", 131); }
std::vector<ConformanceCase> silu_cases() { return unary_cases(Op::silu, "silu", 132); }

std::vector<ConformanceCase> cross_attention_cases() {
  auto c = one(Op::cross_attention, "cross_attention f32: 3 heads x 16, 7 queries (5 live) over 11 keys");
  Graph& g = c.graph;
  const DimId d = g.add_dim("rows", 7);
  TensorDesc qd = opcase::seeded("q", {7, 48}, DType::f32, 141, 2.0);
  qd.rows_dim = d;
  const auto q = g.add_tensor(std::move(qd));
  const auto k = g.add_tensor(opcase::seeded("k", {11, 48}, DType::f32, 142, 2.0));
  const auto v = g.add_tensor(opcase::seeded("v", {11, 48}, DType::f32, 143, 1.0));
  TensorDesc od{"out", {7, 48}, DType::f32, TensorRole::output, TensorInit::filled(0)};
  od.rows_dim = d;
  const auto o = g.add_tensor(std::move(od));
  g.add_node(Op::cross_attention, {q, k, v}, {o}, Attrs{{"heads", std::int64_t{3}}, {"head_dim", std::int64_t{16}}});
  c.dims = {5};
  c.outputs = {o};
  c.tolerance = {1e-4, 1e-5, 0, "softmax and sums in f32 on the device against f64 on ref"};
  std::vector<ConformanceCase> out;
  out.push_back(std::move(c));
  return out;
}

std::vector<ConformanceCase> flow_step_cases() {
  std::vector<ConformanceCase> out;
  for (double next : {0.625, 0.0}) {
    auto c = one(Op::flow_step, std::string("flow_step f32 [5, 67], sigma 0.8333 to ") + (next == 0 ? "0 (x0)" : "0.625"));
    const auto x = c.graph.add_tensor(opcase::seeded("x", {5, 67}, DType::f32, 151, 1.0));
    const auto v = c.graph.add_tensor(opcase::seeded("v", {5, 67}, DType::f32, 152, 1.0));
    const auto noise = c.graph.add_tensor(opcase::seeded("noise", {5, 67}, DType::f32, 153, 1.0));
    const auto o = c.graph.add_tensor({"out", {5, 67}, DType::f32, TensorRole::output, {}});
    c.graph.add_node(Op::flow_step, {x, v, noise}, {o}, Attrs{{"sigma", 0.8333}, {"sigma_next", next}});
    c.outputs = {o};
    c.tolerance = {1e-6, 1e-6, 0, "four multiplies and adds per element in f32 against f64"};
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<ConformanceCase> unpatchify_cases() {
  auto c = one(Op::unpatchify, "unpatchify f32: 2 frames of 3 x 5 patches of 2 x 2, 3 channels");
  const auto x = c.graph.add_tensor(opcase::seeded("tokens", {30, 12}, DType::f32, 161, 1.0));
  const auto o = c.graph.add_tensor({"frames", {3, 2, 6, 10}, DType::f32, TensorRole::output, {}});
  c.graph.add_node(Op::unpatchify, {x}, {o},
                   Attrs{{"frames", std::int64_t{2}}, {"height", std::int64_t{3}}, {"width", std::int64_t{5}},
                         {"channels", std::int64_t{3}}, {"patch_h", std::int64_t{2}}, {"patch_w", std::int64_t{2}}});
  c.outputs = {o};
  c.tolerance = {0, 0, 0, "values are moved, not computed: exact"};
  std::vector<ConformanceCase> out;
  out.push_back(std::move(c));
  return out;
}

const std::vector<DType> kF32 = {DType::f32};

}  // namespace

std::vector<OpDef> dit_op_defs() {
  const AttrDef eps{"eps", AttrType::real, false, "added to the variance (default 1e-5)"};
  return {
      {Op::layer_norm, "layer_norm", OpFamily::transformer, "out[t] = (x[t] - mean) / sqrt(var + eps) (* w + b)", 1, 3,
       1, {eps}, kF32, check_layer_norm, layer_norm_cost, layer_norm_cases},
      {Op::modulate, "modulate", OpFamily::transformer, "adaLN: out = x * (1 + scale) + shift, per column", 3, 3, 1, {},
       kF32, check_modulate, modulate_cost, modulate_cases},
      {Op::gated_add, "gated_add", OpFamily::transformer, "gated residual: out = x + gate * y, per column", 3, 3, 1, {},
       kF32, check_gated_add, gated_add_cost, gated_add_cases},
      {Op::gelu, "gelu", OpFamily::transformer, "GELU, tanh form (Wan's FFN)", 1, 1, 1, {}, kF32, check_unary, gelu_cost,
       gelu_cases},
      {Op::silu, "silu", OpFamily::transformer, "out = x / (1 + e^-x)", 1, 1, 1, {}, kF32, check_unary, silu_cost,
       silu_cases},
      {Op::cross_attention, "cross_attention", OpFamily::transformer,
       "full multi-head attention of queries over fixed keys and values (text cross-attention)", 3, 3, 1,
       {{"heads", AttrType::integer, true, "heads"},
        {"head_dim", AttrType::integer, true, "elements per head"},
        {"scale", AttrType::real, false, "score scale (default 1/sqrt(head_dim))"}},
       kF32, check_cross_attention, cross_attention_cost, cross_attention_cases},
      {Op::flow_step, "flow_step", OpFamily::transformer,
       "flow-matching step: out = (1 - sigma_next) (x - sigma v) + sigma_next noise", 3, 3, 1,
       {{"sigma", AttrType::real, true, "this pass's noise level, 0..1"},
        {"sigma_next", AttrType::real, true, "the next pass's noise level, 0..1 (0: the clean estimate)"}},
       kF32, check_flow_step, flow_step_cost, flow_step_cases},
      {Op::unpatchify, "unpatchify", OpFamily::transformer, "patch tokens back to latent frames [C, F, H, W]", 1, 1, 1,
       {{"frames", AttrType::integer, true, "latent frames"},
        {"height", AttrType::integer, true, "patch rows per frame"},
        {"width", AttrType::integer, true, "patch columns per frame"},
        {"channels", AttrType::integer, true, "latent channels"},
        {"patch_h", AttrType::integer, true, "patch height"},
        {"patch_w", AttrType::integer, true, "patch width"}},
       kF32, check_unpatchify, unpatchify_cost, unpatchify_cases},
  };
}

}  // namespace xpb
