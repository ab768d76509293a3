#include "llm_common.hpp"

#include "workload_common.hpp"
#include "xpubench/error.hpp"
#include "xpubench/quant.hpp"

namespace xpb::llm {

std::vector<ParamSpec> model_params() {
  std::string presets;
  for (const auto& m : preset_names()) presets += (presets.empty() ? "" : ", ") + m;
  return {
      {"model", "a preset (" + presets + ") or the path of a llama GGUF file", "stories-15m", {}},
      {"dtype", "weight dtype of a preset (a GGUF file has its own)", "q8_0", weight_dtype_names()},
      {"threads", "worker threads: a number, \"all\" or \"scaling\" (1, 2, 4, ... all)", "all", {}},
      {"kv_dtype", "KV cache element type", "f16", {"f32", "f16"}},
      {"weight_seed", "seed of a preset's synthetic weights (model export --seed)", 1, {}},
      {"prompt_seed", "seed of the prompt tokens", 1, {}},
  };
}

ModelChoice resolve_model(const nlohmann::json& params) {
  if (!params["model"].is_string()) throw InputError("parameter 'model' expects a preset name or a .gguf path");
  const auto model = params["model"].get<std::string>();
  ModelChoice m;
  if (model.size() > 5 && model.substr(model.size() - 5) == ".gguf") {
    auto g = open_gguf(model);
    m.config = g.config;
    m.source = g.source;
    m.origin = model;
    return m;
  }
  auto p = preset(model);
  if (!p) {
    std::string names;
    for (const auto& n : preset_names()) names += (names.empty() ? "" : ", ") + n;
    throw InputError("parameter 'model': '" + model + "' is neither a preset (" + names + ") nor a .gguf file");
  }
  const auto dt = params["dtype"].is_string() ? parse_dtype(params["dtype"].get<std::string>()) : std::nullopt;
  if (!dt || !is_weight_dtype(*dt)) throw InputError("parameter 'dtype' expects " + weight_dtype_list());
  if (auto why = p->problem(*dt); !why.empty()) throw InputError("model " + model + " at " + params["dtype"].get<std::string>() + ": " + why);
  m.config = *p;
  m.source.dtype = *dt;
  m.source.seed = params.value("weight_seed", std::uint64_t{1});
  m.origin = "preset";
  return m;
}

std::vector<nlohmann::json> model_points(nlohmann::json params, const SystemInfo& system) {
  for (const char* key : {"weight_seed", "prompt_seed"})
    params[key] = whole_number(params[key], key, 0, std::int64_t{1} << 53);
  const auto model = resolve_model(params);
  if (model.source.file) params["dtype"] = std::string(name(model.source.dtype));
  std::vector<nlohmann::json> points;
  for (int t : thread_counts(params["threads"], system, "threads")) {
    params["threads"] = t;
    points.push_back(params);
  }
  return points;
}

nlohmann::json describe(const ModelChoice& m) {
  const auto& c = m.config;
  return {{"name", c.name},
          {"origin", m.origin},
          {"weights", m.source.file ? "from the file" : "synthetic (seeded)"},
          {"dtype", std::string(name(m.source.dtype))},
          {"parameters", c.parameters()},
          {"weight_bytes", weight_bytes(c, m.source)},
          {"dim", c.dim},
          {"layers", c.layers},
          {"heads", c.heads},
          {"kv_heads", c.kv_heads},
          {"head_dim", c.head_dim},
          {"ffn", c.ffn},
          {"vocab", c.vocab},
          {"context", c.context},
          {"rope_theta", c.rope_theta},
          {"rope_scaling", c.rope_scaling_applied},
          {"tied_embeddings", c.tied_embeddings},
          {"identity", {{"architecture", "llama"}, {"fingerprint", model_identity(c, m.source).fingerprint}}}};
}

std::vector<std::int32_t> prompt_tokens(std::uint64_t seed, std::size_t count, std::int64_t vocab) {
  std::vector<std::int32_t> out(count);
  const std::int64_t first = vocab > 4 ? 3 : 0;
  const auto span = static_cast<std::uint64_t>(std::max<std::int64_t>(1, vocab - first));
  for (std::size_t i = 0; i < count; ++i) {
    const float u = synthetic_value(seed ^ 0x70C3E5ull, i, 1.0f) * 0.5f + 0.5f;  // [0, 1)
    out[i] = static_cast<std::int32_t>(
        first + static_cast<std::int64_t>(std::min<std::uint64_t>(span - 1, static_cast<std::uint64_t>(u * static_cast<float>(span)))));
  }
  return out;
}

std::string beyond_context_note(const LlamaConfig& c, std::int64_t last_position) {
  if (c.context <= 0 || last_position < c.context) return "";
  return "the test reaches position " + std::to_string(last_position) + ", past the " + std::to_string(c.context) +
         " positions the model was trained for (its context): the figures are the device's, but the model's "
         "outputs there are not what it was trained to give";
}

std::uint64_t footprint_bytes(const LlamaConfig& c, const WeightSource& weights, const GraphShape& s) {
  const auto kv = static_cast<std::uint64_t>(c.layers) * 2 * static_cast<std::uint64_t>(s.slots * s.context) *
                  storage_bytes(s.kv_dtype, static_cast<std::size_t>(c.kv_heads * c.head_dim));
  const auto rows = static_cast<std::uint64_t>(s.max_rows);
  const auto act = rows * 4 * static_cast<std::uint64_t>(3 * c.dim + 2 * c.heads * c.head_dim + 2 * c.kv_heads * c.head_dim + 2 * c.ffn) +
                   static_cast<std::uint64_t>(s.max_outputs) * 4 * static_cast<std::uint64_t>(2 * c.dim + c.vocab);
  return weight_bytes(c, weights) + kv + act * 2;  // activations, and their Q8_0 copies (bounded by f32 size)
}

}  // namespace xpb::llm
