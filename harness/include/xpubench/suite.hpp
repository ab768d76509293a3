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
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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
};

struct Suite {
  std::string name;
  std::string description;
  std::filesystem::path file;
  nlohmann::json policy = nlohmann::json::object();
  nlohmann::json quick_policy = nlohmann::json::object();
  bool quick = false;  // `quick: true`: always use the quick variants (quick.yaml)
  std::vector<SuiteEntry> entries;
};

// Throws InputError naming file:line:column on malformed YAML, unknown keys or wrong types.
Suite load_suite(const std::filesystem::path& file);
Suite parse_suite(const std::string& text, const std::string& file_name);

// A suite made of one workload with its defaults (`xpubench run memory.latency`).
Suite single_workload_suite(const std::string& workload);

// A "key=value" override from --set. `value` is parsed as YAML (so 2, 0.5, true, [1, 2] and
// 64MiB all work). Keys starting with "policy." override the run policy.
struct Override {
  std::string key;
  nlohmann::json value;
};
Override parse_override(const std::string& text);  // throws InputError

// Sizes: "64MiB", "4 KiB", "1.5GB", 4096 -> bytes. Throws InputError with `where`.
std::uint64_t parse_bytes(const nlohmann::json& v, const std::string& where);

// Directories searched for suite names ("memory" -> memory.yaml): $XPB_SUITE_PATH entries,
// the source tree's suites/ (for a build tree), then the installed share/xpubench/suites.
std::vector<std::filesystem::path> suite_search_path();
std::filesystem::path find_suite(const std::string& name);  // empty when not found

}  // namespace xpb
