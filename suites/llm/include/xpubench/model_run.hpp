// `xpubench model run`: greedy generation from given token ids on one device, with the full
// logits of every step, so any device (cpu, opencl, a plugin, a simulator in functional mode)
// can be put beside another engine (llama.cpp, ...) on the same model file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/device.hpp"
#include "xpubench/export.hpp"

namespace xpb {

struct GreedyRun {
  std::vector<std::int32_t> prompt;  // the token ids fed
  std::vector<std::int32_t> tokens;  // tokens[i]: the greedy choice after prompt + tokens[0..i)
  // logits[i]: the full vocabulary row that chose tokens[i] (so logits[0] follows the prompt).
  std::vector<std::vector<float>> logits;
  std::string model;   // preset name or file path
  std::string device;  // the device's id as opened
};

// Runs `model` (a preset name, made at `dtype` from weight seed 1 as llm.bench makes it, or a
// GGUF file, whose own dtypes are used) on `device`: feeds `prompt` one position after
// another, then generates `n` tokens greedily, each fed back. The KV cache is f32 (as the
// reference outputs of other engines are made), sized for prompt + n positions.
// Throws InputError for a bad model, dtype or token id (naming it), std::runtime_error with the
// device's reason when a step fails.
XPB_API GreedyRun greedy_run(Device& device, const std::string& device_id, const std::string& model,
                             const std::string& dtype, const std::vector<std::int32_t>& prompt, int n);

// {"model", "device", "prompt", "tokens", "logits"}.
XPB_API nlohmann::json to_json(const GreedyRun& r);

}  // namespace xpb
