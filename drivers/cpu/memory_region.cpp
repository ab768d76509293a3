#include "memory_region.hpp"

#include <vector>

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <new>
#include <sstream>
#include <utility>

#include "topology_handle.hpp"

namespace xpb::cpu {
namespace {
constexpr std::size_t kHuge = std::size_t{2} << 20;
constexpr std::size_t kPage = 4096;
}  // namespace

MemoryRegion::MemoryRegion(std::size_t bytes, bool huge_pages) : bytes_(bytes) {
  const bool align_huge = bytes >= kHuge;
  map_bytes_ = (std::max(bytes, kPage) + kPage - 1) / kPage * kPage + (align_huge ? kHuge : 0);
  void* p = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  map_ = static_cast<std::byte*>(p);
  auto addr = reinterpret_cast<std::uintptr_t>(map_);
  if (align_huge) addr = (addr + kHuge - 1) / kHuge * kHuge;
  data_ = reinterpret_cast<std::byte*>(addr);
  // THP in "madvise" mode (Debian's default) backs only regions that ask; in "always" mode
  // this is harmless; NOHUGEPAGE makes the 4 KiB case explicit for latency comparisons.
  madvise(data_, map_bytes_ - static_cast<std::size_t>(data_ - map_), huge_pages ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
}

MemoryRegion::~MemoryRegion() {
  if (map_ != nullptr) munmap(map_, map_bytes_);
}

MemoryRegion& MemoryRegion::operator=(MemoryRegion&& o) noexcept {
  if (this != &o) {
    if (map_ != nullptr) munmap(map_, map_bytes_);
    map_ = std::exchange(o.map_, nullptr);
    map_bytes_ = std::exchange(o.map_bytes_, 0);
    data_ = std::exchange(o.data_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
    locked_ = std::exchange(o.locked_, false);
  }
  return *this;
}

std::string MemoryRegion::bind_to_node(int node) {
  hwloc_topology_t t = topology();
  hwloc_obj_t obj = hwloc_get_numanode_obj_by_os_index(t, static_cast<unsigned>(node));
  if (obj == nullptr) return "no NUMA node " + std::to_string(node);
  if (hwloc_set_area_membind(t, data_, std::max(bytes_, kPage), obj->nodeset, HWLOC_MEMBIND_BIND,
                             HWLOC_MEMBIND_BYNODESET | HWLOC_MEMBIND_STRICT) != 0)
    return std::string("binding memory to node ") + std::to_string(node) + " failed: " + std::strerror(errno);
  return "";
}

std::string MemoryRegion::lock() {
  if (mlock(data_, std::max(bytes_, kPage)) != 0) {
    const int e = errno;
    return std::string("mlock refused: ") + std::strerror(e) +
           (e == ENOMEM || e == EPERM ? " (RLIMIT_MEMLOCK too low; raise it with ulimit -l or run as root)" : "");
  }
  locked_ = true;
  return "";
}

std::vector<std::uint64_t> huge_page_bytes(const std::vector<const MemoryRegion*>& regions) {
  // smaps lists each mapping as "start-end perms ..." followed by fields. One read serves
  // every region (a decoder has hundreds of tensors, and smaps is long); a region is one
  // mapping unless the kernel split it (e.g. partly locked), so every overlapping one counts.
  struct Mapping {
    std::uintptr_t start, end;
    std::uint64_t huge;
  };
  std::vector<Mapping> maps;
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  while (std::getline(smaps, line)) {
    const auto dash = line.find('-');
    const auto space = line.find(' ');
    if (dash != std::string::npos && space != std::string::npos && dash < space &&
        line.find_first_not_of("0123456789abcdef") == dash) {
      maps.push_back({static_cast<std::uintptr_t>(std::stoull(line.substr(0, dash), nullptr, 16)),
                      static_cast<std::uintptr_t>(std::stoull(line.substr(dash + 1, space - dash - 1), nullptr, 16)), 0});
      continue;
    }
    if (!maps.empty() && line.rfind("AnonHugePages:", 0) == 0) {
      std::istringstream fields(line.substr(14));
      std::uint64_t kib = 0;
      fields >> kib;
      maps.back().huge += kib * 1024;
    }
  }
  std::vector<std::uint64_t> out;
  for (const MemoryRegion* r : regions) {
    const auto lo = reinterpret_cast<std::uintptr_t>(r->data());
    const auto hi = lo + r->size();
    std::uint64_t total = 0;
    for (const auto& m : maps)
      if (m.start < hi && m.end > lo) total += m.huge;
    out.push_back(std::min<std::uint64_t>(total, r->size()));
  }
  return out;
}

}  // namespace xpb::cpu
