#include "ref_executable.hpp"

#include <chrono>
#include <cstring>
#include <stdexcept>

namespace xpb::ref {

RefExecutable::RefExecutable(const Graph& g, std::vector<std::shared_ptr<Buffer>> buffers)
    : graph_(g), buffers_(std::move(buffers)), work_at_max_(graph_work(graph_, {})) {
  for (TensorId id = 0; id < graph_.tensors().size(); ++id)
    store_.views.emplace_back(buffers_[id]->host_data(), graph_.tensor(id).bytes());
  for (TensorId id = 0; id < graph_.tensors().size(); ++id) reset_chase_positions(graph_, store_, id);
}

RunResult RefExecutable::run(const RunArgs& args) {
  if (const auto bad = graph_.check_dims(args.dims)) throw std::invalid_argument(*bad);
  RunResult r;
  r.clock = ClockKind::host;
  store_.dims = args.dims;
  store_.error.clear();
  const auto t0 = std::chrono::steady_clock::now();
  for (; r.iterations < args.iterations; ++r.iterations) {
    // The scalar reference is slow: a long run checks for Ctrl-C between iterations.
    if (args.cancel != nullptr && args.cancel->load(std::memory_order_relaxed)) {
      r.interrupted = true;
      break;
    }
    for (const auto& node : graph_.nodes()) run_node(graph_, node, store_);
    if (!store_.error.empty()) {
      r.error = store_.error;
      break;
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.work = (args.dims.empty() ? work_at_max_ : graph_work(graph_, args.dims)) * static_cast<double>(r.iterations);
  store_.dims = {};
  return r;
}

void RefExecutable::check_size(TensorId id, std::size_t size) const {
  if (id >= store_.views.size()) throw std::invalid_argument("tensor " + std::to_string(id) + " does not exist");
  if (size != store_.views[id].size())
    throw std::invalid_argument("tensor " + std::to_string(id) + " has " + std::to_string(store_.views[id].size()) +
                                " bytes, not " + std::to_string(size));
}

void RefExecutable::read(TensorId id, std::span<std::byte> dst) const {
  check_size(id, dst.size());
  std::memcpy(dst.data(), store_.views[id].data(), dst.size());
}

void RefExecutable::write(TensorId id, std::span<const std::byte> src) {
  check_size(id, src.size());
  std::memcpy(store_.views[id].data(), src.data(), src.size());
  reset_chase_positions(graph_, store_, id);
}

nlohmann::json RefExecutable::describe() const { return {{"threads", 1}, {"code", "scalar reference"}}; }

}  // namespace xpb::ref
