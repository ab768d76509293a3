// Plain implementations of the transformer ops of the catalogue (graph.hpp), the oracle for
// every optimised driver. Weights are decoded to f32 exactly; activations are never rounded
// to a smaller format; every sum accumulates in double.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "ref_ops.hpp"
#include "xpubench/analog.hpp"
#include "xpubench/quant.hpp"

namespace xpb::ref {
namespace {

template <class T>
T* at(const TensorStore& store, TensorId id) {
  return reinterpret_cast<T*>(store[id].data());
}

std::size_t cols(const Graph& g, TensorId id) { return static_cast<std::size_t>(g.tensor(id).shape.back()); }

// Row r of a weight tensor, decoded to f32.
void weight_row(const Graph& g, const TensorStore& store, TensorId id, std::size_t r, std::vector<float>& out) {
  const TensorDesc& w = g.tensor(id);
  const std::size_t n = cols(g, id);
  out.resize(n);
  decode_row(w.dtype, store[id].data() + r * storage_bytes(w.dtype, n), out.data(), n);
}

void embedding(const Graph& g, const Node& node, const TensorStore& store) {
  const TensorId table = node.inputs[0], ids = node.inputs[1], out = node.outputs[0];
  const std::size_t dim = cols(g, table), vocab = static_cast<std::size_t>(g.tensor(table).shape[0]);
  const std::size_t rows = std::min(live_rows(g, store, ids), live_rows(g, store, out));
  std::vector<float> row;
  for (std::size_t t = 0; t < rows; ++t) {
    const std::int32_t id = at<std::int32_t>(store, ids)[t];
    float* y = at<float>(store, out) + t * dim;
    if (id < 0 || static_cast<std::size_t>(id) >= vocab) {
      std::fill_n(y, dim, 0.0f);
      if (store.error.empty())
        store.error = "embedding: token id " + std::to_string(id) + " at row " + std::to_string(t) +
                      " is outside the table's " + std::to_string(vocab) + " rows";
      continue;
    }
    weight_row(g, store, table, static_cast<std::size_t>(id), row);
    std::copy(row.begin(), row.end(), y);
  }
}

void rms_norm(const Graph& g, const Node& node, const TensorStore& store) {
  const std::size_t n = cols(g, node.inputs[0]);
  const std::size_t rows = live_rows(g, store, node.inputs[0]);
  const double eps = node.attrs.get_double("eps", 1e-5);
  const float* w = at<float>(store, node.inputs[1]);
  for (std::size_t t = 0; t < rows; ++t) {
    const float* x = at<float>(store, node.inputs[0]) + t * n;
    float* y = at<float>(store, node.outputs[0]) + t * n;
    double ss = 0;
    for (std::size_t i = 0; i < n; ++i) ss += double(x[i]) * x[i];
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
    for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<float>(x[i] * inv * w[i]);
  }
}

void matmul(const Graph& g, const Node& node, const TensorStore& store) {
  const TensorId x = node.inputs[0], w = node.inputs[1], out = node.outputs[0];
  const std::size_t k = cols(g, x), n = static_cast<std::size_t>(g.tensor(w).shape[0]);
  const std::size_t rows = live_rows(g, store, x);
  std::vector<float> row;
  for (std::size_t j = 0; j < n; ++j) {
    weight_row(g, store, w, j, row);
    for (std::size_t t = 0; t < rows; ++t) {
      const float* xt = at<float>(store, x) + t * k;
      double s = 0;
      for (std::size_t i = 0; i < k; ++i) s += double(xt[i]) * row[i];
      at<float>(store, out)[t * n + j] = static_cast<float>(s);
    }
  }
}

void rope(const Graph& g, const Node& node, const TensorStore& store) {
  const std::size_t width = cols(g, node.inputs[0]);
  const auto hd = static_cast<std::size_t>(node.attrs.get_int("head_dim", 0));
  const double theta = node.attrs.get_double("theta", 10000.0);
  const float* factor = node.inputs.size() > 2 ? at<float>(store, node.inputs[2]) : nullptr;
  const std::size_t rows = live_rows(g, store, node.inputs[0]);
  for (std::size_t t = 0; t < rows; ++t) {
    const double pos = at<std::int32_t>(store, node.inputs[1])[t];
    const float* x = at<float>(store, node.inputs[0]) + t * width;
    float* y = at<float>(store, node.outputs[0]) + t * width;
    for (std::size_t i = 0; i < hd / 2; ++i) {
      double freq = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(hd));
      if (factor != nullptr) freq /= factor[i];
      const double c = std::cos(pos * freq), s = std::sin(pos * freq);
      for (std::size_t h = 0; h < width / hd; ++h) {
        const double a = x[h * hd + 2 * i], b = x[h * hd + 2 * i + 1];
        y[h * hd + 2 * i] = static_cast<float>(a * c - b * s);
        y[h * hd + 2 * i + 1] = static_cast<float>(a * s + b * c);
      }
    }
  }
}

void attention(const Graph& g, const Node& node, const TensorStore& store) {
  const auto heads = static_cast<std::size_t>(node.attrs.get_int("heads", 1));
  const auto kv_heads = static_cast<std::size_t>(node.attrs.get_int("kv_heads", 1));
  const auto hd = static_cast<std::size_t>(node.attrs.get_int("head_dim", 1));
  const double scale = node.attrs.get_double("scale", 1.0 / std::sqrt(static_cast<double>(hd)));
  const auto chunk = node.attrs.get_int("chunk", 1);
  const bool ring = node.attrs.get_bool("ring", false);
  const TensorDesc& cache = g.tensor(node.inputs[5]);
  const auto slots = static_cast<std::size_t>(cache.shape[0]);
  const std::int64_t context = cache.shape[1];
  const std::size_t kv_width = kv_heads * hd;
  const bool half = cache.dtype == DType::f16;
  const std::size_t rows = live_rows(g, store, node.inputs[0]);
  const auto* pos = at<std::int32_t>(store, node.inputs[3]);
  const auto* seq = at<std::int32_t>(store, node.inputs[4]);
  auto in_cache = [&](std::size_t t) {
    return pos[t] >= 0 && (ring || pos[t] < context) && seq[t] >= 0 && static_cast<std::size_t>(seq[t]) < slots;
  };
  // Where position p of sequence s lives (graph.hpp: the ring keeps p mod context).
  auto entry = [&](std::size_t s, std::int64_t p) {
    return (s * static_cast<std::size_t>(context) + static_cast<std::size_t>(ring ? p % context : p)) * kv_width;
  };
  // Cache element access in either storage format.
  auto load = [&](TensorId c, std::size_t i) -> double {
    return half ? f16_to_f32(at<std::uint16_t>(store, c)[i]) : at<float>(store, c)[i];
  };
  auto store_row = [&](TensorId c, std::size_t i, const float* src) {
    for (std::size_t e = 0; e < kv_width; ++e) {
      if (half) at<std::uint16_t>(store, c)[i + e] = f32_to_f16(src[e]);
      else at<float>(store, c)[i + e] = src[e];
    }
  };
  for (std::size_t t = 0; t < rows; ++t) {
    if (!in_cache(t)) continue;
    const std::size_t at_row = entry(static_cast<std::size_t>(seq[t]), pos[t]);
    store_row(node.inputs[5], at_row, at<float>(store, node.inputs[1]) + t * kv_width);
    store_row(node.inputs[6], at_row, at<float>(store, node.inputs[2]) + t * kv_width);
  }
  std::vector<double> score;
  for (std::size_t t = 0; t < rows; ++t) {
    float* y = at<float>(store, node.outputs[0]) + t * heads * hd;
    if (!in_cache(t)) {
      std::fill_n(y, heads * hd, 0.0f);
      continue;
    }
    // Positions [first, end): up to the end of the row's chunk, within the ring's reach.
    const std::int64_t end = ring ? (pos[t] / chunk + 1) * chunk : std::min<std::int64_t>((pos[t] / chunk + 1) * chunk, context);
    const std::int64_t first = ring ? std::max<std::int64_t>(0, end - context) : 0;
    const auto span = static_cast<std::size_t>(end - first);
    const auto s = static_cast<std::size_t>(seq[t]);
    score.resize(span);
    for (std::size_t h = 0; h < heads; ++h) {
      const std::size_t kvh = h / (heads / kv_heads);
      const float* q = at<float>(store, node.inputs[0]) + t * heads * hd + h * hd;
      double top = -std::numeric_limits<double>::infinity();
      for (std::size_t j = 0; j < span; ++j) {
        const std::size_t base = entry(s, first + static_cast<std::int64_t>(j)) + kvh * hd;
        double sum = 0;
        for (std::size_t e = 0; e < hd; ++e) sum += double(q[e]) * load(node.inputs[5], base + e);
        score[j] = sum * scale;
        top = std::max(top, score[j]);
      }
      double total = 0;
      for (std::size_t j = 0; j < span; ++j) total += (score[j] = std::exp(score[j] - top));
      for (std::size_t e = 0; e < hd; ++e) {
        double acc = 0;
        for (std::size_t j = 0; j < span; ++j)
          acc += score[j] * load(node.inputs[6], entry(s, first + static_cast<std::int64_t>(j)) + kvh * hd + e);
        y[h * hd + e] = static_cast<float>(acc / total);
      }
    }
  }
}

void silu_mul(const Graph& g, const Node& node, const TensorStore& store) {
  const std::size_t n = cols(g, node.inputs[0]) * live_rows(g, store, node.inputs[0]);
  const float* a = at<float>(store, node.inputs[0]);
  const float* b = at<float>(store, node.inputs[1]);
  float* y = at<float>(store, node.outputs[0]);
  for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<float>(a[i] / (1.0 + std::exp(-double(a[i]))) * b[i]);
}

void argmax(const Graph& g, const Node& node, const TensorStore& store) {
  const std::size_t n = cols(g, node.inputs[0]);
  const std::size_t rows = live_rows(g, store, node.inputs[0]);
  for (std::size_t t = 0; t < rows; ++t) {
    const float* x = at<float>(store, node.inputs[0]) + t * n;
    at<std::int32_t>(store, node.outputs[0])[t] = static_cast<std::int32_t>(std::max_element(x, x + n) - x);
  }
}

void gather_rows(const Graph& g, const Node& node, const TensorStore& store) {
  const std::size_t n = cols(g, node.inputs[0]);
  const std::size_t src_rows = live_rows(g, store, node.inputs[0]);
  const std::size_t rows = live_rows(g, store, node.outputs[0]);
  for (std::size_t r = 0; r < rows; ++r) {
    const std::int32_t i = at<std::int32_t>(store, node.inputs[1])[r];
    float* y = at<float>(store, node.outputs[0]) + r * n;
    if (i < 0 || static_cast<std::size_t>(i) >= src_rows) std::fill_n(y, n, 0.0f);
    else std::memcpy(y, at<float>(store, node.inputs[0]) + static_cast<std::size_t>(i) * n, n * 4);
  }
}

void add_bias(const Graph& g, const Node& node, const TensorStore& store) {
  const std::size_t n = cols(g, node.inputs[0]);
  const std::size_t rows = live_rows(g, store, node.inputs[0]);
  const float* b = at<float>(store, node.inputs[1]);
  for (std::size_t t = 0; t < rows; ++t) {
    const float* x = at<float>(store, node.inputs[0]) + t * n;
    float* y = at<float>(store, node.outputs[0]) + t * n;
    for (std::size_t j = 0; j < n; ++j) y[j] = x[j] + b[j];
  }
}

void dac_round(const Graph& g, const Node& node, const TensorStore& store) {
  const std::size_t n = cols(g, node.inputs[0]);
  const std::size_t rows = live_rows(g, store, node.inputs[0]);
  const auto bits = static_cast<int>(node.attrs.get_int("bits", 8));
  const auto given = static_cast<std::size_t>(node.attrs.get_int("block", 0));
  const std::size_t block = given == 0 ? n : given;
  const float* x = at<float>(store, node.inputs[0]);
  float* y = at<float>(store, node.outputs[0]);
  float* scale = at<float>(store, node.outputs[1]);
  if (y != x) std::memmove(y, x, rows * n * sizeof(float));
  for (std::size_t t = 0; t < rows; ++t) {
    float amax = 0;
    for (std::size_t b = 0; b < n; b += block) amax = std::max(amax, analog::round_block(y + t * n + b, std::min(block, n - b), bits));
    scale[t] = amax;
  }
}

void analog_readout(const Graph& g, const Node& node, const TensorStore& store) {
  const std::size_t n = cols(g, node.inputs[0]);
  const std::size_t rows = live_rows(g, store, node.inputs[0]);
  const float* y = at<float>(store, node.inputs[0]);
  const float* xs = at<float>(store, node.inputs[1]);
  const float* ws = at<float>(store, node.inputs[2]);
  const std::uint64_t step = at<std::uint64_t>(store, node.inputs[3])[0];
  const auto seed = static_cast<std::uint64_t>(node.attrs.get_int("seed", 0));
  const auto noise = static_cast<float>(node.attrs.get_double("noise", 0));
  const auto bound = static_cast<float>(node.attrs.get_double("bound", 1));
  const auto bits = static_cast<int>(node.attrs.get_int("bits", 8));
  float* out = at<float>(store, node.outputs[0]);
  for (std::size_t t = 0; t < rows; ++t)
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t i = t * n + j;
      out[i] = analog::readout(y[i], xs[t] * ws[j], analog::standard_normal(seed, step, i), noise, bound, bits);
    }
  at<std::uint64_t>(store, node.outputs[1])[0] = step + 1;  // after every element used `step`
}

}  // namespace

void run_transformer_node(const Graph& g, const Node& node, const TensorStore& store) {
  switch (node.op) {
    case Op::embedding: return embedding(g, node, store);
    case Op::rms_norm: return rms_norm(g, node, store);
    case Op::matmul: return matmul(g, node, store);
    case Op::rope: return rope(g, node, store);
    case Op::attention: return attention(g, node, store);
    case Op::silu_mul: return silu_mul(g, node, store);
    case Op::argmax: return argmax(g, node, store);
    case Op::gather_rows: return gather_rows(g, node, store);
    case Op::add_bias: return add_bias(g, node, store);
    case Op::dac_round: return dac_round(g, node, store);
    case Op::analog_readout: return analog_readout(g, node, store);
    default: return;
  }
}

}  // namespace xpb::ref
