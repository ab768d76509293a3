// An out-of-tree program using the installed library through its public API only (the
// library hides everything else): lists what is registered, runs a graph on the ref device
// through the runner, and one benchmark through the session's entry points, in memory.
#include <cstdio>
#include <string>

#include <xpubench/registry.hpp>
#include <xpubench/runner.hpp>
#include <xpubench/session.hpp>
#include <xpubench/system_probe.hpp>

int main() {
  std::string drivers, workloads;
  for (const auto& n : xpb::DriverRegistry::instance().names()) drivers += " " + n;
  for (const auto& n : xpb::WorkloadRegistry::instance().names()) workloads += " " + n;
  std::printf("drivers:%s\nworkloads:%s\n", drivers.c_str(), workloads.c_str());

  xpb::Graph g;
  auto a = g.add_tensor({"a", {4096}, xpb::DType::f64, xpb::TensorRole::input, xpb::TensorInit::filled(1)});
  auto b = g.add_tensor({"b", {4096}, xpb::DType::f64, xpb::TensorRole::input, xpb::TensorInit::filled(2)});
  auto c = g.add_tensor({"c", {4096}, xpb::DType::f64, xpb::TensorRole::output, {}});
  g.add_node(xpb::Op::triad, {a, b}, {c}, {{"scalar", 3.0}});
  auto devices = xpb::open_devices({"ref"});
  if (devices.size() != 1) return 1;
  auto& device = *devices[0].device;
  auto compiled = device.compile(g, xpb::CompileOptions{});
  if (!compiled.outcome.passed()) return 1;
  xpb::RunPolicy policy;
  policy.max_samples = 5;
  const auto m = xpb::measure(*compiled.exe, device.clock(), policy);
  const auto per_run = m.per_iteration_seconds();
  std::printf("triad on ref: %zu samples, first %.3g s per run\n", per_run.size(), per_run.empty() ? 0.0 : per_run[0]);
  if (per_run.empty()) return 1;

  const auto system = xpb::describe_system();
  auto plan = xpb::plan_from_json(
      {{"workload", "memory.bandwidth"}, {"params", {{"kernel", "copy"}, {"threads", 1}, {"array_bytes", "1MiB"}}}},
      system);
  for (auto& item : plan) item.policy = policy;
  xpb::Session session(plan, devices, system, {});
  const auto record = session.run(0, 0);
  std::printf("memory.bandwidth copy on ref: %s\n", record["status"].get<std::string>().c_str());
  return record["status"] == "passed" ? 0 : 1;
}
