// The JSON Schema validator, the embedded result schema, and the run rules of
// `xpubench validate`.
#include "xpubench/validate.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "xpubench/result.hpp"
#include "xpubench/result_writer.hpp"
#include "xpubench/system.hpp"

namespace xpb {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

const fs::path kResults = fs::path(XPB_TEST_DATA_DIR) / "results";

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

std::vector<Problem> check(const json& instance, const json& schema) {
  return validate_against_schema(instance, schema);
}

bool reports(const std::vector<Problem>& problems, const std::string& where) {
  for (const auto& p : problems)
    if (p.where == where) return true;
  return false;
}

std::string describe(const std::vector<Problem>& problems) {
  std::string out;
  for (const auto& p : problems) out += "  " + (p.where.empty() ? "/" : p.where) + ": " + p.what + "\n";
  return out;
}

// --- the validator's keywords, each on a schema of its own ---------------------------------

TEST(SchemaKeywords, TypeDistinguishesEveryJsonType) {
  const std::pair<const char*, json> cases[] = {{"null", nullptr}, {"boolean", true},   {"object", json::object()},
                                                {"array", json::array()}, {"string", "s"}, {"number", 1.5}};
  for (const auto& [type, value] : cases)
    for (const auto& [other, other_value] : cases) {
      const bool same = std::string(type) == other;
      EXPECT_EQ(check(other_value, {{"type", type}}).empty(), same) << type << " vs " << other;
    }
}

TEST(SchemaKeywords, IntegerMeansAWholeValueHoweverWritten) {
  const json schema = {{"type", "integer"}};
  EXPECT_TRUE(check(3, schema).empty());
  EXPECT_TRUE(check(-3, schema).empty());
  EXPECT_TRUE(check(3.0, schema).empty());
  EXPECT_FALSE(check(3.5, schema).empty());
  EXPECT_FALSE(check("3", schema).empty());
  EXPECT_TRUE(check(3, {{"type", "number"}}).empty());
}

TEST(SchemaKeywords, TypeArrayAcceptsAnyListedType) {
  const json schema = {{"type", {"number", "null"}}};
  EXPECT_TRUE(check(1.5, schema).empty());
  EXPECT_TRUE(check(nullptr, schema).empty());
  const auto p = check("x", schema);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].what.find("number or null"), std::string::npos) << p[0].what;
}

TEST(SchemaKeywords, EnumAndConstCompareNumbersByValue) {
  EXPECT_TRUE(check(1.0, {{"enum", {1, "a"}}}).empty());
  EXPECT_TRUE(check("a", {{"enum", {1, "a"}}}).empty());
  EXPECT_FALSE(check("b", {{"enum", {1, "a"}}}).empty());
  EXPECT_TRUE(check(2, {{"const", 2.0}}).empty());
  EXPECT_FALSE(check(3, {{"const", 2}}).empty());
  EXPECT_TRUE(check(json::object(), {{"const", json::object()}}).empty());
  EXPECT_FALSE(check(json{{"a", 1}}, {{"const", json::object()}}).empty());
}

TEST(SchemaKeywords, RequiredPointsAtTheMissingKey) {
  const json schema = {{"type", "object"}, {"required", {"a", "b"}}};
  const auto p = check({{"a", 1}}, schema);
  ASSERT_EQ(p.size(), 1u) << describe(p);
  EXPECT_EQ(p[0].where, "/b");
}

TEST(SchemaKeywords, PropertiesAndItemsBuildNestedPointers) {
  const json schema = {{"properties", {{"list", {{"items", {{"properties", {{"x", {{"type", "integer"}}}}}}}}}}}};
  const json doc = {{"list", {{{"x", 1}}, {{"x", 2}}, {{"x", "three"}}}}};
  const auto p = check(doc, schema);
  ASSERT_EQ(p.size(), 1u) << describe(p);
  EXPECT_EQ(p[0].where, "/list/2/x");
}

TEST(SchemaKeywords, PointerTokensEscapeSlashAndTilde) {
  const json schema = {{"additionalProperties", {{"type", "integer"}}}};
  const auto p = check({{"a/b~c", "x"}}, schema);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].where, "/a~1b~0c");
}

TEST(SchemaKeywords, AdditionalPropertiesFalseRejectsUnlistedKeysOnly) {
  const json schema = {{"properties", {{"a", {{"type", "integer"}}}}}, {"additionalProperties", false}};
  EXPECT_TRUE(check({{"a", 1}}, schema).empty());
  const auto p = check({{"a", 1}, {"z", 2}}, schema);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].where, "/z");
}

