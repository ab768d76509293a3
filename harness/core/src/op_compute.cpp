// The compute ops of the catalogue: arithmetic whose operation count is exact, for peak
// throughput figures (GFLOPS, GIOPS) and, later, energy per operation.
//
// fma_loop (graph.hpp): `chain` dependent multiply-add steps on every element. Floats step
// f(v) = v * 0.5 + 0.5: the product of a value by 0.5 is exact (a power of two only moves the
// exponent; in the subnormal range, where it may drop a bit, the sum lies within 2^-p of 0.5 and
// rounds to 0.5 either way), so a fused multiply-add and a multiply then an add round to the same
// value, and devices that flush subnormals to zero land on 0.5 too. Every device therefore agrees
// with ref bit for bit, whatever instruction it picks. i8 steps (v * 5 + 1) mod 256 on the
// byte's bits: a linear congruential map with c odd and a - 1 a multiple of 4, which by
// Hull and Dobell's theorem has the full period 256, so an i8 chain never settles.
#include <cmath>
#include <limits>

#include "op_families.hpp"

namespace xpb {
namespace {

using opcheck::Problem;

// The kernels count steps in 32 bits (an OpenCL uint), so a chain is at most 2^31 - 1.
constexpr std::int64_t kMaxChain = (std::int64_t{1} << 31) - 1;

bool fma_dtype(DType t) {
  return t == DType::f64 || t == DType::f32 || t == DType::f16 || t == DType::bf16 || t == DType::i8;
}

Problem check_fma_loop(const Graph& g, const Node& n) {
  const auto chain = n.attrs.get_int("chain", 0);
  if (chain < 1 || chain > kMaxChain)
    return "expects 'chain' in 1.." + std::to_string(kMaxChain) + ", got " + std::to_string(chain);
  if (auto p = opcheck::vector_width(n)) return p;
  const TensorDesc& x = g.tensor(n.inputs[0]);
  const TensorDesc& y = g.tensor(n.outputs[0]);
  if (!fma_dtype(y.dtype)) return "expects f64, f32, f16, bf16 or i8 tensors, output is " + opcheck::describe(g, n.outputs[0]);
  if (y.shape.size() != 1 || y.rows_dim)
    return "expects a 1-D output [n] of fixed length, got " + opcheck::describe(g, n.outputs[0]);
  if (x.dtype != y.dtype || x.shape != y.shape)
    return "input " + opcheck::describe(g, n.inputs[0]) + " differs from output " + opcheck::describe(g, n.outputs[0]);
  return std::nullopt;
}

// A multiply-add is two operations (floating-point, or integer for i8); every element is read
// and written once.
Work fma_loop_cost(const Graph& g, const Node& n, std::span<const std::int64_t>) {
  const TensorDesc& y = g.tensor(n.outputs[0]);
  const double elems = static_cast<double>(y.elements());
  const double bytes = elems * opcheck::elem_bytes(y.dtype);
  return {2.0 * static_cast<double>(n.attrs.get_int("chain", 0)) * elems, bytes, bytes};
}

// n inputs of `t`: first the values where rounding could differ if it were not exact (zeros,
// +-1, the smallest subnormal, values just inside +-1), then seeded values in [-1, 1). i8 takes
// every byte value in turn from a seeded start.
std::vector<std::byte> fma_inputs(DType t, std::size_t n, std::uint64_t seed) {
  std::vector<std::byte> out(storage_bytes(t, n));
  const auto u = opcase::uniform(seed, n, 1.0f);
  auto value = [&](std::size_t i) -> double {
    const double tiny = t == DType::f64   ? std::numeric_limits<double>::denorm_min()
                        : t == DType::f32  ? static_cast<double>(std::numeric_limits<float>::denorm_min())
                        : t == DType::bf16 ? std::ldexp(1.0, -133)  // bf16's smallest subnormal
                                           : std::ldexp(1.0, -24);  // f16's smallest subnormal
    const double specials[] = {0.0, -0.0, 1.0, -1.0, tiny, -tiny, 0.99951171875, -0.99951171875};
    return i < std::size(specials) ? specials[i] : static_cast<double>(u[i]);
  };
  for (std::size_t i = 0; i < n; ++i) {
    switch (t) {
      case DType::f64: reinterpret_cast<double*>(out.data())[i] = value(i); break;
      case DType::f32: reinterpret_cast<float*>(out.data())[i] = static_cast<float>(value(i)); break;
      case DType::f16: reinterpret_cast<std::uint16_t*>(out.data())[i] = f32_to_f16(static_cast<float>(value(i))); break;
      case DType::bf16: reinterpret_cast<std::uint16_t*>(out.data())[i] = f32_to_bf16(static_cast<float>(value(i))); break;
      default: reinterpret_cast<std::uint8_t*>(out.data())[i] = static_cast<std::uint8_t>((seed + i * 7) & 255); break;
    }
  }
  return out;
}

std::vector<ConformanceCase> fma_loop_cases() {
  struct Shape {
    std::int64_t n, chain, vector_width;  // vector_width 0: none given
  };
  // A few elements (all tail); then sizes that are no multiple of any vector or unroll and
  // split unevenly over threads (cpu shares are 4 KiB pages), at each width a device may be told
  // to use. Short chains: float values reach the fixed point 1 after about as many steps as
  // the dtype has mantissa bits, and a case should compare values that still differ.
  const Shape shapes[] = {{7, 1, 0}, {7, 37, 0}, {3001, 6, 1}, {3001, 13, 4}, {3001, 9, 16}, {2053, 20, 0}};
  std::vector<ConformanceCase> out;
  for (DType t : {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i8})
    for (const auto& s : shapes) {
      ConformanceCase c;
      c.op = Op::fma_loop;
      c.dtype = t;
      c.name = "fma_loop " + std::string(name(t)) + " [" + std::to_string(s.n) + "] chain " + std::to_string(s.chain) +
               (s.vector_width != 0 ? " vector_width " + std::to_string(s.vector_width) : std::string());
      auto bytes = fma_inputs(t, static_cast<std::size_t>(s.n), 31);
      const auto x = c.graph.add_tensor({"x", {s.n}, t, TensorRole::input, TensorInit::values(std::move(bytes))});
      const auto y = c.graph.add_tensor({"y", {s.n}, t, TensorRole::output, TensorInit::filled(0)});
      Attrs attrs{{"chain", s.chain}};
      if (s.vector_width != 0) attrs.set("vector_width", s.vector_width);
      c.graph.add_node(Op::fma_loop, {x}, {y}, attrs);
      c.outputs = {y};
      c.iterations = 2;
      c.tolerance = {0, 0, 0,
                     t == DType::i8 ? "8-bit integer arithmetic wraps the same way on every device"
                                    : "v * 0.5 is exact, so fused and unfused multiply-adds round to the same value "
                                      "after every step (subnormal inputs land on 0.5 whether flushed or not)"};
      out.push_back(std::move(c));
    }
  return out;
}

Problem check_int8_dot_loop(const Graph& g, const Node& n) {
  const auto chain = n.attrs.get_int("chain", 0);
  if (chain < 1 || chain > kMaxChain)
    return "expects 'chain' in 1.." + std::to_string(kMaxChain) + ", got " + std::to_string(chain);
  const TensorDesc& x = g.tensor(n.inputs[0]);
  const TensorDesc& w = g.tensor(n.inputs[1]);
  const TensorDesc& y = g.tensor(n.outputs[0]);
  if (x.dtype != DType::i8 || x.shape.size() != 2 || x.shape[1] != 4 || x.rows_dim)
    return "expects x i8 [n, 4] of fixed length, got " + opcheck::describe(g, n.inputs[0]);
  if (w.dtype != DType::i8 || w.shape != std::vector<std::int64_t>{4})
    return "expects w i8 [4], got " + opcheck::describe(g, n.inputs[1]);
  if (y.dtype != DType::i32 || y.shape != std::vector<std::int64_t>{x.shape[0]})
    return "expects out i32 [" + std::to_string(x.shape[0]) + "], got " + opcheck::describe(g, n.outputs[0]);
  return std::nullopt;
}

// Four multiply-accumulates (8 operations) per step per element; x and w read, out written once.
Work int8_dot_loop_cost(const Graph& g, const Node& n, std::span<const std::int64_t>) {
  const double elems = static_cast<double>(g.tensor(n.outputs[0]).elements());
  return {8.0 * static_cast<double>(n.attrs.get_int("chain", 0)) * elems, 4.0 * elems + 4.0, 4.0 * elems};
}

std::vector<ConformanceCase> int8_dot_loop_cases() {
  struct Shape {
    std::int64_t n, chain;
  };
  // Few elements (all tail), then sizes no multiple of any vector block, uneven over threads;
  // a long chain wraps 32 bits (255 * 128 * 4 * 70000 > 2^31).
  const Shape shapes[] = {{7, 1}, {7, 37}, {3001, 5}, {2053, 70000}};
  // The extremes of both operands, where a saturating instruction (vpdpbusds, or vpmaddubsw's
  // 16-bit pairs) would differ from the definition's wrapping arithmetic.
  const std::int8_t weights[][4] = {{-128, 127, -128, 127}, {3, -7, 11, -13}};
  std::vector<ConformanceCase> out;
  for (const auto& s : shapes)
    for (const auto& wv : weights) {
      ConformanceCase c;
      c.op = Op::int8_dot_loop;
      c.dtype = DType::i8;
      c.name = "int8_dot_loop [" + std::to_string(s.n) + ", 4] chain " + std::to_string(s.chain) + " w {" +
               std::to_string(wv[0]) + ", " + std::to_string(wv[1]) + ", " + std::to_string(wv[2]) + ", " +
               std::to_string(wv[3]) + "}";
      std::vector<std::byte> xb(static_cast<std::size_t>(s.n) * 4);
      for (std::size_t i = 0; i < xb.size(); ++i)  // every byte value, 255 first
        xb[i] = static_cast<std::byte>(i == 0 ? 255 : (i * 97 + 13) & 255);
      std::vector<std::byte> wb(4);
      for (int k = 0; k < 4; ++k) wb[k] = static_cast<std::byte>(wv[k]);
      const auto x = c.graph.add_tensor({"x", {s.n, 4}, DType::i8, TensorRole::input, TensorInit::values(std::move(xb))});
      const auto w = c.graph.add_tensor({"w", {4}, DType::i8, TensorRole::input, TensorInit::values(std::move(wb))});
      const auto y = c.graph.add_tensor({"y", {s.n}, DType::i32, TensorRole::output, TensorInit::filled(0)});
      c.graph.add_node(Op::int8_dot_loop, {x, w}, {y}, Attrs{{"chain", s.chain}});
      c.outputs = {y};
      c.iterations = 2;
      c.tolerance = {0, 0, 0, "integer arithmetic: 32-bit wrapping sums are exact on every device"};
      out.push_back(std::move(c));
    }
  return out;
}

}  // namespace

std::vector<OpDef> compute_op_defs() {
  return {
      {Op::fma_loop, "fma_loop", OpFamily::compute,
       "y = f^chain(x): floats f(v) = v * 0.5 + 0.5, i8 f(v) = v * 5 + 1 mod 256 (2 operations a step)", 1, 1, 1,
       {{"chain", AttrType::integer, true, "dependent multiply-add steps per element (>= 1)"},
        {"vector_width", AttrType::integer, false,
         "elements per vector (1, 2, 4, 8, 16) where the device takes one (DeviceCaps::vector_widths); others pick "
         "their own"}},
       {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i8}, check_fma_loop, fma_loop_cost, fma_loop_cases},
      {Op::int8_dot_loop, "int8_dot_loop", OpFamily::compute,
       "y[i] = chain * dot(x[i] as u8, w as i8) over 4 bytes, wrapping in 32 bits (8 operations a step)", 2, 2, 1,
       {{"chain", AttrType::integer, true, "dependent 4-way dot-product accumulations per element (>= 1)"}},
       {DType::i8}, check_int8_dot_loop, int8_dot_loop_cost, int8_dot_loop_cases},
  };
}

}  // namespace xpb
