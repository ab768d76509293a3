#include "ref_ops.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "xpubench/quant.hpp"

namespace xpb::ref {
namespace {

template <class T>
T* data_as(std::span<std::byte> b) {
  return reinterpret_cast<T*>(b.data());
}

template <class T>
void elementwise(const Graph& g, const Node& node, const TensorStore& store) {
  const TensorDesc& out_desc = g.tensor(node.outputs[0]);
  std::size_t n = out_desc.elements();
  if (out_desc.rows_dim && out_desc.shape[0] > 0)
    n = n / static_cast<std::size_t>(out_desc.shape[0]) * live_rows(g, store, node.outputs[0]);
  T* out = data_as<T>(store[node.outputs[0]]);
  const double s = node.attrs.get_double("scalar", 3.0);
  switch (node.op) {
    case Op::copy: {
      const T* a = data_as<T>(store[node.inputs[0]]);
      for (std::size_t i = 0; i < n; ++i) out[i] = a[i];
      break;
    }
    case Op::scale: {
      const T* a = data_as<T>(store[node.inputs[0]]);
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(s * a[i]);
      break;
    }
    case Op::add: {
      const T* a = data_as<T>(store[node.inputs[0]]);
      const T* b = data_as<T>(store[node.inputs[1]]);
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(double(a[i]) + double(b[i]));
      break;
    }
    case Op::triad: {
      const T* a = data_as<T>(store[node.inputs[0]]);
      const T* b = data_as<T>(store[node.inputs[1]]);
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(double(a[i]) + s * double(b[i]));
      break;
    }
    case Op::write_fill: {
      const T v = static_cast<T>(node.attrs.get_double("value", 0.0));
      for (std::size_t i = 0; i < n; ++i) out[i] = v;
      break;
    }
    case Op::read_sum: {
      const T* a = data_as<T>(store[node.inputs[0]]);
      const std::size_t m = g.tensor(node.inputs[0]).elements();
      double sum = 0;
      for (std::size_t i = 0; i < m; ++i) sum += double(a[i]);
      *data_as<double>(store[node.outputs[0]]) = sum;
      break;
    }
    default: break;
  }
}

// fma_loop (graph.hpp): each element's chain of steps in the tensor's dtype, one rounding to the
// dtype after every step. f16 steps in f32 and rounds to f16: v * 0.5 + 0.5 of an f16 value v
// is exact in f32 unless v * 0.5 has a bit at 2^-25 (only when |v| < 2^-13), and then the sum
// lies within 2^-14 of 0.5, where it and its f32 rounding both round to 0.5 in f16. So the one
// rounding to f16 is that of the exact result: what native f16 arithmetic gives.
// int8_dot_loop (graph.hpp): the definition's closed form, chain * dot in 32-bit unsigned
// arithmetic (two's complement wrapping, the same bits as `chain` wrapping additions).
void int8_dot_loop(const Graph& g, const Node& node, const TensorStore& store) {
  const std::size_t n = g.tensor(node.outputs[0]).elements();
  const auto chain = static_cast<std::uint32_t>(node.attrs.get_int("chain", 1));
  const auto* x = reinterpret_cast<const std::uint8_t*>(store[node.inputs[0]].data());
  const auto* w = reinterpret_cast<const std::int8_t*>(store[node.inputs[1]].data());
  auto* out = reinterpret_cast<std::uint32_t*>(store[node.outputs[0]].data());
  for (std::size_t i = 0; i < n; ++i) {
    std::int32_t dot = 0;
    for (int k = 0; k < 4; ++k) dot += static_cast<std::int32_t>(x[4 * i + k]) * w[k];
    out[i] = chain * static_cast<std::uint32_t>(dot);
  }
}

void fma_loop(const Graph& g, const Node& node, const TensorStore& store) {
  const std::size_t n = g.tensor(node.outputs[0]).elements();
  const auto chain = node.attrs.get_int("chain", 1);
  const std::byte* in = store[node.inputs[0]].data();
  std::byte* out = store[node.outputs[0]].data();
  switch (g.tensor(node.outputs[0]).dtype) {
    case DType::f64:
      for (std::size_t i = 0; i < n; ++i) {
        double v = reinterpret_cast<const double*>(in)[i];
        for (std::int64_t s = 0; s < chain; ++s) v = v * 0.5 + 0.5;
        reinterpret_cast<double*>(out)[i] = v;
      }
      break;
    case DType::f32:
      for (std::size_t i = 0; i < n; ++i) {
        float v = reinterpret_cast<const float*>(in)[i];
        for (std::int64_t s = 0; s < chain; ++s) v = v * 0.5f + 0.5f;
        reinterpret_cast<float*>(out)[i] = v;
      }
      break;
    case DType::f16:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t h = reinterpret_cast<const std::uint16_t*>(in)[i];
        for (std::int64_t s = 0; s < chain; ++s) h = f32_to_f16(f16_to_f32(h) * 0.5f + 0.5f);
        reinterpret_cast<std::uint16_t*>(out)[i] = h;
      }
      break;
    case DType::bf16:  // the same argument: bf16's 8 significant bits sit well inside f32's 24
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t h = reinterpret_cast<const std::uint16_t*>(in)[i];
        for (std::int64_t s = 0; s < chain; ++s) h = f32_to_bf16(bf16_to_f32(h) * 0.5f + 0.5f);
        reinterpret_cast<std::uint16_t*>(out)[i] = h;
      }
      break;
    case DType::i8:
      for (std::size_t i = 0; i < n; ++i) {
        unsigned v = reinterpret_cast<const std::uint8_t*>(in)[i];
        for (std::int64_t s = 0; s < chain; ++s) v = (v * 5u + 1u) & 255u;
        reinterpret_cast<std::uint8_t*>(out)[i] = static_cast<std::uint8_t>(v);
      }
      break;
    default: break;  // Graph::check admits no other dtype
  }
}

}  // namespace