TEST(SchemaKeywords, AdditionalPropertiesSchemaAppliesToUnlistedKeys) {
  const json schema = {{"properties", {{"a", {{"type", "string"}}}}},
                       {"additionalProperties", {{"type", "number"}}}};
  EXPECT_TRUE(check({{"a", "s"}, {"b", 1}}, schema).empty());
  const auto p = check({{"a", "s"}, {"b", "t"}}, schema);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].where, "/b");
}

TEST(SchemaKeywords, MinItemsCountsItems) {
  EXPECT_TRUE(check({1, 2}, {{"minItems", 2}}).empty());
  EXPECT_FALSE(check({1}, {{"minItems", 2}}).empty());
}

TEST(SchemaKeywords, MinimumAndMaximumAreInclusive) {
  const json schema = {{"minimum", 0}, {"maximum", 1.5}};
  EXPECT_TRUE(check(0, schema).empty());
  EXPECT_TRUE(check(1.5, schema).empty());
  EXPECT_FALSE(check(-1e-300, schema).empty());
  EXPECT_FALSE(check(2, schema).empty());
  EXPECT_TRUE(check("not a number", schema).empty()) << "numeric keywords ignore other types";
}

TEST(SchemaKeywords, MinLengthCountsCharactersNotBytes) {
  EXPECT_TRUE(check("\xC3\xA9", {{"minLength", 1}}).empty());
  EXPECT_FALSE(check("\xC3\xA9", {{"minLength", 2}}).empty());
  EXPECT_FALSE(check("", {{"minLength", 1}}).empty());
}

TEST(SchemaKeywords, PatternMatchesAnywhereUnlessAnchored) {
  EXPECT_TRUE(check("xx42yy", {{"pattern", "[0-9]+"}}).empty());
  EXPECT_FALSE(check("xx42yy", {{"pattern", "^[0-9]+$"}}).empty());
  EXPECT_TRUE(check("42", {{"pattern", "^[0-9]+$"}}).empty());
}

TEST(SchemaKeywords, RefResolvesIntoDefs) {
  const json schema = {{"$defs", {{"pos", {{"type", "integer"}, {"minimum", 1}}}}},
                       {"items", {{"$ref", "#/$defs/pos"}}}};
  EXPECT_TRUE(check({1, 2}, schema).empty());
  const auto p = check({1, 0}, schema);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].where, "/1");
  EXPECT_THROW(check(1, {{"$ref", "#/$defs/nothing"}}), std::invalid_argument);
}

TEST(SchemaKeywords, OneOfNeedsExactlyOneMatch) {
  const json schema = {{"oneOf", {{{"type", "integer"}}, {{"minimum", 10}}}}};
  EXPECT_TRUE(check(3, schema).empty());
  EXPECT_TRUE(check(10.5, schema).empty());
  const auto both = check(11, schema);
  ASSERT_FALSE(both.empty());
  EXPECT_NE(both[0].what.find("exactly one"), std::string::npos);
  EXPECT_FALSE(check(2.5, schema).empty());
}

TEST(SchemaKeywords, AnyOfNeedsOneMatchAndReportsTheClosestForm) {
  const json schema = {{"anyOf", {{{"type", "string"}},
                                  {{"type", "object"}, {"required", {"a"}}, {"properties", {{"b", {{"type", "integer"}}}}}}}}};
  EXPECT_TRUE(check("s", schema).empty());
  EXPECT_TRUE(check({{"a", 1}}, schema).empty());
  const auto p = check({{"a", 1}, {"b", "x"}}, schema);
  EXPECT_TRUE(reports(p, "")) << describe(p);
  EXPECT_TRUE(reports(p, "/b")) << describe(p);
}

TEST(SchemaKeywords, FalseSchemaRejectsEverything) {
  EXPECT_FALSE(check(1, json(false)).empty());
  EXPECT_TRUE(check(1, json(true)).empty());
}

// --- the embedded schema ---------------------------------------------------------------------

// Every keyword the schema uses must be one the validator implements or a pure annotation;
// otherwise a constraint would be silently ignored by `xpubench validate`.
void collect_keywords(const json& schema, std::set<std::string>& out) {
  if (!schema.is_object()) return;
  for (const auto& [key, value] : schema.items()) {
    out.insert(key);
    if (key == "properties" || key == "$defs") {
      for (const auto& [name, sub] : value.items()) collect_keywords(sub, out);
    } else if (key == "oneOf" || key == "anyOf") {
      for (const auto& sub : value) collect_keywords(sub, out);
    } else if (key == "items" || key == "additionalProperties") {
      collect_keywords(value, out);
    }
  }
}

