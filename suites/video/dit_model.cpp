#include "dit_model.hpp"

#include <cmath>
#include <map>
#include <sstream>

#include "xpubench/op_catalogue.hpp"

namespace xpb::video {

std::uint64_t DitConfig::parameters() const {
  const auto d = static_cast<std::uint64_t>(dim), f = static_cast<std::uint64_t>(ffn);
  // Per block: self and cross attention (4 + 4 matrices and biases), the FFN, 6 adaLN vectors,
  // q/k RMS norms of both attentions, the cross-attention LayerNorm's weight and bias.
  const std::uint64_t block = 8 * (d * d + d) + 2 * d * f + f + d + 6 * d + 4 * d + 2 * d;
  const std::uint64_t text = static_cast<std::uint64_t>(text_dim) * d + d + d * d + d;
  const std::uint64_t time = static_cast<std::uint64_t>(freq_dim) * d + d + d * d + d + 6 * (d * d + d);
  const auto p = static_cast<std::uint64_t>(patch_values());
  return static_cast<std::uint64_t>(layers) * block + text + time + (p * d + d) + (d * p + p) + 2 * d;
}

std::string DitConfig::problem(DType weights) const {
  if (dim < 1 || layers < 1 || heads < 1 || head_dim < 1 || ffn < 1 || text_tokens < 1 || text_dim < 1 || height < 1 ||
      width < 1 || frames_per_chunk < 1 || channels < 1 || patch_h < 1 || patch_w < 1 || freq_dim < 2 || freq_dim % 2)
    return "every size must be at least 1 (freq_dim even)";
  if (heads * head_dim != dim) return "heads x head_dim must equal dim";
  if (head_dim % 2) return "head_dim must be even (rotary pairs)";
  if (window_frames < frames_per_chunk || window_frames % frames_per_chunk)
    return "window_frames must be a whole number of chunks (" + std::to_string(frames_per_chunk) + " frames each)";
  if (timesteps.empty()) return "at least one denoising step";
  const auto block = static_cast<std::int64_t>(traits(weights).block_elements);
  for (std::int64_t k : {dim, ffn, text_dim, freq_dim, patch_values()})
    if (k % block != 0)
      return "every matrix row (" + std::to_string(k) + " values) must be whole " + std::string(xpb::name(weights)) +
             " blocks of " + std::to_string(block);
  return "";
}

std::string DitConfig::shape_text() const {
  std::ostringstream s;
  s << "dim=" << dim << " layers=" << layers << " heads=" << heads << " head_dim=" << head_dim << " ffn=" << ffn
    << " text=" << text_tokens << "x" << text_dim << " latent=" << channels << "x" << height * patch_h << "x"
    << width * patch_w << " patch=" << patch_h << "x" << patch_w << " chunk_frames=" << frames_per_chunk
    << " window_frames=" << window_frames << " steps=" << timesteps.size();
  return s.str();
}

double sigma_of(const DitConfig& c, double timestep) {
  const double s = timestep / 1000.0;
  return c.shift * s / (1.0 + (c.shift - 1.0) * s);
}

int pixel_frames(std::int64_t latent_frame) { return latent_frame == 0 ? 1 : 4; }

std::vector<std::string> preset_names() { return {"wan2.1-1.3b", "dit-small", "dit-tiny"}; }

std::optional<DitConfig> preset(const std::string& name) {
  DitConfig c;
  c.name = name;
  if (name == "wan2.1-1.3b") {
    // Wan2.1-T2V-1.3B (Wan team, 2025, config of the 1.3B model) as Self-Forcing streams it
    // (Huang et al. 2025): 832 x 480 pixels -> VAE 8x8 -> 104 x 60 latents -> 2x2 patches ->
    // 52 x 30 = 1560 tokens per latent frame; 3 latent frames per chunk; 21 in the KV window;
    // umT5-XXL text embeddings of 512 tokens x 4096.
    c.dim = 1536, c.layers = 30, c.heads = 12, c.head_dim = 128, c.ffn = 8960;
    c.text_tokens = 512, c.text_dim = 4096, c.height = 30, c.width = 52;
    return c;
  }
  if (name == "dit-small") {
    // The same graph at a scale where ref checks two chunks in seconds: 48 tokens per latent
    // frame, a window of two chunks.
    c.dim = 256, c.layers = 2, c.heads = 4, c.head_dim = 64, c.ffn = 1024;
    c.text_tokens = 32, c.text_dim = 256, c.height = 6, c.width = 8, c.window_frames = 6;
    return c;
  }
  if (name == "dit-tiny") {
    // For tests: 8 tokens per latent frame, 2 frames per chunk, a window of two chunks.
    c.dim = 64, c.layers = 2, c.heads = 2, c.head_dim = 32, c.ffn = 128;
    c.text_tokens = 8, c.text_dim = 64, c.channels = 8, c.height = 2, c.width = 4;
    c.frames_per_chunk = 2, c.window_frames = 4;
    return c;
  }
  return std::nullopt;
}

ModelIdentity dit_identity(const DitConfig& c, DType dtype) {
  return ModelIdentity::make("wan-dit", c.shape_text(), std::string(name(dtype)));
}

namespace {

// Builds the graph, naming weights as Wan's checkpoint does (blocks.N.self_attn.q.weight, ...).
class Builder {
 public:
  Builder(const DitConfig& c, DType dtype, DType kv_dtype, std::uint64_t weight_seed, std::uint64_t noise_seed)
      : c_(c), dtype_(dtype), kv_dtype_(kv_dtype), wseed_(weight_seed), nseed_(noise_seed) {}

