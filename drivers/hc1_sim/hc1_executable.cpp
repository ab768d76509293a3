#include "hc1_executable.hpp"

#include <cmath>
#include <cstring>
#include <stdexcept>

namespace xpb::hc1 {

Hc1Executable::Hc1Executable(const Graph& g, std::shared_ptr<const Hc1Model> model,
                             std::vector<std::shared_ptr<sim::SimBuffer>> buffers, std::shared_ptr<Executable> inner,
                             TensorId positions, TensorId sequences, DimId rows_dim, double jitter_cv,
                             std::uint64_t jitter_seed)
    : graph_(g), model_(std::move(model)), buffers_(std::move(buffers)), inner_(std::move(inner)), positions_(positions),
      sequences_(sequences), rows_dim_(rows_dim), jitter_(jitter_cv, jitter_seed) {}

RunResult Hc1Executable::run(const RunArgs& args) {
  if (auto err = graph_.check_dims(args.dims)) throw std::invalid_argument(*err);
  RunResult r;
  r.clock = ClockKind::simulated;
  r.energy_source = EnergySource::modeled;
  std::uint64_t iterations = args.iterations;
  if (inner_) {  // functional: the math on the cpu; its (host) time is not the chip's
    const RunResult done = inner_->run(args);
    r.error = done.error;
    r.interrupted = done.interrupted;
    iterations = done.iterations;
  } else if (args.cancel != nullptr && args.cancel->load()) {
    r.interrupted = true;
    iterations = 0;
  }
  // The step's rows: positions and sequence slots, as the engine wrote them.
  const auto rows = static_cast<std::size_t>(args.dims.empty() ? graph_.dims()[rows_dim_].max : args.dims[rows_dim_]);
  pos_.resize(rows);
  seq_.resize(rows);
  std::memcpy(pos_.data(), buffers_[positions_]->data(), rows * sizeof(std::int32_t));
  std::memcpy(seq_.data(), buffers_[sequences_]->data(), rows * sizeof(std::int32_t));
  const StepCost cost = model_->step(pos_, seq_);
  for (std::uint64_t i = 0; i < iterations; ++i) {
    const double factor = jitter_.next();
    r.seconds += cost.seconds * factor;
    r.energy_joules += cost.joules * factor;
  }
  r.iterations = iterations;
  std::vector<std::int64_t> key(args.dims.begin(), args.dims.end());
  auto it = work_.find(key);
  if (it == work_.end()) {
    if (work_.size() >= 1 << 16) work_.clear();  // bounded: a sweep of every shape forgets
    it = work_.emplace(std::move(key), graph_work(graph_, args.dims)).first;
  }
  r.work = it->second * static_cast<double>(iterations);
  return r;
}

void Hc1Executable::read(TensorId id, std::span<std::byte> dst) const {
  const auto& b = *buffers_.at(id);
  if (dst.size() != b.bytes()) throw std::invalid_argument("read of tensor '" + graph_.tensor(id).name + "': size differs");
  if (inner_) return inner_->read(id, dst);
  if (b.data() == nullptr)
    throw std::invalid_argument("hc1-sim in timing-only mode computes no contents for tensor '" + graph_.tensor(id).name + "'");
  std::memcpy(dst.data(), b.data(), dst.size());
}

void Hc1Executable::write(TensorId id, std::span<const std::byte> src) {
  const auto& b = *buffers_.at(id);
  if (src.size() != b.bytes()) throw std::invalid_argument("write of tensor '" + graph_.tensor(id).name + "': size differs");
  if (inner_) return inner_->write(id, src);
  if (b.data() != nullptr) std::memcpy(b.data(), src.data(), src.size());  // else: no contents to keep
}

nlohmann::json Hc1Executable::describe() const {
  nlohmann::json j = {{"mode", inner_ ? "functional" : "timing-only"},
                      {"time", "simulated: hc1_model.hpp from each step's positions and sequences"},
                      {"energy", "modeled: simulated time x card_power_w"}};
  if (inner_) j["functional"] = inner_->describe();
  return j;
}

}  // namespace xpb::hc1
