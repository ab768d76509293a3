#include "xpubench/model_run.hpp"

#include <stdexcept>

#include "llama_engine.hpp"
#include "llm_common.hpp"
#include "model_weights.hpp"
#include "xpubench/error.hpp"

namespace xpb {

GreedyRun greedy_run(Device& device, const std::string& device_id, const std::string& model, const std::string& dtype,
                     const std::vector<std::int32_t>& prompt, int n) {
  if (prompt.empty()) throw InputError("--tokens: give at least one token id");
  if (n < 0) throw InputError("--n: expected 0 or more tokens to generate, got " + std::to_string(n));
  const auto choice = llm::resolve_model({{"model", model}, {"dtype", dtype}, {"weight_seed", 1}});
  for (std::size_t i = 0; i < prompt.size(); ++i)
    if (prompt[i] < 0 || prompt[i] >= choice.config.vocab)
      throw InputError("--tokens: token " + std::to_string(i + 1) + " (" + std::to_string(prompt[i]) +
                       ") is outside the vocabulary of " + std::to_string(choice.config.vocab));
  llm::GraphShape shape;
  shape.context = static_cast<std::int64_t>(prompt.size()) + n;
  auto [loaded, weights] = llm::ModelWeights::load(device, choice.config, choice.source, {});
  if (!weights) throw std::runtime_error(device_id + ": the weights could not be made: " + loaded.reason);
  auto [compiled, engine] = llm::LlamaEngine::create(device, weights, shape, {});
  if (!engine) throw std::runtime_error(device_id + ": the model could not be compiled: " + compiled.reason);
  // A simulator in timing-only mode computes no outputs: its logits would be whatever the
  // buffers held, never a model's.
  if (!engine->executable().computes_outputs())
    throw InputError(device_id + ": runs this model timing-only and computes no logits (give it a functional mode)");

  GreedyRun r;
  r.prompt = prompt;
  r.model = model;
  r.device = device_id;
  const auto prompt_len = static_cast<std::int32_t>(prompt.size());
  for (std::int32_t pos = 0; static_cast<int>(r.tokens.size()) < n; ++pos) {
    const std::int32_t token = pos < prompt_len ? prompt[static_cast<std::size_t>(pos)] : r.tokens.back();
    if (const auto res = engine->step({{token}, {pos}, {0}, {0}}); !res.error.empty())
      throw std::runtime_error(device_id + ": the step at position " + std::to_string(pos) + " failed: " + res.error);
    if (pos + 1 < prompt_len) continue;  // still feeding the prompt
    r.tokens.push_back(engine->next_tokens()[0]);
    r.logits.push_back(engine->logits());
  }
  return r;
}

nlohmann::json to_json(const GreedyRun& r) {
  return {{"model", r.model}, {"device", r.device}, {"prompt", r.prompt}, {"tokens", r.tokens}, {"logits", r.logits}};
}

}  // namespace xpb