  DitGraph build() {
    Graph& g = out_.graph;
    common("video.dit chunk: ", c_.layers);
    const std::int64_t T = c_.tokens_per_chunk(), P = c_.patch_values();
    for (int i = 0; i < 6; ++i) e_.push_back(act("time_projection." + std::to_string(i), {1, c_.dim}));
    text();
    TensorId noise = out_.noise;
    for (std::size_t s = 0; s < c_.timesteps.size(); ++s) {
      const double sigma = sigma_of(c_, c_.timesteps[s]);
      const bool last = s + 1 == c_.timesteps.size();
      const double next = last ? 0.0 : sigma_of(c_, c_.timesteps[s + 1]);
      pass(s == 0 ? out_.noise : lat_, sigma * 1000.0);
      head();
      // Re-noised to the next level with fresh noise (Self-Forcing's sampler); the last step
      // keeps the clean estimate (its noise input is read with weight 0).
      if (!last) noise = g.add_tensor({"noise." + std::to_string(s + 1), {T, P}, DType::f32, TensorRole::input,
                                       TensorInit::random(nseed_ * 131 + 2 + s, std::sqrt(3.0))});
      g.add_node(Op::flow_step, {s == 0 ? out_.noise : lat_, vel_, noise}, {lat_},
                 Attrs{{"sigma", sigma}, {"sigma_next", next}});
    }
    pass(lat_, 0.0);  // the clean chunk at t = 0: its keys and values into the cache
    out_.frames = g.add_tensor({"frames", {c_.channels, c_.frames_per_chunk, c_.height * c_.patch_h, c_.width * c_.patch_w},
                                DType::f32, TensorRole::output, {}});
    g.add_node(Op::unpatchify, {lat_}, {out_.frames},
               Attrs{{"frames", c_.frames_per_chunk}, {"height", c_.height}, {"width", c_.width},
                     {"channels", c_.channels}, {"patch_h", c_.patch_h}, {"patch_w", c_.patch_w}});
    return std::move(out_);
  }

  // One block's forward over one chunk, its inputs seeded: the residual stream, the adaLN
  // vectors and the text's keys and values.
  DitGraph build_block() {
    Graph& g = out_.graph;
    common("video.dit block: ", 1);
    const std::int64_t T = c_.tokens_per_chunk(), d = c_.dim, L = c_.text_tokens;
    auto seeded = [&](const std::string& n, std::vector<std::int64_t> shape, double scale) {
      return g.add_tensor({n, std::move(shape), DType::f32, TensorRole::input, TensorInit::random(nseed_ * 131 + ++count_, scale)});
    };
    for (int i = 0; i < 6; ++i) e_.push_back(seeded("time_projection." + std::to_string(i), {1, d}, 0.5));
    cross_k_.push_back(seeded("blocks.0.cross_attn.k", {L, d}, std::sqrt(3.0)));
    cross_v_.push_back(seeded("blocks.0.cross_attn.v", {L, d}, std::sqrt(3.0)));
    block(0, seeded("x_in", {T, d}, std::sqrt(3.0)));
    return std::move(out_);
  }

