#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>

#include "xpubench/error.hpp"
#include "xpubench/registry.hpp"
#include "xpubench/session.hpp"
#include "xpubench/system_probe.hpp"

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

TEST(Plan, OnlyOnLimitsAnEntryAndMergesWithTheSameBenchmarkElsewhere) {
  const auto suite = xpb::parse_suite(R"(suite: p
benchmarks:
  - workload: memory.bandwidth
    only_on: [photonic-sim]
    params: {kernel: [copy, triad], threads: 1}
  - workload: memory.bandwidth
    only_on: [hc1-sim]
    params: {kernel: copy, threads: 1}
  - workload: memory.bandwidth
    params: {kernel: triad, threads: 1}
)",
                                      "p.yaml");
  const auto plan = xpb::make_plan({suite}, false, {}, two_pu_system());
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].only_on, (std::vector<std::string>{"photonic-sim", "hc1-sim"}));  // copy: both lists
  EXPECT_TRUE(plan[1].only_on.empty());  // triad: also named without a list, so everywhere

  xpb::DeviceInfo sim;
  sim.driver = "photonic-sim";
  sim.kind = "simulator";
  xpb::DeviceInfo cpu;
  cpu.driver = "cpu";
  cpu.kind = "cpu";
  EXPECT_TRUE(xpb::runs_on(plan[0], "photonic-sim,dac_bits=4", sim));  // the id before its options
  EXPECT_FALSE(xpb::runs_on(plan[0], "cpu", cpu));
  EXPECT_TRUE(xpb::runs_on(plan[1], "cpu", cpu));
  xpb::PlanItem by_kind;
  by_kind.only_on = {"simulator"};
  EXPECT_TRUE(xpb::runs_on(by_kind, "photonic-sim", sim));
  EXPECT_FALSE(xpb::runs_on(by_kind, "cpu", cpu));

  EXPECT_NE(plan_error("suite: p\nbenchmarks:\n  - workload: memory.bandwidth\n    only_on: hc1-sim\n")
                .find("p.yaml:4:14: expected 'only_on' to be a non-empty list of devices"),
            std::string::npos)
      << plan_error("suite: p\nbenchmarks:\n  - workload: memory.bandwidth\n    only_on: hc1-sim\n");
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

TEST(Plan, AnEmptyListIsRefusedWhereItIsWritten) {
  EXPECT_NE(plan_error("suite: p\nbenchmarks:\n  - workload: memory.bandwidth\n    params: {kernel: []}\n")
                .find("p.yaml:4:22: parameter 'kernel' of memory.bandwidth is an empty list"),
            std::string::npos)
      << plan_error("suite: p\nbenchmarks:\n  - workload: memory.bandwidth\n    params: {kernel: []}\n");
}

TEST(Plan, AGridTooLargeToRunIsRefusedBeforeItIsMade) {
  // Five lists of 20 values: 3.2 million points, each a JSON object, would take gigabytes.
  std::string list = "[";
  for (int i = 0; i < 20; ++i) list += (i ? ", " : "") + std::to_string(4096 * (i + 1));
  list += "]";
  const auto t0 = std::chrono::steady_clock::now();
  const auto err = plan_error("suite: p\nbenchmarks:\n  - workload: memory.sweep\n    params: {size: " + list +
                              ", min_bytes: " + list + ", max_bytes: " + list + ", points_per_octave: [1, 2, 3, 4, 5, 6, "
                              "7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], threads: [1, 2, 1, 2, 1, 2, 1, 2, 1, "
                              "2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2]}\n");
  EXPECT_NE(err.find("points (the product of its lists' lengths)"), std::string::npos) << err;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));  // a bound, not a speed goal
}

TEST(Plan, FromPlainDataAsPythonGivesIt) {
  const auto plan = xpb::plan_from_json(
      {{{"workload", "memory.bandwidth"}, {"params", {{"kernel", {"copy", "add"}}, {"threads", 1}}},
        {"policy", {{"max_seconds", 0.3}}}}},
      two_pu_system());
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[1].params["kernel"], "add");
  EXPECT_DOUBLE_EQ(plan[0].policy.max_seconds, 0.3);
  auto error = [](nlohmann::json spec) -> std::string {
    try {
      xpb::plan_from_json(spec, two_pu_system());
    } catch (const xpb::InputError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error({{"workload", "memory.bandwidth"}, {"params", {{"kernal", "copy"}}}}).find("plan[0].params: unknown parameter 'kernal'"),
            std::string::npos);
  EXPECT_NE(error({{"workload", "memory.bandwidth"}, {"params", {{"kernel", nlohmann::json::array()}}}})
                .find("plan[0].params.kernel: parameter 'kernel' of memory.bandwidth is an empty list"),
            std::string::npos);
  EXPECT_NE(error({{"workload", "nope"}}).find("plan[0]: unknown workload 'nope'"), std::string::npos);
}

