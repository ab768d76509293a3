// A chunk-causal diffusion transformer over latent video tokens, the model of streaming video
// generation (DESIGN.md §5, §10): Wan2.1-T2V-1.3B's DiT run as Self-Forcing runs it. Its shape,
// the denoising schedule, and the graph of catalogue ops that generates one chunk, so every
// device runs the same workload.
//
// One chunk = `frames_per_chunk` latent frames of `height` x `width` patch tokens. Its graph:
// the text embeddings through the text MLP and every block's cross-attention keys and values
// (once per chunk, for all its passes), then `steps` denoising passes from pure noise
// (timestep embedding -> adaLN modulation of every block; patch embed; the blocks; the head's
// velocity; a flow-matching step to the next noise level, re-noised as Self-Forcing's few-step
// sampler does), then one more pass of the clean chunk at t = 0 whose only purpose is to write
// its keys and values into the KV cache (Self-Forcing's cache refresh), and the clean latent
// tokens unpatchified into latent frames [channels, frames, height * 2, width * 2].
//
// Each block (Wan2.1's WanAttentionBlock): h = modulate(layer_norm(x), shift0, scale1);
// self-attention with RMS-normed q and k, rotary positions and a KV cache that is a ring of
// `window_frames` latent frames, causal by chunks (a chunk's tokens see each other and every
// earlier chunk still in the window); x += gate2 * attn; x += cross_attention(layer_norm(x) with
// weight and bias, the text); h = modulate(layer_norm(x), shift3, scale4); x += gate5 *
// ffn(h) with a tanh GELU. Simplifications, stated in every record: RoPE is the catalogue's 1-D
// rotation by token index where Wan rotates three frequency bands by frame, row and column (the
// same arithmetic, other angles); the text encoder (umT5) is not run: its output is a seeded
// [text_tokens, text_dim] input; the VAE decoder is not run (frames are latent frames).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "xpubench/graph.hpp"

namespace xpb::video {

struct DitConfig {
  std::string name;
  std::int64_t dim = 0, layers = 0, heads = 0, head_dim = 0, ffn = 0;
  std::int64_t text_tokens = 0, text_dim = 0;  // the text encoder's output the blocks attend
  std::int64_t freq_dim = 256;                 // sinusoidal timestep features
  std::int64_t channels = 16;                  // latent channels (Wan's VAE: 16)
  std::int64_t patch_h = 2, patch_w = 2;       // latent pixels per token
  std::int64_t height = 0, width = 0;          // patch tokens per latent frame: rows, columns
  std::int64_t frames_per_chunk = 3;           // latent frames generated together
  std::int64_t window_frames = 21;             // latent frames the KV cache keeps (a ring)
  double eps = 1e-6;                           // of every LayerNorm and RMSNorm (Wan's)
  double rope_theta = 10000.0;
  // Denoising timesteps in [0, 1000] (Self-Forcing's 1000, 750, 500, 250), and the shift that
  // maps a timestep t to the noise level sigma = shift s / (1 + (shift - 1) s), s = t / 1000
  // (Wan's flow-matching sampler, shift 5 for T2V; Self-Forcing warps its steps the same way).
  std::vector<double> timesteps = {1000, 750, 500, 250};
  double shift = 5.0;

  std::int64_t tokens_per_frame() const { return height * width; }
  std::int64_t tokens_per_chunk() const { return tokens_per_frame() * frames_per_chunk; }
  std::int64_t window_tokens() const { return tokens_per_frame() * window_frames; }
  std::int64_t patch_values() const { return channels * patch_h * patch_w; }  // values per token
  std::uint64_t parameters() const;
  // Returns what is wrong with the shape ("" when nothing is): divisibility, block sizes.
  std::string problem(DType weights) const;
  // "dim=1536 layers=30 heads=12 ..." (the model identity's shape).
  std::string shape_text() const;
};

// The noise level of timestep t (see DitConfig::shift).
double sigma_of(const DitConfig& c, double timestep);
// Output (pixel) frames of latent frame f of a stream: 1 for the first, 4 for every later one
// (Wan's causal VAE: 4x temporal compression, the first frame alone).
int pixel_frames(std::int64_t latent_frame);

// The presets: wan2.1-1.3b (Self-Forcing's shape, DESIGN.md §10), dit-small (quick runs: the
// same graph at a scale ref checks in seconds), dit-tiny (tests).
std::vector<std::string> preset_names();
std::optional<DitConfig> preset(const std::string& name);

// The chunk graph and the ids a runner needs. Dynamic dim `context`: the positions the
// self-attention attends this chunk (for the cost model: min(window, tokens generated so far)).
struct DitGraph {
  Graph graph;
  DimId context_dim = 0;
  TensorId positions;               // input i32 [tokens_per_chunk]: this chunk's token indices
  TensorId noise;                   // input f32 [tokens_per_chunk, patch_values]: the first pass's
  std::vector<TensorId> k_caches;   // state, one per block: [1, window_tokens, dim]
  std::vector<TensorId> v_caches;
  TensorId frames;                  // output f32 [channels, frames_per_chunk, height*ph, width*pw]
  std::uint64_t weight_bytes = 0;   // every weight as stored
  std::uint64_t kv_bytes = 0;       // every block's K and V ring
};
// Weights are seeded synthetic values (weight_seed; uniform with standard deviation
// 1/sqrt(fan_in) for projections, so activations keep their scale through every block; 0.1
// for biases and adaLN tables; 1 for norm weights), matrices in `dtype` (f32, f16, bf16, q8_0),
// vectors f32. The text embeddings and every pass's noise are seeded from noise_seed.
DitGraph build_chunk_graph(const DitConfig& c, DType dtype, DType kv_dtype, std::uint64_t weight_seed,
                           std::uint64_t noise_seed);

// One block's forward over one chunk (the first block, one denoising pass; its residual stream,
// adaLN vectors and text keys and values are seeded inputs; frames unset): what a block
// benchmark times. Its FLOPs at a context come from graph_work (op cost model).
DitGraph build_block_graph(const DitConfig& c, DType dtype, DType kv_dtype, std::uint64_t weight_seed,
                           std::uint64_t noise_seed);

// The model's identity: architecture "wan-dit", its shape, its weight format.
ModelIdentity dit_identity(const DitConfig& c, DType dtype);

// Bytes a chunk graph of this shape needs on a device: weights, KV ring and activations.
std::uint64_t footprint_bytes(const DitConfig& c, DType dtype, DType kv_dtype);

}  // namespace xpb::video
