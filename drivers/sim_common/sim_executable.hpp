// What every simulated device's executable does the same way: in functional mode the cpu's
// executable (`inner`) computes the outputs, and its host time is not the device's; in
// timing-only mode nothing is computed. In both, each run's time and energy are the model's
// (cost(), per simulator), scaled by the description's clock jitter, and its work is the op
// cost model's, kept per set of dynamic dims (a decode loop revisits the same few thousand, and
// simulating a million tokens must not walk the graph a million times).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim_buffer.hpp"
#include "sim_support.hpp"
#include "xpubench/device.hpp"

namespace xpb::sim {

class SimExecutable : public Executable {
 public:
  // `buffers`: one per tensor of `g` (the inner graph may have more, after g's, same ids);
  // `device`: the simulator's name, for messages.
  SimExecutable(std::string device, const Graph& g, std::vector<std::shared_ptr<SimBuffer>> buffers,
                std::shared_ptr<Executable> inner, double jitter_cv, std::uint64_t jitter_seed);

  RunResult run(const RunArgs& args) final;
  void read(TensorId id, std::span<std::byte> dst) const final;
  void write(TensorId id, std::span<const std::byte> src) final;
  std::shared_ptr<Buffer> buffer(TensorId id) const final { return buffers_.at(id); }
  bool computes_outputs() const final { return inner_ != nullptr; }

 protected:
  // The time (s) and energy (J) of one run at `args.dims`, as the simulator's model says.
  struct Cost {
    double seconds = 0, joules = 0;
  };
  virtual Cost cost(const RunArgs& args) = 0;

  const Graph& graph() const { return graph_; }
  const SimBuffer& tensor_buffer(TensorId id) const { return *buffers_.at(id); }
  // What the functional executable says of itself; null in timing-only mode.
  nlohmann::json inner_description() const { return inner_ ? inner_->describe() : nlohmann::json(); }

 private:
  std::string device_;
  Graph graph_;
  std::vector<std::shared_ptr<SimBuffer>> buffers_;
  std::shared_ptr<Executable> inner_;
  ClockJitter jitter_;
  std::map<std::vector<std::int64_t>, Work> work_;
};

}  // namespace xpb::sim
