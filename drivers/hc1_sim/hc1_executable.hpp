// A Llama decoder graph on hc1-sim (sim_executable.hpp runs it): each run's time and energy
// come from the model (hc1_model.hpp), from the step's positions and sequences alone, so
// functional and timing-only mode give the same simulated time.
#pragma once
#include <memory>
#include <vector>

#include "hc1_model.hpp"
#include "sim_executable.hpp"

namespace xpb::hc1 {

class Hc1Executable final : public sim::SimExecutable {
 public:
  // `buffers`, `inner`: as SimExecutable's (inner: the cpu's executable over the chip's rounded
  // weights, or null). `positions`, `sequences`: the graph's input tensors of the rows'
  // positions and sequence slots; `rows_dim` the dynamic dim of its token rows.
  Hc1Executable(const Graph& g, std::shared_ptr<const Hc1Model> model, std::vector<std::shared_ptr<sim::SimBuffer>> buffers,
                std::shared_ptr<Executable> inner, TensorId positions, TensorId sequences, DimId rows_dim,
                double jitter_cv, std::uint64_t jitter_seed);
  nlohmann::json describe() const override;

 private:
  Cost cost(const RunArgs& args) override;

  std::shared_ptr<const Hc1Model> model_;
  TensorId positions_, sequences_;
  DimId rows_dim_;
  std::vector<std::int32_t> pos_, seq_;  // staging, kept between runs
};

}  // namespace xpb::hc1
