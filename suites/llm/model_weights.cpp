#include "model_weights.hpp"

#include <tuple>

#include "gguf.hpp"
#include "xpubench/gguf_blocks.hpp"

namespace xpb::llm {

std::pair<Outcome, std::shared_ptr<ModelWeights>> ModelWeights::load(Device& device, const LlamaConfig& c,
                                                                     const WeightSource& src, const CompileOptions& opts) {
  auto w = std::make_shared<ModelWeights>();
  w->config_ = c;
  w->source_ = src;
  for (auto& spec : weight_specs(c, src)) {
    if (opts.cancel != nullptr && opts.cancel->load(std::memory_order_relaxed))
      return {Outcome::with(Status::interrupted, "stopped by the user while the model's weights were made"), nullptr};
    const TensorDesc t{spec.name, spec.shape, spec.dtype, TensorRole::weight, spec.init};
    w->any_quantized_ = w->any_quantized_ || is_block_quantized(spec.dtype);
    auto a = device.alloc(t, opts);
    if (!a.outcome.passed()) return {a.outcome, nullptr};
    // The device holds its own copy now (cpu, ref, opencl and plugins copy in alloc): the
    // file's pages of it need not stay resident. A device that copies later, when it compiles
    // (photonic-sim), maps them again then.
    if (src.file != nullptr && spec.init.keepalive == src.file)
      static_cast<const gguf::File*>(src.file.get())->drop_resident({spec.init.source, spec.init.source_bytes});
    w->bytes_ += t.bytes();
    w->buffers_[spec.name] = std::move(a.buffer);
    w->descs_.push_back({spec.name, spec.shape, spec.dtype, TensorRole::weight, {}});
  }
  return {Outcome::ok(), std::move(w)};
}

std::pair<Outcome, std::shared_ptr<ModelWeights>> ModelWeights::share_or_load(Device& other, const ModelWeights& existing,
                                                                              const CompileOptions& opts) {
  bool all = true;
  for (const auto& [name, buffer] : existing.buffers_) all = all && other.can_bind(*buffer);
  if (!all) return load(other, existing.config_, existing.source_, opts);
  auto w = std::make_shared<ModelWeights>(existing);
  w->shared_ = true;
  return {Outcome::ok(), std::move(w)};
}

Bindings ModelWeights::bindings(const LlamaGraph& g) const {
  Bindings b;
  for (const auto& [name, id] : g.weights)
    if (auto it = buffers_.find(name); it != buffers_.end()) b[id] = it->second;
  return b;
}

ModelWeights::ReadPass ModelWeights::read_pass() const {
  ReadPass pass;
  pass.graph.set_name("read the weights");
  for (const auto& d : descs_) {
    const TensorId in = pass.graph.add_tensor(d);
    const TensorId sum = pass.graph.add_tensor({d.name + ".sum", {1}, DType::u64, TensorRole::output, {}});
    pass.graph.add_node(Op::read_bytes, {in}, {sum});
    pass.bindings[in] = buffers_.at(d.name);
  }
  return pass;
}

ModelStage model_stage(RunContext& ctx, const LlamaConfig& c, const WeightSource& src, const GraphShape& shape,
                       int threads) {
  ModelStage m;
  CompileOptions opts;
  opts.threads = threads;
  opts.cancel = ctx.cancel;
  std::tie(m.outcome, m.weights) = ModelWeights::load(ctx.device, c, src, opts);
  if (!m.weights) return m;
  m.graph = build_graph(c, src, shape);
  m.stage = Stage{"", m.graph.graph, opts, m.weights->bindings(m.graph), std::nullopt};
  return m;
}

}  // namespace xpb::llm