TEST(EmbeddedSchema, UsesOnlyKeywordsTheValidatorImplements) {
  const std::set<std::string> known = {"$schema", "$id", "$defs", "$ref", "title", "description", "type", "enum",
                                       "const", "required", "properties", "additionalProperties", "items",
                                       "minItems", "minimum", "maximum", "minLength", "pattern", "oneOf", "anyOf"};
  std::set<std::string> used;
  collect_keywords(result_schema(), used);
  for (const auto& k : used) EXPECT_TRUE(known.count(k)) << "unknown keyword " << k;
  EXPECT_TRUE(used.count("$ref") && used.count("additionalProperties") && used.count("pattern"));
}

TEST(EmbeddedSchema, IsTheDocumentInReports) {
  EXPECT_EQ(result_schema(), read_json(fs::path(XPB_TEST_DATA_DIR) / ".." / ".." / "reports" / "result.schema.json"));
  EXPECT_EQ(result_schema()["properties"]["schema"]["const"], std::string(kResultSchema));
}

// A document made the way a run makes it: the real structs and their to_json.
json realistic_document() {
  SystemInfo sys;
  sys.hostname = "bench";
  sys.os = "Debian GNU/Linux 12 (bookworm)";
  sys.kernel = "6.1.0";
  sys.arch = "x86_64";
  sys.cpu_model = "Example CPU";
  sys.cpu_vendor = "GenuineIntel";
  sys.isa_flags = {"avx2", "fma"};
  sys.topology.packages = 1;
  sys.topology.cores = 2;
  sys.topology.pus = 4;
  sys.topology.numa_nodes = {{0, 1ull << 33, {0, 1, 2, 3}}};
  sys.topology.caches = {{1, "data", 32768, 64, 2, 2}, {3, "unified", 1u << 25, 64, 1, 4}};
  sys.memory.total_bytes = 1ull << 33;
  sys.memory.available_bytes = 1ull << 32;
  sys.memory.cgroup_limit_bytes = 1ull << 31;
  sys.governor = "performance";
  sys.thp = "madvise";
  sys.compiler = "GNU 12.2.0";
  sys.compile_flags = "-O3";
  sys.build_type = "Release";
  sys.git_revision = "abc123";
  sys.xpubench_version = "0.1.0";

  json devices = json::array();
  devices.push_back({{"id", "cpu"}, {"driver", "cpu"}, {"name", sys.cpu_model}, {"kind", "cpu"},
                     {"simulated", false}, {"clock", name(ClockKind::host)}, {"properties", {{"threads", "4"}}},
                     {"energy", {{"available", false}, {"reason", "no powercap"}}}});
  devices.push_back({{"id", "photonic-sim"}, {"driver", "photonic_sim"}, {"name", "photonic"}, {"kind", "simulator"},
                     {"simulated", true}, {"clock", name(ClockKind::simulated)}, {"properties", json::object()},
                     {"energy", {{"available", true}, {"source", "modeled"}}}});

  RunPolicy policy;
  json run = {{"id", "20250101T000000Z-0000abcd"}, {"status", "incomplete"}, {"started", "2025-01-01T00:00:00Z"},
              {"finished", nullptr}, {"xpubench_version", "0.1.0"}, {"git_revision", "abc123"},
              {"command", {"xpubench", "run"}}, {"suites", {"standard"}}, {"quick", true},
              {"overrides", json::object()}, {"config_hash", "fnv1a64:0"}, {"policy", policy.to_json()}};
  json header = {{"schema", kResultSchema}, {"run", run}, {"system", sys.to_json()}, {"devices", devices}};

  std::vector<json> records;
  {
    Measurement m;
    m.iterations = 8;
    m.sample_seconds = {0.0102, 0.0100, 0.0101, 0.0104, 0.0100, 0.0099, 0.0103};
    m.warmup_runs = 3;
    m.stop_reason = "min_time_and_samples";
    m.energy.reason = "no powercap";
    BenchmarkRecord r;
    r.workload = "memory.bandwidth";
    r.device = "cpu";
    r.params = {{"kernel", "triad"}, {"threads", 2}};
    r.id = benchmark_id(r.workload, r.device, r.params);
    r.metrics.push_back(Metric::from(m, "bandwidth", "GB/s", Direction::higher_is_better,
                                     [](double s) { return 24e6 / s / 1e9; }));
    r.conformance = {{"status", "passed"}, {"method", "checksum against ref"}};
    r.timing = m.to_json();
    r.timing["policy"] = policy.to_json();
    r.energy = to_json(m.energy);
    r.started_unix = 1735689600.25;
    r.wall_seconds = 0.3;
    records.push_back(r.to_json());
  }
  {
    Measurement m;
    m.clock.kind = ClockKind::simulated;
    m.sample_seconds = {2e-6, 2e-6, 2.1e-6};
    m.energy.available = true;
    m.energy.source = "modeled";
    m.energy.joules = 1e-6;
    m.energy.seconds = 6.1e-6;
    m.energy.domains = {{"laser", 4e-7}, {"adc", 6e-7}};
    BenchmarkRecord r;
    r.workload = "energy.matmul";
    r.device = "photonic-sim";
    r.id = benchmark_id(r.workload, r.device, r.params);
    r.metrics.push_back(Metric::from(m, "time", "s", Direction::lower_is_better, [](double s) { return s; }));
    r.timing = m.to_json();
    r.energy = to_json(m.energy);
    r.started_unix = 1735689601;
    records.push_back(r.to_json());
  }
  {
    BenchmarkRecord r;
    r.workload = "memory.numa";
    r.device = "cpu";
    r.id = benchmark_id(r.workload, r.device, r.params);
    r.outcome = Outcome::with(Status::skipped, "needs two NUMA nodes");
    records.push_back(r.to_json());
  }
  return assemble_result(header, std::move(records), "complete");
}

