// What machine a result was measured on (DESIGN.md §7 "system"), as plain data. It is read
// by describe_system() (system_probe.hpp, in the session layer: hwloc and the OS). Every field
// that could not be read says so rather than guessing.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/export.hpp"

namespace xpb {

struct CacheLevel {
  int level = 0;              // 1, 2, 3, ...
  std::string type;           // "data", "unified", "instruction"
  std::uint64_t size_bytes = 0;
  std::uint64_t line_bytes = 0;
  int instances = 0;          // how many such caches the machine has
  int pus_sharing = 0;        // processing units that share one instance
};

struct NumaNode {
  int os_index = 0;
  std::uint64_t memory_bytes = 0;
  std::vector<int> pus;  // OS indices of the PUs local to this node
};

struct XPB_API Topology {
  // Counted within what this process may use: its CPU affinity (taskset, sched_setaffinity)
  // and its cgroup's cpuset. Benchmarks run on these PUs only; "threads: all" means them.
  int packages = 0;
  int cores = 0;
  int pus = 0;
  std::vector<int> allowed_pus;  // OS indices of the PUs this process may run on
  int machine_pus = 0;           // PUs the machine has (more than `pus` when restricted)
  std::vector<NumaNode> numa_nodes;
  std::vector<CacheLevel> caches;  // data/unified caches, innermost first
  std::string source = "hwloc";    // or "unavailable: <reason>"

  // The largest data/unified cache's size and its total over instances (the "LLC" that
  // working-set defaults are sized against); 0 when no cache is known.
  std::uint64_t llc_bytes() const;
  std::uint64_t llc_total_bytes() const;
};

struct XPB_API MemoryInfo {
  std::uint64_t total_bytes = 0;      // MemTotal
  std::uint64_t available_bytes = 0;  // MemAvailable
  std::optional<std::uint64_t> cgroup_limit_bytes;  // memory.max when set (not "max")
  std::optional<std::uint64_t> cgroup_usage_bytes;  // memory.current
  // What a test may take without pushing the host or the cgroup into the OOM killer.
  std::uint64_t usable_bytes() const;
};

struct XPB_API SystemInfo {
  std::string hostname;
  std::string os;            // PRETTY_NAME of /etc/os-release
  std::string kernel;        // uname -r
  std::string arch;          // uname -m
  std::string cpu_model;
  std::string cpu_vendor;
  std::vector<std::string> isa_flags;  // the SIMD-relevant subset of the CPU's flags
  Topology topology;
  MemoryInfo memory;
  std::string governor;      // scaling_governor of cpu0, or "unavailable: <reason>"
  std::string thp;           // transparent_hugepage/enabled selection, or "unavailable: ..."
  std::string compiler;      // of xpubench itself
  std::string compile_flags;
  std::string build_type;
  std::string git_revision;  // of the xpubench source, "unknown" outside a git checkout
  std::string xpubench_version;

  nlohmann::json to_json() const;
};

}  // namespace xpb
