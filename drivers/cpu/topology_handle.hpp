// One hwloc topology for the whole process, loaded on first use and restricted to the PUs the
// process may run on (process_allowed_pus, system_probe.hpp). hwloc topologies are safe
// to query from several threads once loaded; binding calls take the handle too.
#pragma once
#include <hwloc.h>

#include <vector>

namespace xpb::cpu {

hwloc_topology_t topology();

// OS indices of the PUs to pin worker threads to: one PU per core first (spreading over
// cores), then the second hardware thread of each core, and so on. `node` >= 0 keeps to the
// PUs of that NUMA node.
std::vector<int> pinning_order(int node = -1);

}  // namespace xpb::cpu
