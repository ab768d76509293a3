#include "thread_pool.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "topology_handle.hpp"

namespace xpb::cpu {
namespace {

void pin_current_thread(int pu) {
  hwloc_bitmap_t set = hwloc_bitmap_alloc();
  hwloc_bitmap_only(set, static_cast<unsigned>(pu));
  hwloc_set_cpubind(topology(), set, HWLOC_CPUBIND_THREAD);
  hwloc_bitmap_free(set);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// About 20-50 us of spinning before sleeping: long enough for back-to-back jobs, short
// enough that an idle pool costs nothing measurable.
constexpr int kSpins = 20000;

}  // namespace

ThreadPool::ThreadPool(std::vector<int> pus) : pus_(std::move(pus)) {
  if (pus_.empty()) pus_.push_back(0);
  caller_binding_ = hwloc_bitmap_alloc();
  if (hwloc_get_cpubind(topology(), caller_binding_, HWLOC_CPUBIND_THREAD) != 0) {
    hwloc_bitmap_free(caller_binding_);
    caller_binding_ = nullptr;
  }
  pin_current_thread(pus_[0]);
  for (int i = 1; i < size(); ++i) threads_.emplace_back([this, i] { worker_main(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  epoch_.fetch_add(1);
  epoch_.notify_all();
  for (auto& t : threads_) t.join();
  if (caller_binding_ != nullptr) {
    hwloc_set_cpubind(topology(), caller_binding_, HWLOC_CPUBIND_THREAD);
    hwloc_bitmap_free(caller_binding_);
  }
}

void ThreadPool::run(const Job& job) {
  const int n = size();
  if (n == 1) {
    job(0, 1);
    return;
  }
  job_ = &job;
  pending_.store(n - 1, std::memory_order_relaxed);
  epoch_.fetch_add(1, std::memory_order_release);
  epoch_.notify_all();
  job(0, n);
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < kSpins) cpu_relax();
    else std::this_thread::yield();
  }
}

void ThreadPool::worker_main(int index) {
  pin_current_thread(pus_[static_cast<std::size_t>(index)]);
  std::uint64_t seen = 0;
  while (true) {
    std::uint64_t now = epoch_.load(std::memory_order_acquire);
    for (int spins = 0; now == seen && spins < kSpins; ++spins) {
      cpu_relax();
      now = epoch_.load(std::memory_order_acquire);
    }
    if (now == seen) {
      epoch_.wait(seen, std::memory_order_acquire);
      continue;
    }
    seen = now;
    if (stop_.load()) return;
    (*job_)(index, size());
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace xpb::cpu