 private:
  // What both graphs have: name and identity, the context dim, the scratch tensors (each
  // rewritten by every block and pass: nothing is kept between them), positions, the first
  // noise, and a K and V ring for each of `blocks` blocks.
  void common(const std::string& what, std::int64_t blocks) {
    Graph& g = out_.graph;
    g.set_name(what + c_.name);
    g.set_identity(dit_identity(c_, dtype_));
    const std::int64_t T = c_.tokens_per_chunk(), d = c_.dim, P = c_.patch_values();
    out_.context_dim = g.add_dim("context", c_.window_tokens());
    x_ = act("x", {T, d}), h_ = act("h", {T, d}), q_ = act("q", {T, d}), k_ = act("k", {T, d}), v_ = act("v", {T, d});
    a_ = act("attn", {T, d}), o_ = act("proj", {T, d}), f_ = act("ffn_hidden", {T, c_.ffn});
    lat_ = act("latent", {T, P}), vel_ = act("velocity", {T, P});
    th_ = act("time_hidden", {1, d}), e0_ = act("time_embedding", {1, d}), se_ = act("time_silu", {1, d});
    for (int i = 0; i < 6; ++i) m_.push_back(act("modulation." + std::to_string(i), {1, d}));
    out_.positions = g.add_tensor({"positions", {T}, DType::i32, TensorRole::input, TensorInit::filled(0)});
    seq_ = g.add_tensor({"sequences", {T}, DType::i32, TensorRole::input, TensorInit::filled(0)});
    out_.noise = g.add_tensor({"noise.0", {T, P}, DType::f32, TensorRole::input, TensorInit::random(nseed_ * 131 + 1, std::sqrt(3.0))});
    for (std::int64_t b = 0; b < blocks; ++b) {
      const std::string p = "blocks." + std::to_string(b) + ".";
      out_.k_caches.push_back(g.add_tensor({p + "k_cache", {1, c_.window_tokens(), d}, kv_dtype_, TensorRole::state, TensorInit::filled(0)}));
      out_.v_caches.push_back(g.add_tensor({p + "v_cache", {1, c_.window_tokens(), d}, kv_dtype_, TensorRole::state, TensorInit::filled(0)}));
      out_.kv_bytes += 2 * g.tensor(out_.k_caches.back()).bytes();
    }
  }

  TensorId act(std::string n, std::vector<std::int64_t> shape) {
    return out_.graph.add_tensor({std::move(n), std::move(shape), DType::f32, TensorRole::activation, {}});
  }
  // A seeded weight: matrices in the model's dtype, vectors f32.
  TensorId weight(const std::string& n, std::vector<std::int64_t> shape, double scale) {
    const DType t = shape.size() == 2 ? dtype_ : DType::f32;
    const TensorId id = out_.graph.add_tensor({n, std::move(shape), t, TensorRole::weight,
                                               TensorInit::random(wseed_ * 0x100000001B3ull + ++count_, scale)});
    out_.weight_bytes += out_.graph.tensor(id).bytes();
    return id;
  }
  TensorId ones(const std::string& n, std::int64_t len) {
    const TensorId id = out_.graph.add_tensor({n, {len}, DType::f32, TensorRole::weight, TensorInit::filled(1.0)});
    out_.weight_bytes += out_.graph.tensor(id).bytes();
    return id;
  }
  // y = x W^T + b, a Linear of `in` to `outs` values (uniform weights of std 1/sqrt(in)).
  void linear(const std::string& n, TensorId x, TensorId y, std::int64_t in, std::int64_t outs) {
    Graph& g = out_.graph;
    const auto w = cached(n + ".weight", {outs, in}, std::sqrt(3.0 / static_cast<double>(in)));
    g.add_node(Op::matmul, {x, w}, {y});
    g.add_node(Op::add_bias, {y, cached(n + ".bias", {outs}, 0.1)}, {y});
  }
  // Weights are made once and used by every pass.
  TensorId cached(const std::string& n, std::vector<std::int64_t> shape, double scale) {
    if (auto it = weights_.find(n); it != weights_.end()) return it->second;
    return weights_[n] = n.ends_with("norm_q.weight") || n.ends_with("norm_k.weight") || n.ends_with("norm3.weight")
                             ? ones(n, shape[0])
                             : weight(n, std::move(shape), scale);
  }

