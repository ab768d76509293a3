// The transformer ops of the catalogue (a Llama decoder, DESIGN.md §3): shapes, costs, and
// conformance cases at sizes that cross block, vector and thread boundaries.
#include <cmath>

#include "op_families.hpp"
#include "xpubench/gguf_blocks.hpp"

namespace xpb {
namespace {

using opcheck::cols;
using opcheck::live;
using opcheck::elem_bytes;
using opcheck::Problem;
using opcheck::rows;

double f(std::int64_t v) { return static_cast<double>(v); }
// Bytes of one row of a weight (whole blocks).
double row_bytes(const Graph& g, TensorId id) {
  return static_cast<double>(storage_bytes(g.tensor(id).dtype, static_cast<std::size_t>(cols(g, id))));
}

// --- checks -----------------------------------------------------------------------------------

Problem check_embedding(const Graph& g, const Node& n) {
  Problem err;
  if ((err = opcheck::weight(g, n.inputs[0], "a table")) ||
      (err = opcheck::vector_of(g, n.inputs[1], -1, DType::i32, "token ids")) ||
      (err = opcheck::matrix(g, n.outputs[0], rows(g, n.inputs[1]), cols(g, n.inputs[0]), DType::f32, "an output")))
    return err;
  return std::nullopt;
}

Problem check_rms_norm(const Graph& g, const Node& n) {
  Problem err;
  if ((err = opcheck::matrix(g, n.inputs[0], -1, -1, DType::f32, "x")) ||
      (err = opcheck::vector_of(g, n.inputs[1], cols(g, n.inputs[0]), DType::f32, "a weight")) ||
      (err = opcheck::matrix(g, n.outputs[0], rows(g, n.inputs[0]), cols(g, n.inputs[0]), DType::f32, "an output")))
    return err;
  if (!(n.attrs.get_double("eps", 1e-5) > 0)) return std::string("expects a positive 'eps'");
  return std::nullopt;
}

Problem check_matmul(const Graph& g, const Node& n) {
  Problem err;
  if ((err = opcheck::weight(g, n.inputs[1], "a weight")) ||
      (err = opcheck::matrix(g, n.inputs[0], -1, cols(g, n.inputs[1]), DType::f32, "x")) ||
      (err = opcheck::matrix(g, n.outputs[0], rows(g, n.inputs[0]), rows(g, n.inputs[1]), DType::f32, "an output")))
    return err;
  return std::nullopt;
}

Problem check_rope(const Graph& g, const Node& n) {
  const auto hd = n.attrs.get_int("head_dim", 0);
  if (hd < 2 || hd % 2 != 0) return std::string("expects an even 'head_dim' attribute");
  if (!(n.attrs.get_double("theta", 0.0) > 0)) return std::string("expects a positive 'theta' attribute");
  Problem err;
  if ((err = opcheck::matrix(g, n.inputs[0], -1, -1, DType::f32, "x"))) return err;
  if (cols(g, n.inputs[0]) % hd != 0) return std::string("x columns are not whole heads of head_dim");
  if ((err = opcheck::vector_of(g, n.inputs[1], rows(g, n.inputs[0]), DType::i32, "positions")) ||
      (n.inputs.size() == 3 && (err = opcheck::vector_of(g, n.inputs[2], hd / 2, DType::f32, "frequency factors"))) ||
      (err = opcheck::matrix(g, n.outputs[0], rows(g, n.inputs[0]), cols(g, n.inputs[0]), DType::f32, "an output")))
    return err;
  return std::nullopt;
}

Problem check_attention(const Graph& g, const Node& n) {
  const auto heads = n.attrs.get_int("heads", 0), kv_heads = n.attrs.get_int("kv_heads", 0),
             hd = n.attrs.get_int("head_dim", 0);
  if (heads < 1 || kv_heads < 1 || hd < 1 || heads % kv_heads != 0)
    return std::string("expects heads, kv_heads (dividing heads) and head_dim attributes >= 1");
  if (n.attrs.get_int("chunk", 1) < 1) return std::string("expects 'chunk' >= 1");
  if (n.attrs.has("context_dim") &&
      (n.attrs.get_int("context_dim", -1) < 0 || static_cast<std::size_t>(n.attrs.get_int("context_dim", -1)) >= g.dims().size()))
    return std::string("'context_dim' names no dynamic dim of the graph");
  const auto t = rows(g, n.inputs[0]);
  Problem err;
  if ((err = opcheck::matrix(g, n.inputs[0], -1, heads * hd, DType::f32, "q")) ||
      (err = opcheck::matrix(g, n.inputs[1], t, kv_heads * hd, DType::f32, "k")) ||
      (err = opcheck::matrix(g, n.inputs[2], t, kv_heads * hd, DType::f32, "v")) ||
      (err = opcheck::vector_of(g, n.inputs[3], t, DType::i32, "positions")) ||
      (err = opcheck::vector_of(g, n.inputs[4], t, DType::i32, "sequence ids")) ||
      (err = opcheck::matrix(g, n.outputs[0], t, heads * hd, DType::f32, "an output")))
    return err;
  for (std::size_t c = 5; c <= 6; ++c) {
    const TensorDesc& cache = g.tensor(n.inputs[c]);
    const TensorDesc& first = g.tensor(n.inputs[5]);
    if ((cache.dtype != DType::f32 && cache.dtype != DType::f16) || cache.shape.size() != 3 || cache.shape[0] < 1 ||
        cache.shape[1] < 1 || cache.shape[2] != kv_heads * hd || cache.shape != first.shape || cache.dtype != first.dtype)
      return "expects k and v caches f32 or f16 [slots, context, " + std::to_string(kv_heads * hd) + "] alike, got " +
             opcheck::describe(g, n.inputs[c]);
  }
  if (n.attrs.get_bool("ring", false) && g.tensor(n.inputs[5]).shape[1] % n.attrs.get_int("chunk", 1) != 0)
    return "expects 'chunk' to divide the cache's " + std::to_string(g.tensor(n.inputs[5]).shape[1]) +
           " positions when the cache is a ring";
  return std::nullopt;
}

Problem check_silu_mul(const Graph& g, const Node& n) {
  Problem err;
  if ((err = opcheck::matrix(g, n.inputs[0], -1, -1, DType::f32, "a gate")) ||
      (err = opcheck::matrix(g, n.inputs[1], rows(g, n.inputs[0]), cols(g, n.inputs[0]), DType::f32, "an up projection")) ||
      (err = opcheck::matrix(g, n.outputs[0], rows(g, n.inputs[0]), cols(g, n.inputs[0]), DType::f32, "an output")))
    return err;
  return std::nullopt;
}

Problem check_add_bias(const Graph& g, const Node& n) {
  Problem err;
  if ((err = opcheck::matrix(g, n.inputs[0], -1, -1, DType::f32, "x")) ||
      (err = opcheck::vector_of(g, n.inputs[1], cols(g, n.inputs[0]), DType::f32, "a bias")) ||
      (err = opcheck::matrix(g, n.outputs[0], rows(g, n.inputs[0]), cols(g, n.inputs[0]), DType::f32, "an output")))
    return err;
  return std::nullopt;
}

Problem check_argmax(const Graph& g, const Node& n) {
  Problem err;
  if ((err = opcheck::matrix(g, n.inputs[0], -1, -1, DType::f32, "scores")) ||
      (err = opcheck::vector_of(g, n.outputs[0], rows(g, n.inputs[0]), DType::i32, "an output")))
    return err;
  return std::nullopt;
}

Problem check_gather_rows(const Graph& g, const Node& n) {
  Problem err;
  if ((err = opcheck::matrix(g, n.inputs[0], -1, -1, DType::f32, "x")) ||
      (err = opcheck::vector_of(g, n.inputs[1], -1, DType::i32, "row indices")) ||
      (err = opcheck::matrix(g, n.outputs[0], rows(g, n.inputs[1]), cols(g, n.inputs[0]), DType::f32, "an output")))
    return err;
  return std::nullopt;
}

// --- costs (per run, over the live rows) --------------------------------------------------------

Work embedding_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) {
  const double t = live(g, n.outputs[0], dims);
  return {0, t * (row_bytes(g, n.inputs[0]) + 4), t * f(cols(g, n.inputs[0])) * 4};
}

Work rms_norm_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) {
  const double t = live(g, n.inputs[0], dims), c = f(cols(g, n.inputs[0]));
  // Per element: square and add (the mean), scale and weight.
  return {4 * t * c, (t + 1) * c * 4, t * c * 4};
}

