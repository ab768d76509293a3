// A run from suites to a result document (DESIGN.md §1): the plan (suite entries x parameter
// grid x devices, each with its run policy), the devices, and the session that runs one
// benchmark at a time through the workload template, journaling every record as soon as it is
// measured. These are the library's entry points: the CLI and the Python package call the
// same functions, and the CLI adds only parsing and printing.
#pragma once
#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/device.hpp"
#include "xpubench/export.hpp"
#include "xpubench/result.hpp"
#include "xpubench/runner.hpp"
#include "xpubench/suite.hpp"
#include "xpubench/system.hpp"

namespace xpb {

// --- planning ------------------------------------------------------------------------------------

struct PlanItem {
  std::string suite;
  std::string workload;
  nlohmann::json params;  // one point: every parameter has one value
  RunPolicy policy;
  std::string where;      // the suite entry it came from
  // The devices it is limited to (a suite entry's `only_on`: ids as given, ids, drivers or
  // kinds); empty: every device of the run. Two entries giving the same benchmark merge theirs.
  std::vector<std::string> only_on;
};

// Whether `item` runs on the device known in the run as `run_id` ("hc1-sim",
// "photonic-sim,dac_bits=4"): always when its only_on is empty, else when an entry of it is
// that id, the id before its options, info.id(), info.driver or info.kind.
XPB_API bool runs_on(const PlanItem& item, const std::string& run_id, const DeviceInfo& info);

// The most benchmarks one plan may expand to: a grid or an expansion past this is a mistake
// (a typo'd list, a hostile file), refused before anything is allocated for it.
inline constexpr std::size_t kMaxPlanItems = 100000;

// Expands suites into plan items: defaults filled, grids multiplied out, --set overrides
// applied, each workload's expand() run. Throws InputError (naming file:line:column) for an
// unknown workload, an unknown parameter, a value outside a parameter's choices or that can
// only be wrong, an empty grid axis, an override that no selected workload accepts, a bad
// run-policy value, or a plan of more than kMaxPlanItems benchmarks.
XPB_API std::vector<PlanItem> make_plan(const std::vector<Suite>& suites, bool quick,
                                        const std::vector<Override>& overrides, const SystemInfo& system);

// A plan from plain data (a Python dict): {"workload": NAME, "params": {...} (a list is a grid
// axis), "policy": {...}}, or a list of them. Checked as make_plan checks a suite; errors name
// the entry ("plan[2].params.kernel").
XPB_API std::vector<PlanItem> plan_from_json(const nlohmann::json& spec, const SystemInfo& system);

// --- devices -------------------------------------------------------------------------------------

// A device as the user names it: "cpu", "opencl:1", "hc1-sim,mode=timing-only".
struct DeviceSpec {
  std::string id;
  DeviceOptions options;
};
// Throws InputError for an empty id or an option that is not key=value.
XPB_API DeviceSpec parse_device_spec(const std::string& text);

// One driver and what it found. A driver that throws while enumerating is listed with the
// exception's message as its reason; it never stops `list` or `run`.
struct DriverStatus {
  std::string name;
  std::string description;
  std::vector<DeviceInfo> devices;
  std::string reason;  // why there are no devices (empty when there are)
};
XPB_API std::vector<DriverStatus> inventory();

struct OpenDevice {
  std::shared_ptr<Device> device;
  std::string id;
  DeviceOptions options;
};
// The devices a run uses. An empty `wanted` means every device of every driver except the
// reference ones (`ref`, the oracle, which takes part in conformance checks anyway; npu_ref); a device that fails to open is
// then skipped with a warning on stderr. A named device that does not exist, or that refuses
// its options, is an InputError listing what there is.
XPB_API std::vector<OpenDevice> open_devices(const std::vector<std::string>& wanted);

// --- running -------------------------------------------------------------------------------------

struct SessionOptions {
  // The result document; empty keeps the run in memory (no journal, no file).
  std::filesystem::path output;
  nlohmann::json run_info = nlohmann::json::object();  // command, suites, quick, overrides
  // Stops the run (the benchmark in progress within ~100 ms) when set, e.g. by a signal
  // handler; and when `should_stop` returns true (a deadline, a scheduler's cancel). Either may
  // be empty. `should_stop` is called every 20 ms from a watcher thread of the session, not the
  // caller's: it must be safe to call from there, and one that throws stops the run. (A
  // Python caller's Ctrl-C reaches only Python's main thread: a binding sets `cancel` from a
  // C signal handler instead.)
  const std::atomic<bool>* cancel = nullptr;
  std::function<bool()> should_stop;
  // Each benchmark on a device that allows it (DeviceInfo::isolatable: plugins) runs in a
  // fork()ed child process: a crash, exit() or hang in the driver becomes a failed record
  // naming the signal or the timeout, and the run goes on. Device time is the device's own
  // either way; the host pays a fork (tens of microseconds, docs/PERFORMANCE.md).
  bool isolate = false;
  double isolate_timeout_s = 300;  // per benchmark, host time, from fork to the child's end
  // Energy (DESIGN.md §6). `energy_meter`: an external meter's spec ("fifo:PATH",
  // "tcp:127.0.0.1:PORT", make_meter_sensor), which then meters every device that is not
  // simulated; empty for none. `host_energy`: the sensor of what runs on the host's CPU
  // instead of the first available of RAPL and hwmon (a test's fake). Each sensor in use is
  // read for `idle_seconds` before the first benchmark (the idle baseline, MLPerf Power's);
  // 0 skips it (records then give gross energy only).
  std::string energy_meter;
  std::shared_ptr<EnergySensor> host_energy;
  double idle_seconds = 2;
  // Called before and after each benchmark (progress display).
  std::function<void(std::size_t index, std::size_t total, const PlanItem&, const std::string& device)> on_start;
  std::function<void(std::size_t index, std::size_t total, const nlohmann::json& record)> on_done;
};

struct SessionResult {
  nlohmann::json document;
  bool interrupted = false;  // the user stopped it: the document says run.status "interrupted"
  std::size_t failed = 0;    // records failed or mistrusted
  std::size_t invalid = 0;   // records with invalid parameters found only at run time
};

// A run in progress. Made with its plan, devices and machine; the constructor checks the
// output path, takes it (one writer per path) and starts the journal, so a path that cannot
// be written is an InputError before anything is measured.
class XPB_API Session {
 public:
  Session(std::vector<PlanItem> plan, std::vector<OpenDevice> devices, SystemInfo system, SessionOptions options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The run header: run (id, times, version, command, config hash, policy), system, devices.
  const nlohmann::json& header() const;
  // Runs one benchmark (the plan's item `item` on device `device`); the record is journaled
  // and kept, and returned as written.
  nlohmann::json run(std::size_t item, std::size_t device);
  // Runs every item on every device in plan order, until done or cancelled; then finish().
  SessionResult run_all();
  // The document of what ran, written (atomically) to the output when there is one. Throws
  // std::runtime_error naming the path when it cannot be written (the journal is kept).
  SessionResult finish();
  bool cancelled() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Session(plan, devices, system, options).run_all(): the CLI's `run`.
XPB_API SessionResult run_session(const std::vector<PlanItem>& plan, std::vector<OpenDevice>& devices,
                                  const SystemInfo& system, const SessionOptions& options);

}  // namespace xpb
