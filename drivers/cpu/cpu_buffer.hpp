// Memory of the `cpu` device: a MemoryRegion (anonymous mapping, huge-page aligned), and how a
// tensor's contents are made in it: each pool thread fills the rows (or pages) it will later
// work on, so first touch puts every page on that thread's NUMA node.
#pragma once
#include <atomic>
#include <memory>
#include <string>

#include "memory_region.hpp"
#include "thread_pool.hpp"
#include "xpubench/device.hpp"

namespace xpb::cpu {

class CpuBuffer final : public Buffer {
 public:
  // Maps `bytes`; throws std::bad_alloc when the OS refuses.
  CpuBuffer(std::size_t bytes, const CompileOptions& opts);
  std::size_t bytes() const override { return region_.size(); }
  std::byte* host_data() const override { return region_.data(); }
  const MemoryRegion& region() const { return region_; }
  // Why the NUMA binding or mlock asked for in the options failed ("" when they did not).
  const std::string& bind_outcome() const { return bind_outcome_; }
  const std::string& lock_outcome() const { return lock_outcome_; }
  void lock();  // mlock now (after the contents are made); the outcome as above

 private:
  MemoryRegion region_;
  std::string bind_outcome_, lock_outcome_;
};

// Thrown by initialize_tensor when `cancel` was set while it worked.
struct InitCancelled {};

// The elements [begin, end) of `n` (each `elem_bytes` long) that thread `thread` of `threads`
// works on: whole 4 KiB pages, in order. First touch and every op's split use this one
// function, so each page is first touched by the thread that later computes on it.
struct Share {
  std::size_t begin, end;
};
Share share_of(std::size_t n, std::size_t elem_bytes, int thread, int threads);

// Fills `data` (t.bytes() long) as t.init says, work split across `pool` by rows (weights) or
// whole pages (everything else). A random cycle is left in index form. Checks `cancel`
// between chunks of work.
void initialize_tensor(std::byte* data, const TensorDesc& t, ThreadPool& pool, const std::atomic<bool>* cancel);

// Tensors below this size are initialised by the calling thread: page placement cannot
// matter for them, and a pool job would cost more than the work.
inline constexpr std::size_t kParallelInitBytes = std::size_t{1} << 20;

}  // namespace xpb::cpu
