#include "sim_executable.hpp"

#include <cstring>
#include <stdexcept>

namespace xpb::sim {

SimExecutable::SimExecutable(std::string device, const Graph& g, std::vector<std::shared_ptr<SimBuffer>> buffers,
                             std::shared_ptr<Executable> inner, double jitter_cv, std::uint64_t jitter_seed)
    : device_(std::move(device)), graph_(g), buffers_(std::move(buffers)), inner_(std::move(inner)),
      jitter_(jitter_cv, jitter_seed) {}

RunResult SimExecutable::run(const RunArgs& args) {
  if (auto err = graph_.check_dims(args.dims)) throw std::invalid_argument(*err);
  RunResult r;
  r.clock = ClockKind::simulated;
  r.energy_source = EnergySource::modeled;
  std::uint64_t iterations = args.iterations;
  if (inner_) {  // functional: the math on the cpu; its (host) time is not the device's
    const RunResult done = inner_->run(args);
    r.error = done.error;
    r.interrupted = done.interrupted;
    iterations = done.iterations;
  } else if (args.cancel != nullptr && args.cancel->load()) {
    r.interrupted = true;
    return r;
  }
  const Cost c = cost(args);
  for (std::uint64_t i = 0; i < iterations; ++i) {
    const double factor = jitter_.next();
    r.seconds += c.seconds * factor;
    r.energy_joules += c.joules * factor;
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

void SimExecutable::read(TensorId id, std::span<std::byte> dst) const {
  const auto& b = *buffers_.at(id);
  if (dst.size() != b.bytes()) throw std::invalid_argument("read of tensor '" + graph_.tensor(id).name + "': size differs");
  if (inner_) return inner_->read(id, dst);
  if (b.data() == nullptr)
    throw std::invalid_argument(device_ + " in timing-only mode computes no contents for tensor '" + graph_.tensor(id).name + "'");
  std::memcpy(dst.data(), b.data(), dst.size());
}

void SimExecutable::write(TensorId id, std::span<const std::byte> src) {
  const auto& b = *buffers_.at(id);
  if (src.size() != b.bytes()) throw std::invalid_argument("write of tensor '" + graph_.tensor(id).name + "': size differs");
  if (inner_) return inner_->write(id, src);
  if (b.data() != nullptr) std::memcpy(b.data(), src.data(), src.size());  // else: no contents to keep
}

}  // namespace xpb::sim
