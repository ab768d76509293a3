// The fma_loop graph and its exact check (fma_loop_graph.hpp).
#include "fma_loop_graph.hpp"

#include <cstring>

#include "workload_common.hpp"
#include "xpubench/quant.hpp"

namespace xpb::compute {
namespace {

constexpr std::uint64_t kInputSeed = 7;

// One step of fma_loop in `t`'s arithmetic on the value's bits (graph.hpp).
std::uint64_t step_bits(DType t, std::uint64_t bits) {
  switch (t) {
    case DType::f64: {
      double v;
      std::memcpy(&v, &bits, 8);
      v = v * 0.5 + 0.5;
      std::memcpy(&bits, &v, 8);
      return bits;
    }
    case DType::f32: {
      float v;
      auto b = static_cast<std::uint32_t>(bits);
      std::memcpy(&v, &b, 4);
      v = v * 0.5f + 0.5f;
      std::memcpy(&b, &v, 4);
      return b;
    }
    // In f32, then rounded to f16 once: the exact result's rounding (drivers/ref says why).
    case DType::f16: return f32_to_f16(f16_to_f32(static_cast<std::uint16_t>(bits)) * 0.5f + 0.5f);
    case DType::bf16: return f32_to_bf16(bf16_to_f32(static_cast<std::uint16_t>(bits)) * 0.5f + 0.5f);
    default: return (bits * 5 + 1) & 255;  // i8 as its unsigned byte
  }
}

}  // namespace

std::uint64_t FmaLoopGraph::array_bytes() const {
  return static_cast<std::uint64_t>(elements) * traits(dtype).block_bytes;
}

FmaLoopGraph fma_loop_graph(DType dtype, std::int64_t elements, std::int64_t chain, int vector_width) {
  FmaLoopGraph f;
  f.dtype = dtype;
  f.elements = elements;
  f.chain = chain;
  const std::size_t distinct = dtype == DType::i8 ? 256 : 1024;
  const std::size_t elem = traits(dtype).block_bytes;
  f.inputs.assign(distinct, 0);
  f.expected.assign(distinct, 0);
  for (std::size_t k = 0; k < distinct; ++k) {
    const float v = synthetic_value(kInputSeed, k, 1.0f);
    std::uint64_t bits = 0;
    if (dtype == DType::f64) {
      const double d = v;
      std::memcpy(&bits, &d, 8);
    } else if (dtype == DType::f32) {
      std::uint32_t b;
      std::memcpy(&b, &v, 4);
      bits = b;
    } else if (dtype == DType::f16) {
      bits = f32_to_f16(v);
    } else if (dtype == DType::bf16) {
      bits = f32_to_bf16(v);
    } else {
      bits = k;
    }
    f.inputs[k] = bits;
    for (std::int64_t s = 0; s < chain; ++s) bits = step_bits(dtype, bits);
    f.expected[k] = bits;
  }
  std::vector<std::byte> x(f.array_bytes());
  for (std::size_t i = 0; i < static_cast<std::size_t>(elements); ++i)
    std::memcpy(x.data() + i * elem, &f.inputs[i % distinct], elem);  // little-endian: the low bytes

  Graph& g = f.graph;
  g.set_name("fma_loop " + std::string(name(dtype)));
  const auto in = g.add_tensor({"x", {elements}, dtype, TensorRole::input, TensorInit::values(std::move(x))});
  f.out = g.add_tensor({"y", {elements}, dtype, TensorRole::output, {}});
  Attrs attrs{{"chain", chain}};
  if (vector_width != 0) attrs.set("vector_width", std::int64_t{vector_width});
  g.add_node(Op::fma_loop, {in}, {f.out}, attrs);
  return f;
}

nlohmann::json check_fma_loop(const FmaLoopGraph& f, const Executable& exe) {
  const std::size_t elem = traits(f.dtype).block_bytes;
  std::vector<std::byte> y(f.array_bytes());
  exe.read(f.out, y);
  std::uint64_t wrong = 0;
  nlohmann::json first;
  for (std::size_t i = 0; i < static_cast<std::size_t>(f.elements); ++i) {
    std::uint64_t got = 0;
    std::memcpy(&got, y.data() + i * elem, elem);
    const std::uint64_t want = f.expected[i % f.expected.size()];
    if (got == want) continue;
    if (wrong == 0)
      first = {{"index", i}, {"input_bits", f.inputs[i % f.inputs.size()]}, {"expected_bits", want}, {"got_bits", got}};
    ++wrong;
  }
  nlohmann::json j = {
      {"status", wrong == 0 ? "passed" : "failed"},
      {"method", "every output element compared bit for bit with f^chain(x) computed on the host in the dtype's "
                 "arithmetic (float chains settle on the fixed point 1 after about as many steps as the dtype has "
                 "mantissa bits; the i8 chain has the full period 256 and never settles)"},
      {"elements_wrong", wrong}};
  if (wrong != 0) {
    j["first_mismatch"] = first;
    j["reason"] = std::to_string(wrong) + " output elements differ from the expected value";
  }
  return j;
}

}  // namespace xpb::compute
