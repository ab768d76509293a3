// Workloads (DESIGN.md §5): every workload has one shape. Planning: params() and expand()
// turn a suite entry into benchmarks, rejecting any value that can only be wrong. Running:
// the harness's run_benchmark() calls, for one benchmark,
//
//   check -> build -> for each stage: compile, prepare, measure (sample...), verify -> metrics
//
// so a workload writes only what is its own: which graph, what a sample is, how its output is
// checked, which figures it gives. A Workload object lives for one benchmark (the registry
// makes a fresh one for each), so it may keep what build() learnt for metrics().
#pragma once
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/device.hpp"
#include "xpubench/export.hpp"
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

// Figures the session measures once per device and shares with every benchmark that needs
// them (no process-global cache): each is measured the first time it is asked for, kept for
// the rest of the session, and recorded with every record that used it.
class XPB_API SessionFacts {
 public:
  virtual ~SessionFacts() = default;
  struct ReadBandwidth {
    double gbps = 0;            // median of the samples
    nlohmann::json how;         // parameters, samples and statistics of the measurement
  };
  // Read bandwidth (memory.bandwidth kernel=read) of `device` on `threads` threads over an
  // array of at least `min_bytes` (or the largest that fits). Nothing, with `why`, when it
  // cannot be measured.
  virtual std::optional<ReadBandwidth> read_bandwidth(Device& device, int threads, std::uint64_t min_bytes,
                                                      std::string& why) = 0;
};

// What a benchmark needs while it runs: the device, the machine, the policy, a way to stop.
struct RunContext {
  Device& device;
  const SystemInfo& system;
  RunPolicy policy;
  EnergySensor* energy = nullptr;             // may be null
  const std::atomic<bool>* cancel = nullptr;  // set on Ctrl-C
  Device* reference = nullptr;                // the `ref` device, for conformance checks
  SessionFacts* facts = nullptr;              // may be null (then such figures are unknown)
  // What `energy` read while nothing ran (measured once per session per sensor, before the
  // first benchmark): records give energy gross and net of it. Unavailable when not measured.
  IdlePower idle;

  bool cancelled() const { return cancel != nullptr && cancel->load(std::memory_order_relaxed); }
};

// One graph of a benchmark, compiled and measured in turn (most benchmarks have one stage;
// memory.sweep has a bandwidth and a latency stage).
struct Stage {
  std::string name;             // "" for a single stage; else names its timing and conformance
  Graph graph;
  CompileOptions options;
  Bindings bindings;            // tensors bound to existing buffers (a model's weights)
  std::optional<RunPolicy> policy;  // instead of the run's (a fixed number of passes, ...)
  // The clock the stage's samples are timed on, instead of the device's: the host clock
  // (host_clock()) for what only the host sees whole (a transfer, a launch and its wait).
  std::optional<ClockInfo> clock;
};

class XPB_API Workload {
 public:
  virtual ~Workload() = default;
  virtual std::string name() const = 0;         // e.g. "memory.bandwidth"
  virtual std::string description() const = 0;
  virtual std::vector<ParamSpec> params() const = 0;

  // One parameter point may stand for several benchmarks (e.g. a size sweep given as "auto"
  // becomes one point per size, sized from the caches). Defaults are filled in before this.
  // Throws InputError for a value that can only be wrong, so the run stops (exit 2) before
  // anything is measured.
  virtual std::vector<nlohmann::json> expand(const nlohmann::json& params, const SystemInfo& system) const {
    (void)system;
    return {params};
  }

  // --- one benchmark (run_benchmark calls these in order) ------------------------------------
  // Whether this device can run the point at all (threads, free memory, a capability):
  // a non-passed outcome ends the benchmark with it. Called before anything is allocated.
  virtual Outcome check(const nlohmann::json& params, RunContext& ctx) {
    (void)params, (void)ctx;
    return Outcome::ok();
  }
  // The stages to compile and measure. May allocate on ctx.device (a model's weights, bound
  // into the stages); a non-passed outcome ends the benchmark with it.
  struct BuildResult {
    Outcome outcome;
    std::vector<Stage> stages;
  };
  virtual BuildResult build(const nlohmann::json& params, RunContext& ctx) = 0;
  // After a stage compiled, before it is measured, untimed: fill a KV cache to a depth, check
  // where memory went. A non-passed outcome ends the benchmark with it. `exe` is shared: a
  // workload may keep it (an engine that drives it) for as long as it needs it.
  virtual Outcome prepare(std::size_t stage, const std::shared_ptr<Executable>& exe, RunContext& ctx) {
    (void)stage, (void)exe, (void)ctx;
    return Outcome::ok();
  }
  // One sample: by default `iterations` runs of the graph; a workload whose sample is a
  // whole test (a prompt and its generated tokens, a serving scenario) drives it here.
  virtual RunResult sample(std::size_t stage, Executable& exe, const RunArgs& args) {
    (void)stage;
    return exe.run(args);
  }
  // The stage's output against what it must be (exact values, or ref): a conformance object
  // {status: passed|failed|mistrusted|skipped, method, ...; reason when not passed}.
  virtual nlohmann::json verify(std::size_t stage, Executable& exe, RunContext& ctx) = 0;
  // The figures, from the stages' measurements (in stage order), into `record` (metrics and
  // details). May set record.outcome (e.g. failed: memory errors found).
  virtual void metrics(const std::vector<Measurement>& measured, BenchmarkRecord& record, RunContext& ctx) = 0;
};

// Energy per unit of work (J/token, J/frame, J/GB): for each sample that has its own energy,
// its joules over the units it did (units_per_iteration x the sample's iterations), as metric
// `name` in `unit` (lower is better); beside it `name`_net, net of the idle power over the
// sample's seconds, where the idle baseline was measured and the energy is a sensor's (a
// model's energy has no idle to take off). The source is `modeled` for a device's modeled
// energy, else `measured`. Adds nothing when the samples have no energy of their own (no
// sensor, or one too slow to read per sample: the record's energy says which).
XPB_API void add_energy_per_unit(BenchmarkRecord& record, const Measurement& m, const IdlePower& idle,
                                 double units_per_iteration, const std::string& name, const std::string& unit);

// The harness's template run of one benchmark (above). Never throws: an exception from the
// workload or the device is recorded as `failed` with its message. The record's workload,
// device, params, id and times are filled in.
XPB_API BenchmarkRecord run_benchmark(Workload& workload, const nlohmann::json& params, RunContext& ctx);

}  // namespace xpb
