#include "hc1_executable.hpp"

#include <cstring>

namespace xpb::hc1 {

Hc1Executable::Hc1Executable(const Graph& g, std::shared_ptr<const Hc1Model> model,
                             std::vector<std::shared_ptr<sim::SimBuffer>> buffers, std::shared_ptr<Executable> inner,
                             TensorId positions, TensorId sequences, DimId rows_dim, double jitter_cv,
                             std::uint64_t jitter_seed)
    : SimExecutable("hc1-sim", g, std::move(buffers), std::move(inner), jitter_cv, jitter_seed), model_(std::move(model)),
      positions_(positions), sequences_(sequences), rows_dim_(rows_dim) {}

sim::SimExecutable::Cost Hc1Executable::cost(const RunArgs& args) {
  // The step's rows: positions and sequence slots, as the engine wrote them (inputs always
  // hold bytes, in either mode).
  const auto rows = static_cast<std::size_t>(args.dims.empty() ? graph().dims()[rows_dim_].max : args.dims[rows_dim_]);
  pos_.resize(rows);
  seq_.resize(rows);
  std::memcpy(pos_.data(), tensor_buffer(positions_).data(), rows * sizeof(std::int32_t));
  std::memcpy(seq_.data(), tensor_buffer(sequences_).data(), rows * sizeof(std::int32_t));
  const StepCost c = model_->step(pos_, seq_);
  return {c.seconds, c.joules};
}

nlohmann::json Hc1Executable::describe() const {
  nlohmann::json j = {{"mode", computes_outputs() ? "functional" : "timing-only"},
                      {"time", "simulated: hc1_model.hpp from each step's positions and sequences"},
                      {"energy", "modeled: simulated time x card_power_w"}};
  if (computes_outputs()) j["functional"] = inner_description();
  return j;
}

}  // namespace xpb::hc1
