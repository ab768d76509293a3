#include <gtest/gtest.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <set>
#include <string>

#include "topology_internal.hpp"
#include "xpubench/system.hpp"
#include "xpubench/system_probe.hpp"

namespace {

constexpr std::uint64_t KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024;

const std::string kData = XPB_TEST_DATA_DIR;
const std::string kNowhere = kData + "/does-not-exist";

std::string proc(const std::string& tree) { return kData + "/proc/" + tree; }
std::string cgroup(const std::string& tree) { return kData + "/cgroup/" + tree; }

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

std::set<std::string> keys(const nlohmann::json& j) {
  std::set<std::string> out;
  for (const auto& [k, v] : j.items()) out.insert(k);
  return out;
}

// ---- memory and cgroups ---------------------------------------------------------------------

TEST(MemoryInfo, ReadsMeminfoInBytes) {
  const auto m = xpb::read_memory_info(proc("x86"), cgroup("v2-max"));
  EXPECT_EQ(m.total_bytes, 16 * GiB);
  EXPECT_EQ(m.available_bytes, 12 * GiB);
}

TEST(MemoryInfo, CgroupV2LimitCapsUsableAtLimitMinusUsage) {
  const auto m = xpb::read_memory_info(proc("x86"), cgroup("v2-limit"));
  ASSERT_TRUE(m.cgroup_limit_bytes.has_value());
  EXPECT_EQ(*m.cgroup_limit_bytes, 2 * GiB);
  ASSERT_TRUE(m.cgroup_usage_bytes.has_value());
  EXPECT_EQ(*m.cgroup_usage_bytes, 512 * MiB);
  EXPECT_EQ(m.usable_bytes(), 2 * GiB - 512 * MiB);  // well under MemAvailable's 12 GiB
}

TEST(MemoryInfo, CgroupV2MaxMeansNoLimit) {
  const auto m = xpb::read_memory_info(proc("x86"), cgroup("v2-max"));
  EXPECT_FALSE(m.cgroup_limit_bytes.has_value());
  ASSERT_TRUE(m.cgroup_usage_bytes.has_value());
  EXPECT_EQ(*m.cgroup_usage_bytes, 100 * MiB);  // the process's own group, not its parent's
  EXPECT_EQ(m.usable_bytes(), 12 * GiB);
}

TEST(MemoryInfo, CgroupV2ParentLimitBindsAnUnlimitedChild) {
  const auto m = xpb::read_memory_info(proc("x86"), cgroup("v2-parent"));
  ASSERT_TRUE(m.cgroup_limit_bytes.has_value());
  EXPECT_EQ(*m.cgroup_limit_bytes, 1 * GiB);
  EXPECT_EQ(m.cgroup_usage_bytes.value_or(0), 960 * MiB);
  EXPECT_EQ(m.usable_bytes(), 64 * MiB);
}

TEST(MemoryInfo, CgroupV2FallsBackToRootWhenOwnPathIsNotMounted) {
  const auto m = xpb::read_memory_info(proc("x86"), cgroup("v2-container"));
  ASSERT_TRUE(m.cgroup_limit_bytes.has_value());
  EXPECT_EQ(*m.cgroup_limit_bytes, 4 * GiB);
  EXPECT_EQ(m.cgroup_usage_bytes.value_or(0), 1 * GiB);
  EXPECT_EQ(m.usable_bytes(), 3 * GiB);
}

TEST(MemoryInfo, CgroupV1LimitOfTheMemoryController) {
  const auto m = xpb::read_memory_info(proc("v1"), cgroup("v1"));
  EXPECT_EQ(m.total_bytes, 32 * GiB);
  ASSERT_TRUE(m.cgroup_limit_bytes.has_value());
  EXPECT_EQ(*m.cgroup_limit_bytes, 4 * GiB);  // the container's group, not the host root's
  EXPECT_EQ(m.cgroup_usage_bytes.value_or(0), 1 * GiB);
  EXPECT_EQ(m.usable_bytes(), 3 * GiB);
}

TEST(MemoryInfo, CgroupV1HugeLimitMeansNoLimit) {
  const auto m = xpb::read_memory_info(proc("v1"), cgroup("v1-unlimited"));
  EXPECT_FALSE(m.cgroup_limit_bytes.has_value());
  EXPECT_EQ(m.cgroup_usage_bytes.value_or(0), 2 * GiB);
  EXPECT_EQ(m.usable_bytes(), 24 * GiB);
}

TEST(MemoryInfo, MissingFilesGiveZerosAndNoLimit) {
  const auto none = xpb::read_memory_info(kNowhere, kNowhere);
  EXPECT_EQ(none.total_bytes, 0u);
  EXPECT_EQ(none.available_bytes, 0u);
  EXPECT_FALSE(none.cgroup_limit_bytes.has_value());
  EXPECT_FALSE(none.cgroup_usage_bytes.has_value());
  EXPECT_EQ(none.usable_bytes(), 0u);

  const auto no_cgroup = xpb::read_memory_info(proc("x86"), kNowhere);
  EXPECT_FALSE(no_cgroup.cgroup_limit_bytes.has_value());
  EXPECT_EQ(no_cgroup.usable_bytes(), 12 * GiB);
}

TEST(MemoryInfo, UsableIsZeroWhenTheCgroupIsAlreadyOverItsLimit) {
  xpb::MemoryInfo m;
  m.available_bytes = 8 * GiB;
  m.cgroup_limit_bytes = 1 * GiB;
  m.cgroup_usage_bytes = 1 * GiB + 4096;
  EXPECT_EQ(m.usable_bytes(), 0u);
}

// ---- CPU, OS and kernel knobs from synthetic trees ------------------------------------------

xpb::SystemRoots roots(const std::string& proc_tree, const std::string& sys_tree, const std::string& etc_tree,
                       const std::string& cgroup_tree) {
  xpb::SystemRoots r;
  r.procfs = proc(proc_tree);
  r.sysfs = kData + "/sys/" + sys_tree;
  r.cgroup = cgroup(cgroup_tree);
  r.os_release = {kData + "/etc/" + etc_tree + "/os-release"};
  return r;
}

TEST(DescribeSystem, X86ModelVendorAndSimdFlagsInCanonicalOrder) {
  const auto s = xpb::describe_system(roots("x86", "bare-metal", "debian", "v2-limit"));
  EXPECT_EQ(s.cpu_model, "Intel(R) Xeon(R) Platinum 8480+");
  EXPECT_EQ(s.cpu_vendor, "Intel");
  // avx512dq and the non-SIMD flags are in the file but not in the subset.
  const std::vector<std::string> expected = {
      "sse4_2",      "avx",         "avx2",     "fma",      "f16c",     "avx512f",
      "avx512bw",    "avx512vl",    "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile",
      "amx_int8",    "amx_bf16",    "avx_vnni"};
  EXPECT_EQ(s.isa_flags, expected);
  EXPECT_EQ(s.os, "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(s.governor, "performance");
  EXPECT_EQ(s.thp, "madvise");
  EXPECT_EQ(s.memory.cgroup_limit_bytes.value_or(0), 2 * GiB);
}

TEST(DescribeSystem, ArmServerCoreNamedFromImplementerAndPart) {
  const auto s = xpb::describe_system(roots("arm", "vm", "escaped", "v2-max"));
  EXPECT_EQ(s.cpu_model, "Arm Neoverse-N1");
  EXPECT_EQ(s.cpu_vendor, "Arm");
  EXPECT_EQ(s.isa_flags, (std::vector<std::string>{"asimd", "asimddp"}));
  EXPECT_EQ(s.os, "Example \"Linux\" 1.0");
  EXPECT_EQ(s.governor, "unavailable: no cpufreq interface (virtual machine?)");
  EXPECT_EQ(s.thp, "always");
}

TEST(DescribeSystem, ArmUnknownPartsFallBackToTheSocName) {
  const auto s = xpb::describe_system(roots("arm-soc", "vm", "debian", "v2-max"));
  EXPECT_EQ(s.cpu_model, "Qualcomm Technologies, Inc SDM845");
  EXPECT_EQ(s.cpu_vendor, "Qualcomm");
  EXPECT_EQ(s.isa_flags, (std::vector<std::string>{"asimd", "asimddp"}));
}

TEST(DescribeSystem, MissingFilesSaySoInsteadOfGuessing) {
  xpb::SystemRoots r;
  r.procfs = r.sysfs = r.cgroup = kNowhere;
  r.os_release = {kNowhere + "/os-release"};
  const auto s = xpb::describe_system(r);
  EXPECT_TRUE(starts_with(s.cpu_model, "unavailable: cannot read")) << s.cpu_model;
  EXPECT_TRUE(starts_with(s.cpu_vendor, "unavailable: ")) << s.cpu_vendor;
  EXPECT_TRUE(s.isa_flags.empty());
  EXPECT_TRUE(starts_with(s.os, "unavailable: no os-release")) << s.os;
  EXPECT_EQ(s.governor, "unavailable: no cpufreq interface (virtual machine?)");
  EXPECT_TRUE(starts_with(s.thp, "unavailable: ")) << s.thp;
  EXPECT_EQ(s.memory.total_bytes, 0u);
}

TEST(DescribeSystem, JsonHasExactlyTheSchemaKeys) {
  const auto j = xpb::describe_system(roots("x86", "bare-metal", "debian", "v2-max")).to_json();
  EXPECT_EQ(keys(j), (std::set<std::string>{"hostname", "os", "kernel", "arch", "cpu_model", "cpu_vendor",
                                            "isa_flags", "topology", "memory", "governor", "thp", "compiler",
                                            "compile_flags", "build_type", "git_revision", "xpubench_version"}));
  EXPECT_EQ(keys(j["topology"]),
            (std::set<std::string>{"packages", "cores", "pus", "allowed_pus", "machine_pus", "numa_nodes", "caches", "source"}));
  EXPECT_EQ(keys(j["memory"]), (std::set<std::string>{"total_bytes", "available_bytes", "cgroup_limit_bytes",
                                                      "cgroup_usage_bytes", "usable_bytes"}));
  EXPECT_TRUE(j["memory"]["cgroup_limit_bytes"].is_null());
  EXPECT_EQ(j["memory"]["cgroup_usage_bytes"], 100 * MiB);
  EXPECT_EQ(j["memory"]["usable_bytes"], 12 * GiB);
  EXPECT_TRUE(j["isa_flags"].is_array());
  for (const auto& c : j["topology"]["caches"])
    EXPECT_EQ(keys(c), (std::set<std::string>{"level", "type", "size_bytes", "line_bytes", "instances", "pus_sharing"}));
  for (const auto& n : j["topology"]["numa_nodes"])
    EXPECT_EQ(keys(n), (std::set<std::string>{"os_index", "memory_bytes", "pus"}));
}

TEST(DescribeSystem, RunningMachineIsDescribedConsistently) {
  const auto s = xpb::describe_system();
  struct utsname u {};
  ASSERT_EQ(::uname(&u), 0);
  EXPECT_EQ(s.kernel, u.release);
  EXPECT_EQ(s.arch, u.machine);
  EXPECT_FALSE(s.hostname.empty());
  EXPECT_FALSE(s.cpu_model.empty());
  EXPECT_GT(s.memory.total_bytes, 0u);
  EXPECT_LE(s.memory.usable_bytes(), s.memory.available_bytes);
  EXPECT_FALSE(s.compiler.empty());
  EXPECT_FALSE(s.xpubench_version.empty());
  EXPECT_GE(s.topology.pus, 1);
  EXPECT_TRUE(s.topology.source == "hwloc" || starts_with(s.topology.source, "unavailable: ")) << s.topology.source;
  if (s.topology.source == "hwloc") {
    // hwloc keeps only the PUs this process may run on, never more than are configured.
    EXPECT_LE(s.topology.pus, ::sysconf(_SC_NPROCESSORS_CONF));
    EXPECT_LE(s.topology.cores, s.topology.pus);
    int numa_pus = 0;
    for (const auto& n : s.topology.numa_nodes) numa_pus += static_cast<int>(n.pus.size());
    EXPECT_EQ(numa_pus, s.topology.pus);
  }
}

// ---- topology from hwloc synthetic machines -------------------------------------------------

TEST(Topology, TwoSocketMachineFromHwloc) {
  const auto t = xpb::detail::read_synthetic_topology(
      "pack:2 [numa(memory=1073741824)] l3u:1(size=33554432) l2u:4(size=1048576) l1d:1(size=49152) core:1 pu:2");
  ASSERT_TRUE(starts_with(t.source, "hwloc synthetic")) << t.source;
  EXPECT_EQ(t.packages, 2);
  EXPECT_EQ(t.cores, 8);
  EXPECT_EQ(t.pus, 16);
  ASSERT_EQ(t.numa_nodes.size(), 2u);
  EXPECT_EQ(t.numa_nodes[0].os_index, 0);
  EXPECT_EQ(t.numa_nodes[0].memory_bytes, 1 * GiB);
  EXPECT_EQ(t.numa_nodes[0].pus, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(t.numa_nodes[1].os_index, 1);
  EXPECT_EQ(t.numa_nodes[1].pus, (std::vector<int>{8, 9, 10, 11, 12, 13, 14, 15}));

  ASSERT_EQ(t.caches.size(), 3u);  // innermost first
  EXPECT_EQ(t.caches[0].level, 1);
  EXPECT_EQ(t.caches[0].type, "data");
  EXPECT_EQ(t.caches[0].size_bytes, 48 * KiB);
  EXPECT_EQ(t.caches[0].line_bytes, 64u);
  EXPECT_EQ(t.caches[0].instances, 8);
  EXPECT_EQ(t.caches[0].pus_sharing, 2);
  EXPECT_EQ(t.caches[1].level, 2);
  EXPECT_EQ(t.caches[1].type, "unified");
  EXPECT_EQ(t.caches[1].size_bytes, 1 * MiB);
  EXPECT_EQ(t.caches[2].level, 3);
  EXPECT_EQ(t.caches[2].instances, 2);
  EXPECT_EQ(t.caches[2].pus_sharing, 8);
  EXPECT_EQ(t.llc_bytes(), 32 * MiB);
  EXPECT_EQ(t.llc_total_bytes(), 64 * MiB);
}

TEST(Topology, L2SharedByACoreCluster) {
  const auto t = xpb::detail::read_synthetic_topology("pack:1 l2u:2(size=2097152) l1d:4(size=32768) core:1 pu:1");
  EXPECT_EQ(t.cores, 8);
  ASSERT_EQ(t.caches.size(), 2u);
  EXPECT_EQ(t.caches[1].level, 2);
  EXPECT_EQ(t.caches[1].instances, 2);
  EXPECT_EQ(t.caches[1].pus_sharing, 4);
  EXPECT_EQ(t.llc_bytes(), 2 * MiB);  // the L2 is the last level here
  EXPECT_EQ(t.llc_total_bytes(), 4 * MiB);
}

TEST(Topology, RejectedDescriptionIsUnavailableWithPusFromTheOs) {
  const auto t = xpb::detail::read_synthetic_topology("this is not a machine");
  EXPECT_TRUE(starts_with(t.source, "unavailable: hwloc_topology_set_synthetic")) << t.source;
  EXPECT_GE(t.pus, 1);
  EXPECT_TRUE(t.caches.empty());
  EXPECT_EQ(t.llc_bytes(), 0u);
}

TEST(Topology, LlcIsTheOutermostLevelAcrossKindsOfCache) {
  xpb::Topology t;
  EXPECT_EQ(t.llc_bytes(), 0u);
  EXPECT_EQ(t.llc_total_bytes(), 0u);
  // A hybrid part: performance cores with private 2 MiB L2s, efficiency clusters sharing 4 MiB,
  // one 36 MiB L3 over all of them.
  t.caches = {{1, "data", 48 * KiB, 64, 24, 1},
              {2, "unified", 2 * MiB, 64, 8, 2},
              {2, "unified", 4 * MiB, 64, 4, 4},
              {3, "unified", 36 * MiB, 64, 1, 32}};
  EXPECT_EQ(t.llc_bytes(), 36 * MiB);
  EXPECT_EQ(t.llc_total_bytes(), 36 * MiB);
  t.caches.pop_back();
  EXPECT_EQ(t.llc_bytes(), 4 * MiB);
  EXPECT_EQ(t.llc_total_bytes(), 8 * 2 * MiB + 4 * 4 * MiB);
}

}  // namespace
