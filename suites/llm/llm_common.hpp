// Pieces the llm workloads share: which model a benchmark runs (a preset or a GGUF file),
// its weight dtype, the tokens it feeds, and the memory it will need.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llama_model.hpp"
#include "xpubench/system.hpp"

namespace xpb::llm {

struct ModelChoice {
  LlamaConfig config;
  WeightSource source;
  std::string origin;  // "preset" or the GGUF file's path
};

// params["model"] is a preset name or a path ending in .gguf; params["dtype"] the weight dtype
// of a preset (a file has its own). Throws InputError naming the parameter or the file.
ModelChoice resolve_model(const nlohmann::json& params);

// The last step of an llm workload's expand(): the model is opened (so a bad file is an input
// error before anything runs), a GGUF file's own dtype replaces the preset `dtype`, and one
// point is made per thread count of params["threads"] (a number, "all" or "scaling").
std::vector<nlohmann::json> model_points(nlohmann::json params, const SystemInfo& system);

// A description of the model for the record: shape, parameters, dtype, weight bytes, origin.
nlohmann::json describe(const ModelChoice& m);

// `count` token ids from a seeded stream, in [3, vocab) (clear of the control tokens).
std::vector<std::int32_t> prompt_tokens(std::uint64_t seed, std::size_t count, std::int64_t vocab);

// Bytes a decoder of this shape needs on the device: weights, KV cache and activations.
std::uint64_t footprint_bytes(const LlamaConfig& c, const WeightSource& weights, const GraphShape& shape);

}  // namespace xpb::llm
