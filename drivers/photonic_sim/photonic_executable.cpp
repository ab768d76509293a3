#include "photonic_executable.hpp"

namespace xpb::photonic {

PhotonicExecutable::PhotonicExecutable(const Graph& g, std::shared_ptr<const PhotonicModel> model,
                                       std::vector<std::shared_ptr<sim::SimBuffer>> buffers,
                                       std::shared_ptr<Executable> inner, double jitter_cv,
                                       std::uint64_t jitter_seed)
    : SimExecutable("photonic-sim", g, std::move(buffers), std::move(inner), jitter_cv, jitter_seed),
      model_(std::move(model)) {}

sim::SimExecutable::Cost PhotonicExecutable::cost(const RunArgs& args) {
  std::vector<std::int64_t> key(args.dims.begin(), args.dims.end());
  auto it = costs_.find(key);
  if (it == costs_.end()) {
    if (costs_.size() >= 1 << 16) costs_.clear();  // bounded: a sweep of every shape forgets
    const RunCost c = model_->run(graph(), args.dims);
    it = costs_.emplace(std::move(key), Cost{c.seconds, c.energy.total()}).first;
  }
  return it->second;
}

nlohmann::json PhotonicExecutable::describe() const {
  const RunCost c = model_->run(graph(), {});
  nlohmann::json j = {{"mode", computes_outputs() ? "functional" : "timing-only"},
                      {"time", "simulated: photonic_model.hpp per node, from the op cost model and the shapes"},
                      {"at_largest_dims", {{"seconds", c.seconds},
                                           {"optical_seconds", c.optical_seconds},
                                           {"array_macs", c.macs},
                                           {"energy", c.energy.to_json()}}}};
  if (c.seconds > 0) {
    j["at_largest_dims"]["array_tops"] = 2 * c.macs / c.seconds / 1e12;
    j["at_largest_dims"]["average_w"] = c.energy.total() / c.seconds;
  }
  if (c.macs > 0) j["at_largest_dims"]["pj_per_mac"] = c.energy.total() / c.macs * 1e12;
  if (computes_outputs()) j["functional"] = inner_description();
  return j;
}

}  // namespace xpb::photonic
