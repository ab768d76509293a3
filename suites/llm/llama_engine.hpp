// A Llama decoder compiled on one device, driven step by step: each step feeds token rows
// (a prompt chunk, or one token per sequence) with their positions and sequence slots, runs
// the graph once with its dynamic dims set to the step's size, and leaves the greedy next
// token of the rows asked for.
#pragma once
#include <atomic>
#include <memory>
#include <vector>

#include "llama_model.hpp"
#include "model_weights.hpp"
#include "xpubench/device.hpp"

namespace xpb::llm {

struct StepInput {
  std::vector<std::int32_t> tokens, positions, sequences;  // one entry per row
  std::vector<std::int32_t> output_rows;                   // rows whose logits to compute
};

class LlamaEngine {
 public:
  // Compiles the model with its weights bound to `weights` (which must be usable on `device`);
  // on failure returns the outcome and no engine.
  static std::pair<Outcome, std::unique_ptr<LlamaEngine>> create(Device& device, std::shared_ptr<ModelWeights> weights,
                                                                 const GraphShape& shape, const CompileOptions& opts);
  // An engine over `exe`, compiled from `graph` (the harness compiled it).
  LlamaEngine(LlamaConfig config, GraphShape shape, LlamaGraph graph, std::shared_ptr<Executable> exe);

  // Runs one step and returns what the device said of it (`interrupted` when `cancel` was set
  // during it). Throws std::invalid_argument for a step larger than the compiled shape, or a
  // token, position or sequence out of range (a token id outside the vocabulary is an error,
  // never a row of zeros).
  RunResult step(const StepInput& in, const std::atomic<bool>* cancel = nullptr);
  // The greedy next token of each output row of the last step.
  std::vector<std::int32_t> next_tokens() const;
  // The logits of each output row of the last step, row after row.
  std::vector<float> logits() const;

  const LlamaConfig& config() const { return config_; }
  const LlamaGraph& graph() const { return graph_; }
  const GraphShape& shape() const { return shape_; }
  Executable& executable() { return *exe_; }

 private:
  void write_i32(TensorId id, const std::vector<std::int32_t>& values, std::size_t capacity);

  LlamaConfig config_;
  GraphShape shape_;
  LlamaGraph graph_;
  std::shared_ptr<Executable> exe_;
  std::size_t last_outputs_ = 0;
  std::vector<std::int32_t> staging_;
};

}  // namespace xpb::llm
