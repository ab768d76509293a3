#include "llama_engine.hpp"

#include <algorithm>
#include <stdexcept>

namespace xpb::llm {

std::pair<Outcome, std::unique_ptr<LlamaEngine>> LlamaEngine::create(Device& device, const LlamaConfig& config,
                                                                     const WeightSource& weights,
                                                                     const GraphShape& shape,
                                                                     const CompileOptions& opts) {
  std::unique_ptr<LlamaEngine> e(new LlamaEngine());
  e->config_ = config;
  e->shape_ = shape;
  e->graph_ = build_graph(config, weights, shape);
  auto compiled = device.compile(e->graph_.graph, opts);
  if (!compiled.outcome.passed()) return {compiled.outcome, nullptr};
  e->exe_ = std::move(compiled.exe);
  return {Outcome::ok(), std::move(e)};
}

void LlamaEngine::write_i32(TensorId id, const std::vector<std::int32_t>& values, std::size_t capacity) {
  staging_.assign(capacity, 0);
  std::copy(values.begin(), values.end(), staging_.begin());
  exe_->write(id, {reinterpret_cast<const std::byte*>(staging_.data()), capacity * 4});
}

Timing LlamaEngine::step(const StepInput& in) {
  const auto rows = static_cast<std::size_t>(shape_.max_rows), outs = static_cast<std::size_t>(shape_.max_outputs);
  if (in.tokens.size() > rows || in.positions.size() != in.tokens.size() || in.sequences.size() != in.tokens.size() ||
      in.output_rows.size() > outs)
    throw std::invalid_argument("a step larger than the compiled shape");
  write_i32(graph_.rows, {static_cast<std::int32_t>(in.tokens.size())}, 1);
  write_i32(graph_.outputs, {static_cast<std::int32_t>(in.output_rows.size())}, 1);
  write_i32(graph_.tokens, in.tokens, rows);
  write_i32(graph_.positions, in.positions, rows);
  write_i32(graph_.sequences, in.sequences, rows);
  write_i32(graph_.output_rows, in.output_rows, outs);
  last_outputs_ = in.output_rows.size();
  return exe_->run(1);
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