Work matmul_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) {
  const double t = live(g, n.inputs[0], dims), k = f(cols(g, n.inputs[1])), rows_w = f(rows(g, n.inputs[1]));
  // Every weight once, whatever the rows (a device that streams it per row still must read it once).
  return {2 * t * rows_w * k, rows_w * row_bytes(g, n.inputs[1]) + t * k * 4, t * rows_w * 4};
}

Work rope_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) {
  const double t = live(g, n.inputs[0], dims), c = f(cols(g, n.inputs[0]));
  const double factors = n.inputs.size() == 3 ? f(n.attrs.get_int("head_dim", 2)) / 2 * 4 : 0;
  // A rotation of each pair: four multiplies and two adds (the angles' sines and cosines aside).
  return {3 * t * c, t * (c + 1) * 4 + factors, t * c * 4};
}

Work attention_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) {
  const double t = live(g, n.inputs[0], dims);
  const auto& cache = g.tensor(n.inputs[5]);
  const double heads = f(n.attrs.get_int("heads", 1)), hd = f(n.attrs.get_int("head_dim", 1));
  const double kv_width = f(cache.shape[2]), slots = f(cache.shape[0]);
  // Positions attended: the step's bound when the graph gives one (one more than its largest
  // position), else the whole cache: an upper bound either way, as rows of one chunk attend
  // fewer positions than its last row.
  double context = f(cache.shape[1]);
  if (n.attrs.has("context_dim")) {
    const auto d = static_cast<std::size_t>(n.attrs.get_int("context_dim", 0));
    if (d < dims.size()) context = std::min(context, f(std::max<std::int64_t>(0, dims[d])));
  }
  const double e = elem_bytes(cache.dtype);
  // Scores and weighted values: 2 MACs per head, position and element; softmax ~3 per score.
  const double flops = t * heads * context * (4 * hd + 3);
  // q, k, v, positions and sequence ids, and the caches of at most min(rows, slots) sequences.
  const double reads = t * (heads * hd + 2 * kv_width) * 4 + t * 8 + std::min(t, slots) * context * kv_width * 2 * e;
  const double writes = t * heads * hd * 4 + t * kv_width * 2 * e;
  return {flops, reads, writes};
}