void reset_chase_positions(const Graph& g, const TensorStore& store, TensorId ring) {
  for (const auto& node : g.nodes()) {
    if (node.op != Op::chase || node.inputs[0] != ring) continue;
    const TensorDesc& desc = g.tensor(ring);
    const auto starts = chase_start_lines(data_as<std::uint64_t>(store[ring]), static_cast<std::size_t>(desc.shape[0]),
                                     static_cast<std::size_t>(desc.shape[1]),
                                     static_cast<std::size_t>(node.attrs.get_int("chains", 1)));
    std::copy(starts.begin(), starts.end(), data_as<std::uint64_t>(store[node.outputs[0]]));
  }
}

void run_node(const Graph& g, const Node& node, const TensorStore& store) {
  switch (node.op) {
    case Op::embedding:
    case Op::rms_norm:
    case Op::matmul:
    case Op::rope:
    case Op::attention:
    case Op::silu_mul:
    case Op::argmax:
    case Op::gather_rows:
    case Op::add_bias:
    case Op::dac_round:
    case Op::analog_readout: run_transformer_node(g, node, store); break;
    case Op::layer_norm:
    case Op::modulate:
    case Op::gated_add:
    case Op::gelu:
    case Op::silu:
    case Op::cross_attention:
    case Op::flow_step:
    case Op::unpatchify: run_dit_node(g, node, store); break;
    case Op::copy:
    case Op::scale:
    case Op::add:
    case Op::triad:
    case Op::write_fill:
    case Op::read_sum: {
      const DType t = g.tensor(node.op == Op::read_sum ? node.inputs[0] : node.outputs[0]).dtype;
      if (t == DType::f64) elementwise<double>(g, node, store);
      else elementwise<float>(g, node, store);
      break;
    }
    case Op::fma_loop: fma_loop(g, node, store); break;
    case Op::int8_dot_loop: int8_dot_loop(g, node, store); break;
    case Op::read_bytes: {
      // Little-endian words assembled byte by byte, so the definition holds on any host.
      const auto* in = data_as<std::uint8_t>(store[node.inputs[0]]);
      const std::size_t n = g.tensor(node.inputs[0]).bytes();
      std::uint64_t sum = 0;
      for (std::size_t w = 0; w < n; w += 8) {
        std::uint64_t word = 0;
        for (std::size_t b = 0; b < 8 && w + b < n; ++b) word |= std::uint64_t{in[w + b]} << (8 * b);
        sum += word;
      }
      *data_as<std::uint64_t>(store[node.outputs[0]]) = sum;
      break;
    }
    case Op::chase: {
      const TensorDesc& ring_desc = g.tensor(node.inputs[0]);
      const auto lines = static_cast<std::size_t>(ring_desc.shape[0]);
      const auto words = static_cast<std::size_t>(ring_desc.shape[1]);
      const auto* ring = data_as<std::uint64_t>(store[node.inputs[0]]);
      const auto chains = static_cast<std::size_t>(node.attrs.get_int("chains", 1));
      const auto steps = static_cast<std::uint64_t>(node.attrs.get_int("steps", 0));
      auto* at = data_as<std::uint64_t>(store[node.outputs[0]]);
      for (std::size_t c = 0; c < chains; ++c)
        for (std::uint64_t s = 0; s < steps; ++s) at[c] = ring[(at[c] % lines) * words];
      break;
    }
    case Op::fill_pattern: {
      const auto p = *parse_pattern(node.attrs.get_string("pattern", ""));
      const auto seed = static_cast<std::uint64_t>(node.attrs.get_int("seed", 0));
      const bool invert = node.attrs.get_bool("invert", false);
      auto* out = data_as<std::uint64_t>(store[node.outputs[0]]);
      const std::size_t n = g.tensor(node.outputs[0]).elements();
      for (std::size_t i = 0; i < n; ++i) out[i] = pattern_word(p, seed, i, invert);
      break;
    }
    case Op::verify_pattern: {
      const auto p = *parse_pattern(node.attrs.get_string("pattern", ""));
      const auto seed = static_cast<std::uint64_t>(node.attrs.get_int("seed", 0));
      const bool invert = node.attrs.get_bool("invert", false);
      const auto max_errors = static_cast<std::uint64_t>(node.attrs.get_int("max_errors", 1));
      const auto* in = data_as<std::uint64_t>(store[node.inputs[0]]);
      auto* count = data_as<std::uint64_t>(store[node.outputs[0]]);
      auto* list = data_as<std::uint64_t>(store[node.outputs[1]]);
      std::fill_n(list, max_errors * 3, 0);
      const std::size_t n = g.tensor(node.inputs[0]).elements();
      std::uint64_t errors = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t want = pattern_word(p, seed, i, invert);
        if (in[i] != want) {
          if (errors < max_errors) {
            list[errors * 3 + 0] = i;
            list[errors * 3 + 1] = want;
            list[errors * 3 + 2] = in[i];
          }
          ++errors;
        }
      }
      *count = errors;
      break;
    }
  }
}

}  // namespace xpb::ref
