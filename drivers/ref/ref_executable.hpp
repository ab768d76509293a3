// A graph compiled for the `ref` device: every node run in order by the plain code of
// ref_ops.cpp on one thread, timed with the host's monotonic clock.
#pragma once
#include <memory>
#include <vector>

#include "ref_ops.hpp"
#include "xpubench/device.hpp"

namespace xpb::ref {

class RefExecutable final : public Executable {
 public:
  // `buffers[i]` holds tensor i (bound or allocated and initialised by the device); each has
  // host_data() and the tensor's size.
  RefExecutable(const Graph& g, std::vector<std::shared_ptr<Buffer>> buffers);

  RunResult run(const RunArgs& args) override;
  void read(TensorId id, std::span<std::byte> dst) const override;
  void write(TensorId id, std::span<const std::byte> src) override;
  std::shared_ptr<Buffer> buffer(TensorId id) const override { return buffers_.at(id); }
  nlohmann::json describe() const override;

 private:
  void check_size(TensorId id, std::size_t size) const;

  Graph graph_;
  std::vector<std::shared_ptr<Buffer>> buffers_;
  TensorStore store_;
  Work work_at_max_;  // one iteration with every dim at its max
};

}  // namespace xpb::ref
