// The transformer ops of the catalogue on the cpu driver: how each op's work is split across
// the pool's threads, over the SIMD kernels of llm_kernels.cpp. A decoder graph runs as one
// pool job with a barrier after each node (CpuExecutable::run_graph_share), so a node may
// also put a barrier of its own between two phases (round the activations, then multiply).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "attention_kernels.hpp"
#include "cpu_executable.hpp"
#include "gemm_kernels.hpp"
#include "xpubench/analog.hpp"
#include "xpubench/gguf_blocks.hpp"
#include "xpubench/quant.hpp"

namespace xpb::cpu {
namespace {


}  // namespace

std::size_t CpuExecutable::live_rows(TensorId id) const { return graph_.live_rows(id, dims_); }

void CpuExecutable::prepare_transformer() {
  const auto& nodes = graph_.nodes();
  // Memory and compute ops are elementwise over page shares: alone, each thread repeats its own.
  transformer_ = std::any_of(nodes.begin(), nodes.end(), [](const Node& n) {
    return op_def(n.op).family != OpFamily::memory && op_def(n.op).family != OpFamily::compute;
  });
  written_at_.assign(graph_.tensors().size(), 0);
  if (!transformer_) return;
  for (auto& set : chunk_counters_) set = std::make_unique<ChunkCounter[]>(static_cast<std::size_t>(pool_.size()));
  quantized_.resize(graph_.tensors().size());
  halved_.resize(graph_.tensors().size());
  std::size_t context = 1, head_dim = 1;
  for (const Node& node : nodes) {
    if (node.op == Op::attention || node.op == Op::cross_attention)
      head_dim = std::max(head_dim, static_cast<std::size_t>(node.attrs.get_int("head_dim", 1)));
    if (node.op == Op::matmul) {
      const DType wt = graph_.tensor(node.inputs[1]).dtype;
      if (wt == DType::f16) halved_[node.inputs[0]].x.resize(graph_.tensor(node.inputs[0]).elements());
      if (!is_block_quantized(wt)) continue;
      const TensorDesc& x = graph_.tensor(node.inputs[0]);
      auto& qc = quantized_[node.inputs[0]][static_cast<std::size_t>(activation_blocks(wt))];
      qc.q.resize(x.elements());
      qc.d.resize(x.elements() / kQuantBlock);
      qc.sum.resize(x.elements() / kQuantBlock);
      qc.neg_sum.resize(x.elements() / kQuantBlock);
      qc.sum16.resize(x.elements() / 16);
    } else if (node.op == Op::attention) {
      context = std::max(context, static_cast<std::size_t>(graph_.tensor(node.inputs[5]).shape[1]));
    } else if (node.op == Op::cross_attention) {
      context = std::max(context, static_cast<std::size_t>(graph_.tensor(node.inputs[1]).shape[0]));
    } else if (node.op == Op::rope) {
      rope_frequencies(static_cast<std::size_t>(&node - nodes.data()));
    }
  }
  scores_.assign(static_cast<std::size_t>(pool_.size()), std::vector<float>(context));
  tile_scratch_.assign(static_cast<std::size_t>(pool_.size()), std::vector<float>(attend_tile_scratch(head_dim)));
  gemm_scratch_.assign(static_cast<std::size_t>(pool_.size()), std::vector<float>(gemm_scratch()));
}

void CpuExecutable::rope_frequencies(std::size_t n) {
  const Node& node = graph_.nodes()[n];
  const auto hd = static_cast<std::size_t>(node.attrs.get_int("head_dim", 2));
  const double theta = node.attrs.get_double("theta", 10000.0);
  const float* factor = node.inputs.size() > 2 ? ptr<float>(node.inputs[2]) : nullptr;
  auto& freq = state_[n].rope_freq;
  freq.clear();
  for (std::size_t i = 0; i < hd / 2; ++i)
    freq.push_back(std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(hd)) /
                   (factor != nullptr ? factor[i] : 1.0f));
}

template <class Make>
void CpuExecutable::refresh_copy(CopyStamp& stamp, TensorId x, std::size_t rows, std::size_t k, std::size_t grain,
                                 int thread, int threads, Make&& make) {
  // Every thread reads the stamp before this barrier; thread 0 alone writes it after, before
  // the barrier that ends the node, so all threads take the same branch in the nodes after.
  if (stamp.made_at == written_at_[x] && stamp.rows >= rows) return;
  const Range share = split(rows * k, thread, threads, grain);
  if (share.begin < share.end) make(share.begin, share.end);
  barrier_.wait();
  if (thread == 0) {
    stamp.made_at = written_at_[x];
    stamp.rows = rows;
  }
}

