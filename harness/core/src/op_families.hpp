// Private to the catalogue: each op family defines its OpDefs in its own file, with the shape
// and dtype vocabulary below shared between them.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "xpubench/op_catalogue.hpp"
#include "xpubench/quant.hpp"

namespace xpb {

std::vector<OpDef> memory_op_defs();       // op_memory.cpp
std::vector<OpDef> transformer_op_defs();  // op_transformer.cpp
std::vector<OpDef> dit_op_defs();          // op_dit.cpp
std::vector<OpDef> compute_op_defs();      // op_compute.cpp
std::vector<OpDef> analog_op_defs();       // op_analog.cpp

namespace opcheck {

using Problem = std::optional<std::string>;

// "'x' f32[3, 64]"
std::string describe(const Graph& g, TensorId id);
std::string shape_text(const std::vector<std::int64_t>& shape);

inline std::int64_t rows(const Graph& g, TensorId id) {
  const auto& s = g.tensor(id).shape;
  return s.empty() ? 0 : s[0];
}
inline std::int64_t cols(const Graph& g, TensorId id) {
  const auto& s = g.tensor(id).shape;
  return s.size() < 2 ? 0 : s[1];
}
// Live rows of a tensor at these dim values, as a double (the cost models' arithmetic).
inline double live(const Graph& g, TensorId id, std::span<const std::int64_t> dims) {
  return static_cast<double>(g.live_rows(id, dims));
}
inline double elem_bytes(DType t) {
  const auto& tr = traits(t);
  return static_cast<double>(tr.block_bytes) / static_cast<double>(tr.block_elements);
}

// A 2-D tensor [rows, cols] of `dtype` (-1: any size).
Problem matrix(const Graph& g, TensorId id, std::int64_t rows, std::int64_t cols, DType dtype, const char* what);
// A 1-D tensor [len] of `dtype` (-1: any length).
Problem vector_of(const Graph& g, TensorId id, std::int64_t len, DType dtype, const char* what);
// A weight [rows, cols] in f32, f16, bf16, q8_0 or q4_0, cols whole blocks.
Problem weight(const Graph& g, TensorId id, const char* what);
// The node's optional `vector_width`, when given, is 1, 2, 4, 8 or 16 (the widths OpenCL C has
// vector types for).
Problem vector_width(const Node& n);

}  // namespace opcheck

// Builders of conformance inputs: seeded, so every device and every run gets the same values.
namespace opcase {

// n values uniform in [-scale, scale), from `seed` (synthetic_value).
std::vector<float> uniform(std::uint64_t seed, std::size_t n, float scale);
// A tensor whose contents are the device-generated synthetic values (weight dtypes only).
TensorDesc seeded(std::string name, std::vector<std::int64_t> shape, DType dtype, std::uint64_t seed, double scale,
                  TensorRole role = TensorRole::input);

}  // namespace opcase

}  // namespace xpb
