// `xpubench conform` (DESIGN.md §8): is a device's output right? Every op x dtype case of the
// catalogue (op_catalogue.hpp), the workload checks of suites/conform.yaml, and for a plugin
// the ABI test kit, each against the contract or `ref`, each a row of the report. A device
// passes when everything it claims (DeviceCaps::claims) passes, every workload check it can
// run passes, and the ABI kit passes: refusing what it does not claim is fine; refusing what
// it claims, or computing anything wrong, is not.
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/export.hpp"
#include "xpubench/session.hpp"
#include "xpubench/status.hpp"

namespace xpb {

struct XPB_API ConformRow {
  std::string kind;   // "abi", "op" or "workload"
  std::string name;   // the ABI check, the case ("matmul q8_0 x[5,96] W[40,96]"), the benchmark id
  std::string op;     // op rows: the op and the dtype the case is about
  std::string dtype;
  bool claimed = true;  // op rows: whether the device claims op x dtype
  Outcome outcome;      // passed / failed (worst error and where) / unsupported / skipped, with the reason
  double max_abs_error = 0;  // op rows: largest |device - ref|
  double rms_rel_error = 0;  // op rows: RMS(device - ref) / RMS(ref)
  double seconds = 0;        // host time the row took
  // Whether this row keeps the device from passing.
  bool fails_device() const;
  nlohmann::json to_json() const;
};

struct ConformOptions {
  // Each case and each workload check in a fork()ed child (isolation.hpp), for devices that
  // allow it (plugins): a crash or hang is a failed row. On by default, as a CI job gating a
  // driver needs.
  bool isolate = true;
  double timeout_s = 120;  // per isolated row, host time
  bool workloads = true;   // run suites/conform.yaml too (off: op cases only)
  const std::atomic<bool>* cancel = nullptr;
  // The ABI checks of a plugin device (plugins.hpp check_plugin_abi, as JSON rows
  // {name, passed, detail}); empty for other devices. Run in a child when isolating.
  std::function<nlohmann::json()> abi_checks;
  std::function<void(const ConformRow&)> on_row;  // progress
};

struct XPB_API ConformReport {
  std::string device;
  nlohmann::json device_info;  // as the result document describes devices
  std::vector<ConformRow> rows;
  bool interrupted = false;
  bool passed() const;
  nlohmann::json to_json() const;
};

// Runs everything above on `device` against a `ref` device opened here. Throws InputError when
// ref cannot be opened or suites/conform.yaml cannot be read.
XPB_API ConformReport run_conform(OpenDevice& device, const SystemInfo& system, const ConformOptions& options);

}  // namespace xpb