  // The text embeddings through Wan's text MLP (Linear, GELU, Linear), and each block's
  // cross-attention keys (RMS-normed) and values from them.
  void text() {
    Graph& g = out_.graph;
    const std::int64_t L = c_.text_tokens, d = c_.dim;
    const auto context = g.add_tensor({"text_embeddings", {L, c_.text_dim}, DType::f32, TensorRole::input,
                                       TensorInit::random(nseed_ * 131, std::sqrt(3.0))});
    const auto hidden = act("text_hidden", {L, d});
    text_ = act("text", {L, d});
    linear("text_embedding.0", context, hidden, c_.text_dim, d);
    g.add_node(Op::gelu, {hidden}, {hidden});
    linear("text_embedding.2", hidden, text_, d, d);
    for (std::int64_t b = 0; b < c_.layers; ++b) {
      const std::string p = "blocks." + std::to_string(b) + ".cross_attn.";
      const auto ck = act(p + "k", {L, d}), cv = act(p + "v", {L, d});
      linear(p + "k", text_, ck, d, d);
      g.add_node(Op::rms_norm, {ck, cached(p + "norm_k.weight", {d}, 1)}, {ck}, Attrs{{"eps", c_.eps}});
      linear(p + "v", text_, cv, d, d);
      cross_k_.push_back(ck);
      cross_v_.push_back(cv);
    }
  }

  // One pass of every block over the latent tokens `latent` at `timestep` (x0-scale: 0..1000).
  void pass(TensorId latent, double timestep) {
    Graph& g = out_.graph;
    const std::int64_t d = c_.dim, P = c_.patch_values();
    // Wan's sinusoidal_embedding_1d: cos then sin of t * 10000^(-i / half), i < half.
    const std::int64_t half = c_.freq_dim / 2;
    std::vector<float> features(static_cast<std::size_t>(c_.freq_dim));
    for (std::int64_t i = 0; i < half; ++i) {
      const double angle = timestep * std::pow(10000.0, -static_cast<double>(i) / static_cast<double>(half));
      features[static_cast<std::size_t>(i)] = static_cast<float>(std::cos(angle));
      features[static_cast<std::size_t>(half + i)] = static_cast<float>(std::sin(angle));
    }
    const auto sinusoid = g.add_tensor({"timestep_features." + std::to_string(passes_++), {1, c_.freq_dim}, DType::f32,
                                        TensorRole::input, TensorInit::values(std::move(features))});
    linear("time_embedding.0", sinusoid, th_, c_.freq_dim, d);
    g.add_node(Op::silu, {th_}, {th_});
    linear("time_embedding.2", th_, e0_, d, d);
    g.add_node(Op::silu, {e0_}, {se_});
    for (int i = 0; i < 6; ++i) linear("time_projection." + std::to_string(i), se_, e_[static_cast<std::size_t>(i)], d, d);
    linear("patch_embedding", latent, x_, P, d);
    for (std::int64_t b = 0; b < c_.layers; ++b) block(b, x_);
  }

  // Block b over the residual stream `in` (x itself, or a block graph's input), into x.
  void block(std::int64_t b, TensorId in) {
    Graph& g = out_.graph;
    const std::int64_t d = c_.dim;
    const Attrs eps{{"eps", c_.eps}};
    const std::string p = "blocks." + std::to_string(b) + ".";
    for (std::size_t i = 0; i < 6; ++i)
      g.add_node(Op::add_bias, {e_[i], cached(p + "modulation." + std::to_string(i), {d}, 0.1)}, {m_[i]});
    // Self-attention over the chunk and the cached window.
    g.add_node(Op::layer_norm, {in}, {h_}, eps);
    g.add_node(Op::modulate, {h_, m_[0], m_[1]}, {h_});
    linear(p + "self_attn.q", h_, q_, d, d);
    linear(p + "self_attn.k", h_, k_, d, d);
    linear(p + "self_attn.v", h_, v_, d, d);
    g.add_node(Op::rms_norm, {q_, cached(p + "self_attn.norm_q.weight", {d}, 1)}, {q_}, eps);
    g.add_node(Op::rms_norm, {k_, cached(p + "self_attn.norm_k.weight", {d}, 1)}, {k_}, eps);
    const Attrs rope{{"head_dim", c_.head_dim}, {"theta", c_.rope_theta}};
    g.add_node(Op::rope, {q_, out_.positions}, {q_}, rope);
    g.add_node(Op::rope, {k_, out_.positions}, {k_}, rope);
    const auto bi = static_cast<std::size_t>(b);
    g.add_node(Op::attention, {q_, k_, v_, out_.positions, seq_, out_.k_caches[bi], out_.v_caches[bi]}, {a_},
               Attrs{{"heads", c_.heads}, {"kv_heads", c_.heads}, {"head_dim", c_.head_dim},
                     {"chunk", c_.tokens_per_chunk()}, {"ring", true},
                     {"context_dim", static_cast<std::int64_t>(out_.context_dim)}});
    linear(p + "self_attn.o", a_, o_, d, d);
    g.add_node(Op::gated_add, {in, o_, m_[2]}, {x_});
    // Cross-attention to the text.
    g.add_node(Op::layer_norm, {x_, cached(p + "norm3.weight", {d}, 1), cached(p + "norm3.bias", {d}, 0.1)}, {h_}, eps);
    linear(p + "cross_attn.q", h_, q_, d, d);
    g.add_node(Op::rms_norm, {q_, cached(p + "cross_attn.norm_q.weight", {d}, 1)}, {q_}, eps);
    g.add_node(Op::cross_attention, {q_, cross_k_[bi], cross_v_[bi]}, {a_},
               Attrs{{"heads", c_.heads}, {"head_dim", c_.head_dim}});
    linear(p + "cross_attn.o", a_, o_, d, d);
    g.add_node(Op::add, {x_, o_}, {x_});
    // The FFN.
    g.add_node(Op::layer_norm, {x_}, {h_}, eps);
    g.add_node(Op::modulate, {h_, m_[3], m_[4]}, {h_});
    linear(p + "ffn.0", h_, f_, d, c_.ffn);
    g.add_node(Op::gelu, {f_}, {f_});
    linear(p + "ffn.2", f_, o_, c_.ffn, d);
    g.add_node(Op::gated_add, {x_, o_, m_[5]}, {x_});
  }

