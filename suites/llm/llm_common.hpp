// Pieces the llm workloads share: which model a benchmark runs (a preset or a GGUF file),
// its weight dtype, the tokens it feeds, and the memory it will need.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llama_model.hpp"
#include "xpubench/system.hpp"
#include "xpubench/workload.hpp"

namespace xpb::llm {

struct ModelChoice {
  LlamaConfig config;
  WeightSource source;
  std::string origin;  // "preset" or the GGUF file's path
};

// The parameters every llm workload takes, in one place so bench and serving mean the same by
// each: model, dtype, threads, kv_dtype, weight_seed, prompt_seed.
std::vector<ParamSpec> model_params();

// params["model"] is a preset name or a path ending in .gguf; params["dtype"] the weight dtype
// of a preset (a file has its own); params["weight_seed"] the seed of a preset's synthetic
// weights. Throws InputError naming the parameter or the file.
ModelChoice resolve_model(const nlohmann::json& params);

// The last step of an llm workload's expand(): the seeds are checked, the model is opened (so
// a bad file is an input error before anything runs), a GGUF file's own dtype replaces the
// preset `dtype`, and one point is made per thread count of params["threads"] (a number, "all"
// or "scaling").
std::vector<nlohmann::json> model_points(nlohmann::json params, const SystemInfo& system);

// A description of the model for the record: shape, parameters, dtype, weight bytes, origin,
// trained context, RoPE scaling applied, identity.
nlohmann::json describe(const ModelChoice& m);

// `count` token ids from a seeded stream, in [3, vocab) (clear of the usual control tokens
// 0-2) or, for a vocabulary of 4 or fewer, in [0, vocab): every id is a row of the table.
std::vector<std::int32_t> prompt_tokens(std::uint64_t seed, std::size_t count, std::int64_t vocab);

// A note when a test reaches past the positions the model was trained for (its context): the
// figures are still the device's, but no real deployment runs there. Empty when it does not.
std::string beyond_context_note(const LlamaConfig& c, std::int64_t last_position);

// Bytes a decoder of this shape needs on the device: weights, KV cache and activations.
std::uint64_t footprint_bytes(const LlamaConfig& c, const WeightSource& weights, const GraphShape& shape);

}  // namespace xpb::llm
