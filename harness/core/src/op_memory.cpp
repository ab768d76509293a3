// The memory ops of the catalogue: STREAM's kernels, read-only and write-only sweeps, the
// pointer chase, and the capacity-test patterns. Bytes are counted as the op moves them
// (STREAM's convention: a write-allocate read of the destination is not counted).
#include <cmath>
#include <limits>

#include "op_families.hpp"

namespace xpb {
namespace {

using opcheck::Problem;

bool is_float(DType t) { return t == DType::f32 || t == DType::f64; }

// Elements of tensor `id` in its live rows.
double live_elements(const Graph& g, TensorId id, std::span<const std::int64_t> dims) {
  const auto& t = g.tensor(id);
  if (t.shape.empty() || t.shape[0] == 0) return static_cast<double>(t.elements());
  const double per_row = static_cast<double>(t.elements()) / static_cast<double>(t.shape[0]);
  return per_row * static_cast<double>(g.live_rows(id, dims));
}

// Every input of the same shape and dtype as the output, which is f32 or f64.
Problem same_as_out(const Graph& g, const Node& n) {
  if (auto p = opcheck::vector_width(n)) return p;
  const TensorDesc& out = g.tensor(n.outputs[0]);
  if (!is_float(out.dtype)) return "expects f32 or f64 tensors, output is " + std::string(name(out.dtype));
  for (auto id : n.inputs) {
    const TensorDesc& in = g.tensor(id);
    if (in.dtype != out.dtype || in.shape != out.shape)
      return "input " + opcheck::describe(g, id) + " differs from output " + opcheck::describe(g, n.outputs[0]);
  }
  return std::nullopt;
}

Problem pattern_ok(const Node& n) {
  const auto p = n.attrs.get_string("pattern", "");
  if (!parse_pattern(p)) return "unknown pattern '" + p + "'";
  return std::nullopt;
}

bool is_u64(const Graph& g, TensorId id) { return g.tensor(id).dtype == DType::u64; }

// --- costs ------------------------------------------------------------------------------------

// Elementwise kernels: `reads` input arrays, one output, `flops` per element.
template <int Reads, int Flops>
Work stream_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) {
  const double elems = live_elements(g, n.outputs[0], dims);
  const double e = opcheck::elem_bytes(g.tensor(n.outputs[0]).dtype);
  return {Flops * elems, Reads * elems * e, elems * e};
}

Work read_sum_cost(const Graph& g, const Node& n, std::span<const std::int64_t> dims) {
  const double elems = live_elements(g, n.inputs[0], dims);
  return {elems, elems * opcheck::elem_bytes(g.tensor(n.inputs[0]).dtype), 8};
}

Work read_bytes_cost(const Graph& g, const Node& n, std::span<const std::int64_t>) {
  const double bytes = static_cast<double>(g.tensor(n.inputs[0]).bytes());
  return {std::ceil(bytes / 8), bytes, 8};  // one integer add per word
}

Work chase_cost(const Graph&, const Node& n, std::span<const std::int64_t>) {
  // One dependent load of the next line's index (8 bytes) per step per chain.
  const double loads = static_cast<double>(n.attrs.get_int("steps", 0)) * static_cast<double>(n.attrs.get_int("chains", 1));
  return {0, loads * 8, 8 * static_cast<double>(n.attrs.get_int("chains", 1))};
}

Work fill_pattern_cost(const Graph& g, const Node& n, std::span<const std::int64_t>) {
  return {0, 0, static_cast<double>(g.tensor(n.outputs[0]).bytes())};
}

Work verify_pattern_cost(const Graph& g, const Node& n, std::span<const std::int64_t>) {
  const double words = static_cast<double>(g.tensor(n.inputs[0]).elements());
  return {words, words * 8, static_cast<double>(g.tensor(n.outputs[0]).bytes() + g.tensor(n.outputs[1]).bytes())};
}

// --- checks -----------------------------------------------------------------------------------

Problem check_same(const Graph& g, const Node& n) { return same_as_out(g, n); }

Problem check_read_sum(const Graph& g, const Node& n) {
  const auto& in = g.tensor(n.inputs[0]);
  const auto& out = g.tensor(n.outputs[0]);
  if (!is_float(in.dtype)) return "expects an f32 or f64 input";
  if (out.dtype != DType::f64 || out.elements() != 1) return "expects an f64 [1] output";
  return opcheck::vector_width(n);
}

Problem check_read_bytes(const Graph& g, const Node& n) {
  const auto& out = g.tensor(n.outputs[0]);
  if (out.dtype != DType::u64 || out.elements() != 1) return "expects a u64 [1] output";
  return std::nullopt;
}

Problem check_chase(const Graph& g, const Node& n) {
  const auto& ring = g.tensor(n.inputs[0]);
  const auto& out = g.tensor(n.outputs[0]);
  if (!is_u64(g, n.inputs[0]) || ring.shape.size() != 2 || ring.shape[0] < 1 || ring.shape[1] < 1)
    return "expects a u64 [lines, words] ring, got " + opcheck::describe(g, n.inputs[0]);
  const auto chains = n.attrs.get_int("chains", 1);
  if (chains < 1 || chains > ring.shape[0]) return std::string("chains must be in 1..lines");
  if (n.attrs.get_int("steps", -1) < 0) return std::string("expects a non-negative 'steps' attribute");
  if (!is_u64(g, n.outputs[0]) || out.elements() != static_cast<std::size_t>(chains))
    return std::string("expects a u64 [chains] output");
  return std::nullopt;
}

Problem check_fill_pattern(const Graph& g, const Node& n) {
  if (auto err = pattern_ok(n)) return err;
  if (!is_u64(g, n.outputs[0])) return std::string("expects a u64 output");
  return std::nullopt;
}

Problem check_verify_pattern(const Graph& g, const Node& n) {
  if (auto err = pattern_ok(n)) return err;
  if (!is_u64(g, n.inputs[0])) return std::string("expects a u64 input");
  const auto max_errors = n.attrs.get_int("max_errors", 0);
  const auto& count = g.tensor(n.outputs[0]);
  const auto& list = g.tensor(n.outputs[1]);
  if (!is_u64(g, n.outputs[0]) || count.elements() != 1) return std::string("expects a u64 [1] count output");
  if (!is_u64(g, n.outputs[1]) || max_errors < 1 || list.elements() != static_cast<std::size_t>(max_errors) * 3)
    return std::string("expects a u64 [max_errors, 3] error list and max_errors >= 1");
  return std::nullopt;
}

// --- conformance cases ------------------------------------------------------------------------

template <class T>
std::vector<T> varied(std::size_t n, std::uint64_t seed) {
  // Not constant (so a wrong index shows), within [-100, 100].
  std::vector<T> v(n);
  const auto u = opcase::uniform(seed, n, 100.0f);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<T>(u[i]);
  return v;
}

// copy/scale/add/triad/write_fill at sizes that hit vector tails and uneven thread shares; with
// regular and streaming stores, and at the widest vector a device can be told to use (16: a
// tail of 7 and of 3 elements past the last whole vector).
std::vector<ConformanceCase> stream_cases(Op op, int inputs) {
  std::vector<ConformanceCase> out;
  for (DType t : {DType::f64, DType::f32})
    for (std::int64_t n : {7, 1000003})
      for (int variant : {0, 1, 2}) {
      const bool nt = variant == 1;
      ConformanceCase c;
      c.op = op;
      c.dtype = t;
      c.name = std::string(name(op)) + " " + std::string(name(t)) + " [" + std::to_string(n) + "]" +
               (nt ? " non-temporal stores" : variant == 2 ? " vector width 16" : "");
      auto input = [&](const char* nm, std::uint64_t seed) {
        TensorDesc d{nm, {n}, t, TensorRole::input, {}};
        d.init = t == DType::f64 ? TensorInit::values(varied<double>(static_cast<std::size_t>(n), seed))
                                 : TensorInit::values(varied<float>(static_cast<std::size_t>(n), seed));
        return c.graph.add_tensor(std::move(d));
      };
      std::vector<TensorId> ins;
      if (inputs >= 1) ins.push_back(input("a", 11));
      if (inputs >= 2) ins.push_back(input("b", 12));
      const auto o = c.graph.add_tensor({"out", {n}, t, TensorRole::output, TensorInit::filled(0)});
      Attrs attrs{{"scalar", 1.75}, {"value", -4.5}, {"nontemporal", nt}};
      if (variant == 2) attrs.set("vector_width", std::int64_t{16});
      c.graph.add_node(op, ins, {o}, attrs);
      c.outputs = {o};
      c.iterations = 3;
      const double eps = t == DType::f64 ? std::numeric_limits<double>::epsilon() : std::numeric_limits<float>::epsilon();
      c.tolerance = {2 * eps * 100, 2 * eps, 0,
                     "one rounding of the dtype on values up to 100: a device may fuse triad's multiply-add "
                     "(one rounding) where ref rounds twice"};
      out.push_back(std::move(c));
    }
  return out;
}

std::vector<ConformanceCase> copy_cases() { return stream_cases(Op::copy, 1); }
std::vector<ConformanceCase> scale_cases() { return stream_cases(Op::scale, 1); }
std::vector<ConformanceCase> add_cases() { return stream_cases(Op::add, 2); }
std::vector<ConformanceCase> triad_cases() { return stream_cases(Op::triad, 2); }
std::vector<ConformanceCase> write_fill_cases() { return stream_cases(Op::write_fill, 0); }

std::vector<ConformanceCase> read_sum_cases() {
  std::vector<ConformanceCase> out;
  for (DType t : {DType::f64, DType::f32})
    for (std::int64_t n : {13, 3000017})
      for (std::int64_t width : {0, 16}) {  // the device's own width; 16, with a tail of 13 and of 1
      ConformanceCase c;
      c.op = Op::read_sum;
      c.dtype = t;
      c.name = "read_sum " + std::string(name(t)) + " [" + std::to_string(n) + "] of ones" +
               (width != 0 ? " vector width 16" : "");
      const auto a = c.graph.add_tensor({"a", {n}, t, TensorRole::input, TensorInit::filled(1.0)});
      const auto s = c.graph.add_tensor({"sum", {1}, DType::f64, TensorRole::output, {}});
      c.graph.add_node(Op::read_sum, {a}, {s}, width != 0 ? Attrs{{"vector_width", width}} : Attrs{});
      c.outputs = {s};
      c.iterations = 2;
      c.tolerance = {0, 0, 0, "whole numbers below 2^24 per partial sum add exactly in any order"};
      out.push_back(std::move(c));
    }
  return out;
}

// Bytes with every bit pattern, in tensors whose sizes leave a last word of 6 (q4_0 [3, 32]:
// 54 bytes), 2 (q6_K [1, 256]: 210 bytes) and 4 bytes (f32 [3000017], several thread shares),
// and of whole words (u64 [1000]).
std::vector<ConformanceCase> read_bytes_cases() {
  std::vector<ConformanceCase> out;
  const std::pair<DType, std::vector<std::int64_t>> shapes[] = {
      {DType::q4_0, {3, 32}}, {DType::q6_K, {1, 256}}, {DType::f32, {3000017}}, {DType::u64, {1000}}};
  for (const auto& [t, shape] : shapes) {
    ConformanceCase c;
    c.op = Op::read_bytes;
    c.dtype = t;
    c.name = "read_bytes " + std::string(name(t)) + " " + opcheck::shape_text(shape);
    TensorDesc d{"a", shape, t, TensorRole::input, {}};
    std::vector<std::uint8_t> bytes(d.bytes());
    std::uint64_t state = 0x9E3779B97F4A7C15ull;
    for (auto& b : bytes) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;  // Knuth's MMIX LCG
      b = static_cast<std::uint8_t>(state >> 56);
    }
    d.init = TensorInit::values(std::move(bytes));
    const auto a = c.graph.add_tensor(std::move(d));
    const auto s = c.graph.add_tensor({"sum", {1}, DType::u64, TensorRole::output, {}});
    c.graph.add_node(Op::read_bytes, {a}, {s});
    c.outputs = {s};
    c.iterations = 2;
    c.tolerance = {0, 0, 0, "integer sums modulo 2^64 are exact in any order"};
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<ConformanceCase> chase_cases() {
  std::vector<ConformanceCase> out;
  for (std::int64_t lines : {2, 97, 40000})  // 40000 lines of 64 B: beyond L2
    for (std::int64_t chains : {1, 3, 16}) {
      if (chains > lines) continue;
      ConformanceCase c;
      c.op = Op::chase;
      c.dtype = DType::u64;
      c.name = "chase " + std::to_string(lines) + " lines, " + std::to_string(chains) + " chains";
      const auto ring = c.graph.add_tensor({"ring", {lines, 8}, DType::u64, TensorRole::input, TensorInit::cycle(99)});
      const auto pos = c.graph.add_tensor({"positions", {chains}, DType::u64, TensorRole::output, {}});
      c.graph.add_node(Op::chase, {ring}, {pos}, Attrs{{"steps", std::int64_t{12345}}, {"chains", chains}});
      // Chains go on from where the last run left them; the ring reads back in index form.
      c.outputs = {pos, ring};
      c.iterations = 2;
      c.tolerance = {0, 0, 0, "line indices are exact"};
      out.push_back(std::move(c));
    }
  return out;
}

std::vector<ConformanceCase> pattern_cases(bool verify) {
  std::vector<ConformanceCase> out;
  const std::int64_t n = std::int64_t{1} << 20;  // 8 MiB: several pages per thread
  for (Pattern p : {Pattern::walking_ones, Pattern::walking_zeros, Pattern::checkerboard, Pattern::random, Pattern::address})
    for (bool invert : {false, true}) {
      ConformanceCase c;
      c.op = verify ? Op::verify_pattern : Op::fill_pattern;
      c.dtype = DType::u64;
      c.name = std::string(verify ? "verify_pattern " : "fill_pattern ") + std::string(name(p)) + (invert ? " inverted" : "");
      Attrs attrs{{"pattern", std::string(name(p))}, {"seed", std::int64_t{5}}, {"invert", invert}};
      if (verify) attrs.set("max_errors", std::int64_t{3});
      if (!verify) {
        const auto buf = c.graph.add_tensor({"buffer", {n}, DType::u64, TensorRole::state, {}});
        c.graph.add_node(Op::fill_pattern, {}, {buf}, attrs);
        c.outputs = {buf};
      } else {
        // The pattern with four flipped bits, two of them in a second thread's share.
        std::vector<std::uint64_t> words(static_cast<std::size_t>(n));
        for (std::size_t i = 0; i < words.size(); ++i) words[i] = pattern_word(p, 5, i, invert);
        for (std::size_t i : {std::size_t{5}, std::size_t{70000}, std::size_t{600000}, std::size_t{1048575}})
          words[i] ^= std::uint64_t{1} << (i % 64);
        const auto buf = c.graph.add_tensor({"buffer", {n}, DType::u64, TensorRole::input, TensorInit::values(std::move(words))});
        const auto count = c.graph.add_tensor({"errors", {1}, DType::u64, TensorRole::output, {}});
        const auto list = c.graph.add_tensor({"error_list", {3, 3}, DType::u64, TensorRole::output, {}});
        c.graph.add_node(Op::verify_pattern, {buf}, {count, list}, attrs);
        c.outputs = {count, list};
      }
      c.tolerance = {0, 0, 0, "pattern words and error lists are exact"};
      out.push_back(std::move(c));
    }
  return out;
}
std::vector<ConformanceCase> fill_pattern_cases() { return pattern_cases(false); }
std::vector<ConformanceCase> verify_pattern_cases() { return pattern_cases(true); }

const std::vector<DType> kFloat = {DType::f64, DType::f32};
const std::vector<DType> kU64 = {DType::u64};

}  // namespace

std::vector<OpDef> memory_op_defs() {
  const AttrDef scalar{"scalar", AttrType::real, false, "the multiplier (default 3, STREAM's)"};
  const AttrDef nontemporal{"nontemporal", AttrType::boolean, false, "streaming stores past the caches, where the device has them"};
  const AttrDef vector_width{"vector_width", AttrType::integer, false,
                             "elements per vector access (1, 2, 4, 8, 16) where the device takes one "
                             "(DeviceCaps::vector_widths); others pick their own"};
  const AttrDef value{"value", AttrType::real, false, "the value written (default 0)"};
  const std::vector<AttrDef> pattern_attrs{{"pattern", AttrType::string, true, "walking_ones, walking_zeros, checkerboard, random or address"},
                                           {"seed", AttrType::integer, false, "seed of the random pattern"},
                                           {"invert", AttrType::boolean, false, "every bit flipped"}};
  auto verify_attrs = pattern_attrs;
  verify_attrs.push_back({"max_errors", AttrType::integer, true, "mismatches listed (all are counted)"});
  return {
      {Op::copy, "copy", OpFamily::memory, "out = in0", 1, 1, 1, {scalar, nontemporal, value, vector_width}, kFloat, check_same,
       stream_cost<1, 0>, copy_cases},
      {Op::scale, "scale", OpFamily::memory, "out = scalar * in0", 1, 1, 1, {scalar, nontemporal, value, vector_width}, kFloat,
       check_same, stream_cost<1, 1>, scale_cases},
      {Op::add, "add", OpFamily::memory, "out = in0 + in1", 2, 2, 1, {scalar, nontemporal, value, vector_width}, kFloat, check_same,
       stream_cost<2, 1>, add_cases},
      {Op::triad, "triad", OpFamily::memory, "out = in0 + scalar * in1", 2, 2, 1, {scalar, nontemporal, value, vector_width}, kFloat,
       check_same, stream_cost<2, 2>, triad_cases},
      {Op::read_sum, "read_sum", OpFamily::memory, "out[0] = sum of in0 (f64 [1])", 1, 1, 1, {scalar, nontemporal, value, vector_width},
       kFloat, check_read_sum, read_sum_cost, read_sum_cases},
      {Op::write_fill, "write_fill", OpFamily::memory, "out = value", 0, 0, 1, {scalar, nontemporal, value, vector_width}, kFloat,
       check_same, stream_cost<0, 0>, write_fill_cases},
      {Op::chase, "chase", OpFamily::memory, "dependent loads around a random cycle; out = where each chain stands", 1, 1, 1,
       {{"steps", AttrType::integer, true, "loads per chain per run"},
        {"chains", AttrType::integer, false, "independent chains (default 1)"}},
       kU64, check_chase, chase_cost, chase_cases},
      {Op::fill_pattern, "fill_pattern", OpFamily::memory, "out = pattern words", 0, 0, 1, pattern_attrs, kU64,
       check_fill_pattern, fill_pattern_cost, fill_pattern_cases},
      {Op::verify_pattern, "verify_pattern", OpFamily::memory,
       "out0 = mismatches of in0 against the pattern, out1 = the first of them", 1, 1, 2, verify_attrs, kU64,
       check_verify_pattern, verify_pattern_cost, verify_pattern_cases},
      {Op::read_bytes, "read_bytes", OpFamily::memory,
       "out[0] = sum mod 2^64 of in0's bytes as little-endian 64-bit words (u64 [1]); in0 of any dtype", 1, 1, 1, {},
       std::vector<DType>(all_dtypes().begin(), all_dtypes().end()), check_read_bytes, read_bytes_cost, read_bytes_cases},
  };
}

namespace opcheck {

Problem vector_width(const Node& n) {
  const auto w = n.attrs.get_int("vector_width", 1);
  if (w != 1 && w != 2 && w != 4 && w != 8 && w != 16)
    return "expects 'vector_width' 1, 2, 4, 8 or 16, got " + std::to_string(w);
  return std::nullopt;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string describe(const Graph& g, TensorId id) {
  const TensorDesc& t = g.tensor(id);
  return "'" + t.name + "' " + std::string(name(t.dtype)) + shape_text(t.shape);
}

Problem matrix(const Graph& g, TensorId id, std::int64_t r, std::int64_t c, DType dtype, const char* what) {
  const TensorDesc& t = g.tensor(id);
  if (t.dtype != dtype || t.shape.size() != 2 || (r >= 0 && t.shape[0] != r) || (c >= 0 && t.shape[1] != c))
    return std::string("expects ") + what + " " + std::string(name(dtype)) + "[" +
           (r >= 0 ? std::to_string(r) : std::string("rows")) + ", " + (c >= 0 ? std::to_string(c) : std::string("cols")) +
           "], got " + describe(g, id);
  return std::nullopt;
}

Problem vector_of(const Graph& g, TensorId id, std::int64_t len, DType dtype, const char* what) {
  const TensorDesc& t = g.tensor(id);
  if (t.dtype != dtype || t.shape.size() != 1 || (len >= 0 && t.shape[0] != len))
    return std::string("expects ") + what + " " + std::string(name(dtype)) + "[" +
           (len >= 0 ? std::to_string(len) : std::string("n")) + "], got " + describe(g, id);
  return std::nullopt;
}

Problem weight(const Graph& g, TensorId id, const char* what) {
  const TensorDesc& t = g.tensor(id);
  if (!is_weight_dtype(t.dtype) || t.shape.size() != 2 ||
      t.shape[1] % static_cast<std::int64_t>(traits(t.dtype).block_elements) != 0)
    return std::string("expects ") + what + " [rows, cols] of " + weight_dtype_list() + " (cols whole blocks), got " +
           describe(g, id);
  return std::nullopt;
}

}  // namespace opcheck

namespace opcase {

std::vector<float> uniform(std::uint64_t seed, std::size_t n, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = synthetic_value(seed, i, scale);
  return v;
}

TensorDesc seeded(std::string name_, std::vector<std::int64_t> shape, DType dtype, std::uint64_t seed, double scale,
                  TensorRole role) {
  return {std::move(name_), std::move(shape), dtype, role, TensorInit::random(seed, scale)};
}

}  // namespace opcase

}  // namespace xpb
