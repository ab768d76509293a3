// A run from suites to a result document: the plan (suite entries x parameter grid x
// devices, each with its run policy) and its execution, one benchmark at a time, every
// record journaled as soon as it is measured.
#pragma once
#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/device.hpp"
#include "xpubench/result.hpp"
#include "xpubench/runner.hpp"
#include "xpubench/suite.hpp"
#include "xpubench/system.hpp"

namespace xpb {

struct PlanItem {
  std::string suite;
  std::string workload;
  nlohmann::json params;  // one point: every parameter has one value
  RunPolicy policy;
  std::string where;      // the suite entry it came from
};

// Expands suites into plan items: defaults filled, grids multiplied out, --set overrides
// applied, each workload's expand() run. Throws InputError (naming file:line:column) for an
// unknown workload, an unknown parameter, a value outside a parameter's choices, an override
// that no selected workload accepts, or a bad run-policy value.
std::vector<PlanItem> make_plan(const std::vector<Suite>& suites, bool quick,
                                const std::vector<Override>& overrides, const SystemInfo& system);

// The devices a run uses. An empty `wanted` means every device of every driver except `ref`
// (the oracle, which takes part in conformance checks anyway). Throws InputError for a name
// that matches no device, listing the devices there are.
struct OpenDevice {
  std::unique_ptr<Device> device;
  std::string id;
};
std::vector<OpenDevice> open_devices(const std::vector<std::string>& wanted);
// Every device of every registered driver, opened or not.
std::vector<DeviceInfo> all_devices();

struct SessionOptions {
  std::filesystem::path output;                 // result document path
  nlohmann::json run_info = nlohmann::json::object();  // command, suites, quick, overrides
  const std::atomic<bool>* cancel = nullptr;
  // Called before and after each benchmark (for progress display).
  std::function<void(std::size_t index, std::size_t total, const PlanItem&, const std::string& device)> on_start;
  std::function<void(std::size_t index, std::size_t total, const BenchmarkRecord&)> on_done;
};

struct SessionResult {
  nlohmann::json document;
  bool interrupted = false;
  std::size_t failed = 0;  // records with status failed or mistrusted
};

// Runs every plan item on every device. Records are journaled as they finish; the document is
// written atomically at the end (or when interrupted). An exception thrown by a workload is
// caught and recorded as `failed` with its message; the run goes on.
SessionResult run_session(const std::vector<PlanItem>& plan, std::vector<OpenDevice>& devices,
                          const SystemInfo& system, const SessionOptions& options);

}  // namespace xpb
