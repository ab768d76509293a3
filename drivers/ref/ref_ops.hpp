// Plain scalar implementations of every op of the catalogue: the conformance oracle.
// Slow is fine; wrong is not. Sums accumulate in double.
#pragma once
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "xpubench/graph.hpp"

namespace xpb::ref {

// The bytes of each tensor of a graph, indexed by TensorId, and what one run needs besides.
struct TensorStore {
  std::vector<std::span<std::byte>> views;
  std::span<const std::int64_t> dims;  // this run's dynamic dims (empty: every dim at its max)
  mutable std::string error;           // set by an op that met bad data (an id out of range)

  std::span<std::byte> operator[](TensorId id) const { return views[id]; }
};

// Runs one node over the store. The graph must have passed Graph::check().
void run_node(const Graph& g, const Node& node, const TensorStore& store);
// The transformer ops (ref_transformer_ops.cpp); run_node passes them on.
void run_transformer_node(const Graph& g, const Node& node, const TensorStore& store);
// The diffusion-transformer ops (ref_dit_ops.cpp); run_node passes them on.
void run_dit_node(const Graph& g, const Node& node, const TensorStore& store);

// How many leading rows of tensor `id` are live this run (TensorDesc::rows_dim).
inline std::size_t live_rows(const Graph& g, const TensorStore& store, TensorId id) {
  return g.live_rows(id, store.dims);
}

// Resets the chain positions (out) of every chase node over ring tensor `ring` to their
// start lines (after compile, and after the ring is written).
void reset_chase_positions(const Graph& g, const TensorStore& store, TensorId ring);

}  // namespace xpb::ref
