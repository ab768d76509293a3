// Workloads: turn parameters into graphs, run them on a device through the runner, and say
// what the figures mean (DESIGN.md §5). Every workload has this one shape.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/device.hpp"
#include "xpubench/result.hpp"
#include "xpubench/runner.hpp"
#include "xpubench/system.hpp"

namespace xpb {

// A parameter a workload accepts. `default_value` is used when a suite does not give one;
// `choices`, when not empty, lists every accepted value.
struct ParamSpec {
  std::string name;
  std::string help;
  nlohmann::json default_value;
  std::vector<std::string> choices;
};

// What a workload needs while it runs: the device, the machine, the policy, a way to stop.
struct RunContext {
  Device& device;
  const SystemInfo& system;
  RunPolicy policy;
  EnergySensor* energy = nullptr;             // may be null
  const std::atomic<bool>* cancel = nullptr;  // set on Ctrl-C
  Device* reference = nullptr;                // the `ref` device, for conformance checks

  bool cancelled() const { return cancel != nullptr && cancel->load(std::memory_order_relaxed); }
};

class Workload {
 public:
  virtual ~Workload() = default;
  virtual std::string name() const = 0;         // e.g. "memory.bandwidth"
  virtual std::string description() const = 0;
  virtual std::vector<ParamSpec> params() const = 0;

  // One parameter point may stand for several benchmarks (e.g. a size sweep given as "auto"
  // becomes one point per size, sized from the caches). Defaults are filled in before this.
  // Throws InputError for values it cannot accept.
  virtual std::vector<nlohmann::json> expand(const nlohmann::json& params,
                                             const SystemInfo& system) const {
    (void)system;
    return {params};
  }

  // Runs one benchmark. Expected failures (unsupported op, wrong output) are data in the
  // record, not exceptions.
  virtual BenchmarkRecord run(const nlohmann::json& params, RunContext& ctx) = 0;
};

}  // namespace xpb