// The same without its integrity member: the run-rule tests below edit documents on purpose, and
// each would otherwise also (rightly) find the edit against the SHA-256.
json edited_document_base() {
  auto doc = realistic_document();
  doc.erase("integrity");
  return doc;
}

TEST(EmbeddedSchema, AcceptsADocumentBuiltFromTheRealStructs) {
  const auto doc = realistic_document();
  ASSERT_TRUE(doc.contains("integrity"));  // a finished run's document carries its SHA-256
  const auto problems = validate_result(doc);
  EXPECT_TRUE(problems.empty()) << describe(problems) << doc.dump(2);
}

TEST(ValidateResult, AnEditAgainstTheDocumentsSha256IsNamed) {
  auto doc = realistic_document();
  doc["benchmarks"][0]["params"]["threads"] = 64;
  const auto problems = validate_result(doc);
  ASSERT_EQ(problems.size(), 1u) << describe(problems);
  EXPECT_EQ(problems[0].where, "/integrity");
  EXPECT_NE(problems[0].what.find("benchmarks/0 ("), std::string::npos) << problems[0].what;
}

TEST(EmbeddedSchema, AcceptsTheGoodSampleDocuments) {
  int seen = 0;
  for (const auto& entry : fs::directory_iterator(kResults / "good")) {
    const auto problems = validate_result(read_json(entry.path()));
    EXPECT_TRUE(problems.empty()) << entry.path() << "\n" << describe(problems);
    ++seen;
  }
  EXPECT_GE(seen, 3);
}

// Each bad sample differs from a good one in one place; the problem must be reported there.
TEST(ValidateResult, RejectsEachBadSampleAtTheExpectedPointer) {
  const auto expected = read_json(kResults / "bad" / "expected.json");
  ASSERT_GE(expected.size(), 20u);
  for (const auto& [file, want] : expected.items()) {
    const auto problems = validate_result(read_json(kResults / "bad" / file));
    const std::string where = want["pointer"];
    const std::string says = want["says"];
    bool found = false;
    for (const auto& p : problems) found = found || (p.where == where && p.what.find(says) != std::string::npos);
    EXPECT_TRUE(found) << file << ": expected a problem at " << where << " saying '" << says << "'; got\n"
                       << describe(problems);
  }
}

TEST(ValidateResult, TamperedMedianIsCaughtWithItsPointer) {
  auto doc = edited_document_base();
  auto& median = doc["benchmarks"][0]["metrics"][0]["stats"]["median"];
  median = median.get<double>() * (1 + 1e-6);
  const auto problems = validate_result(doc);
  ASSERT_EQ(problems.size(), 1u) << describe(problems);
  EXPECT_EQ(problems[0].where, "/benchmarks/0/metrics/0/stats/median");
}

TEST(ValidateResult, RoundingBelowOnePartInABillionIsNotTampering) {
  auto doc = edited_document_base();
  auto& median = doc["benchmarks"][0]["metrics"][0]["stats"]["median"];
  median = median.get<double>() * (1 + 1e-12);
  EXPECT_TRUE(validate_result(doc).empty());
}

