// An out-of-tree program using the installed harness: lists what is registered, builds a
// graph, runs it on the ref device through the runner, prints the median.
#include <cstdio>
#include <string>

#include <xpubench/registry.hpp>
#include <xpubench/runner.hpp>

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
  auto driver = xpb::DriverRegistry::instance().create("ref");
  auto device = driver->open(driver->enumerate().at(0));
  auto compiled = device->compile(g, {});
  if (!compiled.outcome.passed()) return 1;
  xpb::RunPolicy policy;
  policy.max_samples = 5;
  const auto m = xpb::measure(*compiled.exe, policy);
  const auto per_run = m.per_iteration_seconds();
  std::printf("triad on ref: %zu samples, first %.3g s per run\n", per_run.size(), per_run.empty() ? 0.0 : per_run[0]);
  return per_run.empty() ? 1 : 0;
}
