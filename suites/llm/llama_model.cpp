#include "llama_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <numbers>

#include "xpubench/error.hpp"
#include "gguf.hpp"
#include "xpubench/quant.hpp"

namespace xpb::llm {
namespace {

LlamaConfig make(std::string name, std::int64_t dim, std::int64_t layers, std::int64_t heads, std::int64_t kv_heads,
                 std::int64_t ffn, std::int64_t vocab, std::int64_t context, double theta, bool tied) {
  LlamaConfig c;
  c.name = std::move(name);
  c.dim = dim;
  c.layers = layers;
  c.heads = heads;
  c.kv_heads = kv_heads;
  c.head_dim = dim / heads;
  c.ffn = ffn;
  c.vocab = vocab;
  c.context = context;
  c.rope_theta = theta;
  c.tied_embeddings = tied;
  return c;
}

// A qwen2 shape: biases on Q, K and V, RMSNorm epsilon 1e-6.
LlamaConfig qwen2(LlamaConfig c) {
  c.arch = "qwen2";
  c.qkv_bias = true;
  c.norm_eps = 1e-6;
  return c;
}

// Shapes from the models' published configurations (DESIGN.md §10; the config.json of each
// Hugging Face repository: Qwen/Qwen2.5-0.5B and -7B, mistralai/Mistral-7B-v0.3; stories-* are
// the TinyStories models of Karpathy's llama2.c: 6 layers x 288 and 12 layers x 768, shared
// classifier). tiny, tiny-tied and tiny-qwen2 are test shapes that exercise every feature in
// milliseconds.
std::map<std::string, LlamaConfig> presets() {
  std::map<std::string, LlamaConfig> p;
  auto llama31 = make("llama-3.1-8b", 4096, 32, 32, 8, 14336, 128256, 131072, 500000.0, false);
  llama31.rope_scaling = LlamaConfig::RopeScaling{8.0, 1.0, 4.0, 8192};
  llama31.rope_scaling_applied = "llama3 frequency factors (factor 8, original context 8192)";
  p[llama31.name] = llama31;
  p["tinyllama-1.1b"] = make("tinyllama-1.1b", 2048, 22, 32, 4, 5632, 32000, 2048, 10000.0, false);
  p["stories-15m"] = make("stories-15m", 288, 6, 6, 6, 768, 32000, 256, 10000.0, true);
  p["stories-110m"] = make("stories-110m", 768, 12, 12, 12, 2048, 32000, 1024, 10000.0, true);
  auto tiny = make("tiny", 64, 2, 4, 2, 128, 256, 256, 10000.0, false);
  tiny.rope_scaling = LlamaConfig::RopeScaling{4.0, 1.0, 4.0, 64};
  tiny.rope_scaling_applied = "llama3 frequency factors (factor 4, original context 64)";
  p[tiny.name] = tiny;
  p["tiny-tied"] = make("tiny-tied", 96, 3, 6, 6, 160, 320, 256, 10000.0, true);
  p["mistral-7b"] = make("mistral-7b", 4096, 32, 32, 8, 14336, 32768, 32768, 1000000.0, false);
  p["qwen2.5-7b"] = qwen2(make("qwen2.5-7b", 3584, 28, 28, 4, 18944, 152064, 32768, 1000000.0, false));
  p["qwen2.5-0.5b"] = qwen2(make("qwen2.5-0.5b", 896, 24, 14, 2, 4864, 151936, 32768, 1000000.0, true));
  // Rows of 256 values: every weight format applies, the K-quants included.
  p["tiny-qwen2"] = qwen2(make("tiny-qwen2", 256, 2, 4, 2, 512, 320, 256, 1000000.0, false));
  return p;
}

// A tensor init that copies floats held by the graph.
TensorInit floats_init(std::vector<float> values) {
  auto owner = std::make_shared<std::vector<float>>(std::move(values));
  const auto* data = reinterpret_cast<const std::byte*>(owner->data());
  return TensorInit::copy_of({data, owner->size() * sizeof(float)}, owner);
}

// GGUF general.file_type of a model whose 2-D weights are all `t` (llama.cpp's llama_ftype).
std::uint32_t file_type(DType t) {
  switch (t) {
    case DType::f32: return 0;
    case DType::f16: return 1;
    case DType::q4_0: return 2;
    case DType::q4_1: return 3;
    case DType::q8_0: return 7;
    case DType::q5_0: return 8;
    case DType::q5_1: return 9;
    case DType::q2_K: return 10;
    case DType::q3_K: return 11;  // Q3_K_S: every matrix q3_K
    case DType::q4_K: return 14;  // Q4_K_S
    case DType::q5_K: return 16;  // Q5_K_S
    case DType::q6_K: return 18;
    case DType::iq4_nl: return 25;
    case DType::iq4_xs: return 30;
    case DType::bf16: return 32;
    default: return 0;
  }
}

}  // namespace

std::uint64_t LlamaConfig::parameters() const {
  const auto d = static_cast<std::uint64_t>(dim);
  const std::uint64_t attn = d * static_cast<std::uint64_t>(heads * head_dim) * 2 +
                             d * static_cast<std::uint64_t>(kv_heads * head_dim) * 2 +
                             (qkv_bias ? static_cast<std::uint64_t>((heads + 2 * kv_heads) * head_dim) : 0);
  const std::uint64_t mlp = 3 * d * static_cast<std::uint64_t>(ffn);
  const std::uint64_t per_layer = attn + mlp + 2 * d;
  const std::uint64_t embed = static_cast<std::uint64_t>(vocab) * d;
  return static_cast<std::uint64_t>(layers) * per_layer + embed * (tied_embeddings ? 1 : 2) + d;
}

namespace {
std::uint64_t spec_bytes(const WeightSpec& w) {
  std::size_t n = 1;
  for (auto s : w.shape) n *= static_cast<std::size_t>(s);
  return storage_bytes(w.dtype, n);
}
}  // namespace

std::uint64_t weight_bytes(const LlamaConfig& c, const WeightSource& src) {
  std::uint64_t total = 0;
  for (const auto& w : weight_specs(c, src)) total += spec_bytes(w);
  return total;
}

std::string LlamaConfig::problem(DType weights) const {
  if (dim < 1 || layers < 1 || heads < 1 || kv_heads < 1 || head_dim < 2 || ffn < 1 || vocab < 1)
    return "every dimension must be at least 1";
  if (heads % kv_heads != 0) return "heads must be a multiple of kv_heads";
  if (head_dim % 2 != 0) return "head_dim must be even for RoPE";
  if (!is_weight_dtype(weights)) return "weights must be " + weight_dtype_list();
  const auto block = static_cast<std::int64_t>(traits(weights).block_elements);
  if (dim % block != 0 || ffn % block != 0 || (heads * head_dim) % block != 0)
    return "dim, ffn and heads x head_dim must be multiples of " + std::to_string(block) + " for " +
           std::string(xpb::name(weights));
  return "";
}

std::vector<std::string> preset_names() {
  std::vector<std::string> out;
  for (const auto& [n, c] : presets()) out.push_back(n);
  return out;
}

std::optional<LlamaConfig> preset(const std::string& name) {
  auto all = presets();
  auto it = all.find(name);
  if (it == all.end()) return std::nullopt;
  return it->second;
}

std::vector<float> rope_factors(const LlamaConfig& c) {
  // Llama 3.1's scaling (Meta's reference apply_scaling): wavelengths shorter than
  // original/high keep their frequency, longer than original/low are divided by `factor`, and
  // the band between blends the two.
  std::vector<float> f(static_cast<std::size_t>(c.head_dim / 2), static_cast<float>(c.rope_linear_factor));
  if (!c.rope_scaling) return f;
  const auto& s = *c.rope_scaling;
  const double low_wavelen = static_cast<double>(s.original_context) / s.low_freq_factor;
  const double high_wavelen = static_cast<double>(s.original_context) / s.high_freq_factor;
  for (std::size_t i = 0; i < f.size(); ++i) {
    const double freq = std::pow(c.rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(c.head_dim));
    const double wavelen = 2 * std::numbers::pi / freq;
    double divisor = 1.0;
    if (wavelen > low_wavelen) {
      divisor = s.factor;
    } else if (wavelen >= high_wavelen) {
      const double smooth = (static_cast<double>(s.original_context) / wavelen - s.low_freq_factor) /
                            (s.high_freq_factor - s.low_freq_factor);
      divisor = 1.0 / ((1 - smooth) / s.factor + smooth);
    }
    f[i] = static_cast<float>(divisor * c.rope_linear_factor);
  }
  return f;
}

namespace {

// NEOX RoPE rotates element i of a head with element i + hd/2; the catalogue's rope rotates
// adjacent pairs. Row r of a Q or K projection in NEOX order is row neox_to_adjacent(r) in
// adjacent order (the same permutation inside every head).
std::int64_t neox_to_adjacent(std::int64_t r, std::int64_t hd) {
  const std::int64_t head = r / hd, i = r % hd;
  return head * hd + (i < hd / 2 ? 2 * i : 2 * (i - hd / 2) + 1);
}

// A copy of a [rows, cols] tensor's bytes with row r moved to neox_to_adjacent(r); rows a
// multiple of hd.
std::vector<std::byte> neox_rows_to_adjacent(const gguf::TensorInfo& t, std::int64_t hd) {
  const auto rows = t.shape[0];  // a vector (a bias): each element is a "row" of 4 bytes
  const std::size_t row_bytes = t.bytes / static_cast<std::size_t>(rows);
  std::vector<std::byte> out(t.bytes);
  for (std::int64_t r = 0; r < rows; ++r)
    std::memcpy(out.data() + static_cast<std::size_t>(neox_to_adjacent(r, hd)) * row_bytes,
                t.data + static_cast<std::size_t>(r) * row_bytes, row_bytes);
  return out;
}

bool neox_ordered(const std::string& name) {
  for (const char* suffix : {"attn_q.weight", "attn_k.weight", "attn_q.bias", "attn_k.bias"})
    if (name.size() > std::strlen(suffix) && name.compare(name.size() - std::strlen(suffix), std::string::npos, suffix) == 0)
      return true;
  return false;
}

}  // namespace

const std::vector<std::string>& supported_architectures() {
  static const std::vector<std::string> archs = {"llama", "qwen2"};
  return archs;
}

std::vector<WeightSpec> weight_specs(const LlamaConfig& c, const WeightSource& src) {
  std::vector<WeightSpec> out;
  const auto* file = static_cast<const gguf::File*>(src.file.get());
  std::uint64_t tensor_seed = 0;
  enum class Kind { matrix, norm, bias };
  // A weight of shape [rows, cols] (a matrix) or [n]: synthetic, or the file's tensor of that name.
  auto add = [&](std::string name, std::vector<std::int64_t> shape, Kind kind, double scale) {
    const bool matrix = kind == Kind::matrix;
    WeightSpec w{std::move(name), std::move(shape), matrix ? src.dtype : DType::f32, {}};
    ++tensor_seed;
    if (file != nullptr) {
      const gguf::TensorInfo* t = file->tensor(w.name);
      if (t == nullptr) throw InputError(file->path() + ": the model has no tensor '" + w.name + "'");
      if (t->shape != w.shape) {
        std::string want, got;
        for (auto v : w.shape) want += (want.empty() ? "" : ", ") + std::to_string(v);
        for (auto v : t->shape) got += (got.empty() ? "" : ", ") + std::to_string(v);
        throw InputError(file->path() + ": tensor '" + w.name + "' has shape [" + got + "], expected [" + want +
                         "] from the " + c.arch + ".* metadata");
      }
      if (matrix ? !is_weight_dtype(t->dtype) : t->dtype != DType::f32)
        throw InputError(file->path() + ": tensor '" + w.name + "' is " + std::string(xpb::name(t->dtype)) + ", expected " +
                         (matrix ? weight_dtype_list() : std::string("f32")));
      w.dtype = t->dtype;
      const std::vector<std::byte>* moved = nullptr;
      if (src.reordered)
        if (const auto it = src.reordered->find(w.name); it != src.reordered->end()) moved = &it->second;
      w.init = moved != nullptr ? TensorInit::copy_of({moved->data(), moved->size()}, src.reordered)
                                : TensorInit::copy_of(t->span(), src.file);
    } else {
      // Each tensor its own stream of the seed, so adding a layer does not shift the others.
      w.init = kind == Kind::norm ? TensorInit::filled(1.0)
                                  : TensorInit::random(src.seed * 0x100000001B3ull + tensor_seed, scale);
    }
    out.push_back(std::move(w));
  };
  // Uniform on [-a, a) has standard deviation a / sqrt(3).
  auto proj = [](std::int64_t fan_in) { return std::sqrt(3.0 / static_cast<double>(fan_in)); };
  const std::int64_t q_width = c.heads * c.head_dim, kv_width = c.kv_heads * c.head_dim;
  // The embedding is small (std 0.02, the usual initialisation of GPT-2 and Llama), so the
  // layers' outputs (unit RMS) dominate the residual stream: with a large embedding a tied
  // output head would mostly see the input token again and greedy decoding would repeat it.
  add("token_embd.weight", {c.vocab, c.dim}, Kind::matrix, 0.02 * std::sqrt(3.0));
  for (std::int64_t l = 0; l < c.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", {c.dim}, Kind::norm, 0);
    add(p + "attn_q.weight", {q_width, c.dim}, Kind::matrix, proj(c.dim));
    add(p + "attn_k.weight", {kv_width, c.dim}, Kind::matrix, proj(c.dim));
    add(p + "attn_v.weight", {kv_width, c.dim}, Kind::matrix, proj(c.dim));
    if (c.qkv_bias) {
      add(p + "attn_q.bias", {q_width}, Kind::bias, 0.1 * std::sqrt(3.0));
      add(p + "attn_k.bias", {kv_width}, Kind::bias, 0.1 * std::sqrt(3.0));
      add(p + "attn_v.bias", {kv_width}, Kind::bias, 0.1 * std::sqrt(3.0));
    }
    add(p + "attn_output.weight", {c.dim, q_width}, Kind::matrix, proj(q_width));
    add(p + "ffn_norm.weight", {c.dim}, Kind::norm, 0);
    add(p + "ffn_gate.weight", {c.ffn, c.dim}, Kind::matrix, proj(c.dim));
    add(p + "ffn_up.weight", {c.ffn, c.dim}, Kind::matrix, proj(c.dim));
    add(p + "ffn_down.weight", {c.dim, c.ffn}, Kind::matrix, proj(c.ffn));
  }
  add("output_norm.weight", {c.dim}, Kind::norm, 0);
  if (!c.tied_embeddings) add("output.weight", {c.vocab, c.dim}, Kind::matrix, proj(c.dim));
  // RoPE frequency factors: a file's own (times a linear factor, when it also has one), or
  // those of the preset's llama3 scaling, or a linear factor alone.
  const gguf::TensorInfo* freqs = file != nullptr ? file->tensor("rope_freqs.weight") : nullptr;
  if (freqs != nullptr) {
    add("rope_freqs.weight", {c.head_dim / 2}, Kind::norm, 0);  // checks shape and dtype
    std::vector<float> f(static_cast<std::size_t>(c.head_dim / 2));
    std::memcpy(f.data(), freqs->data, f.size() * 4);
    // Each factor divides a rotation frequency: zero, negative or not finite is no model's.
    for (std::size_t i = 0; i < f.size(); ++i)
      if (!std::isfinite(f[i]) || f[i] <= 0)
        throw InputError(file->path() + ": tensor 'rope_freqs.weight' element " + std::to_string(i) + " is " +
                         std::to_string(f[i]) + "; expected a finite factor above 0");
    if (c.rope_linear_factor != 1.0) {
      for (auto& v : f) v *= static_cast<float>(c.rope_linear_factor);
      out.back().init = floats_init(std::move(f));
    }
  } else if ((file == nullptr && c.rope_scaling) || c.rope_linear_factor != 1.0) {
    out.push_back({"rope_freqs.weight", {c.head_dim / 2}, DType::f32, floats_init(rope_factors(c))});
  }
  return out;
}

namespace {

// RoPE scaling as GGUF states it (llama.cpp's keys, under the architecture's prefix):
// "linear" (position interpolation) with <arch>.rope.scaling.factor, or the older
// <arch>.rope.scale_linear, is applied; a rope_freqs.weight tensor (llama3's frequency factors)
// is applied; "none" is nothing; any other type (yarn, longrope, ...) is refused, naming the
// key, rather than run as if absent.
void read_rope_scaling(const gguf::File& file, LlamaConfig& c) {
  const std::string& path = file.path();
  const std::string key = c.arch + ".rope.";
  std::vector<std::string> applied;
  if (file.tensor("rope_freqs.weight") != nullptr) applied.push_back("llama3 frequency factors (rope_freqs.weight)");
  const auto type = file.get_string(key + "scaling.type");
  double factor = 1.0;
  if (type && *type != "none" && *type != "linear")
    throw InputError(path + ": " + key + "scaling.type is '" + *type +
                     "'; only linear RoPE scaling (and llama3 frequency factors) are implemented");
  if (type && *type == "linear") {
    const auto f = file.get_float(key + "scaling.factor");
    if (!f || !std::isfinite(*f) || *f <= 0)
      throw InputError(path + ": " + key + "scaling.type is linear but " + key + "scaling.factor is " +
                       (f ? std::to_string(*f) : std::string("missing")) + " (expected a positive number)");
    factor = *f;
    applied.push_back("linear, factor " + std::to_string(factor) + " (" + key + "scaling.type)");
  } else if (const auto old = file.get_float(key + "scale_linear"); old && (!type || *type != "none")) {
    if (!std::isfinite(*old) || *old <= 0)
      throw InputError(path + ": " + key + "scale_linear is " + std::to_string(*old) + " (expected a positive number)");
    factor = *old;
    applied.push_back("linear, factor " + std::to_string(factor) + " (" + key + "scale_linear)");
  }
  c.rope_linear_factor = factor;
  c.rope_scaling_applied = "none";
  for (std::size_t i = 0; i < applied.size(); ++i) c.rope_scaling_applied = (i ? c.rope_scaling_applied + "; " : "") + applied[i];
}

}  // namespace

GgufModel open_gguf(const std::string& path) {
  auto file = std::make_shared<gguf::File>(gguf::File::open(path));
  const std::string arch = file->get_string("general.architecture").value_or("");
  const auto& archs = supported_architectures();
  if (std::find(archs.begin(), archs.end(), arch) == archs.end()) {
    std::string list;
    for (const auto& a : archs) list += (list.empty() ? "'" : ", '") + a + "'";
    throw InputError(path + ": general.architecture is '" + arch + "'; supported: " + list);
  }
  const std::string k = arch + ".";  // the prefix of the architecture's keys
  auto need = [&](const std::string& key) {
    auto v = file->get_int(key);
    if (!v || *v < 1 || *v > (std::int64_t{1} << 31))
      throw InputError(path + ": metadata key '" + key + "' is missing or out of range (expected a positive integer)");
    return *v;
  };
  GgufModel m;
  LlamaConfig& c = m.config;
  c.arch = arch;
  c.qkv_bias = arch == "qwen2";
  c.name = file->get_string("general.name").value_or(path);
  c.dim = need(k + "embedding_length");
  c.layers = need(k + "block_count");
  c.heads = need(k + "attention.head_count");
  c.kv_heads = file->get_int(k + "attention.head_count_kv").value_or(c.heads);
  c.ffn = need(k + "feed_forward_length");
  c.context = need(k + "context_length");
  c.head_dim = file->get_int(k + "attention.key_length").value_or(c.dim / c.heads);
  c.rope_theta = file->get_float(k + "rope.freq_base").value_or(10000.0);
  c.norm_eps = file->get_float(k + "attention.layer_norm_rms_epsilon").value_or(1e-5);
  if (!std::isfinite(c.rope_theta) || c.rope_theta <= 0)
    throw InputError(path + ": " + k + "rope.freq_base must be a positive number");
  if (!std::isfinite(c.norm_eps) || c.norm_eps <= 0 || c.norm_eps > 1)
    throw InputError(path + ": " + k + "attention.layer_norm_rms_epsilon must be in (0, 1]");
  // Bounds that keep every product of dimensions far from overflow; real models are far
  // inside them (Llama 3.1 405B: dim 16384, head 128, FFN 53248).
  if (c.head_dim > (std::int64_t{1} << 16) || c.heads > (std::int64_t{1} << 16) || c.kv_heads > c.heads)
    throw InputError(path + ": head count or head size out of range (head size at most 65536, kv heads at most heads)");
  if (auto v = file->get_int(k + "attention.value_length"); v && *v != c.head_dim)
    throw InputError(path + ": " + k + "attention.value_length differs from key_length; not supported");
  if (auto r = file->get_int(k + "rope.dimension_count"); r && *r != c.head_dim)
    throw InputError(path + ": " + k + "rope.dimension_count " + std::to_string(*r) +
                     " is not the head size " + std::to_string(c.head_dim) + " (partial RoPE is not supported)");
  const gguf::TensorInfo* embd = file->tensor("token_embd.weight");
  if (embd == nullptr || embd->shape.size() != 2) throw InputError(path + ": no 2-D tensor 'token_embd.weight'");
  c.vocab = embd->shape[0];
  // The vocabulary the metadata states, and every token id it names, must fit the table: a
  // BOS id beyond it would be looked up in rows that are not there.
  if (auto v = file->get_int(k + "vocab_size"); v && *v != c.vocab)
    throw InputError(path + ": " + k + "vocab_size is " + std::to_string(*v) + " but 'token_embd.weight' has " +
                     std::to_string(c.vocab) + " rows");
  for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                          "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"})
    if (auto id = file->get_int(key); id && (*id < 0 || *id >= c.vocab))
      throw InputError(path + ": " + key + " is " + std::to_string(*id) + ", outside the vocabulary of " +
                       std::to_string(c.vocab) + " tokens");
  read_rope_scaling(*file, c);
  c.tied_embeddings = file->tensor("output.weight") == nullptr;
  if (c.kv_heads < 1 || c.heads % c.kv_heads != 0 || c.head_dim < 2 || c.head_dim % 2 != 0)
    throw InputError(path + ": head counts and head size do not fit a llama model");
  m.source.file = file;
  if (c.arch == "qwen2") {
    // Q and K rows from NEOX order to adjacent pairs, once (weight_specs is called often). A
    // tensor whose rows are not whole heads is left as it is: weight_specs names its shape.
    auto reordered = std::make_shared<std::map<std::string, std::vector<std::byte>>>();
    for (std::int64_t l = 0; l < c.layers; ++l)
      for (const char* part : {"attn_q.weight", "attn_k.weight", "attn_q.bias", "attn_k.bias"}) {
        const std::string name = "blk." + std::to_string(l) + "." + part;
        const gguf::TensorInfo* t = file->tensor(name);
        if (t != nullptr && !t->shape.empty() && t->shape[0] % c.head_dim == 0)
          (*reordered)[name] = neox_rows_to_adjacent(*t, c.head_dim);
      }
    m.source.reordered = std::move(reordered);
  }
  // Every tensor present with its expected shape and a supported dtype, or an error now. The
  // dtype most of the model's matrices have names the model (Q4_0 files keep some wider);
  // tensors the model does not use are ignored.
  std::map<DType, int> count;
  for (const auto& spec : weight_specs(c, m.source))
    if (spec.shape.size() == 2) ++count[spec.dtype];
  m.dtype = DType::f32;
  int best = 0;
  for (const auto& [t, n] : count) {
    if (n <= best) continue;
    best = n;
    m.dtype = t;
  }
  m.source.dtype = m.dtype;
  return m;
}