TEST(Devices, ADeviceSpecCarriesItsOptions) {
  const auto d = xpb::parse_device_spec("hc1-sim,mode=timing-only,description=chip.yaml");
  EXPECT_EQ(d.id, "hc1-sim");
  EXPECT_EQ(d.options.at("mode"), "timing-only");
  EXPECT_EQ(d.options.at("description"), "chip.yaml");
  EXPECT_THROW(xpb::parse_device_spec(",mode=x"), xpb::InputError);
  EXPECT_THROW(xpb::parse_device_spec("cpu,fast"), xpb::InputError);
  EXPECT_THROW(xpb::parse_device_spec("cpu,a=1,a=2"), xpb::InputError);
  try {
    xpb::open_devices({"cpu,threads=3"});
    FAIL() << "an option the driver does not take must be refused";
  } catch (const xpb::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'threads' is not known to driver cpu"), std::string::npos) << e.what();
  }
}

// A driver whose enumeration throws, registered in this test binary only.
class BrokenDriver final : public xpb::Driver {
 public:
  std::string name() const override { return "broken"; }
  std::string description() const override { return "a driver that cannot enumerate"; }
  xpb::Enumeration enumerate() override { throw std::runtime_error("libvendor.so: cannot open shared object file"); }
  xpb::OpenResult open(const xpb::DeviceInfo&, const xpb::DeviceOptions&) override { return {}; }
};
XPB_REGISTER_DRIVER("broken", BrokenDriver);

TEST(Devices, AFailingDriverIsListedWithItsReasonAndSkipped) {
  bool listed = false;
  for (const auto& d : xpb::inventory())
    if (d.name == "broken") {
      listed = true;
      EXPECT_TRUE(d.devices.empty());
      EXPECT_NE(d.reason.find("libvendor.so: cannot open shared object file"), std::string::npos) << d.reason;
    }
  EXPECT_TRUE(listed);
  const auto all = xpb::open_devices({});  // every device but ref: the broken driver does not stop it
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all[0].id, "cpu");
}

xpb::RunPolicy quick_policy() {
  xpb::RunPolicy p;
  p.warmup_seconds = 0;
  p.min_seconds = 0;
  p.max_seconds = 0.2;
  p.min_samples = 3;
  p.max_samples = 3;
  return p;
}

TEST(Session, RunsInMemoryOneBenchmarkAtATime) {
  auto plan = xpb::plan_from_json({{"workload", "memory.bandwidth"},
                                   {"params", {{"kernel", {"copy", "triad"}}, {"threads", 1}, {"array_bytes", "1MiB"}}}},
                                  two_pu_system());
  for (auto& item : plan) item.policy = quick_policy();
  xpb::Session session(plan, xpb::open_devices({"ref"}), two_pu_system(), {});
  EXPECT_EQ(session.header()["schema"], "xpubench.result/1");
  EXPECT_EQ(session.header()["devices"][0]["clock_info"]["kind"], "host");
  const auto one = session.run(1, 0);
  EXPECT_EQ(one["params"]["kernel"], "triad");
  EXPECT_EQ(one["status"], "passed") << one["reason"];
  const auto result = session.finish();
  EXPECT_EQ(result.document["benchmarks"].size(), 1u);
  EXPECT_EQ(result.document["run"]["status"], "complete");
}

TEST(Session, AnEntryLimitedToOtherDevicesDoesNotRunOnThisOne) {
  auto plan = xpb::plan_from_json({{"workload", "memory.bandwidth"},
                                   {"params", {{"kernel", {"copy", "triad"}}, {"threads", 1}, {"array_bytes", "1MiB"}}}},
                                  two_pu_system());
  for (auto& item : plan) item.policy = quick_policy();
  plan[0].only_on = {"hc1-sim"};
  std::size_t announced = 0;
  xpb::SessionOptions opts;
  opts.on_start = [&](std::size_t, std::size_t total, const xpb::PlanItem&, const std::string&) { announced = total; };
  const auto result = xpb::Session(plan, xpb::open_devices({"ref"}), two_pu_system(), opts).run_all();
  ASSERT_EQ(result.document["benchmarks"].size(), 1u);
  EXPECT_EQ(result.document["benchmarks"][0]["params"]["kernel"], "triad");
  EXPECT_EQ(announced, 1u);
}

