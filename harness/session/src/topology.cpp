// Machine topology through hwloc. hwloc stays inside this file: the rest of xpubench sees the
// plain structs of system.hpp.
#include <hwloc.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <tuple>

#include "topology_internal.hpp"
#include "xpubench/system_probe.hpp"

namespace xpb {

namespace {

struct TopologyDeleter {
  void operator()(hwloc_topology* t) const { hwloc_topology_destroy(t); }
};
using TopologyPtr = std::unique_ptr<hwloc_topology, TopologyDeleter>;

// The CPUs this process may run on, read while the library loads: before any benchmark pins
// a thread (the cpu driver's pools pin the calling thread while they live), so it is the
// affinity the process was started with (taskset) within its cgroup's cpuset.
std::vector<int> read_affinity() {
  std::vector<int> out;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return out;
  for (int i = 0; i < CPU_SETSIZE; ++i)
    if (CPU_ISSET(i, &set)) out.push_back(i);
  return out;
}
const std::vector<int> g_allowed_pus = read_affinity();

std::string errno_text(const char* what) {
  return std::string(what) + " failed: " + (errno != 0 ? std::strerror(errno) : "unknown error");
}

int count(hwloc_topology_t topo, hwloc_obj_type_t type) {
  // -1 means the type sits at several depths, which hwloc allows only for Group objects.
  return std::max(0, hwloc_get_nbobjs_by_type(topo, type));
}

std::vector<int> pu_indices(hwloc_const_cpuset_t set) {
  std::vector<int> out;
  if (set == nullptr) return out;
  // cpusets are indexed by the PUs' OS indices, which is what sched_setaffinity and numactl use.
  for (int i = hwloc_bitmap_first(set); i != -1; i = hwloc_bitmap_next(set, i)) out.push_back(i);
  return out;
}

const char* cache_type_name(hwloc_obj_cache_type_e type) {
  switch (type) {
    case HWLOC_OBJ_CACHE_DATA: return "data";
    case HWLOC_OBJ_CACHE_INSTRUCTION: return "instruction";
    case HWLOC_OBJ_CACHE_UNIFIED: break;
  }
  return "unified";
}

std::vector<CacheLevel> caches_of(hwloc_topology_t topo) {
  // One entry per distinct kind of cache rather than per level: a hybrid CPU has, at the same
  // level, a private L2 on each performance core and one L2 shared by a cluster of efficiency
  // cores, and merging them would report a size that no core actually sees.
  using Key = std::tuple<int, std::string, std::uint64_t, std::uint64_t, int>;
  std::map<Key, int> instances;
  for (hwloc_obj_type_t type : {HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L4CACHE,
                                HWLOC_OBJ_L5CACHE}) {
    for (hwloc_obj_t obj = nullptr; (obj = hwloc_get_next_obj_by_type(topo, type, obj)) != nullptr;) {
      const auto& a = obj->attr->cache;
      if (a.type == HWLOC_OBJ_CACHE_INSTRUCTION) continue;
      const int sharing = obj->cpuset != nullptr ? std::max(0, hwloc_bitmap_weight(obj->cpuset)) : 0;
      ++instances[Key{static_cast<int>(a.depth), cache_type_name(a.type), a.size,
                      std::uint64_t{a.linesize}, sharing}];
    }
  }
  std::vector<CacheLevel> out;
  for (const auto& [key, n] : instances) {
    const auto& [level, type, size, line, sharing] = key;
    out.push_back({level, type, size, line, n, sharing});
  }
  std::stable_sort(out.begin(), out.end(), [](const CacheLevel& a, const CacheLevel& b) {
    return std::tie(a.level, a.size_bytes) < std::tie(b.level, b.size_bytes);
  });
  return out;
}

Topology from_loaded(hwloc_topology_t topo, std::string source, bool restrict_to_affinity) {
  Topology t;
  t.source = std::move(source);
  t.machine_pus = count(topo, HWLOC_OBJ_PU);
  // The process's affinity, when it leaves PUs out, restricts everything below (cores,
  // caches, nodes): the machine as the benchmarks can use it.
  if (restrict_to_affinity && !g_allowed_pus.empty()) {
    hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
    for (int pu : g_allowed_pus) hwloc_bitmap_set(allowed, static_cast<unsigned>(pu));
    if (!hwloc_bitmap_isincluded(hwloc_topology_get_topology_cpuset(topo), allowed)) hwloc_topology_restrict(topo, allowed, 0);
    hwloc_bitmap_free(allowed);
  }
  t.allowed_pus = pu_indices(hwloc_topology_get_topology_cpuset(topo));
  t.packages = count(topo, HWLOC_OBJ_PACKAGE);
  t.cores = count(topo, HWLOC_OBJ_CORE);
  // hwloc drops the PUs outside this process's cpuset (a container's or taskset's), so this
  // is the parallelism the benchmarks can actually get, not what the host has.
  t.pus = count(topo, HWLOC_OBJ_PU);
  for (hwloc_obj_t obj = nullptr; (obj = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, obj)) != nullptr;) {
    // Memory-only nodes (CXL expanders, HBM in flat mode) are kept, with no PUs: they are
    // targets a NUMA benchmark can bind memory to.
    t.numa_nodes.push_back({static_cast<int>(obj->os_index), obj->attr->numanode.local_memory,
                            pu_indices(obj->cpuset)});
  }
  t.caches = caches_of(topo);
  return t;
}

Topology unavailable(const std::string& reason) {
  Topology t;
  t.source = "unavailable: " + reason;
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  t.machine_pus = online > 0 ? static_cast<int>(online) : 1;
  t.allowed_pus = g_allowed_pus;
  t.pus = g_allowed_pus.empty() ? t.machine_pus : static_cast<int>(g_allowed_pus.size());
  return t;
}

// Runs `configure` between init and load, so the real and synthetic paths share every step.
template <typename Configure>
Topology load(Configure configure, const std::string& source, bool restrict_to_affinity) {
  // hwloc keeps its ABI within a major version only; a library from another major would
  // misread every struct below.
  if ((hwloc_get_api_version() >> 16) != (HWLOC_API_VERSION >> 16))
    return unavailable("hwloc library ABI " + std::to_string(hwloc_get_api_version() >> 16) +
                       " differs from the headers xpubench was built with (" +
                       std::to_string(HWLOC_API_VERSION >> 16) + ")");
  hwloc_topology_t raw = nullptr;
  errno = 0;
  if (hwloc_topology_init(&raw) != 0) return unavailable(errno_text("hwloc_topology_init"));
  TopologyPtr topo(raw);
  errno = 0;
  if (std::string why = configure(topo.get()); !why.empty()) return unavailable(why);
  errno = 0;
  if (hwloc_topology_load(topo.get()) != 0) return unavailable(errno_text("hwloc_topology_load"));
  return from_loaded(topo.get(), source, restrict_to_affinity);
}

}  // namespace

std::vector<int> process_allowed_pus() { return g_allowed_pus; }

Topology read_topology() {
  return load([](hwloc_topology_t) { return std::string(); }, "hwloc", true);
}

namespace detail {

Topology read_synthetic_topology(const std::string& synthetic) {
  return load(
      [&](hwloc_topology_t topo) {
        if (hwloc_topology_set_synthetic(topo, synthetic.c_str()) != 0)
          return errno_text(("hwloc_topology_set_synthetic(\"" + synthetic + "\")").c_str());
        return std::string();
      },
      "hwloc synthetic: " + synthetic, false);
}

}  // namespace detail

}  // namespace xpb
