// A graph compiled for the host CPU: tensors in CpuBuffers first touched by the threads that
// use them (or bound to buffers that already exist), every op split across a pinned
// ThreadPool in page-aligned shares.
#pragma once
#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "cpu_buffer.hpp"
#include "llm_kernels.hpp"
#include "memory_region.hpp"
#include "pattern_kernels.hpp"
#include "spin_barrier.hpp"
#include "thread_pool.hpp"
#include "xpubench/device.hpp"

namespace xpb::cpu {

// [begin, end) of n items for one thread of `threads`, in whole multiples of `grain` where
// possible: how the transformer and DiT ops share their rows and elements.
struct Range {
  std::size_t begin, end;
};
inline Range split(std::size_t n, int thread, int threads, std::size_t grain = 1) {
  const std::size_t units = (n + grain - 1) / grain;
  const auto t = static_cast<std::size_t>(thread), m = static_cast<std::size_t>(threads);
  const std::size_t b = units * t / m * grain, e = units * (t + 1) / m * grain;
  return {b < n ? b : n, e < n ? e : n};
}

class CpuExecutable final : public Executable {
 public:
  // `pus`: the PUs to run on, one thread each. Tensors in `bound` use those buffers (host
  // memory of the right size; not chase rings, which this executable rewrites as pointers);
  // the others get CpuBuffers initialised by the pool. Throws std::bad_alloc when memory runs
  // out and InitCancelled when opts.cancel is set during initialisation.
  CpuExecutable(const Graph& g, const Bindings& bound, const CompileOptions& opts, std::vector<int> pus);

  RunResult run(const RunArgs& args) override;
  void read(TensorId id, std::span<std::byte> dst) const override;
  void write(TensorId id, std::span<const std::byte> src) override;
  std::shared_ptr<Buffer> buffer(TensorId id) const override { return buffers_.at(id); }
  nlohmann::json describe() const override;

 private:
  // One thread's partial result, on its own cache line so threads do not share one.
  struct alignas(64) Partial {
    double sum = 0;
    std::uint64_t words = 0;  // read_bytes
    std::uint64_t errors = 0;
  };
  // Per-node state that lives across runs: the address each chain of a chase stands on, the
  // partial results of reductions and verifications, one slot per thread.
  struct NodeState {
    std::vector<std::uintptr_t> chase_at;
    std::vector<Partial> partials;
    std::vector<std::vector<Mismatch>> error_lists;
    std::vector<double> rope_freq;  // rope: the angle per position of each pair, factors applied
  };

  // A copy of an activation tensor made for the matmuls that read it, kept while the tensor is
  // unchanged so q, k and v (and gate and up) projections of one input make it once.
  struct CopyStamp {
    std::uint64_t made_at = ~std::uint64_t{0};  // the write stamp of the tensor it was made from
    std::size_t rows = 0;                       // and how many of its rows were live
  };
  // Activations rounded to Q8_0 or Q8_K for the integer matmuls.
  struct QuantizedCopy {
    std::vector<std::int8_t> q;
    std::vector<float> d, sum;
    std::vector<std::int32_t> neg_sum;
    std::vector<std::int16_t> sum16;
    CopyStamp stamp;
  };
  // Activations rounded to f16 (held as f32) for the matmuls of f16 weights, as llama.cpp
  // rounds them (its vec_dot_type for F16).
  struct HalfCopy {
    std::vector<float> x;
    CopyStamp stamp;
  };
  // Calls make(first value, end value) on each thread's share of the rows * k values of x's
  // live rows, in whole multiples of `grain` (a block of the copy's format), unless `stamp`
  // says the copy is of x as it is; then waits for every thread (cpu_transformer_ops.cpp).
  // Shared by values, not rows: decode's single row is rounded by all threads, not by one
  // while the others wait.
  template <class Make>
  void refresh_copy(CopyStamp& stamp, TensorId x, std::size_t rows, std::size_t k, std::size_t grain, int thread,
                    int threads, Make&& make);
  // For node n (a matmul's weight rows or columns, attention's (tile, head) items): calls
  // body(begin, end) on chunks of [0, rows) (about 1/64 of a thread's share) until all are
  // done: first the chunks of this thread's own share (split(): for a matmul, the rows its
  // pages were first touched by), then any left in the other threads' shares. A thread its
  // host slows (a preempted vCPU, a neighbour's burst) takes fewer, where a fixed share left
  // the other waiting at the barrier. Node `n`'s counters are reset by thread 0 after the
  // barrier that ends it, so both sets are zero again when a run ends; a node takes them once.
  // Shares and chunks are whole multiples of `grain` rows where possible (a GEMM's panel).
  template <class Body>
  void share_with_stealing(std::size_t n, std::size_t rows, int thread, int threads, Body&& body,
                           std::size_t grain = 4);
  void reset_chunk_counters(std::size_t parity);

