// A Graph as the flat arrays of xpubench_plugin.h (xpb_graph): frozen op and dtype codes,
// tagged attributes, shapes, roles, and the initial bytes of every tensor materialised on the
// host. Owns everything the arrays point to; valid while it and the Graph live.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "xpubench/graph.hpp"
#include "xpubench_plugin.h"

namespace xpb::plugin {

class FlatGraph {
 public:
  // `bindings` has one entry per tensor of g: the plugin buffer bound to it, or null. Tensors
  // that are bound get no initial bytes; a TensorInit::bytes source is passed as it is (no
  // copy), every other init is filled into host memory here (fill_initial).
  FlatGraph(const Graph& g, std::vector<xpb_buffer> bindings);
  const xpb_graph& get() const { return graph_; }

 private:
  xpb_graph graph_{};
  std::vector<xpb_tensor> tensors_;
  std::vector<std::vector<std::int64_t>> shapes_;
  std::vector<std::vector<std::byte>> initial_;
  std::vector<xpb_node> nodes_;
  std::vector<std::vector<std::uint32_t>> node_tensors_;  // inputs, then outputs, per node
  std::vector<std::vector<xpb_attr>> attrs_;
  std::vector<std::int64_t> dim_max_;
  std::vector<xpb_buffer> bindings_;
};

}  // namespace xpb::plugin
