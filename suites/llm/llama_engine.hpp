// A Llama decoder compiled on one device, driven step by step: each step feeds token rows
// (a prompt chunk, or one token per sequence) with their positions and sequence slots, runs
// the graph once, and leaves the greedy next token of the rows asked for.
#pragma once
#include <memory>
#include <vector>

#include "llama_model.hpp"
#include "xpubench/device.hpp"

namespace xpb::llm {

struct StepInput {
  std::vector<std::int32_t> tokens, positions, sequences;  // one entry per row
  std::vector<std::int32_t> output_rows;                   // rows whose logits to compute
};

class LlamaEngine {
 public:
  // Compiles the model on `device`; on failure returns the outcome and no engine.
  static std::pair<Outcome, std::unique_ptr<LlamaEngine>> create(Device& device, const LlamaConfig& config,
                                                                 const WeightSource& weights, const GraphShape& shape,
                                                                 const CompileOptions& opts);

  // Runs one step; returns its time on the device's clock. Rows and outputs must fit the shape.
  Timing step(const StepInput& in);
  // The greedy next token of each output row of the last step.
  std::vector<std::int32_t> next_tokens() const;
  // The logits of each output row of the last step, row after row.
  std::vector<float> logits() const;

  const LlamaConfig& config() const { return config_; }
  const LlamaGraph& graph() const { return graph_; }
  const GraphShape& shape() const { return shape_; }
  Executable& executable() { return *exe_; }

 private:
  LlamaEngine() = default;
  void write_i32(TensorId id, const std::vector<std::int32_t>& values, std::size_t capacity);

  LlamaConfig config_;
  GraphShape shape_;
  LlamaGraph graph_;
  std::unique_ptr<Executable> exe_;
  std::size_t last_outputs_ = 0;
  std::vector<std::int32_t> staging_;
};

}  // namespace xpb::llm