TEST(Session, AStopAskedForByACallbackInterruptsTheRun) {
  auto plan = xpb::plan_from_json({{"workload", "memory.bandwidth"},
                                   {"params", {{"kernel", {"copy", "scale", "add", "triad"}}, {"threads", 1}, {"array_bytes", "1MiB"}}}},
                                  two_pu_system());
  for (auto& item : plan) item.policy = quick_policy();
  std::atomic<int> done{0};  // should_stop runs on the session's watcher thread
  xpb::SessionOptions opts;
  opts.should_stop = [&] { return done.load() >= 1; };
  opts.on_done = [&](std::size_t, std::size_t, const nlohmann::json&) { ++done; };
  const auto result = xpb::Session(plan, xpb::open_devices({"ref"}), two_pu_system(), opts).run_all();
  EXPECT_TRUE(result.interrupted);
  EXPECT_EQ(result.document["run"]["status"], "interrupted");
  EXPECT_LT(result.document["benchmarks"].size(), 4u);
}

TEST(Session, ACallbackThatThrowsStopsTheRunInsteadOfEndingTheProcess) {
  auto plan = xpb::plan_from_json({{"workload", "memory.bandwidth"},
                                   {"params", {{"kernel", {"copy", "scale", "add", "triad"}}, {"threads", 1}, {"array_bytes", "1MiB"}}}},
                                  two_pu_system());
  for (auto& item : plan) item.policy = quick_policy();
  std::atomic<int> done{0};
  xpb::SessionOptions opts;
  opts.should_stop = [&]() -> bool {
    if (done.load() >= 1) throw std::runtime_error("the caller's check failed");
    return false;
  };
  opts.on_done = [&](std::size_t, std::size_t, const nlohmann::json&) { ++done; };
  const auto result = xpb::Session(plan, xpb::open_devices({"ref"}), two_pu_system(), opts).run_all();
  EXPECT_TRUE(result.interrupted);
  EXPECT_LT(result.document["benchmarks"].size(), 4u);
}

TEST(Session, ACtrlCDuringTheLastBenchmarkStillMarksTheRunInterrupted) {
  auto plan = xpb::plan_from_json(
      {{"workload", "memory.bandwidth"}, {"params", {{"kernel", "copy"}, {"threads", 1}, {"array_bytes", "1MiB"}}}},
      two_pu_system());
  plan[0].policy = quick_policy();
  std::atomic<bool> cancel{false};
  xpb::SessionOptions opts;
  opts.cancel = &cancel;
  opts.on_done = [&](std::size_t, std::size_t, const nlohmann::json&) { cancel.store(true); };
  const auto result = xpb::Session(plan, xpb::open_devices({"ref"}), two_pu_system(), opts).run_all();
  EXPECT_TRUE(result.interrupted);
  EXPECT_EQ(result.document["run"]["status"], "interrupted");
}

TEST(Session, OnTheCpuTheRooflineIsTheWeightsOwnReadAfterEachDecodeSample) {
  auto plan = xpb::plan_from_json({{"workload", "llm.bench"},
                                   {"params", {{"model", "tiny-qwen2"}, {"dtype", "q4_K"}, {"test", "tg"}, {"n_gen", 4},
                                               {"threads", 1}, {"check", "off"}}}},
                                  xpb::describe_system());
  ASSERT_EQ(plan.size(), 1u);
  plan[0].policy = quick_policy();
  const auto result = xpb::run_session(plan, *std::make_unique<std::vector<xpb::OpenDevice>>(xpb::open_devices({"cpu"})),
                                       xpb::describe_system(), {});
  const auto& rec = result.document["benchmarks"][0];
  ASSERT_EQ(rec["status"], "passed") << rec.dump();
  std::map<std::string, nlohmann::json> m;
  for (const auto& metric : rec["metrics"]) m[metric["name"]] = metric;
  ASSERT_TRUE(m.count("weights_read_bandwidth") && m.count("roofline_fraction")) << rec["metrics"].dump();
  EXPECT_FALSE(rec["details"]["roofline"].contains("measurement"));  // no memory.bandwidth run
  EXPECT_NE(rec["details"]["roofline"]["source"].get<std::string>().find("read_bytes"), std::string::npos);
  // One read per decode sample, and each fraction is that sample's effective bandwidth over its read.
  const auto& eff = m["effective_bandwidth"]["samples"];
  const auto& read = m["weights_read_bandwidth"]["samples"];
  const auto& pct = m["roofline_fraction"]["samples"];
  ASSERT_EQ(read.size(), eff.size());
  ASSERT_EQ(pct.size(), eff.size());
  for (std::size_t i = 0; i < eff.size(); ++i) {
    EXPECT_GT(read[i].get<double>(), 0);
    EXPECT_NEAR(pct[i].get<double>(), eff[i].get<double>() / read[i].get<double>() * 100, 1e-9 * pct[i].get<double>());
  }
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
