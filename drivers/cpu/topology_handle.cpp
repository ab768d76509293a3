#include "topology_handle.hpp"

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "xpubench/system_probe.hpp"

namespace xpb::cpu {

hwloc_topology_t topology() {
  static hwloc_topology_t topo = [] {
    hwloc_topology_t t = nullptr;
    if (hwloc_topology_init(&t) != 0 || hwloc_topology_load(t) != 0) {
      std::fprintf(stderr, "xpubench: hwloc cannot load the topology\n");
      std::abort();
    }
    // Only the PUs this process may run on (taskset, a cgroup's cpuset): threads are never
    // pinned outside them, and "all threads" means them.
    hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
    for (int pu : process_allowed_pus()) hwloc_bitmap_set(allowed, static_cast<unsigned>(pu));
    if (!hwloc_bitmap_iszero(allowed) && !hwloc_bitmap_isincluded(hwloc_topology_get_topology_cpuset(t), allowed))
      hwloc_topology_restrict(t, allowed, 0);
    hwloc_bitmap_free(allowed);
    return t;
  }();
  return topo;
}

std::vector<int> pinning_order(int node) {
  hwloc_topology_t t = topology();
  hwloc_const_cpuset_t allowed = hwloc_topology_get_allowed_cpuset(t);
  hwloc_bitmap_t within = hwloc_bitmap_dup(allowed);
  if (node >= 0) {
    hwloc_obj_t n = hwloc_get_numanode_obj_by_os_index(t, static_cast<unsigned>(node));
    if (n == nullptr) hwloc_bitmap_zero(within);
    else hwloc_bitmap_and(within, within, n->cpuset);
  }
  std::vector<int> order;
  const int cores = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
  for (unsigned smt = 0;; ++smt) {
    bool any = false;
    for (int c = 0; c < cores; ++c) {
      hwloc_obj_t core = hwloc_get_obj_by_type(t, HWLOC_OBJ_CORE, static_cast<unsigned>(c));
      hwloc_obj_t pu = hwloc_get_obj_inside_cpuset_by_type(t, core->cpuset, HWLOC_OBJ_PU, smt);
      if (pu == nullptr) continue;
      any = true;
      if (hwloc_bitmap_isset(within, pu->os_index)) order.push_back(static_cast<int>(pu->os_index));
    }
    if (!any) break;
  }
  if (order.empty() && node < 0) {  // no core objects (rare): take the PUs as they come
    const int pus = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
    for (int i = 0; i < pus; ++i)
      order.push_back(static_cast<int>(hwloc_get_obj_by_type(t, HWLOC_OBJ_PU, static_cast<unsigned>(i))->os_index));
  }
  hwloc_bitmap_free(within);
  return order;
}

}  // namespace xpb::cpu
