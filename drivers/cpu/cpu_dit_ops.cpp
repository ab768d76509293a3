// The diffusion-transformer ops of the catalogue on the cpu driver (layer_norm to unpatchify,
// graph.hpp): how each op's work is split across the pool's threads, over the SIMD kernels of
// dit_kernels.cpp and llm_kernels.cpp. They run inside a decoder-style graph job (a barrier
// after each node), as the transformer ops do.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "attention_kernels.hpp"
#include "cpu_executable.hpp"
#include "dit_kernels.hpp"
#include "llm_kernels.hpp"

namespace xpb::cpu {

void CpuExecutable::run_dit_share(std::size_t n, int thread, int threads) {
  const Node& node = graph_.nodes()[n];
  const TensorId x = node.inputs[0];
  const auto width = static_cast<std::size_t>(graph_.tensor(x).shape.back());
  const std::size_t rows = live_rows(x);
  const auto [rb, re] = split(rows, thread, threads);  // whole rows
  const auto [eb, ee] = split(rows * width, thread, threads, 64);  // elements, cache lines apart
  const float* in = ptr<float>(x);
  float* out = ptr<float>(node.outputs[0]);
  switch (node.op) {
    case Op::layer_norm: {
      const auto eps = static_cast<float>(node.attrs.get_double("eps", 1e-5));
      const bool affine = node.inputs.size() == 3;
      const float* w = affine ? ptr<float>(node.inputs[1]) : nullptr;
      const float* b = affine ? ptr<float>(node.inputs[2]) : nullptr;
      for (std::size_t t = rb; t < re; ++t) layer_norm_row(in + t * width, width, eps, w, b, out + t * width);
      return;
    }
    case Op::modulate:
      for (std::size_t t = rb; t < re; ++t)
        modulate_row(in + t * width, ptr<float>(node.inputs[1]), ptr<float>(node.inputs[2]), out + t * width, width);
      return;
    case Op::gated_add:
      for (std::size_t t = rb; t < re; ++t)
        gated_add_row(in + t * width, ptr<float>(node.inputs[1]) + t * width, ptr<float>(node.inputs[2]), out + t * width,
                      width);
      return;
    case Op::gelu: gelu(in + eb, out + eb, ee - eb); return;
    case Op::silu: silu(in + eb, out + eb, ee - eb); return;
    case Op::flow_step:
      flow_step(in + eb, ptr<float>(node.inputs[1]) + eb, ptr<float>(node.inputs[2]) + eb, out + eb, ee - eb,
                static_cast<float>(node.attrs.get_double("sigma", 0)),
                static_cast<float>(node.attrs.get_double("sigma_next", 0)));
      return;
    case Op::cross_attention: {
      // Tiles of rows, one head each, the (tile, head) pairs split across threads; every row
      // attends every key (a cache of one sequence that never wraps).
      const auto heads = static_cast<std::size_t>(node.attrs.get_int("heads", 1));
      const auto hd = static_cast<std::size_t>(node.attrs.get_int("head_dim", 1));
      const auto scale = static_cast<float>(node.attrs.get_double("scale", 1.0 / std::sqrt(static_cast<double>(hd))));
      const auto keys = static_cast<std::int64_t>(graph_.tensor(node.inputs[1]).shape[0]);
      std::int64_t first[kTileRows] = {}, end[kTileRows];
      std::fill_n(end, kTileRows, keys);
      // Heads past attend_tile's largest: one row at a time.
      const std::size_t tile = hd <= kMaxHeadDim ? tile_rows(rows, heads, threads) : 1;
      const std::size_t tiles = (rows + tile - 1) / tile;
      share_with_stealing(n, tiles * heads, thread, threads, [&](std::size_t items_begin, std::size_t items_end) {
        for (std::size_t item = items_begin; item < items_end; ++item) {
          const std::size_t t0 = item / heads * tile, h = item % heads, count = std::min(tile, rows - t0);
          if (tile == 1) {
            attend(in + t0 * width + h * hd, ptr<float>(node.inputs[1]) + h * hd, ptr<float>(node.inputs[2]) + h * hd,
                   false, 0, static_cast<std::size_t>(keys), static_cast<std::size_t>(keys), width, hd, scale,
                   scores_[static_cast<std::size_t>(thread)].data(), out + t0 * width + h * hd);
            continue;
          }
          attend_tile(in + t0 * width + h * hd, width, count, first, end, ptr<float>(node.inputs[1]) + h * hd,
                      ptr<float>(node.inputs[2]) + h * hd, false, static_cast<std::size_t>(keys), width, hd, scale,
                      tile_scratch_[static_cast<std::size_t>(thread)].data(), out + t0 * width + h * hd, width);
        }
      }, 1);
      return;
    }
    case Op::unpatchify: {
      // Output rows (channel, frame, pixel row) split across threads.
      auto attr = [&](const char* a) { return static_cast<std::size_t>(node.attrs.get_int(a, 1)); };
      const std::size_t frames = attr("frames"), h = attr("height"), w = attr("width"), c = attr("channels"),
                        ph = attr("patch_h"), pw = attr("patch_w");
      const auto [ob, oe] = split(c * frames * h * ph, thread, threads);
      for (std::size_t o = ob; o < oe; ++o) {
        const std::size_t r = o % (h * ph), f = o / (h * ph) % frames, ch = o / (h * ph * frames);
        float* y = out + o * w * pw;
        for (std::size_t col = 0; col < w * pw; ++col)
          y[col] = in[((f * h + r / ph) * w + col / pw) * ph * pw * c + ((r % ph) * pw + col % pw) * c + ch];
      }
      return;
    }
    default: return;
  }
}

}  // namespace xpb::cpu