Work silu_mul_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) {
  const double e = live(g, n.inputs[0], dims) * f(cols(g, n.inputs[0]));
  // x / (1 + exp(-x)) * y: an exponential (counted as one), an add, a divide, a multiply.
  return {4 * e, 2 * e * 4, e * 4};
}

Work add_bias_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) {
  const double t = live(g, n.inputs[0], dims), c = f(cols(g, n.inputs[0]));
  return {t * c, (t + 1) * c * 4, t * c * 4};
}

Work argmax_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) {
  const double t = live(g, n.inputs[0], dims), c = f(cols(g, n.inputs[0]));
  return {t * c, t * c * 4, t * 4};
}

Work gather_rows_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) {
  const double r = live(g, n.outputs[0], dims), c = f(cols(g, n.inputs[0]));
  return {0, r * (c * 4 + 4), r * c * 4};
}

// --- conformance cases ------------------------------------------------------------------------

// Every weight format: the float types and every GGUF block format.
std::vector<DType> weight_dtypes() {
  std::vector<DType> out;
  for (DType t : all_dtypes())
    if (is_weight_dtype(t)) out.push_back(t);
  return out;
}

// `cols` rounded up to whole blocks of `t` (256 values for the K-quants).
std::int64_t whole_blocks(std::int64_t cols, DType t) {
  const auto b = static_cast<std::int64_t>(traits(t).block_elements);
  return (cols + b - 1) / b * b;
}

Tolerance f32_sums(const char* what) {
  return {1e-5, 1e-5, 0, std::string("f32 arithmetic on the device against f64 on ref: ") + what};
}

TensorId i32_input(Graph& g, const char* nm, std::vector<std::int32_t> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return g.add_tensor({nm, {n}, DType::i32, TensorRole::input, TensorInit::values(std::move(v))});
}

