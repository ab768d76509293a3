#include "llama_engine.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace xpb::llm {

std::pair<Outcome, std::unique_ptr<LlamaEngine>> LlamaEngine::create(Device& device, std::shared_ptr<ModelWeights> weights,
                                                                     const GraphShape& shape, const CompileOptions& opts) {
  auto graph = build_graph(weights->config(), weights->source(), shape);
  auto compiled = device.compile(graph.graph, weights->bindings(graph), opts);
  if (!compiled.outcome.passed()) return {compiled.outcome, nullptr};
  return {Outcome::ok(), std::make_unique<LlamaEngine>(weights->config(), shape, std::move(graph), compiled.exe)};
}

LlamaEngine::LlamaEngine(LlamaConfig config, GraphShape shape, LlamaGraph graph, std::shared_ptr<Executable> exe)
    : config_(std::move(config)), shape_(shape), graph_(std::move(graph)), exe_(std::move(exe)) {}

void LlamaEngine::write_i32(TensorId id, const std::vector<std::int32_t>& values, std::size_t capacity) {
  staging_.assign(capacity, 0);
  std::copy(values.begin(), values.end(), staging_.begin());
  exe_->write(id, {reinterpret_cast<const std::byte*>(staging_.data()), capacity * 4});
}

RunResult LlamaEngine::step(const StepInput& in, const std::atomic<bool>* cancel) {
  const auto rows = static_cast<std::size_t>(shape_.max_rows), outs = static_cast<std::size_t>(shape_.max_outputs);
  if (in.tokens.empty() || in.tokens.size() > rows || in.positions.size() != in.tokens.size() ||
      in.sequences.size() != in.tokens.size() || in.output_rows.size() > outs)
    throw std::invalid_argument("a step of " + std::to_string(in.tokens.size()) + " rows and " +
                                std::to_string(in.output_rows.size()) + " outputs does not fit the compiled shape (" +
                                std::to_string(rows) + " rows, " + std::to_string(outs) + " outputs)");
  std::int32_t last_position = 0;
  for (std::size_t i = 0; i < in.tokens.size(); ++i) {
    if (in.tokens[i] < 0 || in.tokens[i] >= config_.vocab)
      throw std::invalid_argument("token id " + std::to_string(in.tokens[i]) + " at row " + std::to_string(i) +
                                  " is outside the vocabulary of " + std::to_string(config_.vocab));
    if (in.positions[i] < 0 || in.positions[i] >= shape_.context || in.sequences[i] < 0 || in.sequences[i] >= shape_.slots)
      throw std::invalid_argument("row " + std::to_string(i) + " at position " + std::to_string(in.positions[i]) +
                                  " of sequence " + std::to_string(in.sequences[i]) + " is outside the KV cache (" +
                                  std::to_string(shape_.slots) + " sequences of " + std::to_string(shape_.context) + ")");
    last_position = std::max(last_position, in.positions[i]);
  }
  for (auto r : in.output_rows)
    if (r < 0 || static_cast<std::size_t>(r) >= in.tokens.size())
      throw std::invalid_argument("output row " + std::to_string(r) + " is not a row of the step");
  write_i32(graph_.tokens, in.tokens, rows);
  write_i32(graph_.positions, in.positions, rows);
  write_i32(graph_.sequences, in.sequences, rows);
  write_i32(graph_.output_rows, in.output_rows, outs);
  last_outputs_ = in.output_rows.size();
  std::vector<std::int64_t> dims(graph_.graph.dims().size());
  dims[graph_.rows_dim] = static_cast<std::int64_t>(in.tokens.size());
  dims[graph_.outputs_dim] = static_cast<std::int64_t>(in.output_rows.size());
  dims[graph_.context_dim] = last_position + 1;
  return exe_->run(RunArgs{1, dims, cancel});
}

std::vector<std::int32_t> LlamaEngine::next_tokens() const {
  std::vector<std::int32_t> all(static_cast<std::size_t>(shape_.max_outputs));
  exe_->read(graph_.next_tokens, {reinterpret_cast<std::byte*>(all.data()), all.size() * 4});
  all.resize(last_outputs_);
  return all;
}

std::vector<float> LlamaEngine::logits() const {
  const auto vocab = static_cast<std::size_t>(config_.vocab);
  std::vector<float> all(static_cast<std::size_t>(shape_.max_outputs) * vocab);
  exe_->read(graph_.logits, {reinterpret_cast<std::byte*>(all.data()), all.size() * 4});
  all.resize(last_outputs_ * vocab);
  return all;
}

}  // namespace xpb::llm
