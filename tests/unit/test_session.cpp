#include <gtest/gtest.h>

#include "xpubench/error.hpp"
#include "xpubench/session.hpp"

namespace {

xpb::SystemInfo two_pu_system() {
  xpb::SystemInfo s;
  s.topology.pus = 2;
  s.topology.caches = {{3, "unified", 8 << 20, 64, 1, 2}};
  s.memory.total_bytes = 8ull << 30;
  s.memory.available_bytes = 4ull << 30;
  return s;
}

std::string plan_error(const std::string& yaml, std::vector<xpb::Override> overrides = {}, bool quick = false) {
  try {
    xpb::make_plan({xpb::parse_suite(yaml, "p.yaml")}, quick, overrides, two_pu_system());
  } catch (const xpb::InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Plan, GridIsTheCartesianProductAfterExpansion) {
  auto suite = xpb::parse_suite(R"(suite: p
benchmarks:
  - workload: memory.bandwidth
    params: {kernel: [copy, triad, read], stores: [regular, nontemporal], threads: scaling}
)", "p.yaml");
  const auto plan = xpb::make_plan({suite}, false, {}, two_pu_system());
  // 3 kernels x 2 store kinds - (read, nontemporal) = 5, times threads 1 and 2.
  EXPECT_EQ(plan.size(), 10u);
  for (const auto& item : plan) {
    EXPECT_EQ(item.params["array_bytes"], 32u << 20);
    EXPECT_EQ(item.params["dtype"], "f64");  // a default filled in
  }
}

TEST(Plan, QuickVariantAndOverridesApplyInOrder) {
  auto suite = xpb::parse_suite(R"(suite: p
policy: {max_seconds: 3}
quick_policy: {max_seconds: 0.5}
benchmarks:
  - workload: memory.bandwidth
    params: {threads: 2, array_bytes: 64MiB}
    quick_params: {array_bytes: 1MiB}
)", "p.yaml");
  auto plan = xpb::make_plan({suite}, true, {xpb::parse_override("threads=1"), xpb::parse_override("policy.min_samples=7")},
                             two_pu_system());
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].params["array_bytes"], 1u << 20);
  EXPECT_EQ(plan[0].params["threads"], 1);
  EXPECT_DOUBLE_EQ(plan[0].policy.max_seconds, 0.5);
  EXPECT_EQ(plan[0].policy.min_samples, 7u);
  plan = xpb::make_plan({suite}, false, {}, two_pu_system());
  EXPECT_EQ(plan[0].params["array_bytes"], 64u << 20);
  EXPECT_DOUBLE_EQ(plan[0].policy.max_seconds, 3);
}

TEST(Plan, PolicyOverridesDoNotDependOnTheirOrder) {
  auto suite = xpb::parse_suite("suite: p\npolicy: {max_seconds: 2}\nbenchmarks: [{workload: memory.bandwidth}]\n", "p.yaml");
  // min_seconds 5 alone would exceed the suite's max_seconds 2; together with max 9 it is fine.
  for (const auto& order : {std::vector<std::string>{"policy.min_seconds=5", "policy.max_seconds=9"},
                            std::vector<std::string>{"policy.max_seconds=9", "policy.min_seconds=5"}}) {
    std::vector<xpb::Override> overrides;
    for (const auto& o : order) overrides.push_back(xpb::parse_override(o));
    const auto plan = xpb::make_plan({suite}, false, overrides, two_pu_system());
    ASSERT_EQ(plan.size(), 1u);
    EXPECT_DOUBLE_EQ(plan[0].policy.min_seconds, 5);
    EXPECT_DOUBLE_EQ(plan[0].policy.max_seconds, 9);
  }
  EXPECT_NE(plan_error("suite: p\npolicy: {max_seconds: 2}\nbenchmarks: [{workload: memory.bandwidth}]\n",
                       {xpb::parse_override("policy.min_seconds=5")})
                .find("min_seconds exceeds max_seconds"),
            std::string::npos);
}

TEST(Plan, TheSameBenchmarkNamedTwiceRunsOnce) {
  auto a = xpb::parse_suite("suite: a\nbenchmarks:\n  - workload: memory.bandwidth\n    params: {kernel: [copy, triad], threads: 1}\n", "a.yaml");
  auto b = xpb::parse_suite("suite: b\nbenchmarks:\n  - workload: memory.bandwidth\n    params: {kernel: [triad, add], threads: 1}\n", "b.yaml");
  const auto plan = xpb::make_plan({a, b}, false, {}, two_pu_system());
  ASSERT_EQ(plan.size(), 3u);  // copy, triad (from a), add
  EXPECT_EQ(plan[1].suite, "a");
  EXPECT_EQ(plan[2].params["kernel"], "add");
}

TEST(Plan, BadInputNamesWhereAndWhat) {
  EXPECT_NE(plan_error("suite: p\nbenchmarks:\n  - workload: memory.bandwith\n")
                .find("p.yaml:3:5: unknown workload 'memory.bandwith' (expected one of:"),
            std::string::npos);
  EXPECT_NE(plan_error("suite: p\nbenchmarks:\n  - workload: memory.bandwidth\n    params: {kernal: copy}\n")
                .find("p.yaml:4:22: unknown parameter 'kernal' for workload memory.bandwidth"),
            std::string::npos);
  EXPECT_NE(plan_error("suite: p\nbenchmarks:\n  - workload: memory.bandwidth\n    params: {kernel: [copy, sum]}\n")
                .find("parameter 'kernel' of memory.bandwidth is \"sum\", expected one of: copy, scale"),
            std::string::npos);
  EXPECT_NE(plan_error("suite: p\nbenchmarks:\n  - workload: memory.bandwidth\n    params: {threads: many}\n")
                .find("p.yaml:3:5 (memory.bandwidth): parameter 'threads' expects a thread count"),
            std::string::npos);
  EXPECT_NE(plan_error("suite: p\nbenchmarks:\n  - workload: memory.bandwidth\n", {xpb::parse_override("treads=2")})
                .find("--set treads: no selected workload has a parameter 'treads'"),
            std::string::npos);
  EXPECT_NE(plan_error("suite: p\nbenchmarks:\n  - workload: memory.bandwidth\n", {xpb::parse_override("policy.max_seconds=x")})
                .find("--set policy.max_seconds: run-policy key 'max_seconds' expects a finite non-negative number"),
            std::string::npos);
}

TEST(Devices, UnknownDeviceListsTheAvailableOnes) {
  try {
    xpb::open_devices({"gpu:7"});
    FAIL() << "an unknown device must be an input error";
  } catch (const xpb::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--device gpu:7: no such device (available: "), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("ref"), std::string::npos);
  }
  auto ref = xpb::open_devices({"ref"});
  ASSERT_EQ(ref.size(), 1u);
  EXPECT_EQ(ref[0].id, "ref");
}

}  // namespace
