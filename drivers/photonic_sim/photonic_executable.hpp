// A graph on photonic-sim. In functional mode the cpu runs it with the analog ops around each
// matmul (the rewritten graph of photonic_driver.cpp); in timing-only mode nothing is computed.
// In both, each run's time and energy come from the model (photonic_model.hpp) applied to the
// graph as given, at the run's dynamic dims.
#pragma once
#include <map>
#include <memory>
#include <vector>

#include "photonic_model.hpp"
#include "sim_buffer.hpp"
#include "sim_support.hpp"
#include "xpubench/device.hpp"

namespace xpb::photonic {

class PhotonicExecutable final : public Executable {
 public:
  // `inner`: the cpu's executable of the rewritten graph (whose first tensors are g's, same
  // ids), or null for timing-only.
  PhotonicExecutable(const Graph& g, std::shared_ptr<const PhotonicModel> model,
                     std::vector<std::shared_ptr<sim::SimBuffer>> buffers, std::shared_ptr<Executable> inner,
                     double jitter_cv, std::uint64_t jitter_seed);

  RunResult run(const RunArgs& args) override;
  void read(TensorId id, std::span<std::byte> dst) const override;
  void write(TensorId id, std::span<const std::byte> src) override;
  std::shared_ptr<Buffer> buffer(TensorId id) const override { return buffers_.at(id); }
  // The mode, and at the graph's largest dims: the time, the MACs on the arrays, TOPS, the
  // average power and where the energy goes.
  nlohmann::json describe() const override;
  bool computes_outputs() const override { return inner_ != nullptr; }

 private:
  const RunCost& cost(std::span<const std::int64_t> dims);

  Graph graph_;
  std::shared_ptr<const PhotonicModel> model_;
  std::vector<std::shared_ptr<sim::SimBuffer>> buffers_;
  std::shared_ptr<Executable> inner_;
  sim::ClockJitter jitter_;  // scales each run's time; exactly 1 on a deterministic clock
  std::map<std::vector<std::int64_t>, RunCost> costs_;  // per dims: a decode loop revisits them
};

}  // namespace xpb::photonic
