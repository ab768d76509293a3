#include "photonic_executable.hpp"

#include <cmath>
#include <cstring>
#include <stdexcept>

namespace xpb::photonic {

PhotonicExecutable::PhotonicExecutable(const Graph& g, std::shared_ptr<const PhotonicModel> model,
                                       std::vector<std::shared_ptr<sim::SimBuffer>> buffers,
                                       std::shared_ptr<Executable> inner, double jitter_cv,
                                       std::uint64_t jitter_seed)
    : graph_(g), model_(std::move(model)), buffers_(std::move(buffers)), inner_(std::move(inner)),
      jitter_(jitter_cv, jitter_seed) {}

const RunCost& PhotonicExecutable::cost(std::span<const std::int64_t> dims) {
  std::vector<std::int64_t> key(dims.begin(), dims.end());
  auto it = costs_.find(key);
  if (it == costs_.end()) {
    if (costs_.size() >= 1 << 16) costs_.clear();
    it = costs_.emplace(std::move(key), model_->run(graph_, dims)).first;
  }
  return it->second;
}

RunResult PhotonicExecutable::run(const RunArgs& args) {
  if (auto err = graph_.check_dims(args.dims)) throw std::invalid_argument(*err);
  RunResult r;
  r.clock = ClockKind::simulated;
  r.energy_source = EnergySource::modeled;
  std::uint64_t iterations = args.iterations;
  if (inner_) {  // functional: the math on the cpu; its (host) time is not the engine's
    const RunResult done = inner_->run(args);
    r.error = done.error;
    r.interrupted = done.interrupted;
    iterations = done.iterations;
  } else if (args.cancel != nullptr && args.cancel->load()) {
    r.interrupted = true;
    return r;
  }
  const RunCost& c = cost(args.dims);
  for (std::uint64_t i = 0; i < iterations; ++i) {
    const double factor = jitter_.next();
    r.seconds += c.seconds * factor;
    r.energy_joules += c.energy.total() * factor;
  }
  const auto n = static_cast<double>(iterations);
  r.iterations = iterations;
  r.work = graph_work(graph_, args.dims) * n;
  return r;
}

void PhotonicExecutable::read(TensorId id, std::span<std::byte> dst) const {
  const auto& b = *buffers_.at(id);
  if (dst.size() != b.bytes()) throw std::invalid_argument("read of tensor '" + graph_.tensor(id).name + "': size differs");
  if (inner_) return inner_->read(id, dst);
  if (b.data() == nullptr)
    throw std::invalid_argument("photonic-sim in timing-only mode computes no contents for tensor '" +
                                graph_.tensor(id).name + "'");
  std::memcpy(dst.data(), b.data(), dst.size());
}

void PhotonicExecutable::write(TensorId id, std::span<const std::byte> src) {
  const auto& b = *buffers_.at(id);
  if (src.size() != b.bytes()) throw std::invalid_argument("write of tensor '" + graph_.tensor(id).name + "': size differs");
  if (inner_) return inner_->write(id, src);
  if (b.data() != nullptr) std::memcpy(b.data(), src.data(), src.size());  // else: no contents to keep
}

nlohmann::json PhotonicExecutable::describe() const {
  const RunCost c = model_->run(graph_, {});
  nlohmann::json j = {{"mode", inner_ ? "functional" : "timing-only"},
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
  if (inner_) j["functional"] = inner_->describe();
  return j;
}

}  // namespace xpb::photonic