TEST(ValidateResult, MissingRequiredKeyAndWrongEnumAreReported) {
  auto doc = edited_document_base();
  doc["benchmarks"][1]["metrics"][0].erase("unit");
  doc["run"]["status"] = "finished";
  const auto problems = validate_result(doc);
  EXPECT_TRUE(reports(problems, "/benchmarks/1/metrics/0/unit")) << describe(problems);
  EXPECT_TRUE(reports(problems, "/run/status")) << describe(problems);
}

TEST(ValidateResult, SimulatedClockCannotProduceMeasuredFigures) {
  auto doc = edited_document_base();
  ASSERT_EQ(doc["benchmarks"][1]["metrics"][0]["source"], "simulated");
  doc["benchmarks"][1]["metrics"][0]["source"] = "measured";
  const auto problems = validate_result(doc);
  ASSERT_EQ(problems.size(), 1u) << describe(problems);
  EXPECT_EQ(problems[0].where, "/benchmarks/1/metrics/0/source");
}

TEST(ValidateResult, NonFiniteFiguresStillYieldAValidDocument) {
  auto doc = edited_document_base();
  BenchmarkRecord r;
  r.workload = "memory.bandwidth";
  r.device = "cpu";
  r.id = "memory.bandwidth/cpu/broken";
  Metric m("bandwidth", "GB/s", Direction::higher_is_better, Source::measured);
  m.samples = {1.0, std::numeric_limits<double>::infinity(), 3.0, std::nan("")};
  m.stats = summarize(m.samples);
  r.metrics.push_back(m);
  r.details = {{"ratio", std::numeric_limits<double>::quiet_NaN()}};
  doc["benchmarks"].push_back(r.to_json());
  const auto reparsed = json::parse(doc.dump());
  const auto problems = validate_result(reparsed);
  EXPECT_TRUE(problems.empty()) << describe(problems);
  EXPECT_EQ(reparsed["benchmarks"][3]["status"], "mistrusted");
}

TEST(ValidateResult, StatisticsTheSamplesCannotGiveMustBeNull) {
  auto doc = edited_document_base();
  auto& stats = doc["benchmarks"][1]["metrics"][0]["stats"];  // three samples
  ASSERT_EQ(stats["n"], 3);
  ASSERT_TRUE(stats["ci95_lo"].is_null());
  EXPECT_TRUE(validate_result(doc).empty());
  stats["ci95_lo"] = 2e-6;  // what an old writer put there: [min, max]
  auto problems = validate_result(doc);
  EXPECT_TRUE(reports(problems, "/benchmarks/1/metrics/0/stats/ci95_lo")) << describe(problems);
  // A metric without samples has no median.
  auto empty = edited_document_base();
  auto& m = empty["benchmarks"][0]["metrics"][0];
  m["samples"] = json::array();
  m["stats"] = xpb::to_json(summarize(std::vector<double>{}));
  EXPECT_TRUE(validate_result(empty).empty()) << describe(validate_result(empty));
  m["stats"]["median"] = 0.0;
  EXPECT_TRUE(reports(validate_result(empty), "/benchmarks/0/metrics/0/stats/median"));
}

TEST(ValidateResult, AnInvalidRecordMustSayWhy) {
  auto doc = edited_document_base();
  doc["benchmarks"][0]["valid"] = false;
  EXPECT_TRUE(reports(validate_result(doc), "/benchmarks/0/invalid_reason"));
  doc["benchmarks"][0]["invalid_reason"] = "3 of the policy's minimum 5 samples";
  EXPECT_TRUE(validate_result(doc).empty()) << describe(validate_result(doc));
}

TEST(ValidateResult, ALongStringWhereAPatternIsExpectedIsAProblemNotACrash) {
  auto doc = edited_document_base();
  doc["run"]["started"] = "2024-01-01T00:00:00." + std::string(100000, '1') + "Z";
  const auto problems = validate_result(doc);
  bool found = false;
  for (const auto& p : problems) found = found || (p.where == "/run/started" && p.what.find("at most 256") != std::string::npos);
  EXPECT_TRUE(found) << describe(problems);
}

TEST(ValidateResult, SurvivesDocumentsOfTheWrongShape) {
  for (const json& doc : {json(nullptr), json(42), json::array(), json::object(),
                          json{{"schema", kResultSchema}, {"benchmarks", {1, "x", json::object()}}},
                          json{{"benchmarks", {{{"metrics", {{{"samples", {"a"}}, {"stats", 1}}}}}}}}}) {
    const auto problems = validate_result(doc);
    EXPECT_FALSE(problems.empty()) << doc.dump();
  }
  EXPECT_EQ(validate_result(json(1))[0].where, "");
}

}  // namespace
}  // namespace xpb
