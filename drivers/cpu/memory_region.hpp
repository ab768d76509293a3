// Tensor memory for the cpu driver: anonymous mappings, 2 MiB aligned so transparent huge
// pages can back them, optionally bound to a NUMA node or locked. Pages are not touched here:
// the thread that will use a part of the region touches it first, so Linux places each page
// on that thread's NUMA node.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace xpb::cpu {

class MemoryRegion {
 public:
  MemoryRegion() = default;
  // Maps `bytes` (at least one page). Throws std::bad_alloc when the OS refuses.
  MemoryRegion(std::size_t bytes, bool huge_pages);
  ~MemoryRegion();
  MemoryRegion(MemoryRegion&& o) noexcept { *this = std::move(o); }
  MemoryRegion& operator=(MemoryRegion&& o) noexcept;
  MemoryRegion(const MemoryRegion&) = delete;
  MemoryRegion& operator=(const MemoryRegion&) = delete;

  std::byte* data() const { return data_; }
  std::size_t size() const { return bytes_; }

  // Places the region's pages on NUMA node `node` (before first touch). Returns "" on
  // success, else the reason.
  std::string bind_to_node(int node);
  // mlock: "" on success, else the reason (e.g. RLIMIT_MEMLOCK).
  std::string lock();
  bool locked() const { return locked_; }

 private:
  std::byte* map_ = nullptr;  // what mmap returned
  std::size_t map_bytes_ = 0;
  std::byte* data_ = nullptr;  // 2 MiB aligned inside the mapping
  std::size_t bytes_ = 0;
  bool locked_ = false;
};

// Bytes of each region backed by transparent huge pages now, from one read of
// /proc/self/smaps.
std::vector<std::uint64_t> huge_page_bytes(const std::vector<const MemoryRegion*>& regions);

}  // namespace xpb::cpu
