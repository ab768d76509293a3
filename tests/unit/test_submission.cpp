// The run rules of a submission (`validate --submission`): a signed, complete, full run of the
// standard suite as shipped, on a described machine, every benchmark valid; and the directory.
#include "xpubench/submission.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "xpubench/integrity.hpp"
#include "xpubench/result.hpp"
#include "xpubench/result_writer.hpp"
#include "xpubench/system_probe.hpp"

namespace xpb {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

SystemInfo described_machine() {
  SystemInfo sys;
  sys.hostname = "bench";
  sys.os = "Debian GNU/Linux 12 (bookworm)";
  sys.kernel = "6.1.0";
  sys.arch = "x86_64";
  sys.cpu_model = "Example CPU";
  sys.cpu_vendor = "GenuineIntel";
  sys.topology.packages = 1;
  sys.topology.cores = 2;
  sys.topology.pus = 2;
  sys.memory.total_bytes = 1ull << 33;
  sys.compiler = "GNU 12.2.0";
  sys.build_type = "Release";
  sys.git_revision = "abc123";
  sys.xpubench_version = "0.1.0";
  return sys;
}

// What a run of the standard suite writes, cut down to one benchmark: complete, not quick, no
// overrides, the suite files as shipped.
json standard_run(const SubmissionRules& rules) {
  json suite_files = json::object();
  for (const auto& [name, sha] : rules.shipped_suites) suite_files[name] = sha;
  json run = {{"id", "20261201T000000Z-00000001"}, {"status", "complete"}, {"started", "2026-12-01T00:00:00Z"},
              {"finished", "2026-12-01T01:00:00Z"}, {"xpubench_version", "0.1.0"}, {"git_revision", "abc123"},
              {"command", {"xpubench", "run", "standard"}}, {"suites", {"standard"}}, {"suite_files", suite_files},
              {"quick", false}, {"overrides", json::object()}, {"config_hash", "fnv1a64:0"},
              {"policy", RunPolicy{}.to_json()}};
  json devices = json::array({{{"id", "cpu"}, {"driver", "cpu"}, {"name", "Example CPU"}, {"kind", "cpu"},
                               {"simulated", false}, {"clock", "host"}, {"properties", json::object()},
                               {"energy", {{"available", false}, {"reason", "no powercap"}}}}});
  json header = {{"schema", kResultSchema}, {"run", run}, {"system", described_machine().to_json()}, {"devices", devices}};
  Measurement m;
  m.iterations = 4;
  m.sample_seconds = {0.0102, 0.0100, 0.0101, 0.0104, 0.0100, 0.0099, 0.0103};
  m.energy.reason = "no powercap";
  BenchmarkRecord r;
  r.workload = "memory.bandwidth";
  r.device = "cpu";
  r.params = {{"kernel", "triad"}};
  r.id = benchmark_id(r.workload, r.device, r.params);
  r.metrics.push_back(Metric::from(m, "bandwidth", "GB/s", Direction::higher_is_better, [](double s) { return 1 / s; }));
  r.timing = m.to_json();
  r.energy = to_json(m.energy);
  r.started_unix = 1764547200;
  return assemble_result(header, {r.to_json()}, "complete");
}

std::string problems_text(const std::vector<Problem>& ps) {
  std::string s;
  for (const auto& p : ps) s += p.where + ": " + p.what + "\n";
  return s;
}

TEST(Submission, ASignedStandardRunIsValidAndEachBrokenRuleIsNamed) {
  const auto rules = shipped_submission_rules();
  ASSERT_TRUE(rules.shipped_suites.count("standard.yaml"));
  ASSERT_TRUE(rules.shipped_suites.count("memory.yaml"));  // its includes too
  const auto keys = generate_key_pair();
  const json good = sign_result(standard_run(rules), keys.secret_key);
  EXPECT_TRUE(check_submission(good, rules).empty()) << problems_text(check_submission(good, rules));

  auto broken = [&](const std::function<void(json&)>& edit) {
    json doc = standard_run(rules);
    edit(doc);
    doc["integrity"] = integrity_of(doc);  // re-sealed, so only the rule is at fault
    return problems_text(check_submission(sign_result(doc, keys.secret_key), rules));
  };
  EXPECT_NE(broken([](json& d) { d["run"]["quick"] = true; }).find("/run/quick"), std::string::npos);
  EXPECT_NE(broken([](json& d) { d["run"]["overrides"] = {{"seed", 7}}; }).find("/run/overrides: --set"), std::string::npos);
  EXPECT_NE(broken([](json& d) { d["run"]["suite_files"]["memory.yaml"] = std::string(64, 'a'); })
                .find("/run/suite_files/memory.yaml: differs from the memory.yaml this xpubench ships"),
            std::string::npos);
  EXPECT_NE(broken([](json& d) { d["run"]["suites"] = {"memory"}; }).find("/run/suites"), std::string::npos);
  EXPECT_NE(broken([](json& d) { d["system"]["cpu_model"] = ""; }).find("/system/cpu_model: missing or empty"),
            std::string::npos);
  EXPECT_NE(broken([](json& d) { d["system"]["build_type"] = "Debug"; }).find("a Release build"), std::string::npos);
  EXPECT_NE(broken([](json& d) {
              d["benchmarks"][0]["valid"] = false;
              d["benchmarks"][0]["invalid_reason"] = "3 of 5 samples";
            }).find("missed its run policy: 3 of 5 samples"),
            std::string::npos);
  // Not signed.
  EXPECT_NE(problems_text(check_submission(standard_run(rules), rules)).find("/integrity/signature: not signed"),
            std::string::npos);
}

TEST(Submission, TheDirectoryNeedsEveryPartAndTheRightKey) {
  const auto rules = shipped_submission_rules();
  std::random_device rd;
  const fs::path dir = fs::temp_directory_path() / ("xpb-submission-" + std::to_string(rd()));
  fs::create_directories(dir / "logs");
  const auto keys = generate_key_pair();
  const json doc = sign_result(standard_run(rules), keys.secret_key);
  std::ofstream(dir / "result.json") << doc.dump(1);
  std::ofstream(dir / "system.json") << json{{"system", described_machine().to_json()}}.dump();
  std::ofstream(dir / "logs" / "run.log") << "xpubench: 1 benchmark(s) on 1 device(s)\n";
  std::ofstream(dir / "vendor.pub") << keys.public_key << "\n";
  EXPECT_TRUE(check_submission_dir(dir, rules).empty()) << problems_text(check_submission_dir(dir, rules));

  std::ofstream(dir / "vendor.pub") << generate_key_pair().public_key << "\n";  // another vendor's key
  EXPECT_NE(problems_text(check_submission_dir(dir, rules)).find("not by the key given"), std::string::npos);
  std::ofstream(dir / "vendor.pub") << keys.public_key << "\n";
  std::ofstream(dir / "system.json") << json{{"system", {{"hostname", "other"}}}}.dump();
  EXPECT_NE(problems_text(check_submission_dir(dir, rules)).find("hostname 'other' is not the result's 'bench'"),
            std::string::npos);
  fs::remove_all(dir / "logs");
  fs::remove(dir / "system.json");
  const auto text = problems_text(check_submission_dir(dir, rules));
  EXPECT_NE(text.find("logs: missing or empty"), std::string::npos) << text;
  EXPECT_NE(text.find("system.json: missing"), std::string::npos) << text;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace xpb
