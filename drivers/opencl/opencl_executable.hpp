// A graph compiled for an OpenCL device: one kernel object per node with its buffers set, run
// on the context's in-order queue and timed by event profiling (the device's own timer).
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "opencl_buffer.hpp"
#include "xpubench/device.hpp"

namespace xpb::opencl {

class ClExecutable final : public Executable {
 public:
  // `buffers`: one per tensor of g (bound or allocated by the device). Throws ClError or
  // std::runtime_error (a kernel build log) when a kernel cannot be made.
  ClExecutable(std::shared_ptr<Context> ctx, const Graph& g, std::vector<std::shared_ptr<ClBuffer>> buffers);
  ~ClExecutable() override;

  RunResult run(const RunArgs& args) override;
  void read(TensorId id, std::span<std::byte> dst) const override;
  void write(TensorId id, std::span<const std::byte> src) override;
  std::shared_ptr<Buffer> buffer(TensorId id) const override { return buffers_.at(id); }
  nlohmann::json describe() const override;

 private:
  // One kernel launch: its NDRange (work-group size left to the implementation when not set).
  struct Launch {
    cl_kernel kernel;
    cl_uint dims = 1;
    std::size_t global[3] = {1, 1, 1};
    std::size_t local[3] = {1, 1, 1};
    bool local_set = true;
  };
  struct Step {
    Op op;
    // The transformer ops: sets this run's arguments (live rows) and adds its launches.
    std::function<void(std::span<const std::int64_t> dims, std::vector<Launch>& out)> plan;
    std::vector<cl_kernel> kernels;  // theirs, released with the step
    std::size_t elem_bytes = 4;
    std::size_t width = 1;          // memory ops: elements per work-item (the vector width)
    std::size_t per_item = 1;       // read_sum: vectors each work-item of its first pass adds
    std::size_t first_pass_items = 0;  // read_sum: work-items of its first pass (0: none)
    TensorId out = 0;
    cl_kernel kernel = nullptr;
    bool counted = true;            // takes the element count as an argument, set per run
    cl_uint n_arg = 0;              // its index
    cl_kernel finish = nullptr;     // read_sum, verify_pattern: the pass over the groups' partials
    std::size_t finish_local = 1;   // its one work-group's size (read_sum's tree; 1 for verify_pattern)
    std::size_t groups = 1;         // work-groups of the first pass (one partial each)
    cl_mem partials = nullptr;
  };
  // Resets the chain positions of every chase node over `ring` to their start lines (at
  // compile, and when the ring is written): the ring is read back and walked on the host.
  void reset_chase(TensorId ring);
  // Enqueues one iteration of every step; the first and last command's events when asked.
  void enqueue(const std::vector<cl_ulong>& counts, std::span<const std::int64_t> dims, cl_event* first, cl_event* last);
  // The launches of a transformer op's node (transformer.cl).
  void plan_transformer(const Node& n, Step& s);
  // The launch of an fma_loop node (compute.cl; opencl_compute.cpp).
  void plan_compute(const Node& n, Step& s);

  std::shared_ptr<Context> ctx_;
  Graph graph_;
  std::vector<std::shared_ptr<ClBuffer>> buffers_;
  std::vector<Step> steps_;
  std::size_t local_ = 64;   // work-group size
  std::size_t finish_local_ = 1;  // read_sum's second pass: the largest power of two <= local_
  cl_mem error_ = nullptr;   // {flag, row, id}: embedding's first token id outside the table
  TensorId embedding_table_ = 0;
  std::vector<Launch> launches_;  // one iteration's, rebuilt by enqueue()
};

}  // namespace xpb::opencl