std::vector<ConformanceCase> embedding_cases() {
  std::vector<ConformanceCase> out;
  for (DType t : weight_dtypes()) {
    ConformanceCase c;
    c.op = Op::embedding;
    c.dtype = t;
    const std::int64_t dim = whole_blocks(64, t);
    c.name = "embedding " + std::string(name(t)) + " table[50, " + std::to_string(dim) + "]";
    const auto table = c.graph.add_tensor(opcase::seeded("table", {50, dim}, t, 21, 1.0, TensorRole::weight));
    const auto ids = i32_input(c.graph, "ids", {0, 49, 7, 7, 23});
    const auto o = c.graph.add_tensor({"out", {5, dim}, DType::f32, TensorRole::output, {}});
    c.graph.add_node(Op::embedding, {table, ids}, {o});
    c.outputs = {o};
    c.tolerance = {0, 1e-7, 0, "rows are decoded from the same stored blocks: a scale times an integer, exact"};
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<ConformanceCase> rms_norm_cases() {
  ConformanceCase c;
  c.op = Op::rms_norm;
  c.dtype = DType::f32;
  c.name = "rms_norm f32 [5, 96]";
  const auto x = c.graph.add_tensor(opcase::seeded("x", {5, 96}, DType::f32, 31, 2.0));
  const auto w = c.graph.add_tensor(opcase::seeded("w", {96}, DType::f32, 32, 1.0, TensorRole::weight));
  const auto o = c.graph.add_tensor({"out", {5, 96}, DType::f32, TensorRole::output, {}});
  c.graph.add_node(Op::rms_norm, {x, w}, {o}, Attrs{{"eps", 1e-5}});
  c.outputs = {o};
  c.tolerance = f32_sums("a mean of 96 squares");
  std::vector<ConformanceCase> out;
  out.push_back(std::move(c));
  return out;
}

std::vector<ConformanceCase> matmul_cases() {
  std::vector<ConformanceCase> out;
  struct Shape {
    std::int64_t rows, k, n, live;  // live < rows: dynamic rows
  };
  // GEMV (decode), a small GEMM with a tail of weight rows, dynamic rows of a larger one, and
  // a GEMM of more rows than a register tile with tails everywhere (13 rows, k past one block
  // of 256, 37 columns: not whole panels). (Rows of the K-quants are whole super-blocks.)
  for (const Shape shape : {Shape{1, 96, 40, 1}, Shape{5, 256, 37, 5}, Shape{8, 64, 48, 5}, Shape{13, 300, 37, 13}})
    for (DType t : weight_dtypes()) {
      Shape s = shape;
      s.k = whole_blocks(s.k, t);
      ConformanceCase c;
      c.op = Op::matmul;
      c.dtype = t;
      c.name = "matmul " + std::string(name(t)) + " x[" + std::to_string(s.rows) + ", " + std::to_string(s.k) + "] W[" +
               std::to_string(s.n) + ", " + std::to_string(s.k) + "]" +
               (s.live < s.rows ? " with " + std::to_string(s.live) + " live rows" : "");
      TensorDesc xd = opcase::seeded("x", {s.rows, s.k}, DType::f32, 41, 1.0);
      TensorDesc od{"out", {s.rows, s.n}, DType::f32, TensorRole::output, TensorInit::filled(0)};
      if (s.live < s.rows) {
        const DimId d = c.graph.add_dim("rows", s.rows);
        xd.rows_dim = od.rows_dim = d;
        c.dims = {s.live};
      }
      const auto x = c.graph.add_tensor(std::move(xd));
      const auto w = c.graph.add_tensor(
          opcase::seeded("W", {s.n, s.k}, t, 42, std::sqrt(3.0 / static_cast<double>(s.k)), TensorRole::weight));
      const auto o = c.graph.add_tensor(std::move(od));
      c.graph.add_node(Op::matmul, {x, w}, {o});
      c.outputs = {o};
      if (is_block_quantized(t))
        // Observed on the cpu driver: RMS error 0.3-0.6% of the outputs' RMS with Q8_0
        // activations; with Q8_K's one scale per 256 values, up to about 1%.
        c.tolerance = {0.1, 0, 0.02,
                       "the device may round activations to Q8_0 or Q8_K before an integer dot product "
                       "(llama.cpp's method; ref does not): 0.3-1% of the output RMS, bounded at 2%"};
      else if (t == DType::f16)
        // x uniform in [-1, 1) rounded to f16 (unit roundoff 2^-11): about 2^-11 / 3 of the
        // output RMS over any k; 1e-3 is four times that and far below any real fault.
        c.tolerance = {2e-3, 0, 1e-3,
                       "the device may round activations to f16 before multiplying f16 weights (llama.cpp's "
                       "method; ref does not): about 0.02% of the output RMS, bounded at 0.1%"};
      else
        c.tolerance = f32_sums("dot products of up to 256 terms");
      out.push_back(std::move(c));
    }
  return out;
}

std::vector<ConformanceCase> rope_cases() {
  std::vector<ConformanceCase> out;
  for (bool factors : {false, true}) {
    ConformanceCase c;
    c.op = Op::rope;
    c.dtype = DType::f32;
    c.name = std::string("rope f32 [3, 2 heads x 16]") + (factors ? " with frequency factors" : "");
    const auto x = c.graph.add_tensor(opcase::seeded("x", {3, 32}, DType::f32, 51, 1.0));
    const auto pos = i32_input(c.graph, "positions", {0, 5, 1000});
    std::vector<TensorId> ins{x, pos};
    if (factors) {
      std::vector<float> fac(8);
      for (std::size_t i = 0; i < fac.size(); ++i) fac[i] = 1.0f + static_cast<float>(i);
      ins.push_back(c.graph.add_tensor({"factors", {8}, DType::f32, TensorRole::weight, TensorInit::values(fac)}));
    }
    const auto o = c.graph.add_tensor({"out", {3, 32}, DType::f32, TensorRole::output, {}});
    c.graph.add_node(Op::rope, ins, {o}, Attrs{{"head_dim", std::int64_t{16}}, {"theta", 10000.0}});
    c.outputs = {o};
    c.tolerance = {1e-4, 1e-5, 0,
                   "angles up to 1000 radians in f32 on the device against f64 on ref: about 1000 x 2^-24 of phase"};
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<ConformanceCase> attention_cases() {
  std::vector<ConformanceCase> out;
  for (DType cache_t : {DType::f32, DType::f16}) {
    ConformanceCase c;
    c.op = Op::attention;
    c.dtype = cache_t;
    c.name = "attention " + std::string(name(cache_t)) + " cache: 4 heads, 2 kv heads, head 16, 2 slots x 16";
    Graph& g = c.graph;
    const auto q = g.add_tensor(opcase::seeded("q", {6, 64}, DType::f32, 61, 1.0));
    const auto k = g.add_tensor(opcase::seeded("k", {6, 32}, DType::f32, 62, 1.0));
    const auto v = g.add_tensor(opcase::seeded("v", {6, 32}, DType::f32, 63, 1.0));
    // Two sequences interleaved; the last row's sequence is outside the cache (output zeros).
    const auto pos = i32_input(g, "positions", {0, 1, 0, 2, 1, 0});
    const auto seq = i32_input(g, "sequences", {0, 0, 1, 0, 1, 7});
    const auto kc = g.add_tensor({"k_cache", {2, 16, 32}, cache_t, TensorRole::state, TensorInit::filled(0)});
    const auto vc = g.add_tensor({"v_cache", {2, 16, 32}, cache_t, TensorRole::state, TensorInit::filled(0)});
    const auto o = g.add_tensor({"out", {6, 64}, DType::f32, TensorRole::output, {}});
    g.add_node(Op::attention, {q, k, v, pos, seq, kc, vc}, {o},
               Attrs{{"heads", std::int64_t{4}}, {"kv_heads", std::int64_t{2}}, {"head_dim", std::int64_t{16}}});
    c.outputs = {o, kc, vc};
    c.tolerance = {1e-4, 1e-5, 0,
                   cache_t == DType::f16
                       ? "keys and values stored as f16 on both sides; softmax and sums in f32 against f64"
                       : "softmax and sums in f32 on the device against f64 on ref"};
    out.push_back(std::move(c));
  }
  for (DType cache_t : {DType::f32, DType::f16}) {
    // A rolling window by chunks (the video DiT's self-attention): a ring of 8 positions in
    // chunks of 4, holding seeded values from earlier runs. Rows of chunk 2 (positions 8-11)
    // wrap to slots 0-3 and see positions 4-11; rows of chunk 3 (13 and 12, out of order)
    // store at slots 5 and 4 and see positions 8-15, of which 14 and 15 hold what the ring
    // held; the last row's position is negative: zeros.
    ConformanceCase c;
    c.op = Op::attention;
    c.dtype = cache_t;
    c.name = "attention " + std::string(name(cache_t)) + " cache, ring of 8 in chunks of 4: 2 heads, head 16";
    Graph& g = c.graph;
    const auto q = g.add_tensor(opcase::seeded("q", {7, 32}, DType::f32, 64, 1.0));
    const auto k = g.add_tensor(opcase::seeded("k", {7, 32}, DType::f32, 65, 1.0));
    const auto v = g.add_tensor(opcase::seeded("v", {7, 32}, DType::f32, 66, 1.0));
    const auto pos = i32_input(g, "positions", {8, 9, 10, 11, 13, 12, -1});
    const auto seq = i32_input(g, "sequences", {0, 0, 0, 0, 0, 0, 0});
    const auto kc = g.add_tensor(opcase::seeded("k_cache", {1, 8, 32}, cache_t, 67, 1.0, TensorRole::state));
    const auto vc = g.add_tensor(opcase::seeded("v_cache", {1, 8, 32}, cache_t, 68, 1.0, TensorRole::state));
    const auto o = g.add_tensor({"out", {7, 32}, DType::f32, TensorRole::output, {}});
    g.add_node(Op::attention, {q, k, v, pos, seq, kc, vc}, {o},
               Attrs{{"heads", std::int64_t{2}}, {"kv_heads", std::int64_t{2}}, {"head_dim", std::int64_t{16}},
                     {"chunk", std::int64_t{4}}, {"ring", true}});
    c.outputs = {o, kc, vc};
    c.tolerance = {1e-4, 1e-5, 0, "softmax and sums in f32 on the device against f64 on ref"};
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<ConformanceCase> silu_mul_cases() {
  ConformanceCase c;
  c.op = Op::silu_mul;
  c.dtype = DType::f32;
  c.name = "silu_mul f32 [4, 67]";
  // Gates to +-12, where silu's exponential spans 10^5; 67 columns leave a vector tail.
  const auto gate = c.graph.add_tensor(opcase::seeded("gate", {4, 67}, DType::f32, 71, 12.0));
  const auto up = c.graph.add_tensor(opcase::seeded("up", {4, 67}, DType::f32, 72, 1.0));
  const auto o = c.graph.add_tensor({"out", {4, 67}, DType::f32, TensorRole::output, {}});
  c.graph.add_node(Op::silu_mul, {gate, up}, {o});
  c.outputs = {o};
  c.tolerance = {1e-6, 1e-5, 0, "a vectorised exponential within a few f32 ulps of libm's"};
  std::vector<ConformanceCase> out;
  out.push_back(std::move(c));
  return out;
}

std::vector<ConformanceCase> add_bias_cases() {
  ConformanceCase c;
  c.op = Op::add_bias;
  c.dtype = DType::f32;
  c.name = "add_bias f32 [5, 67] with 3 live rows, in place";
  const DimId d = c.graph.add_dim("rows", 5);
  TensorDesc xd = opcase::seeded("x", {5, 67}, DType::f32, 75, 2.0);
  xd.rows_dim = d;
  xd.role = TensorRole::output;  // written in place: the output is x itself
  const auto x = c.graph.add_tensor(std::move(xd));
  const auto b = c.graph.add_tensor(opcase::seeded("b", {67}, DType::f32, 76, 1.0, TensorRole::weight));
  c.graph.add_node(Op::add_bias, {x, b}, {x});
  c.dims = {3};
  c.outputs = {x};
  c.tolerance = {0, 0, 0, "one f32 addition per element: exact"};
  std::vector<ConformanceCase> out;
  out.push_back(std::move(c));
  return out;
}

std::vector<ConformanceCase> argmax_cases() {
  ConformanceCase c;
  c.op = Op::argmax;
  c.dtype = DType::f32;
  c.name = "argmax f32 [3, 50]";
  const auto x = c.graph.add_tensor(opcase::seeded("scores", {3, 50}, DType::f32, 81, 5.0));
  const auto o = c.graph.add_tensor({"out", {3}, DType::i32, TensorRole::output, {}});
  c.graph.add_node(Op::argmax, {x}, {o});
  c.outputs = {o};
  c.tolerance = {0, 0, 0, "indices are exact"};
  std::vector<ConformanceCase> out;
  out.push_back(std::move(c));
  return out;
}

std::vector<ConformanceCase> gather_rows_cases() {
  ConformanceCase c;
  c.op = Op::gather_rows;
  c.dtype = DType::f32;
  c.name = "gather_rows f32 [6, 32] by [5, 0, 7, 2]";
  const auto x = c.graph.add_tensor(opcase::seeded("x", {6, 32}, DType::f32, 91, 1.0));
  const auto idx = i32_input(c.graph, "rows", {5, 0, 7, 2});  // 7 is outside: zeros
  const auto o = c.graph.add_tensor({"out", {4, 32}, DType::f32, TensorRole::output, {}});
  c.graph.add_node(Op::gather_rows, {x, idx}, {o});
  c.outputs = {o};
  c.tolerance = {0, 0, 0, "rows are copied"};
  std::vector<ConformanceCase> out;
  out.push_back(std::move(c));
  return out;
}

const std::vector<DType> kF32 = {DType::f32};
const std::vector<DType> kCaches = {DType::f32, DType::f16};

}  // namespace

std::vector<OpDef> transformer_op_defs() {
  return {
      {Op::embedding, "embedding", OpFamily::transformer, "out[t] = row ids[t] of the table, as f32", 2, 2, 1, {},
       weight_dtypes(), check_embedding, embedding_cost, embedding_cases},
      {Op::rms_norm, "rms_norm", OpFamily::transformer, "out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w", 2, 2, 1,
       {{"eps", AttrType::real, false, "added to the mean square (default 1e-5)"}}, kF32, check_rms_norm, rms_norm_cost,
       rms_norm_cases},
      {Op::matmul, "matmul", OpFamily::linear_algebra, "out[t][j] = sum_k x[t][k] * W[j][k] (GEMV for one row)", 2, 2,
       1, {}, weight_dtypes(), check_matmul, matmul_cost, matmul_cases},
      {Op::rope, "rope", OpFamily::transformer, "rotary position embedding of adjacent pairs, by position and frequency", 2,
       3, 1,
       {{"head_dim", AttrType::integer, true, "elements per head (even)"},
        {"theta", AttrType::real, true, "frequency base"}},
       kF32, check_rope, rope_cost, rope_cases},
      {Op::attention, "attention", OpFamily::transformer,
       "causal (or chunk-causal) grouped-query attention; stores k, v into the KV cache at each row's sequence and "
       "position (or ring slot)",
       7, 7, 1,
       {{"heads", AttrType::integer, true, "query heads"},
        {"kv_heads", AttrType::integer, true, "key/value heads (dividing heads)"},
        {"head_dim", AttrType::integer, true, "elements per head"},
        {"scale", AttrType::real, false, "score scale (default 1/sqrt(head_dim))"},
        {"chunk", AttrType::integer, false, "positions per causal block (default 1: token-causal)"},
        {"ring", AttrType::boolean, false, "the cache holds the last `context` positions as a ring (default false)"},
        {"context_dim", AttrType::integer, false,
         "a dynamic dim bounding the positions attended this run (cost model only)"}},
       kCaches, check_attention, attention_cost, attention_cases},
      {Op::silu_mul, "silu_mul", OpFamily::transformer, "out = silu(in0) * in1 (SwiGLU)", 2, 2, 1, {}, kF32,
       check_silu_mul, silu_mul_cost, silu_mul_cases},
      {Op::argmax, "argmax", OpFamily::transformer, "out[t] = index of the largest value of in0[t]", 1, 1, 1, {}, kF32,
       check_argmax, argmax_cost, argmax_cases},
      {Op::gather_rows, "gather_rows", OpFamily::transformer, "out[r] = in0[idx[r]] (zeros outside the live rows)", 2, 2,
       1, {}, kF32, check_gather_rows, gather_rows_cost, gather_rows_cases},
      {Op::add_bias, "add_bias", OpFamily::transformer, "out[t][j] = x[t][j] + b[j] (Qwen2's Q/K/V biases)", 2, 2, 1,
       {}, kF32, check_add_bias, add_bias_cost, add_bias_cases},
  };
}

}  // namespace xpb
