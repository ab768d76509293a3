#include "xpubench/submission.hpp"

#include <fstream>
#include <sstream>

#include "xpubench/error.hpp"
#include "xpubench/integrity.hpp"
#include "xpubench/result_writer.hpp"
#include "xpubench/suite.hpp"

namespace xpb {
namespace {

namespace fs = std::filesystem;

std::string text_of(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

// The machine's description must say what it is: a figure from an undescribed machine cannot be
// compared with anything.
void check_system(const nlohmann::json& system, std::vector<Problem>& out) {
  for (const char* key : {"hostname", "os", "kernel", "arch", "cpu_model", "cpu_vendor", "compiler", "build_type",
                          "xpubench_version", "git_revision"})
    if (text_of(system, key).empty()) out.push_back({std::string("/system/") + key, "missing or empty"});
  const auto& topo = system.is_object() && system.contains("topology") ? system["topology"] : nlohmann::json();
  if (!topo.is_object() || !topo.contains("pus") || !topo["pus"].is_number() || topo["pus"].get<double>() < 1)
    out.push_back({"/system/topology", "no topology (processing units, caches, NUMA nodes)"});
  const auto& mem = system.is_object() && system.contains("memory") ? system["memory"] : nlohmann::json();
  if (!mem.is_object() || !mem.contains("total_bytes") || !mem["total_bytes"].is_number() ||
      mem["total_bytes"].get<double>() <= 0)
    out.push_back({"/system/memory", "no memory size"});
  if (text_of(system, "build_type") != "Release" && !text_of(system, "build_type").empty())
    out.push_back({"/system/build_type", "xpubench was built " + text_of(system, "build_type") +
                                             "; a submission is measured with a Release build"});
}

}  // namespace

SubmissionRules shipped_submission_rules() {
  SubmissionRules rules;
  const Suite standard = resolve_suite("standard");
  if (standard.files.empty()) throw InputError("the standard suite was not found on the suite search path");
  for (const auto& [path, text] : standard.files) rules.shipped_suites[path.filename().string()] = sha256_hex(text);
  return rules;
}

std::vector<Problem> check_submission(const nlohmann::json& doc, const SubmissionRules& rules) {
  auto out = validate_result(doc);
  if (!doc.is_object()) return out;
  const auto& run = doc.contains("run") && doc["run"].is_object() ? doc["run"] : nlohmann::json::object();
  if (text_of(run, "status") != "complete")
    out.push_back({"/run/status", "the run is " + text_of(run, "status") + "; a submission is a complete run"});
  if (run.value("quick", false)) out.push_back({"/run/quick", "a --quick run; a submission runs the full suite"});
  if (run.value("suites", nlohmann::json::array()) != nlohmann::json::array({"standard"}))
    out.push_back({"/run/suites", "ran " + run.value("suites", nlohmann::json::array()).dump() +
                                      "; a submission runs the standard suite alone"});
  if (run.contains("overrides") && run["overrides"].is_object() && !run["overrides"].empty())
    out.push_back({"/run/overrides", "--set " + run["overrides"].dump() +
                                         ": a submission runs the suite's own parameters, seeds and policy"});
  // The suites, as shipped: each file the run read must be one of this xpubench's, unchanged.
  const auto& files = run.contains("suite_files") && run["suite_files"].is_object() ? run["suite_files"]
                                                                                     : nlohmann::json::object();
  if (files.empty()) out.push_back({"/run/suite_files", "the run does not record the suite files it read"});
  for (const auto& [name, sha] : rules.shipped_suites) {
    if (!files.contains(name)) {
      if (!files.empty()) out.push_back({"/run/suite_files", name + " was not read"});
    } else if (files[name] != sha) {
      out.push_back({"/run/suite_files/" + name, "differs from the " + name + " this xpubench ships (modified suite)"});
    }
  }
  for (const auto& [name, sha] : files.items())
    if (!rules.shipped_suites.count(name)) out.push_back({"/run/suite_files/" + name, "is not one of the shipped suites"});
  check_system(doc.value("system", nlohmann::json::object()), out);
  if (doc.contains("benchmarks") && doc["benchmarks"].is_array()) {
    const auto& bs = doc["benchmarks"];
    for (std::size_t i = 0; i < bs.size(); ++i) {
      const auto& b = bs[i];
      if (!b.is_object()) continue;
      const std::string where = "/benchmarks/" + std::to_string(i);
      const std::string status = text_of(b, "status");
      if (status == "failed" || status == "mistrusted" || status == "invalid" || status == "interrupted")
        out.push_back({where, text_of(b, "id") + " is " + status + ": " + text_of(b, "reason")});
      if (b.contains("valid") && b["valid"] == false)
        out.push_back({where, text_of(b, "id") + " missed its run policy: " + text_of(b, "invalid_reason")});
    }
  }
  const auto integrity = verify_integrity(doc);
  if (!integrity.is_signed) out.push_back({"/integrity/signature", "not signed (xpubench sign RESULT --key KEY)"});
  return out;
}

std::vector<Problem> check_submission_dir(const fs::path& dir, const SubmissionRules& rules) {
  std::vector<Problem> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {{dir.string(), "not a directory"}};
  const auto result_path = dir / "result.json", system_path = dir / "system.json", logs = dir / "logs";
  std::vector<fs::path> keys;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".pub") keys.push_back(it->path());
  if (!fs::is_regular_file(result_path, ec)) out.push_back({result_path.string(), "missing (the signed result)"});
  if (!fs::is_regular_file(system_path, ec))
    out.push_back({system_path.string(), "missing (`xpubench info --json` on the machine that ran)"});
  if (!fs::is_directory(logs, ec) || fs::is_empty(logs, ec))
    out.push_back({logs.string(), "missing or empty (the run's output: xpubench run ... 2>&1 | tee logs/run.log)"});
  if (keys.size() != 1)
    out.push_back({dir.string(), std::to_string(keys.size()) + " public keys (*.pub); expected the one that signed"});
  if (!fs::is_regular_file(result_path, ec)) return out;
  nlohmann::json doc;
  try {
    doc = load_result(result_path);
  } catch (const std::exception& e) {
    out.push_back({result_path.string(), e.what()});
    return out;
  }
  for (auto& p : check_submission(doc, rules)) out.push_back({result_path.string() + ":" + p.where, p.what});
  if (keys.size() == 1) {
    std::ifstream in(keys[0]);
    std::string key;
    std::getline(in, key);
    for (const auto& p : verify_integrity(doc, key).problems)
      if (p.rfind("signature", 0) == 0) out.push_back({keys[0].string(), p});
  }
  if (fs::is_regular_file(system_path, ec)) {
    try {
      std::ifstream in(system_path);
      std::stringstream ss;
      ss << in.rdbuf();
      const auto info = nlohmann::json::parse(ss.str());
      const auto& sys = info.contains("system") ? info["system"] : info;
      for (const char* key : {"hostname", "cpu_model", "kernel"})
        if (text_of(sys, key) != text_of(doc.value("system", nlohmann::json::object()), key))
          out.push_back({system_path.string(), std::string(key) + " '" + text_of(sys, key) +
                                                   "' is not the result's '" +
                                                   text_of(doc.value("system", nlohmann::json::object()), key) + "'"});
    } catch (const nlohmann::json::exception&) {
      out.push_back({system_path.string(), "not JSON (expected the output of `xpubench info --json`)"});
    }
  }
  return out;
}

}  // namespace xpb
