// Short labels for benchmark records (internal to reports/): of a workload's parameters, only
// those that tell its records apart, so a row reads "kernel=triad threads=2", not every
// parameter the workload has.
#pragma once
#include <map>
#include <set>
#include <span>
#include <string>

#include "report_format.hpp"
#include "xpubench/result_view.hpp"

namespace xpb::record_labels {

// workload -> the parameter keys whose value is not the same in all of its records (or that
// some of its records lack), over all the results given.
using Keys = std::map<std::string, std::set<std::string>>;

inline Keys distinguishing_keys(std::span<const ResultView> results) {
  std::map<std::string, std::map<std::string, std::set<std::string>>> values;  // workload -> key -> values
  std::map<std::string, std::map<std::string, std::size_t>> holding;          // workload -> key -> records
  std::map<std::string, std::size_t> records;
  for (const auto& result : results)
    for (const auto& b : result.benchmarks) {
      ++records[b.workload];
      for (const auto& [k, v] : b.params.items()) {
        values[b.workload][k].insert(v.dump());
        ++holding[b.workload][k];
      }
    }
  Keys keys;
  for (const auto& [workload, by_key] : values)
    for (const auto& [k, vs] : by_key)
      if (vs.size() > 1 || holding[workload][k] < records[workload]) keys[workload].insert(k);
  return keys;
}

// "kernel=triad threads=2": the record's distinguishing parameters but `except` (a chart's
// axis); empty when it has none.
inline std::string label(const BenchmarkView& b, const Keys& keys, const std::string& except = {}) {
  nlohmann::json shown = nlohmann::json::object();
  if (auto it = keys.find(b.workload); it != keys.end())
    for (const auto& k : it->second)
      if (k != except && b.params.contains(k)) shown[k] = b.params[k];
  return report_format::params_text(shown);
}

}  // namespace xpb::record_labels
