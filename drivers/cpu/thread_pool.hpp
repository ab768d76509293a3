// A pool of worker threads, each pinned to one PU, that run one job at a time on all of them.
// The calling thread is worker 0 (pinned to the first PU while the pool lives), as in OpenMP,
// so a job on n threads wakes n - 1 others. Each executable owns a pool of exactly the
// threads it was compiled for, so no worker ever sits out a job (and none can lag behind
// into the next one).
//
// Dispatch is an epoch counter: idle workers spin on it for a few microseconds (a job that
// follows a job starts at once) and then sleep in std::atomic::wait, so an idle pool does not
// take a core from the harness.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include <hwloc.h>

namespace xpb::cpu {

class ThreadPool {
 public:
  using Job = std::function<void(int thread, int threads)>;

  // pus[i] is the OS index of the PU for worker i; pus[0] is for the calling thread.
  explicit ThreadPool(std::vector<int> pus);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(pus_.size()); }
  const std::vector<int>& pus() const { return pus_; }

  // Runs job(i, size()) on every worker and returns when all have finished.
  void run(const Job& job);

 private:
  void worker_main(int index);

  std::vector<int> pus_;
  std::vector<std::thread> threads_;
  std::atomic<std::uint64_t> epoch_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  const Job* job_ = nullptr;
  hwloc_bitmap_t caller_binding_ = nullptr;
};

}  // namespace xpb::cpu
