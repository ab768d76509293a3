// A model's weights on a device, made once and bound into every graph that runs the model on
// it (the benchmark's engine, its conformance twin): one copy in memory however many
// executables use it. A device that computes on host memory (ref) binds the buffers of another
// such device (cpu) too, so checking a model against ref costs no second copy either.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "llama_model.hpp"
#include "xpubench/device.hpp"
#include "xpubench/workload.hpp"

namespace xpb::llm {

class ModelWeights {
 public:
  // Every weight of the model, allocated and filled on `device` (each by the threads of `opts`,
  // where they will be read). A failed or interrupted allocation is the outcome; opts.cancel
  // is looked at between tensors too (a device may not look at it while it fills one).
  static std::pair<Outcome, std::shared_ptr<ModelWeights>> load(Device& device, const LlamaConfig& c,
                                                                const WeightSource& src, const CompileOptions& opts);
  // These weights for `other`: the same buffers when it can bind them all, else a copy of its
  // own (loaded from the same source).
  static std::pair<Outcome, std::shared_ptr<ModelWeights>> share_or_load(Device& other, const ModelWeights& existing,
                                                                         const CompileOptions& opts);

  // Each weight tensor of `g` (a graph of this model) bound to its buffer.
  Bindings bindings(const LlamaGraph& g) const;
  // A graph that reads every byte of the weights once, in the order a decode step reads them
  // (read_bytes on each tensor), with its tensors bound to these buffers: the read bandwidth
  // of the very memory decode reads, for llm.bench's roofline.
  struct ReadPass {
    Graph graph;
    Bindings bindings;
  };
  ReadPass read_pass() const;
  std::uint64_t bytes() const { return bytes_; }
  const LlamaConfig& config() const { return config_; }
  const WeightSource& source() const { return source_; }
  // Whether the buffers were shared from another device's copy (not loaded anew).
  bool shared() const { return shared_; }
  // Whether any weight matrix is quantized (Q8_0, Q4_0): a GGUF file may mix dtypes.
  bool any_quantized() const { return any_quantized_; }

 private:
  LlamaConfig config_;
  WeightSource source_;
  std::map<std::string, std::shared_ptr<Buffer>> buffers_;
  std::vector<TensorDesc> descs_;  // each weight's name, shape and dtype, in the model's order
  std::uint64_t bytes_ = 0;
  bool shared_ = false;
  bool any_quantized_ = false;
};

// A workload's one stage over a model: the weights made on ctx.device (by `threads` threads),
// the decoder's graph for `shape`, and the stage that compiles it with the weights bound.
struct ModelStage {
  Outcome outcome;  // of making the weights
  std::shared_ptr<ModelWeights> weights;
  LlamaGraph graph;
  Stage stage;
};
ModelStage model_stage(RunContext& ctx, const LlamaConfig& c, const WeightSource& src, const GraphShape& shape,
                       int threads);

}  // namespace xpb::llm
