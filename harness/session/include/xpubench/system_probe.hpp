// Reading the running machine into a SystemInfo (system.hpp): topology through hwloc, the rest
// from the OS. Every reader takes its roots from SystemRoots, so tests can feed synthetic trees.
#pragma once
#include <string>
#include <vector>

#include "xpubench/export.hpp"
#include "xpubench/system.hpp"

namespace xpb {

// Where describe_system() reads the OS from. The defaults are the running machine; tests point
// them at synthetic trees. Topology always comes from hwloc on the running machine.
struct SystemRoots {
  std::string procfs = "/proc";                 // cpuinfo, meminfo, self/cgroup
  std::string sysfs = "/sys";                   // cpufreq governor, transparent hugepages
  std::string cgroup = "/sys/fs/cgroup";        // v2 unified, or v1 with a memory/ controller
  std::vector<std::string> os_release = {"/etc/os-release", "/usr/lib/os-release"};  // first found
};

// Reads the system once (a few small files and one hwloc load: milliseconds).
XPB_API SystemInfo describe_system(const SystemRoots& roots = {});
// The machine's topology within the PUs this process may run on (process_allowed_pus).
XPB_API Topology read_topology();
XPB_API MemoryInfo read_memory_info(const std::string& procfs_root = "/proc",
                                    const std::string& cgroup_root = "/sys/fs/cgroup");
// OS indices of the PUs this process may run on: its CPU affinity (taskset,
// sched_setaffinity) within its cgroup's cpuset, as it was when libxpubench loaded, before any
// benchmark pinned a thread. Benchmarks run within these only.
XPB_API std::vector<int> process_allowed_pus();

}  // namespace xpb
