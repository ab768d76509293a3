// Plain implementations of the diffusion-transformer ops of the catalogue (graph.hpp: layer_norm
// to unpatchify), the oracle for every optimised driver: straight from their definitions, sums
// and transcendental functions in double.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ref_ops.hpp"

namespace xpb::ref {
namespace {

template <class T>
T* at(const TensorStore& store, TensorId id) {
  return reinterpret_cast<T*>(store[id].data());
}

std::size_t cols(const Graph& g, TensorId id) { return static_cast<std::size_t>(g.tensor(id).shape.back()); }

// Elements of the live rows of in0 (what every elementwise op here covers).
std::size_t live_elements(const Graph& g, const Node& node, const TensorStore& store) {
  return live_rows(g, store, node.inputs[0]) * cols(g, node.inputs[0]);
}

void layer_norm(const Graph& g, const Node& node, const TensorStore& store) {
  const std::size_t n = cols(g, node.inputs[0]);
  const double eps = node.attrs.get_double("eps", 1e-5);
  const bool affine = node.inputs.size() == 3;
  for (std::size_t t = 0; t < live_rows(g, store, node.inputs[0]); ++t) {
    const float* x = at<float>(store, node.inputs[0]) + t * n;
    float* y = at<float>(store, node.outputs[0]) + t * n;
    double mean = 0, var = 0;
    for (std::size_t i = 0; i < n; ++i) mean += x[i];
    mean /= static_cast<double>(n);
    for (std::size_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
    const double inv = 1.0 / std::sqrt(var / static_cast<double>(n) + eps);
    for (std::size_t i = 0; i < n; ++i) {
      double v = (x[i] - mean) * inv;
      if (affine) v = v * at<float>(store, node.inputs[1])[i] + at<float>(store, node.inputs[2])[i];
      y[i] = static_cast<float>(v);
    }
  }
}

void modulate(const Graph& g, const Node& node, const TensorStore& store) {
  const std::size_t n = cols(g, node.inputs[0]);
  const float* shift = at<float>(store, node.inputs[1]);
  const float* scale = at<float>(store, node.inputs[2]);
  const float* x = at<float>(store, node.inputs[0]);
  float* y = at<float>(store, node.outputs[0]);
  for (std::size_t i = 0; i < live_elements(g, node, store); ++i)
    y[i] = static_cast<float>(double(x[i]) * (1.0 + scale[i % n]) + shift[i % n]);
}

void gated_add(const Graph& g, const Node& node, const TensorStore& store) {
  const std::size_t n = cols(g, node.inputs[0]);
  const float* x = at<float>(store, node.inputs[0]);
  const float* y = at<float>(store, node.inputs[1]);
  const float* gate = at<float>(store, node.inputs[2]);
  float* out = at<float>(store, node.outputs[0]);
  for (std::size_t i = 0; i < live_elements(g, node, store); ++i)
    out[i] = static_cast<float>(x[i] + double(gate[i % n]) * y[i]);
}

template <class F>
void unary(const Graph& g, const Node& node, const TensorStore& store, F fn) {
  const float* x = at<float>(store, node.inputs[0]);
  float* y = at<float>(store, node.outputs[0]);
  for (std::size_t i = 0; i < live_elements(g, node, store); ++i) y[i] = static_cast<float>(fn(double(x[i])));
}

void cross_attention(const Graph& g, const Node& node, const TensorStore& store) {
  const auto heads = static_cast<std::size_t>(node.attrs.get_int("heads", 1));
  const auto hd = static_cast<std::size_t>(node.attrs.get_int("head_dim", 1));
  const double scale = node.attrs.get_double("scale", 1.0 / std::sqrt(static_cast<double>(hd)));
  const std::size_t width = heads * hd, keys = static_cast<std::size_t>(g.tensor(node.inputs[1]).shape[0]);
  const float* k = at<float>(store, node.inputs[1]);
  const float* v = at<float>(store, node.inputs[2]);
  std::vector<double> score(keys);
  for (std::size_t t = 0; t < live_rows(g, store, node.inputs[0]); ++t)
    for (std::size_t h = 0; h < heads; ++h) {
      const float* q = at<float>(store, node.inputs[0]) + t * width + h * hd;
      double top = -std::numeric_limits<double>::infinity();
      for (std::size_t j = 0; j < keys; ++j) {
        double s = 0;
        for (std::size_t e = 0; e < hd; ++e) s += double(q[e]) * k[j * width + h * hd + e];
        top = std::max(top, score[j] = s * scale);
      }
      double total = 0;
      for (std::size_t j = 0; j < keys; ++j) total += (score[j] = std::exp(score[j] - top));
      for (std::size_t e = 0; e < hd; ++e) {
        double acc = 0;
        for (std::size_t j = 0; j < keys; ++j) acc += score[j] * v[j * width + h * hd + e];
        at<float>(store, node.outputs[0])[t * width + h * hd + e] = static_cast<float>(acc / total);
      }
    }
}

void flow_step(const Graph& g, const Node& node, const TensorStore& store) {
  const double sigma = node.attrs.get_double("sigma", 0), next = node.attrs.get_double("sigma_next", 0);
  const float* x = at<float>(store, node.inputs[0]);
  const float* v = at<float>(store, node.inputs[1]);
  const float* noise = at<float>(store, node.inputs[2]);
  float* y = at<float>(store, node.outputs[0]);
  for (std::size_t i = 0; i < live_elements(g, node, store); ++i)
    y[i] = static_cast<float>((1.0 - next) * (x[i] - sigma * v[i]) + next * noise[i]);
}

void unpatchify(const Graph&, const Node& node, const TensorStore& store) {
  auto attr = [&](const char* a) { return static_cast<std::size_t>(node.attrs.get_int(a, 1)); };
  const std::size_t frames = attr("frames"), h = attr("height"), w = attr("width"), c = attr("channels"),
                    ph = attr("patch_h"), pw = attr("patch_w");
  const float* x = at<float>(store, node.inputs[0]);
  float* out = at<float>(store, node.outputs[0]);
  for (std::size_t ch = 0; ch < c; ++ch)
    for (std::size_t f = 0; f < frames; ++f)
      for (std::size_t r = 0; r < h * ph; ++r)
        for (std::size_t col = 0; col < w * pw; ++col) {
          const std::size_t token = (f * h + r / ph) * w + col / pw;
          out[((ch * frames + f) * h * ph + r) * w * pw + col] = x[token * ph * pw * c + ((r % ph) * pw + col % pw) * c + ch];
        }
}

}  // namespace

void run_dit_node(const Graph& g, const Node& node, const TensorStore& store) {
  switch (node.op) {
    case Op::layer_norm: return layer_norm(g, node, store);
    case Op::modulate: return modulate(g, node, store);
    case Op::gated_add: return gated_add(g, node, store);
    case Op::gelu:
      return unary(g, node, store, [](double x) {
        return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
      });
    case Op::silu: return unary(g, node, store, [](double x) { return x / (1.0 + std::exp(-x)); });
    case Op::cross_attention: return cross_attention(g, node, store);
    case Op::flow_step: return flow_step(g, node, store);
    case Op::unpatchify: return unpatchify(g, node, store);
    default: return;
  }
}

}  // namespace xpb::ref
