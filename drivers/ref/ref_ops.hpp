// Plain scalar implementations of every op of the catalogue: the conformance oracle.
// Slow is fine; wrong is not. Sums accumulate in double.
#pragma once
#include <cstddef>
#include <span>
#include <vector>

#include "xpubench/graph.hpp"

namespace xpb::ref {

// The bytes of each tensor of a graph, indexed by TensorId.
using TensorStore = std::vector<std::span<std::byte>>;

// Fills a tensor according to its TensorInit.
void initialize(const TensorDesc& desc, std::span<std::byte> bytes);

// Runs one node over the store. The graph must have passed Graph::check().
void run_node(const Graph& g, const Node& node, const TensorStore& store);
// The transformer ops (ref_transformer_ops.cpp); run_node passes them on.
void run_transformer_node(const Graph& g, const Node& node, const TensorStore& store);

// How many leading rows of tensor `id` are live this run (TensorDesc::live_rows), clamped to
// 0..shape[0]; shape[0] when the tensor has no dynamic rows.
std::size_t live_rows(const Graph& g, const TensorStore& store, TensorId id);

// Resets the chain positions (out) of every chase node over ring tensor `ring` to their
// start lines (after compile, and after the ring is written).
void reset_chase_positions(const Graph& g, const TensorStore& store, TensorId ring);

// The line each chain of a `chase` node starts on (shared with drivers that must agree).
std::vector<std::uint64_t> chase_starts(const std::uint64_t* ring, std::size_t lines,
                                        std::size_t words_per_line, std::size_t chains);

}  // namespace xpb::ref
