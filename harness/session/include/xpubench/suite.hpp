// Suite files (suites/*.yaml): which workloads to run with which parameter grids and run
// policy. Parsed with yaml-cpp; every error names file:line:column and what was expected.
//
//   suite: memory
//   description: ...
//   policy:        { min_seconds: 0.5, max_seconds: 3, ... }   # RunPolicy keys
//   quick_policy:  { ... }                                     # used with --quick
//   benchmarks:
//     - workload: memory.bandwidth
//       params:       { kernel: [copy, triad], threads: scaling }  # a list is a grid axis
//       quick_params: { array_bytes: 64MiB }                        # overrides with --quick
//   include: [memory]          # appends the benchmarks of other suites (standard.yaml)
//   quick: true                # always the quick variants (quick.yaml)
//   devices: [photonic-sim,dac_bits=4, ...]   # the devices it runs on when --device is not
//                              # given (--device syntax: a design-space sweep over simulators)
//
// An entry may add `only_on: [hc1-sim, ...]`: of the run's devices, it runs only on those named
// (by id as given, id, driver or kind), as an 8B model on the chip that hardwires it in a quick
// run, where making its weights for the cpu would be no quick run.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/export.hpp"
#include "xpubench/runner.hpp"

namespace xpb {

struct SuiteEntry {
  std::string workload;
  nlohmann::json params = nlohmann::json::object();        // value or list per key
  nlohmann::json quick_params = nlohmann::json::object();
  // The run policy of the suite that defines the entry, with the policy of a suite that
  // includes it laid over it (so standard.yaml can tighten or relax every family at once).
  nlohmann::json policy = nlohmann::json::object();
  nlohmann::json quick_policy = nlohmann::json::object();
  std::string where;  // "file:line:column" of the entry, for error messages
  std::map<std::string, std::string> param_where;  // key -> "file:line:column" of its value
  std::vector<std::string> only_on;  // `only_on`: the devices it is limited to; empty: all
};

struct Suite {
  std::string name;
  std::string description;
  std::filesystem::path file;
  nlohmann::json policy = nlohmann::json::object();
  nlohmann::json quick_policy = nlohmann::json::object();
  bool quick = false;  // `quick: true`: always use the quick variants (quick.yaml)
  // Devices (--device syntax) to run on when the command line names none; empty: the default
  // device set. Not inherited through `include`.
  std::vector<std::string> devices;
  std::vector<SuiteEntry> entries;
  // Every file read to make it, this one first, then its includes: (path, text), so a run can
  // record what it ran (the SHA-256 of each, run.suite_files).
  std::vector<std::pair<std::filesystem::path, std::string>> files;
};

// The most values, entries and includes one suite may hold once YAML aliases and includes are
// expanded: a suite is a few hundred; a file whose aliases or includes would expand past this
// (a "billion laughs" file) is refused with the position where the limit was reached, before
// it can take the memory or the time.
inline constexpr std::size_t kMaxSuiteValues = 100000;

// Throws InputError naming file:line:column on malformed YAML, unknown keys, wrong types or a
// file that expands past kMaxSuiteValues; naming the file and the reason when it cannot be
// read (the OS's reason, a directory, not a regular file: a FIFO is never opened).
XPB_API Suite load_suite(const std::filesystem::path& file);
XPB_API Suite parse_suite(const std::string& text, const std::string& file_name);

// A suite made of one workload with its defaults (`xpubench run memory.latency`).
XPB_API Suite single_workload_suite(const std::string& workload);

// What `xpubench run NAME` means: a .yaml/.yml path, a suite name found on the search path,
// or a workload name. Throws InputError saying which of these were tried.
XPB_API Suite resolve_suite(const std::string& name);

// The suites on the search path (regular *.yaml files only; the first of each name), each
// loaded, or with the reason it could not be.
struct SuiteListing {
  std::string name;
  std::filesystem::path file;
  std::string description;
  std::size_t entries = 0;
  std::string error;  // not empty: the file could not be loaded
};
XPB_API std::vector<SuiteListing> list_suites();

// A "key=value" override from --set. `value` is parsed as YAML (so 2, 0.5, true, [1, 2] and
// 64MiB all work). Keys starting with "policy." override the run policy.
struct Override {
  std::string key;
  nlohmann::json value;
};
XPB_API Override parse_override(const std::string& text);  // throws InputError

// Directories searched for suite names ("memory" -> memory.yaml): $XPB_SUITE_PATH entries,
// the source tree's suites/ (for a build tree), then the installed share/xpubench/suites.
XPB_API std::vector<std::filesystem::path> suite_search_path();
XPB_API std::filesystem::path find_suite(const std::string& name);  // empty when not found

}  // namespace xpb