void export_gguf(const LlamaConfig& c, DType dtype, std::uint64_t seed, const std::string& path) {
  gguf::Writer w;
  w.set_string("general.architecture", c.arch);
  const std::string k = c.arch + ".";
  w.set_string("general.name", "xpubench " + c.name + " (synthetic weights, seed " + std::to_string(seed) + ")");
  w.set_u32("general.file_type", file_type(dtype));
  w.set_u32(k + "context_length", static_cast<std::uint32_t>(c.context));
  w.set_u32(k + "embedding_length", static_cast<std::uint32_t>(c.dim));
  w.set_u32(k + "block_count", static_cast<std::uint32_t>(c.layers));
  w.set_u32(k + "feed_forward_length", static_cast<std::uint32_t>(c.ffn));
  w.set_u32(k + "rope.dimension_count", static_cast<std::uint32_t>(c.head_dim));
  w.set_u32(k + "attention.head_count", static_cast<std::uint32_t>(c.heads));
  w.set_u32(k + "attention.head_count_kv", static_cast<std::uint32_t>(c.kv_heads));
  w.set_f32(k + "attention.layer_norm_rms_epsilon", static_cast<float>(c.norm_eps));
  w.set_f32(k + "rope.freq_base", static_cast<float>(c.rope_theta));
  w.set_u32(k + "vocab_size", static_cast<std::uint32_t>(c.vocab));
  // A placeholder SentencePiece vocabulary (control tokens, the 256 byte tokens, then
  // numbered pieces) so engines that load a vocabulary before benchmarking accept the file.
  // Benchmarks feed token ids, never text.
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<std::int32_t> types;
  for (std::int64_t i = 0; i < c.vocab; ++i) {
    if (i < 3) {
      tokens.push_back(i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
      types.push_back(i == 0 ? 2 : 3);  // unknown, control
    } else if (i < 3 + 256) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", static_cast<unsigned>(i - 3));
      tokens.emplace_back(buf);
      types.push_back(6);  // byte
    } else {
      tokens.push_back("t" + std::to_string(i));
      types.push_back(1);  // normal
    }
    scores.push_back(-static_cast<float>(i));
  }
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_f32_array("tokenizer.ggml.scores", scores);
  w.set_i32_array("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);

  WeightSource src;
  src.dtype = dtype;
  src.seed = seed;
  for (auto& spec : weight_specs(c, src)) {
    auto init = spec.init;
    const auto shape = spec.shape;
    const DType t = spec.dtype;
    // qwen2 files hold Q and K rows in NEOX order: file row r is the preset's row
    // neox_to_adjacent(r).
    const std::int64_t neox_hd = c.arch == "qwen2" && neox_ordered(spec.name) ? c.head_dim : 0;
    w.add_tensor(spec.name, spec.shape, spec.dtype, [init, shape, t, neox_hd](std::span<std::byte> out) {
      const auto cols = static_cast<std::size_t>(shape.back());
      std::size_t rows = 1;
      for (std::size_t i = 0; i + 1 < shape.size(); ++i) rows *= static_cast<std::size_t>(shape[i]);
      const std::size_t row_bytes = storage_bytes(t, cols);
      std::vector<float> row(cols);
      for (std::size_t r = 0; r < rows; ++r) {
        // A vector (a bias) is one row of `cols` values: its elements move, not its rows.
        const bool vec = shape.size() == 1;
        auto from = [&](std::size_t row_index, std::size_t i) {
          if (neox_hd == 0) return row_index * cols + i;
          if (vec) return static_cast<std::size_t>(neox_to_adjacent(static_cast<std::int64_t>(i), neox_hd));
          return static_cast<std::size_t>(neox_to_adjacent(static_cast<std::int64_t>(row_index), neox_hd)) * cols + i;
        };
        for (std::size_t i = 0; i < cols; ++i) {
          if (init.kind == TensorInit::Kind::synthetic)
            row[i] = synthetic_value(init.seed, from(r, i), static_cast<float>(init.value));
          else if (init.kind == TensorInit::Kind::bytes)  // the f32 rope factors, held by the spec
            row[i] = reinterpret_cast<const float*>(init.source)[r * cols + i];
          else
            row[i] = static_cast<float>(init.value);
        }
        encode_row(t, row.data(), out.data() + r * row_bytes, cols);
      }
    });
  }
  w.write(path);
}

ModelIdentity model_identity(const LlamaConfig& c, const WeightSource& src) {
  std::map<std::string, int> formats;
  for (const auto& spec : weight_specs(c, src))
    if (spec.shape.size() == 2) ++formats[std::string(xpb::name(spec.dtype))];
  std::string format;
  for (const auto& [f, n] : formats) format += (format.empty() ? "" : ", ") + f;
  if (formats.size() > 1) format = "mixed: " + format;
  const std::string shape = "dim=" + std::to_string(c.dim) + " layers=" + std::to_string(c.layers) +
                            " heads=" + std::to_string(c.heads) + " kv_heads=" + std::to_string(c.kv_heads) +
                            " head_dim=" + std::to_string(c.head_dim) + " ffn=" + std::to_string(c.ffn) +
                            " vocab=" + std::to_string(c.vocab) + (c.tied_embeddings ? " tied" : "");
  return ModelIdentity::make(c.arch, shape, format);
}

LlamaGraph build_graph(const LlamaConfig& c, const WeightSource& src, const GraphShape& shape) {
  LlamaGraph lg;
  Graph& g = lg.graph;
  g.set_name(c.name + " decoder");
  g.set_identity(model_identity(c, src));
  const std::int64_t T = shape.max_rows, R = shape.max_outputs;
  const std::int64_t q_width = c.heads * c.head_dim, kv_width = c.kv_heads * c.head_dim;
  lg.rows_dim = g.add_dim("rows", T);
  lg.outputs_dim = g.add_dim("outputs", R);
  lg.context_dim = g.add_dim("context", shape.context);
  auto input = [&](const char* n, std::int64_t len) {
    return g.add_tensor({n, {len}, DType::i32, TensorRole::input, TensorInit::filled(0)});
  };
  lg.tokens = input("tokens", T);
  lg.positions = input("positions", T);
  lg.sequences = input("sequences", T);
  lg.output_rows = input("output_rows", R);
  auto act = [&](const std::string& n, std::int64_t rows, std::int64_t cols, DimId dim) {
    TensorDesc d{n, {rows, cols}, DType::f32, TensorRole::activation, {}};
    d.rows_dim = dim;
    return g.add_tensor(std::move(d));
  };
  std::map<std::string, TensorId> w;
  for (auto& spec : weight_specs(c, src)) {
    lg.weight_bytes += spec_bytes(spec);
    if (spec.name == "token_embd.weight") {
      lg.embedding_bytes = spec_bytes(spec);
      lg.embedding_row_bytes = storage_bytes(spec.dtype, static_cast<std::size_t>(spec.shape[1]));
    }
    w[spec.name] = g.add_tensor({spec.name, spec.shape, spec.dtype, TensorRole::weight, spec.init});
  }
  lg.weights = w;
  lg.tied_embeddings = c.tied_embeddings;
  const DimId rows = lg.rows_dim;
  const TensorId x = act("x", T, c.dim, rows), xn = act("x_norm", T, c.dim, rows);
  const TensorId q = act("q", T, q_width, rows), k = act("k", T, kv_width, rows), v = act("v", T, kv_width, rows);
  const TensorId att = act("attn", T, q_width, rows), proj = act("proj", T, c.dim, rows);
  const TensorId gate = act("gate", T, c.ffn, rows), up = act("up", T, c.ffn, rows);
  const bool scaled = w.count("rope_freqs.weight") != 0;
  g.add_node(Op::embedding, {w["token_embd.weight"], lg.tokens}, {x});
  for (std::int64_t l = 0; l < c.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const TensorId kc = g.add_tensor({p + "k_cache", {shape.slots, shape.context, kv_width}, shape.kv_dtype, TensorRole::state, TensorInit::filled(0)});
    const TensorId vc = g.add_tensor({p + "v_cache", {shape.slots, shape.context, kv_width}, shape.kv_dtype, TensorRole::state, TensorInit::filled(0)});
    const Attrs rope_attrs{{"head_dim", c.head_dim}, {"theta", c.rope_theta}};
    g.add_node(Op::rms_norm, {x, w[p + "attn_norm.weight"]}, {xn}, {{"eps", c.norm_eps}});
    g.add_node(Op::matmul, {xn, w[p + "attn_q.weight"]}, {q});
    g.add_node(Op::matmul, {xn, w[p + "attn_k.weight"]}, {k});
    g.add_node(Op::matmul, {xn, w[p + "attn_v.weight"]}, {v});
    if (c.qkv_bias) {
      g.add_node(Op::add_bias, {q, w[p + "attn_q.bias"]}, {q});
      g.add_node(Op::add_bias, {k, w[p + "attn_k.bias"]}, {k});
      g.add_node(Op::add_bias, {v, w[p + "attn_v.bias"]}, {v});
    }
    if (scaled) {
      g.add_node(Op::rope, {q, lg.positions, w["rope_freqs.weight"]}, {q}, rope_attrs);
      g.add_node(Op::rope, {k, lg.positions, w["rope_freqs.weight"]}, {k}, rope_attrs);
    } else {
      g.add_node(Op::rope, {q, lg.positions}, {q}, rope_attrs);
      g.add_node(Op::rope, {k, lg.positions}, {k}, rope_attrs);
    }
    g.add_node(Op::attention, {q, k, v, lg.positions, lg.sequences, kc, vc}, {att},
               {{"heads", c.heads},
                {"kv_heads", c.kv_heads},
                {"head_dim", c.head_dim},
                {"context_dim", static_cast<std::int64_t>(lg.context_dim)}});
    g.add_node(Op::matmul, {att, w[p + "attn_output.weight"]}, {proj});
    g.add_node(Op::add, {x, proj}, {x});
    g.add_node(Op::rms_norm, {x, w[p + "ffn_norm.weight"]}, {xn}, {{"eps", c.norm_eps}});
    g.add_node(Op::matmul, {xn, w[p + "ffn_gate.weight"]}, {gate});
    g.add_node(Op::matmul, {xn, w[p + "ffn_up.weight"]}, {up});
    g.add_node(Op::silu_mul, {gate, up}, {gate});
    g.add_node(Op::matmul, {gate, w[p + "ffn_down.weight"]}, {proj});
    g.add_node(Op::add, {x, proj}, {x});
  }
  const TensorId last = act("last", R, c.dim, lg.outputs_dim), last_norm = act("last_norm", R, c.dim, lg.outputs_dim);
  lg.logits = act("logits", R, c.vocab, lg.outputs_dim);
  TensorDesc nt{"next_tokens", {R}, DType::i32, TensorRole::output, {}};
  nt.rows_dim = lg.outputs_dim;
  lg.next_tokens = g.add_tensor(std::move(nt));
  g.add_node(Op::gather_rows, {x, lg.output_rows}, {last});
  g.add_node(Op::rms_norm, {last, w["output_norm.weight"]}, {last_norm}, {{"eps", c.norm_eps}});
  g.add_node(Op::matmul, {last_norm, w[c.tied_embeddings ? "token_embd.weight" : "output.weight"]}, {lg.logits});
  g.add_node(Op::argmax, {lg.logits}, {lg.next_tokens});
  lg.kv_bytes_per_token = static_cast<std::uint64_t>(c.layers) * 2 * storage_bytes(shape.kv_dtype, static_cast<std::size_t>(kv_width));
  return lg;
}

}  // namespace xpb::llm
