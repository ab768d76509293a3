// A Llama decoder graph on hc1-sim: in functional mode the cpu runs it (on the weights the
// chip holds, rounded to its bits); in both modes each run's time and energy come from the
// model (hc1_model.hpp), from the step's positions and sequences alone.
#pragma once
#include <map>
#include <memory>
#include <vector>

#include "sim_buffer.hpp"
#include "sim_support.hpp"
#include "hc1_model.hpp"
#include "xpubench/device.hpp"

namespace xpb::hc1 {

class Hc1Executable final : public Executable {
 public:
  // `buffers`: one per tensor of `g`, this device's; `inner`: the cpu's executable over their
  // cpu buffers (functional mode), or null (timing-only). `positions`, `sequences`: the
  // graph's input tensors of the rows' positions and sequence slots; `rows_dim` the dynamic
  // dim of its token rows.
  Hc1Executable(const Graph& g, std::shared_ptr<const Hc1Model> model, std::vector<std::shared_ptr<sim::SimBuffer>> buffers,
                std::shared_ptr<Executable> inner, TensorId positions, TensorId sequences, DimId rows_dim,
                double jitter_cv, std::uint64_t jitter_seed);

  RunResult run(const RunArgs& args) override;
  void read(TensorId id, std::span<std::byte> dst) const override;
  void write(TensorId id, std::span<const std::byte> src) override;
  std::shared_ptr<Buffer> buffer(TensorId id) const override { return buffers_.at(id); }
  nlohmann::json describe() const override;
  bool computes_outputs() const override { return inner_ != nullptr; }

 private:
  Graph graph_;
  std::shared_ptr<const Hc1Model> model_;
  std::vector<std::shared_ptr<sim::SimBuffer>> buffers_;
  std::shared_ptr<Executable> inner_;
  TensorId positions_, sequences_;
  DimId rows_dim_;
  sim::ClockJitter jitter_;  // scales each run's time; exactly 1 on a deterministic clock
  std::vector<std::int32_t> pos_, seq_;  // staging, kept between runs
  // The op cost model's work per dims (a walk over every node): a decode loop revisits the
  // same few thousand, and simulating a million tokens must not walk the graph a million times.
  std::map<std::vector<std::int64_t>, Work> work_;
};

}  // namespace xpb::hc1