  void initialize(TensorId id);
  bool cancelled() const { return cancel_ != nullptr && cancel_->load(std::memory_order_relaxed); }
  void run_share(std::size_t node, int thread, int threads);
  // Decoder graphs (any transformer op): all nodes in one pool job, a barrier between nodes.
  void run_graph_share(int thread, int threads);
  void run_transformer_share(std::size_t node, int thread, int threads);  // cpu_transformer_ops.cpp
  void run_dit_share(std::size_t node, int thread, int threads);          // cpu_dit_ops.cpp
  void prepare_transformer();  // scratch buffers, after the tensors exist
  void rope_frequencies(std::size_t node);  // from theta and the factor tensor, at compile and write
  std::size_t live_rows(TensorId id) const;
  void finish(std::size_t node);
  void run_chase(std::size_t node);
  void reset_chase(std::size_t node);     // chains back to their start lines
  void write_chase_positions(std::size_t node);  // chase_at -> the out tensor, as line indices
  bool is_ring(TensorId id) const;
  template <class T>
  T* ptr(TensorId id) const {
    return reinterpret_cast<T*>(data_[id]);
  }

  Graph graph_;
  CompileOptions opts_;
  ThreadPool pool_;
  std::vector<std::shared_ptr<Buffer>> buffers_;  // one per tensor: bound, or a CpuBuffer of its own
  std::vector<std::byte*> data_;                  // their host addresses
  Work work_at_max_;                              // one iteration with every dim at its max
  // What the run in progress was given: dynamic dims and a cancel flag.
  std::span<const std::int64_t> dims_;
  const std::atomic<bool>* cancel_ = nullptr;
  // The first embedding id out of range in this run (row, id), packed; -1 when none.
  std::atomic<std::int64_t> bad_row_{-1};
  std::atomic<std::int64_t> bad_id_{0};
  std::vector<NodeState> state_;
  std::vector<bool> ring_;  // tensors held as pointers for the chase (line -> next line's address)
  std::string lock_outcome_;
  std::string bind_outcome_;

  bool transformer_ = false;
  SpinBarrier barrier_;
  std::vector<std::uint64_t> written_at_;  // per tensor: the node step that last wrote it
  std::uint64_t step_ = 0;
  std::vector<std::array<QuantizedCopy, kActivationForms>> quantized_;  // per tensor and ActivationBlocks, for matmul inputs
  std::vector<HalfCopy> halved_;  // per tensor, for matmul inputs of f16 weights
  // Per node parity (consecutive nodes never share a set), per thread: the next chunk of that
  // thread's share to hand out (share_with_stealing).
  struct alignas(64) ChunkCounter {
    std::atomic<std::size_t> next{0};
  };
  std::array<std::unique_ptr<ChunkCounter[]>, 2> chunk_counters_;
  std::vector<std::vector<float>> scores_;  // per thread: attention scores over the context
  std::vector<std::vector<float>> tile_scratch_;  // per thread: attend_tile's (attention_kernels.hpp)
  std::vector<std::vector<float>> gemm_scratch_;  // per thread: gemm_float's packed panel
};

// In the header: the transformer ops and the DiT ops (two files) both hand out work with it.
template <class Body>
void CpuExecutable::share_with_stealing(std::size_t n, std::size_t rows, int thread, int threads, Body&& body,
                                        std::size_t grain) {
  ChunkCounter* counters = chunk_counters_[n % 2].get();
  for (int k = 0; k < threads; ++k) {
    const int owner = (thread + k) % threads;
    const Range share = split(rows, owner, threads, grain);
    const std::size_t size = share.end - share.begin;
    // About 64 chunks a share: the last thread to finish a node finishes at most one chunk
    // after the others (on average half of one: 1/128 of the node, where 16 chunks a share
    // left 1/32 of it). A thread's own chunks follow each other in memory, so its stream,
    // and the prefetch ahead of it, run on across them.
    const std::size_t chunk = std::max<std::size_t>(grain, (size + 64 * grain - 1) / (64 * grain) * grain);
    for (std::size_t c; (c = counters[owner].next.fetch_add(1, std::memory_order_relaxed)) * chunk < size;)
      body(share.begin + c * chunk, std::min(share.end, share.begin + (c + 1) * chunk));
  }
}

}  // namespace xpb::cpu
