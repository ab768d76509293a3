// A graph on photonic-sim (sim_executable.hpp runs it). In functional mode the cpu runs it with
// the analog ops around each matmul (the rewritten graph of photonic_driver.cpp); in
// timing-only mode nothing is computed. In both, each run's time and energy come from the model
// (photonic_model.hpp) applied to the graph as given, at the run's dynamic dims.
#pragma once
#include <map>
#include <memory>
#include <vector>

#include "photonic_model.hpp"
#include "sim_executable.hpp"

namespace xpb::photonic {

class PhotonicExecutable final : public sim::SimExecutable {
 public:
  // `inner`: the cpu's executable of the rewritten graph (whose first tensors are g's, same
  // ids), or null for timing-only.
  PhotonicExecutable(const Graph& g, std::shared_ptr<const PhotonicModel> model,
                     std::vector<std::shared_ptr<sim::SimBuffer>> buffers, std::shared_ptr<Executable> inner,
                     double jitter_cv, std::uint64_t jitter_seed);
  // The mode, and at the graph's largest dims: the time, the MACs on the arrays, TOPS, the
  // average power and where the energy goes.
  nlohmann::json describe() const override;

 private:
  Cost cost(const RunArgs& args) override;

  std::shared_ptr<const PhotonicModel> model_;
  std::map<std::vector<std::int64_t>, Cost> costs_;  // per dims: a decode loop revisits them
};

}  // namespace xpb::photonic