void CpuExecutable::reset_chunk_counters(std::size_t parity) {
  for (int t = 0; t < pool_.size(); ++t) chunk_counters_[parity][static_cast<std::size_t>(t)].next.store(0, std::memory_order_relaxed);
}

void CpuExecutable::run_transformer_share(std::size_t n, int thread, int threads) {
  const Node& node = graph_.nodes()[n];
  auto cols = [&](TensorId id) { return static_cast<std::size_t>(graph_.tensor(id).shape.back()); };
  switch (node.op) {
    case Op::add: {  // a residual add over the live rows (memory graphs take the stream path)
      const TensorId out = node.outputs[0];
      const std::size_t count = live_rows(out) * (graph_.tensor(out).elements() / std::max<std::size_t>(1, graph_.tensor(out).shape[0]));
      const Range r = split(count, thread, threads, 16);
      const float* a = ptr<float>(node.inputs[0]);
      const float* b = ptr<float>(node.inputs[1]);
      float* y = ptr<float>(out);
      for (std::size_t i = r.begin; i < r.end; ++i) y[i] = a[i] + b[i];
      return;
    }
    case Op::embedding: {
      const TensorId table = node.inputs[0], ids = node.inputs[1], out = node.outputs[0];
      const TensorDesc& td = graph_.tensor(table);
      const std::size_t dim = cols(table), vocab = static_cast<std::size_t>(td.shape[0]);
      const std::size_t row_bytes = storage_bytes(td.dtype, dim);
      const Range r = split(std::min(live_rows(ids), live_rows(out)), thread, threads);
      for (std::size_t t = r.begin; t < r.end; ++t) {
        const std::int32_t id = ptr<std::int32_t>(ids)[t];
        float* y = ptr<float>(out) + t * dim;
        if (id < 0 || static_cast<std::size_t>(id) >= vocab) {
          // An error, never a row of zeros passed off as a token (the run reports it).
          std::fill_n(y, dim, 0.0f);
          std::int64_t none = -1;
          if (bad_row_.compare_exchange_strong(none, static_cast<std::int64_t>(t))) bad_id_.store(id);
          continue;
        }
        decode_row(td.dtype, data_[table] + static_cast<std::size_t>(id) * row_bytes, y, dim);
      }
      return;
    }
    case Op::rms_norm: {
      const std::size_t width = cols(node.inputs[0]);
      const auto eps = static_cast<float>(node.attrs.get_double("eps", 1e-5));
      const float* w = ptr<float>(node.inputs[1]);
      const Range r = split(live_rows(node.inputs[0]), thread, threads);
      for (std::size_t t = r.begin; t < r.end; ++t) {
        const float* x = ptr<float>(node.inputs[0]) + t * width;
        float* y = ptr<float>(node.outputs[0]) + t * width;
        // As ggml computes it: squares in f32 summed in double, the mean rounded to f32. An
        // activation one ulp away from llama.cpp's can round to another 8-bit code at a tie
        // (quantized embedding rows put values on such lattices), which took cpu 1.5-2.4% away
        // from llama.cpp on whole models (docs/LLM.md).
        double ss = 0;
        for (std::size_t i = 0; i < width; ++i) ss += static_cast<double>(x[i] * x[i]);
        const auto mean = static_cast<float>(ss / static_cast<double>(width));
        const float inv = 1.0f / std::sqrt(mean + eps);
        for (std::size_t i = 0; i < width; ++i) y[i] = x[i] * inv * w[i];
      }
      return;
    }
    case Op::matmul: {
      const TensorId x = node.inputs[0], w = node.inputs[1], out = node.outputs[0];
      const TensorDesc& wd = graph_.tensor(w);
      const std::size_t k = cols(x), nout = static_cast<std::size_t>(wd.shape[0]);
      const std::size_t rows = live_rows(x);
      if (is_block_quantized(wd.dtype)) {
        const ActivationBlocks form = activation_blocks(wd.dtype);
        auto& qc = quantized_[x][static_cast<std::size_t>(form)];
        const QuantizedRows qx{qc.q.data(), qc.d.data(), qc.sum.data(), qc.neg_sum.data(), qc.sum16.data(), k};
        // Every block of these formats stands alone (its scale, its sums), so values
        // [first, end) round as one row of end - first values would.
        const std::size_t block = form == ActivationBlocks::q8_K ? kSuperBlock : kQuantBlock;
        refresh_copy(qc.stamp, x, rows, k, block, thread, threads, [&](std::size_t first, std::size_t end) {
          const QuantizedRows part{qx.q + first,       qx.d + first / kQuantBlock,       qx.sum + first / kQuantBlock,
                                   qx.neg_sum + first / kQuantBlock, qx.sum16 + first / 16, end - first};
          quantize_rows(form, ptr<float>(x) + first, 0, 1, part);
        });
        const bool own_kernels = wd.dtype == DType::q8_0 || wd.dtype == DType::q4_0;
        share_with_stealing(n, nout, thread, threads, [&](std::size_t begin, std::size_t end) {
          if (own_kernels) matmul_quantized(wd.dtype, data_[w], storage_bytes(wd.dtype, k), begin, end, qx, rows, ptr<float>(out), nout);
          else matmul_gguf(wd.dtype, data_[w], storage_bytes(wd.dtype, k), begin, end, qx, rows, ptr<float>(out), nout);
        });
      } else {
        const float* in = ptr<float>(x);
        if (wd.dtype == DType::f16) {
          // As llama.cpp: the activations rounded to f16 first, then f32 products and sums.
          auto& hc = halved_[x];
          refresh_copy(hc.stamp, x, rows, k, 16, thread, threads, [&](std::size_t first, std::size_t end) {
            for (std::size_t i = first; i < end; ++i) hc.x[i] = f16_to_f32(f32_to_f16(in[i]));
          });
          in = hc.x.data();
        }
        // Many rows: the packed GEMM, its columns in whole panels; a few: dot products.
        if (rows >= kGemmMinRows) {
          // Columns by whole groups (x streams once a group) where each thread gets four or
          // more; a smaller product (a scaled model's) by single panels, so that stealing
          // can even the threads out (a group a thread left one waiting a group's time).
          const std::size_t grain = nout >= 4 * static_cast<std::size_t>(threads) * kGemmGroup ? kGemmGroup : kGemmPanel;
          float* panel = gemm_scratch_[static_cast<std::size_t>(thread)].data();
          share_with_stealing(
              n, nout, thread, threads,
              [&](std::size_t begin, std::size_t end) {
                gemm_float(wd.dtype, data_[w], k, begin, end, in, rows, ptr<float>(out), nout, panel);
              },
              grain);
        } else {
          share_with_stealing(n, nout, thread, threads, [&](std::size_t begin, std::size_t end) {
            matmul_float(wd.dtype, data_[w], k, begin, end, in, rows, ptr<float>(out), nout);
          });
        }
      }
      return;
    }
    case Op::rope: {
      const std::size_t width = cols(node.inputs[0]);
      const auto& freq = state_[n].rope_freq;
      const std::size_t hd = 2 * freq.size();
      const Range r = split(live_rows(node.inputs[0]), thread, threads);
      for (std::size_t t = r.begin; t < r.end; ++t) {
        const double pos = ptr<std::int32_t>(node.inputs[1])[t];
        const float* x = ptr<float>(node.inputs[0]) + t * width;
        float* y = ptr<float>(node.outputs[0]) + t * width;
        for (std::size_t i = 0; i < freq.size(); ++i) {
          // The angle in double: positions reach 10^5 and more, where float would lose it.
          const auto c = static_cast<float>(std::cos(pos * freq[i])), s = static_cast<float>(std::sin(pos * freq[i]));
          for (std::size_t h = 0; h < width; h += hd) {
            const float a = x[h + 2 * i], b = x[h + 2 * i + 1];
            y[h + 2 * i] = a * c - b * s;
            y[h + 2 * i + 1] = a * s + b * c;
          }
        }
      }
      return;
    }
    case Op::attention: {
      const auto heads = static_cast<std::size_t>(node.attrs.get_int("heads", 1));
      const auto kv_heads = static_cast<std::size_t>(node.attrs.get_int("kv_heads", 1));
      const auto hd = static_cast<std::size_t>(node.attrs.get_int("head_dim", 1));
      const auto scale = static_cast<float>(node.attrs.get_double("scale", 1.0 / std::sqrt(static_cast<double>(hd))));
      const auto chunk = node.attrs.get_int("chunk", 1);
      const bool ring = node.attrs.get_bool("ring", false);
      const TensorDesc& cd = graph_.tensor(node.inputs[5]);
      const auto slots = static_cast<std::size_t>(cd.shape[0]);
      const std::int64_t context = cd.shape[1];
      const std::size_t kvw = kv_heads * hd;
      const bool half = cd.dtype == DType::f16;
      const std::size_t rows = live_rows(node.inputs[0]);
      const auto* pos = ptr<std::int32_t>(node.inputs[3]);
      const auto* seq = ptr<std::int32_t>(node.inputs[4]);
      auto in_cache = [&](std::size_t t) {
        return pos[t] >= 0 && (ring || pos[t] < context) && seq[t] >= 0 && static_cast<std::size_t>(seq[t]) < slots;
      };
      // Position p's slot: p itself, or p mod context in a ring (graph.hpp).
      auto slot = [&](std::int64_t p) { return static_cast<std::size_t>(ring ? p % context : p); };
      auto entry = [&](std::size_t s, std::size_t at) { return (s * static_cast<std::size_t>(context) + at) * kvw; };
      // Phase 1: this step's keys and values into the cache.
      const Range rs = split(rows, thread, threads);
      for (std::size_t t = rs.begin; t < rs.end; ++t) {
        if (!in_cache(t)) continue;
        const std::size_t at = entry(static_cast<std::size_t>(seq[t]), slot(pos[t]));
        const float* kr = ptr<float>(node.inputs[1]) + t * kvw;
        const float* vr = ptr<float>(node.inputs[2]) + t * kvw;
        if (half) {
          encode_row(DType::f16, kr, reinterpret_cast<std::byte*>(ptr<std::uint16_t>(node.inputs[5]) + at), kvw);
          encode_row(DType::f16, vr, reinterpret_cast<std::byte*>(ptr<std::uint16_t>(node.inputs[6]) + at), kvw);
        } else {
          std::memcpy(ptr<float>(node.inputs[5]) + at, kr, kvw * 4);
          std::memcpy(ptr<float>(node.inputs[6]) + at, vr, kvw * 4);
        }
      }
      barrier_.wait();
      // Phase 2: tiles of up to kTileRows rows of one sequence, one head each, the (tile,
      // head) pairs split across threads; a tile reads each cached key and value once for all
      // its rows (attend_tile). A tile of one row (decode) streams them (attend).
      // Row t attends positions [first, end): to the end of its chunk, within the ring's reach.
      auto range = [&](std::size_t t, std::int64_t& first, std::int64_t& end) {
        if (!in_cache(t)) {
          first = end = 0;
          return;
        }
        const std::int64_t chunk_end = (pos[t] / chunk + 1) * chunk;
        end = ring ? chunk_end : std::min(chunk_end, context);
        first = ring ? std::max<std::int64_t>(0, end - context) : 0;
      };
      const std::size_t elem = half ? 2 : 4, tile = tile_rows(rows, heads, threads), tiles = (rows + tile - 1) / tile;
      share_with_stealing(n, tiles * heads, thread, threads, [&](std::size_t items_begin, std::size_t items_end) {
        for (std::size_t item = items_begin; item < items_end; ++item) {
          const std::size_t t0 = item / heads * tile, h = item % heads, count = std::min(tile, rows - t0);
          std::int64_t first[kTileRows], end[kTileRows];
          std::int32_t tile_seq = -1;
          bool one_seq = true;
          for (std::size_t r = 0; r < count; ++r) {
            range(t0 + r, first[r], end[r]);
            if (first[r] == end[r]) continue;
            if (tile_seq >= 0 && seq[t0 + r] != tile_seq) one_seq = false;
            tile_seq = seq[t0 + r];
          }
          const std::size_t width = heads * hd, kv_off = h / (heads / kv_heads) * hd;
          const float* q = ptr<float>(node.inputs[0]) + t0 * width + h * hd;
          float* y = ptr<float>(node.outputs[0]) + t0 * width + h * hd;
          if (count > 1 && one_seq && hd <= kMaxHeadDim) {
            const std::size_t base = entry(static_cast<std::size_t>(std::max(tile_seq, 0)), 0) + kv_off;
            attend_tile(q, width, count, first, end, data_[node.inputs[5]] + base * elem,
                        data_[node.inputs[6]] + base * elem,
                        half, static_cast<std::size_t>(context), kvw, hd, scale,
                        tile_scratch_[static_cast<std::size_t>(thread)].data(), y, width);
            continue;
          }
          for (std::size_t r = 0; r < count; ++r) {
            if (first[r] == end[r]) {
              std::fill_n(y + r * width, hd, 0.0f);
              continue;
            }
            const std::size_t base = entry(static_cast<std::size_t>(seq[t0 + r]), 0) + kv_off;
            attend(q + r * width, data_[node.inputs[5]] + base * elem, data_[node.inputs[6]] + base * elem, half,
                   slot(first[r]), static_cast<std::size_t>(end[r] - first[r]), static_cast<std::size_t>(context), kvw,
                   hd, scale, scores_[static_cast<std::size_t>(thread)].data(), y + r * width);
          }
        }
      }, 1);
      return;
    }
    case Op::silu_mul: {
      const std::size_t count = live_rows(node.inputs[0]) * cols(node.inputs[0]);
      const Range r = split(count, thread, threads, 64);
      silu_mul(ptr<float>(node.inputs[0]) + r.begin, ptr<float>(node.inputs[1]) + r.begin,
               ptr<float>(node.outputs[0]) + r.begin, r.end - r.begin);
      return;
    }
    case Op::argmax: {
      const std::size_t width = cols(node.inputs[0]);
      const Range r = split(live_rows(node.inputs[0]), thread, threads);
      for (std::size_t t = r.begin; t < r.end; ++t) {
        const float* x = ptr<float>(node.inputs[0]) + t * width;
        ptr<std::int32_t>(node.outputs[0])[t] = static_cast<std::int32_t>(std::max_element(x, x + width) - x);
      }
      return;
    }
    case Op::gather_rows: {
      const std::size_t width = cols(node.inputs[0]);
      const std::size_t src_rows = live_rows(node.inputs[0]);
      const Range r = split(live_rows(node.outputs[0]), thread, threads);
      for (std::size_t i = r.begin; i < r.end; ++i) {
        const std::int32_t idx = ptr<std::int32_t>(node.inputs[1])[i];
        float* y = ptr<float>(node.outputs[0]) + i * width;
        if (idx < 0 || static_cast<std::size_t>(idx) >= src_rows) std::fill_n(y, width, 0.0f);
        else std::memcpy(y, ptr<float>(node.inputs[0]) + static_cast<std::size_t>(idx) * width, width * 4);
      }
      return;
    }
    case Op::add_bias: {
      const std::size_t width = cols(node.inputs[0]);
      const float* b = ptr<float>(node.inputs[1]);
      const Range r = split(live_rows(node.inputs[0]), thread, threads);
      for (std::size_t t = r.begin; t < r.end; ++t) {
        const float* x = ptr<float>(node.inputs[0]) + t * width;
        float* y = ptr<float>(node.outputs[0]) + t * width;
        for (std::size_t j = 0; j < width; ++j) y[j] = x[j] + b[j];
      }
      return;
    }
    case Op::dac_round: {  // rows split over the threads (a row's blocks share its full scale)
      const std::size_t width = cols(node.inputs[0]);
      const auto bits = static_cast<int>(node.attrs.get_int("bits", 8));
      const auto given = static_cast<std::size_t>(node.attrs.get_int("block", 0));
      const std::size_t block = given == 0 ? width : given;
      const Range r = split(live_rows(node.inputs[0]), thread, threads);
      for (std::size_t t = r.begin; t < r.end; ++t) {
        const float* x = ptr<float>(node.inputs[0]) + t * width;
        float* y = ptr<float>(node.outputs[0]) + t * width;
        if (y != x) std::memcpy(y, x, width * sizeof(float));
        float amax = 0;
        for (std::size_t b = 0; b < width; b += block)
          amax = std::max(amax, analog::round_block(y + b, std::min(block, width - b), bits));
        ptr<float>(node.outputs[1])[t] = amax;
      }
      return;
    }
    case Op::analog_readout: {  // elements split over the threads; the step moves on after all
      const std::size_t width = cols(node.inputs[0]);
      const std::size_t count = live_rows(node.inputs[0]) * width;
      const std::uint64_t step = ptr<std::uint64_t>(node.inputs[3])[0];
      const auto seed = static_cast<std::uint64_t>(node.attrs.get_int("seed", 0));
      const auto noise = static_cast<float>(node.attrs.get_double("noise", 0));
      const auto bound = static_cast<float>(node.attrs.get_double("bound", 1));
      const auto bits = static_cast<int>(node.attrs.get_int("bits", 8));
      const float* y = ptr<float>(node.inputs[0]);
      const float* xs = ptr<float>(node.inputs[1]);
      const float* ws = ptr<float>(node.inputs[2]);
      float* out = ptr<float>(node.outputs[0]);
      const Range r = split(count, thread, threads, 64);
      for (std::size_t i = r.begin; i < r.end; ++i)
        out[i] = analog::readout(y[i], xs[i / width] * ws[i % width], analog::standard_normal(seed, step, i), noise, bound, bits);
      barrier_.wait();  // every thread has read `step`
      if (thread == 0) ptr<std::uint64_t>(node.outputs[1])[0] = step + 1;
      return;
    }
    case Op::layer_norm:
    case Op::modulate:
    case Op::gated_add:
    case Op::gelu:
    case Op::silu:
    case Op::cross_attention:
    case Op::flow_step:
    case Op::unpatchify: return run_dit_share(n, thread, threads);
    default: return;
  }
}

}  // namespace xpb::cpu
