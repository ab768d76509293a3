#include "plugin_graph.hpp"

#include <type_traits>
#include <variant>

namespace xpb::plugin {

FlatGraph::FlatGraph(const Graph& g, std::vector<xpb_buffer> bindings) : bindings_(std::move(bindings)) {
  const auto& ts = g.tensors();
  tensors_.resize(ts.size());
  shapes_.resize(ts.size());
  initial_.resize(ts.size());
  for (std::size_t i = 0; i < ts.size(); ++i) {
    const TensorDesc& t = ts[i];
    shapes_[i] = t.shape;
    xpb_tensor& x = tensors_[i];
    x.name = t.name.c_str();
    x.dtype = static_cast<std::uint32_t>(t.dtype);
    x.role = static_cast<std::uint32_t>(t.role);
    x.rank = static_cast<std::uint32_t>(t.shape.size());
    x.rows_dim = t.rows_dim ? static_cast<std::int32_t>(*t.rows_dim) : -1;
    x.shape = shapes_[i].data();
    x.bytes = t.bytes();
    x.initial = nullptr;
    if (bindings_[i] != nullptr) continue;
    // A model file's tensor is handed over without a copy; other inits are made here.
    const auto bytes = initial_contents(t, initial_[i]);
    x.initial = bytes.empty() ? nullptr : bytes.data();
  }

  const auto& ns = g.nodes();
  nodes_.resize(ns.size());
  node_tensors_.resize(ns.size());
  attrs_.resize(ns.size());
  for (std::size_t i = 0; i < ns.size(); ++i) {
    const Node& n = ns[i];
    auto& ids = node_tensors_[i];
    ids.assign(n.inputs.begin(), n.inputs.end());
    ids.insert(ids.end(), n.outputs.begin(), n.outputs.end());
    for (const auto& [key, value] : n.attrs.all()) {
      // `vector_width` is for devices that declare vector widths (DeviceCaps::vector_widths),
      // which ABI 1 cannot: a plugin picks its own and never sees it, so plugins that refuse
      // attributes they do not know keep passing the ops they had before it was added.
      if (key == "vector_width") continue;
      xpb_attr a{};
      a.key = key.c_str();
      std::visit(
          [&a](const auto& v) {
            using V = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<V, std::int64_t>) {
              a.type = XPB_ATTR_INT;
              a.i = v;
            } else if constexpr (std::is_same_v<V, double>) {
              a.type = XPB_ATTR_REAL;
              a.f = v;
            } else if constexpr (std::is_same_v<V, bool>) {
              a.type = XPB_ATTR_BOOL;
              a.i = v ? 1 : 0;
            } else {
              a.type = XPB_ATTR_STRING;
              a.s = v.c_str();
            }
          },
          value);
      attrs_[i].push_back(a);
    }
    xpb_node& x = nodes_[i];
    x.op = static_cast<std::uint32_t>(n.op);
    x.input_count = static_cast<std::uint32_t>(n.inputs.size());
    x.inputs = ids.data();
    x.output_count = static_cast<std::uint32_t>(n.outputs.size());
    x.outputs = ids.data() + n.inputs.size();
    x.attr_count = static_cast<std::uint32_t>(attrs_[i].size());
    x.attrs = attrs_[i].data();
  }
  for (const auto& d : g.dims()) dim_max_.push_back(d.max);

  graph_.struct_size = sizeof(xpb_graph);
  graph_.tensor_count = static_cast<std::uint32_t>(tensors_.size());
  graph_.name = g.name().c_str();
  graph_.model_architecture = g.identity().architecture.c_str();
  graph_.model_shape = g.identity().shape.c_str();
  graph_.model_weight_format = g.identity().weight_format.c_str();
  graph_.model_fingerprint = g.identity().fingerprint.c_str();
  graph_.tensors = tensors_.data();
  graph_.node_count = static_cast<std::uint32_t>(nodes_.size());
  graph_.dim_count = static_cast<std::uint32_t>(dim_max_.size());
  graph_.nodes = nodes_.data();
  graph_.dim_max = dim_max_.data();
  graph_.bindings = bindings_.data();
}

}  // namespace xpb::plugin
