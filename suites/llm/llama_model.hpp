// A Llama-family decoder (DESIGN.md §5, §10): the `llama` architecture (Llama 2/3.x,
// TinyLlama, Mistral-style files) and `qwen2` (Qwen2/2.5: biases on Q, K and V). Its shape,
// where its weights come from
// (a preset with seeded synthetic weights, or a GGUF file), and the graph of catalogue ops
// that runs it, so every device runs the same workload.
#pragma once
#include <cstdint>
#include <memory>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "xpubench/graph.hpp"

namespace xpb::llm {

// The GGUF architectures the decoder runs (general.architecture): "llama", "qwen2".
const std::vector<std::string>& supported_architectures();

struct LlamaConfig {
  std::string name;
  std::string arch = "llama";  // GGUF general.architecture, and the prefix of its metadata keys
  bool qkv_bias = false;       // Q, K and V projections add a bias (qwen2)
  std::int64_t dim = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0, ffn = 0, vocab = 0;
  std::int64_t context = 0;  // positions the model was trained for
  double rope_theta = 10000.0;
  double norm_eps = 1e-5;
  bool tied_embeddings = false;  // the output head reuses token_embd.weight
  // Llama 3.1's RoPE frequency scaling (factor 8, low 1, high 4, original context 8192).
  struct RopeScaling {
    double factor = 1, low_freq_factor = 1, high_freq_factor = 4;
    std::int64_t original_context = 8192;
  };
  std::optional<RopeScaling> rope_scaling;
  // Linear RoPE scaling (position interpolation): every position divided by this (1 = none).
  double rope_linear_factor = 1.0;
  // What the RoPE frequencies are, in words, for the record: "none", "llama3 frequency
  // factors (rope_freqs.weight)", "linear, factor 4 (llama.rope.scaling.type)", ...
  std::string rope_scaling_applied = "none";

  std::uint64_t parameters() const;
  // Returns what is wrong with the shape ("" when nothing is): divisibility, block sizes.
  std::string problem(DType weights) const;
};

// The preset shapes: llama-3.1-8b, mistral-7b, qwen2.5-7b, qwen2.5-0.5b, tinyllama-1.1b,
// stories-15m, stories-110m, tiny, tiny-tied, tiny-qwen2.
std::vector<std::string> preset_names();
std::optional<LlamaConfig> preset(const std::string& name);

// The per-dimension divisors of RoPE frequencies: llama3 scaling's (GGUF rope_freqs), times
// the linear factor; all 1 when neither applies.
std::vector<float> rope_factors(const LlamaConfig& c);

// Where the weights come from.
struct WeightSource {
  DType dtype = DType::f32;   // of the 2-D weights (norms are f32)
  std::uint64_t seed = 0;     // of the synthetic weights (the workloads' weight_seed)
  // A GGUF file (opened with open_gguf); null for synthetic weights.
  std::shared_ptr<const void> file;
  // Tensors of the file held here in another row order than the file's (a qwen2 file's Q and K
  // rows, see weight_specs), by name: made once by open_gguf, shared by every copy.
  std::shared_ptr<const std::map<std::string, std::vector<std::byte>>> reordered;
};

// The name, shape, dtype and contents (synthetic or mapped) of every weight, in GGUF naming
// (token_embd.weight, blk.N.attn_q.weight, ...). A qwen2 file's Q and K rows (and biases) are
// permuted at load from NEOX RoPE's order (each head's first half pairs with its second) to
// the adjacent pairs the catalogue's rope rotates (what llama.cpp's converter does to llama
// files), so attention scores are unchanged. Synthetic values are uniform with the
// standard deviation 1/sqrt(fan_in) for projections (so a product of a unit-RMS input keeps
// unit RMS: activations stay finite through every layer, and logits have a spread of about 1,
// so greedy decoding does not collapse onto one token), 0.02 for the embedding table (small
// next to the layers' outputs, or a tied head would keep predicting the input token), and 1
// for norm weights, 0.1 for biases.
struct WeightSpec {
  std::string name;
  std::vector<std::int64_t> shape;
  DType dtype;
  TensorInit init;
};
std::vector<WeightSpec> weight_specs(const LlamaConfig& c, const WeightSource& src);
// Bytes of every weight as stored (each in its own dtype: a file's, or the source's dtype for
// matrices and f32 for norms).
std::uint64_t weight_bytes(const LlamaConfig& c, const WeightSource& src);

// A model opened from a GGUF file: its shape from the <arch>.* metadata and its weights
// (mapped, not copied, until a device copies them). Throws InputError naming the file and the
// key or tensor: for metadata out of range, RoPE scaling it does not implement (yarn, ...),
// a vocabulary size or BOS/EOS id that disagrees with the embedding table.
struct GgufModel {
  LlamaConfig config;
  DType dtype;  // of its 2-D weights, when all share one; else the most common
  WeightSource source;
};
GgufModel open_gguf(const std::string& path);

// Writes a preset with its synthetic weights as a GGUF v3 file of its architecture (qwen2's Q
// and K rows in NEOX order, as such files hold them), so other engines can run the very same
// model.
void export_gguf(const LlamaConfig& c, DType dtype, std::uint64_t seed, const std::string& path);

// The shape a graph is compiled for.
struct GraphShape {
  std::int64_t max_rows = 1;     // token rows per step (a prompt chunk, or one per sequence)
  std::int64_t slots = 1;        // sequences with a KV cache each
  std::int64_t context = 256;    // KV cache positions per sequence
  std::int64_t max_outputs = 1;  // rows whose logits are computed per step
  DType kv_dtype = DType::f32;
};

// The decoder as a graph, and the ids a runner needs. Its dynamic dims: `rows` (token rows
// this step, up to max_rows), `outputs` (rows whose logits are computed, up to max_outputs)
// and `context` (one more than the largest position this step: what attention attends, for
// the cost model). Its identity names the model (architecture, shape, weight format).
struct LlamaGraph {
  Graph graph;
  DimId rows_dim = 0, outputs_dim = 0, context_dim = 0;
  TensorId tokens, positions, sequences;        // inputs: i32 [max_rows] each
  TensorId output_rows;                         // input: i32 [max_outputs]
  TensorId logits, next_tokens;                 // outputs: f32 [max_outputs, vocab], i32 [max_outputs]
  std::map<std::string, TensorId> weights;      // by GGUF name
  std::uint64_t weight_bytes = 0;               // every weight as stored
  std::uint64_t embedding_bytes = 0;            // of them, the token embedding table
  std::uint64_t embedding_row_bytes = 0;        // one row of it (what a token's lookup reads)
  bool tied_embeddings = false;                 // the table is also the output head
  std::uint64_t kv_bytes_per_token = 0;         // K and V of every layer for one position

  // Bytes one decode step must read for `sequences` sequences, the KV cache aside: every
  // weight once, except that an untied embedding table is read only at the rows looked up.
  std::uint64_t decode_weight_bytes(int seqs) const {
    if (tied_embeddings) return weight_bytes;
    return weight_bytes - embedding_bytes + static_cast<std::uint64_t>(seqs) * embedding_row_bytes;
  }
};
LlamaGraph build_graph(const LlamaConfig& c, const WeightSource& src, const GraphShape& shape);

// The model's identity: llama, its shape, and its weight format (the dtype of its matrices, or
// "mixed: ..." when they differ).
ModelIdentity model_identity(const LlamaConfig& c, const WeightSource& src);

}  // namespace xpb::llm
