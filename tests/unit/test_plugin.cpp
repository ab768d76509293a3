// The plugin ABI from the host's side: the handshake, the loader's reasons for every broken
// plugin, the device contract through the C table, isolation of crashes and hangs, and the ABI
// test kit, on the test plugins of tests/plugins (one C99 source, one fault per build).
#include <gtest/gtest.h>

#include <cstring>

#include "plugin_library.hpp"
#include "test_devices.hpp"
#include "xpubench/conform.hpp"
#include "xpubench/plugins.hpp"
#include "xpubench/registry.hpp"
#include "xpubench/runner.hpp"
#include "xpubench/session.hpp"
#include "xpubench/system_probe.hpp"

namespace {

std::string plugin_file(const std::string& name) {
  return std::string(XPB_TEST_PLUGIN_DIR) + "/libxpubench-" + name + ".so";
}

// Loads every test plugin once for the whole test binary.
const std::vector<xpb::PluginLoad>& loads() {
  static const auto all = [] {
    std::vector<std::string> files;
    for (const char* n : {"minimal", "broken_abi", "broken_short", "broken_no_entry", "broken_enumerate", "broken_garbage",
                          "broken_nan", "broken_run_segv", "broken_run_abort", "broken_run_exit", "broken_run_hang",
                          "broken_leak"})
      files.push_back(plugin_file(n));
    files.push_back(std::string(XPB_TEST_PLUGIN_DIR) + "/no-such-plugin.so");
    return xpb::load_plugins(files);
  }();
  return all;
}

const xpb::DriverStatus* driver_status(const std::vector<xpb::DriverStatus>& all, const std::string& name) {
  for (const auto& d : all)
    if (d.name == name) return &d;
  return nullptr;
}

// write_fill of n f32 values with `value`: the one graph every test plugin runs.
xpb::Graph fill_graph(std::int64_t n, double value) {
  xpb::Graph g("fill");
  auto out = g.add_tensor({"out", {n}, xpb::DType::f32, xpb::TensorRole::output, {}});
  g.add_node(xpb::Op::write_fill, {}, {out}, xpb::Attrs{{"value", value}});
  return g;
}

xpb_plugin good_table() {
  xpb_plugin t{};
  t.abi_version = XPB_PLUGIN_ABI_VERSION;
  t.struct_size = sizeof t;
  t.name = "good";
  auto stub = reinterpret_cast<void (*)()>(+[] {});
  // Every call present (never called: only the table is checked).
  void (**fields)() = reinterpret_cast<void (**)()>(&t.last_error);
  const std::size_t calls = (sizeof t - offsetof(xpb_plugin, last_error)) / sizeof(void*);
  for (std::size_t i = 0; i < calls; ++i) fields[i] = stub;
  return t;
}

TEST(PluginHandshake, AcceptsTheCurrentTable) {
  const auto t = good_table();
  EXPECT_EQ(xpb::plugin::check_table(&t, XPB_PLUGIN_ABI_VERSION), "");
}

TEST(PluginHandshake, RefusesANewerPluginNamingBothVersions) {
  auto t = good_table();
  t.abi_version = XPB_PLUGIN_ABI_VERSION + 1;
  const auto why = xpb::plugin::check_table(&t, XPB_PLUGIN_ABI_VERSION);
  EXPECT_NE(why.find("plugin ABI " + std::to_string(XPB_PLUGIN_ABI_VERSION + 1)), std::string::npos) << why;
  EXPECT_NE(why.find("xpubench's ABI " + std::to_string(XPB_PLUGIN_ABI_VERSION)), std::string::npos) << why;
}

TEST(PluginHandshake, ANewerHostRunsAnOlderPlugin) {
  // A host of ABI 2 (which appended fields) loading a plugin built for ABI 1: the plugin's
  // table is checked against ABI 1's size, and accepted.
  auto t = good_table();
  t.abi_version = 1;
  t.struct_size = static_cast<std::uint32_t>(xpb::plugin::table_size_for(1));
  EXPECT_EQ(xpb::plugin::check_table(&t, 2), "");
}

TEST(PluginHandshake, RefusesShortTablesMissingCallsAndBadNames) {
  auto t = good_table();
  t.struct_size = 40;
  EXPECT_NE(xpb::plugin::check_table(&t, 1).find("too short: struct_size 40 bytes"), std::string::npos);
  t = good_table();
  t.run = nullptr;
  EXPECT_NE(xpb::plugin::check_table(&t, 1).find("lacks the call 'run'"), std::string::npos);
  t = good_table();
  t.name = "Bad Name";
  EXPECT_NE(xpb::plugin::check_table(&t, 1).find("outside [a-z0-9_]"), std::string::npos);
  t = good_table();
  t.abi_version = 0;
  EXPECT_NE(xpb::plugin::check_table(&t, 1).find("ABI version 0"), std::string::npos);
  EXPECT_NE(xpb::plugin::check_table(nullptr, 1).find("no table"), std::string::npos);
}

TEST(PluginLoader, ListsEveryBrokenPluginWithItsReasonAndGoesOn) {
  loads();
  const auto all = xpb::inventory();
  const auto reason = [&](const std::string& name) {
    const auto* d = driver_status(all, name);
    EXPECT_NE(d, nullptr) << name << " is not listed";
    return d != nullptr ? d->reason : std::string();
  };
  EXPECT_NE(reason("plugin:broken_abi").find("built for plugin ABI 99, newer than this xpubench's ABI 1"), std::string::npos);
  EXPECT_NE(reason("plugin:broken_short").find("too short: struct_size 16 bytes"), std::string::npos);
  EXPECT_NE(reason("plugin:broken_no_entry").find("no symbol xpb_plugin_entry"), std::string::npos);
  EXPECT_NE(reason("plugin:broken_enumerate").find("XPB_DEVICE_ERROR: the NPU firmware is not loaded"), std::string::npos);
  EXPECT_NE(reason("plugin:no-such-plugin").find("cannot load it"), std::string::npos);
  // The working plugin and the built-in drivers are all there.
  EXPECT_EQ(reason("plugin:minimal"), "");
  EXPECT_EQ(reason("cpu"), "");
  const auto opened = xpb::open_devices({"plugin:minimal", "cpu"});
  ASSERT_EQ(opened.size(), 2u);
  EXPECT_EQ(opened[0].id, "plugin:minimal");
  EXPECT_TRUE(opened[0].device->info().isolatable);
  EXPECT_EQ(opened[0].device->info().properties.at("plugin_abi"), "1");
}

TEST(PluginLoader, LoadingTheSameFileTwiceLoadsItOnce) {
  loads();
  EXPECT_TRUE(xpb::load_plugins({plugin_file("minimal")}).empty());
}

TEST(PluginDevice, RunsAGraphThroughTheTableAndKeepsTheLibraryAlive) {
  loads();
  std::shared_ptr<xpb::Device> device = xpb::test::open_device("plugin:minimal");
  ASSERT_NE(device, nullptr);
  // No driver object is held here any more: the device keeps it, and the library, alive.
  const auto caps = device->caps();
  EXPECT_TRUE(caps.claims(xpb::Op::write_fill, xpb::DType::f32));
  EXPECT_FALSE(caps.claims(xpb::Op::matmul, xpb::DType::f32));
  EXPECT_EQ(device->clock().kind, xpb::ClockKind::host);
  const auto g = fill_graph(1000, 2.5);
  auto c = device->compile(g, {});
  ASSERT_TRUE(c.outcome.passed()) << c.outcome.reason;
  const auto r = c.exe->run(3);
  EXPECT_EQ(r.iterations, 3u);
  EXPECT_EQ(r.clock, xpb::ClockKind::host);
  EXPECT_EQ(r.energy_source, xpb::EnergySource::unavailable);
  EXPECT_DOUBLE_EQ(r.work.bytes_written, 3 * 4000.0);  // from the catalogue's cost model
  const auto out = xpb::test::read<float>(*c.exe, g, 0);
  EXPECT_EQ(out.front(), 2.5f);
  EXPECT_EQ(out.back(), 2.5f);
  device.reset();  // the executable still runs: it holds the device handle and the library
  EXPECT_EQ(c.exe->run(1).error, "");
}

TEST(PluginDevice, BuffersRoundTripAndBindIntoAnotherExecutable) {
  loads();
  auto device = xpb::test::open_device("plugin:minimal");
  ASSERT_NE(device, nullptr);
  xpb::Graph g("copy");
  auto in = g.add_tensor({"in", {8}, xpb::DType::f32, xpb::TensorRole::input, xpb::TensorInit::filled(7)});
  auto out = g.add_tensor({"out", {8}, xpb::DType::f32, xpb::TensorRole::output, {}});
  g.add_node(xpb::Op::copy, {in}, {out});
  auto a = device->alloc(g.tensor(in), {});
  ASSERT_TRUE(a.outcome.passed()) << a.outcome.reason;
  std::vector<float> back(8);
  device->download(*a.buffer, {reinterpret_cast<std::byte*>(back.data()), 32});
  EXPECT_EQ(back[3], 7.0f);  // alloc filled it as its TensorInit says
  const std::vector<float> ones(8, 1.0f);
  device->upload(*a.buffer, {reinterpret_cast<const std::byte*>(ones.data()), 32});
  EXPECT_THROW(device->upload(*a.buffer, {reinterpret_cast<const std::byte*>(ones.data()), 32}, 4), std::invalid_argument);
  auto c = device->compile(g, xpb::Bindings{{in, a.buffer}}, {});
  ASSERT_TRUE(c.outcome.passed()) << c.outcome.reason;
  c.exe->run(1);
  EXPECT_EQ(xpb::test::read<float>(*c.exe, g, out)[5], 1.0f);
  // The output of one executable bound as the input of another.
  auto c2 = device->compile(g, xpb::Bindings{{in, c.exe->buffer(out)}}, {});
  ASSERT_TRUE(c2.outcome.passed()) << c2.outcome.reason;
  xpb::test::write<float>(*c.exe, out, std::vector<float>(8, 4.0f));
  c2.exe->run(1);
  EXPECT_EQ(xpb::test::read<float>(*c2.exe, g, out)[0], 4.0f);
}

TEST(PluginDevice, RefusalsAndGarbageAreOutcomes) {
  loads();
  auto device = xpb::test::open_device("plugin:minimal");
  ASSERT_NE(device, nullptr);
  xpb::Graph g("scale");
  auto in = g.add_tensor({"in", {8}, xpb::DType::f32, xpb::TensorRole::input, {}});
  auto out = g.add_tensor({"out", {8}, xpb::DType::f32, xpb::TensorRole::output, {}});
  g.add_node(xpb::Op::scale, {in}, {out}, xpb::Attrs{{"scalar", 2.0}});
  auto c = device->compile(g, {});
  EXPECT_EQ(c.outcome.status, xpb::Status::unsupported);
  EXPECT_NE(c.outcome.reason.find("op code 2 is not supported by minimal"), std::string::npos) << c.outcome.reason;

  auto garbage = xpb::test::open_device("plugin:broken_garbage");
  ASSERT_NE(garbage, nullptr);
  auto cg = garbage->compile(fill_graph(8, 1), {});
  EXPECT_EQ(cg.outcome.status, xpb::Status::failed);
  EXPECT_NE(cg.outcome.reason.find("unknown status 12345"), std::string::npos) << cg.outcome.reason;

  // An option the plugin does not take is the user's mistake, named.
  std::shared_ptr<xpb::Driver> driver = xpb::DriverRegistry::instance().create("plugin:minimal");
  auto e = driver->enumerate();
  auto opened = driver->open(e.devices.front(), {{"turbo", "1"}});
  EXPECT_EQ(opened.outcome.status, xpb::Status::invalid);
  EXPECT_NE(opened.outcome.reason.find("option 'turbo' is not known to minimal"), std::string::npos);
}

TEST(PluginDevice, ANaNRunTimeIsAnErrorOfTheMeasurement) {
  loads();
  auto device = xpb::test::open_device("plugin:broken_nan");
  ASSERT_NE(device, nullptr);
  auto c = device->compile(fill_graph(64, 1), {});
  ASSERT_TRUE(c.outcome.passed());
  xpb::RunPolicy policy = xpb::RunPolicy::fixed(3);
  const auto m = xpb::measure(*c.exe, device->clock(), policy);
  EXPECT_NE(m.error.find("nan"), std::string::npos) << m.error;
}

// The isolated session: crash, abort, exit and hang each become a failed record with the
// reason, and the benchmark after them on another device still runs.
TEST(PluginIsolation, CrashesAndHangsBecomeFailedRecordsAndTheRunGoesOn) {
  loads();
  const auto system = xpb::describe_system();
  auto plan = xpb::plan_from_json({{"workload", "memory.bandwidth"},
                                   {"params", {{"kernel", "write"}, {"array_bytes", 1 << 20}, {"threads", 1}, {"dtype", "f32"}}},
                                   {"policy", {{"max_seconds", 0.2}, {"min_seconds", 0.05}}}},
                                  system);
  auto devices = xpb::open_devices({"plugin:broken_run_segv", "plugin:broken_run_abort", "plugin:broken_run_exit",
                                    "plugin:broken_run_hang", "plugin:minimal"});
  xpb::SessionOptions opts;
  opts.isolate = true;
  opts.isolate_timeout_s = 2;
  const auto result = xpb::run_session(plan, devices, system, opts);
  const auto& b = result.document["benchmarks"];
  ASSERT_EQ(b.size(), 5u);
  const auto reason = [&](int i) { return b[i].value("reason", ""); };
  EXPECT_EQ(b[0]["status"], "failed");
  EXPECT_NE(reason(0).find("signal 11"), std::string::npos) << reason(0);
  EXPECT_NE(reason(1).find("signal 6"), std::string::npos) << reason(1);
  EXPECT_NE(reason(2).find("exited with status 3"), std::string::npos) << reason(2);
  EXPECT_NE(reason(3).find("did not finish within 2 s"), std::string::npos) << reason(3);
  EXPECT_EQ(b[4]["status"], "passed") << b[4].dump();
  EXPECT_EQ(b[4]["details"]["isolated"], true);
  EXPECT_EQ(result.failed, 4u);
}

TEST(PluginAbiKit, PassesTheWorkingPluginAndCatchesTheLeak) {
  loads();
  for (const auto& c : xpb::check_plugin_abi("plugin:minimal")) EXPECT_TRUE(c.passed) << c.name << ": " << c.detail;
  bool leak_found = false;
  for (const auto& c : xpb::check_plugin_abi("plugin:broken_leak"))
    if (c.name == "releasing every handle gives the memory back") leak_found = !c.passed;
  EXPECT_TRUE(leak_found);
  EXPECT_THROW(xpb::check_plugin_abi("cpu"), std::invalid_argument);
}

TEST(PluginConform, PassesWhatItClaimsAndFailsOnACrash) {
  loads();
  const auto system = xpb::describe_system();
  auto minimal = xpb::open_devices({"plugin:minimal"});
  xpb::ConformOptions opts;
  opts.workloads = false;
  const auto good = xpb::run_conform(minimal.front(), system, opts);
  EXPECT_TRUE(good.passed());
  std::size_t passed = 0, unclaimed = 0;
  for (const auto& r : good.rows) {
    passed += r.kind == "op" && r.outcome.passed() ? 1 : 0;
    unclaimed += r.kind == "op" && !r.claimed && r.outcome.status == xpb::Status::unsupported ? 1 : 0;
  }
  EXPECT_EQ(passed, 24u);  // copy and write_fill, f32 and f64, 6 cases each
  EXPECT_GT(unclaimed, 50u);

  auto segv = xpb::open_devices({"plugin:broken_run_segv"});
  const auto bad = xpb::run_conform(segv.front(), system, opts);
  EXPECT_FALSE(bad.passed());
  bool named = false;
  for (const auto& r : bad.rows)
    named = named || (r.kind == "op" && r.op == "copy" && r.outcome.reason.find("signal 11") != std::string::npos);
  EXPECT_TRUE(named);
}

}  // namespace