  // Wan's head: the last hidden state, modulated by the timestep embedding plus its own table,
  // to each token's velocity over its patch values.
  void head() {
    Graph& g = out_.graph;
    const std::int64_t d = c_.dim;
    g.add_node(Op::add_bias, {e0_, cached("head.modulation.0", {d}, 0.1)}, {m_[0]});
    g.add_node(Op::add_bias, {e0_, cached("head.modulation.1", {d}, 0.1)}, {m_[1]});
    g.add_node(Op::layer_norm, {x_}, {h_}, Attrs{{"eps", c_.eps}});
    g.add_node(Op::modulate, {h_, m_[0], m_[1]}, {h_});
    linear("head.head", h_, vel_, d, c_.patch_values());
  }

  const DitConfig& c_;
  DType dtype_, kv_dtype_;
  std::uint64_t wseed_, nseed_;
  std::uint64_t count_ = 0;
  int passes_ = 0;
  DitGraph out_;
  std::map<std::string, TensorId> weights_;
  TensorId x_ = 0, h_ = 0, q_ = 0, k_ = 0, v_ = 0, a_ = 0, o_ = 0, f_ = 0, lat_ = 0, vel_ = 0, th_ = 0, e0_ = 0, se_ = 0, seq_ = 0,
           text_ = 0;
  std::vector<TensorId> e_, m_, cross_k_, cross_v_;
};

}  // namespace

DitGraph build_chunk_graph(const DitConfig& c, DType dtype, DType kv_dtype, std::uint64_t weight_seed,
                           std::uint64_t noise_seed) {
  return Builder(c, dtype, kv_dtype, weight_seed, noise_seed).build();
}

DitGraph build_block_graph(const DitConfig& c, DType dtype, DType kv_dtype, std::uint64_t weight_seed,
                           std::uint64_t noise_seed) {
  return Builder(c, dtype, kv_dtype, weight_seed, noise_seed).build_block();
}

std::uint64_t footprint_bytes(const DitConfig& c, DType dtype, DType kv_dtype) {
  const auto T = static_cast<std::uint64_t>(c.tokens_per_chunk()), d = static_cast<std::uint64_t>(c.dim);
  const std::uint64_t matrices = c.parameters() - static_cast<std::uint64_t>(c.layers) * 20 * d;
  const std::uint64_t weights = storage_bytes(dtype, matrices) + static_cast<std::uint64_t>(c.layers) * 20 * d * 4;
  const std::uint64_t kv = static_cast<std::uint64_t>(c.layers) * 2 * storage_bytes(kv_dtype, static_cast<std::uint64_t>(c.window_tokens()) * d);
  // Scratch: seven [T, dim] tensors, the FFN's hidden, the text's keys and values per block;
  // activations rounded for quantized weights add about a quarter of the scratch.
  const std::uint64_t scratch = 4 * (7 * T * d + T * static_cast<std::uint64_t>(c.ffn) +
                                     static_cast<std::uint64_t>(c.layers) * 2 * static_cast<std::uint64_t>(c.text_tokens) * d);
  return weights + kv + scratch + scratch / 4;
}

}  // namespace xpb::video
