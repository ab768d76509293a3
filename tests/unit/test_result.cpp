// The result model: benchmark ids, metric and record serialisation, energy readings.
#include "xpubench/result.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <regex>
#include <set>

namespace xpb {
namespace {

using json = nlohmann::json;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Every number anywhere in `j` is finite and no null stands where a number was.
bool has_null_or_non_finite(const json& j) {
  if (j.is_null()) return true;
  if (j.is_number_float()) return !std::isfinite(j.get<double>());
  if (j.is_structured())
    for (const auto& v : j) if (has_null_or_non_finite(v)) return true;
  return false;
}

TEST(Direction, NamesAreTheSchemaSpellings) {
  EXPECT_EQ(name(Direction::higher_is_better), "higher_is_better");
  EXPECT_EQ(name(Direction::lower_is_better), "lower_is_better");
  EXPECT_EQ(name(Direction::none), "none");
}

TEST(BenchmarkId, ListsParamsInKeyOrderWithCompactValues) {
  json params;
  params["threads"] = 2;
  params["stores"] = "nontemporal";
  params["kernel"] = "triad";
  EXPECT_EQ(benchmark_id("memory.bandwidth", "cpu", params),
            "memory.bandwidth/cpu/kernel=triad,stores=nontemporal,threads=2");
}

TEST(BenchmarkId, RendersNonStringValuesAsJson) {
  const json params = {{"ratio", 0.5}, {"huge", true}, {"bytes", 1048576}, {"sizes", {1, 2}}, {"none", nullptr}};
  EXPECT_EQ(benchmark_id("w", "d", params), "w/d/bytes=1048576,huge=true,none=null,ratio=0.5,sizes=[1,2]");
}

TEST(BenchmarkId, IsTheSameForEqualParamsBuiltInAnyOrder) {
  const json a = json::parse(R"({"b": 1, "a": "x", "c": [3]})");
  const json b = json::parse(R"({"c": [3], "a": "x", "b": 1})");
  EXPECT_EQ(benchmark_id("w", "opencl:0", a), benchmark_id("w", "opencl:0", b));
  EXPECT_EQ(benchmark_id("w", "opencl:0", a), benchmark_id("w", "opencl:0", a));
}

TEST(BenchmarkId, DiffersWhenAnythingDiffers) {
  const json p = {{"kernel", "copy"}, {"threads", 1}};
  std::set<std::string> ids = {benchmark_id("w", "cpu", p), benchmark_id("w2", "cpu", p), benchmark_id("w", "ref", p),
                               benchmark_id("w", "cpu", {{"kernel", "copy"}, {"threads", 2}}),
                               benchmark_id("w", "cpu", {{"kernel", "copy"}, {"threads", "1"}}),
                               benchmark_id("w", "cpu", {{"kernel", "copy"}})};
  // "1" and 1 both render bare; that is the one collision the compact form accepts.
  EXPECT_EQ(ids.size(), 5u);
}

TEST(BenchmarkId, EscapesSeparatorsInsideStrings) {
  const auto sneaky = benchmark_id("w", "d", {{"a", "x,b=1"}});
  const auto plain = benchmark_id("w", "d", {{"a", "x"}, {"b", 1}});
  EXPECT_NE(sneaky, plain);
  EXPECT_EQ(sneaky, "w/d/a=x%2Cb%3D1");
}

TEST(BenchmarkId, OmitsTheParamPartWhenThereAreNone) {
  EXPECT_EQ(benchmark_id("memory.latency", "cpu", json::object()), "memory.latency/cpu");
  EXPECT_EQ(benchmark_id("memory.latency", "cpu", json()), "memory.latency/cpu");
}

Metric sample_metric() {
  Metric m("bandwidth", "GB/s", Direction::higher_is_better, xpb::Source::measured);
  m.samples = {10.0, 12.0, 11.0};
  m.stats = summarize(m.samples);
  return m;
}

TEST(Metric, SerialisesEveryFieldAndOmitsAnEmptyNote) {
  const auto j = sample_metric().to_json();
  EXPECT_EQ(j["name"], "bandwidth");
  EXPECT_EQ(j["unit"], "GB/s");
  EXPECT_EQ(j["direction"], "higher_is_better");
  EXPECT_EQ(j["source"], "measured");
  EXPECT_EQ(j["samples"], json({10.0, 12.0, 11.0}));
  EXPECT_EQ(j["stats"]["n"], 3);
  EXPECT_EQ(j["stats"]["median"], 11.0);
  EXPECT_FALSE(j.contains("note"));
  auto with_note = sample_metric();
  with_note.note = "write-allocate not counted";
  EXPECT_EQ(with_note.to_json()["note"], "write-allocate not counted");
}

TEST(Metric, FromMeasurementConvertsEachSampleAndKeepsTheClockSource) {
  Measurement m;
  m.iterations = 4;
  m.sample_seconds = {4.0, 8.0};
  m.clock.kind = ClockKind::simulated;
  const auto metric = Metric::from(m, "rate", "1/s", Direction::higher_is_better, [](double s) { return 1.0 / s; });
  EXPECT_EQ(metric.samples, (std::vector<double>{1.0, 0.5}));
  EXPECT_EQ(metric.source, xpb::Source::simulated);
  EXPECT_EQ(metric.to_json()["source"], "simulated");
  EXPECT_EQ(metric.stats.n, 2u);
  EXPECT_DOUBLE_EQ(*metric.stats.median, 0.75);
  m.clock.kind = ClockKind::host;
  EXPECT_EQ(Metric::from(m, "rate", "1/s", Direction::higher_is_better, [](double s) { return s; }).source,
            xpb::Source::measured);
}

TEST(Metric, AMetricWithoutSamplesHasNoValue) {
  const auto m = Metric::of("tpot", "ms", Direction::lower_is_better, xpb::Source::measured, {});
  const auto j = m.to_json();
  EXPECT_EQ(j["stats"]["n"], 0);
  EXPECT_TRUE(j["stats"]["median"].is_null());
  EXPECT_TRUE(j["stats"]["p99"].is_null());
  EXPECT_NE(j["stats"]["missing"].get<std::string>().find("no samples"), std::string::npos);
}

TEST(Metric, StatsThatDoNotSummariseTheSamplesAreRecomputed) {
  auto m = sample_metric();
  m.stats = Stats{};  // a producer that forgot summarize()
  const auto j = m.to_json();
  EXPECT_EQ(j["stats"]["n"], 3);
  EXPECT_EQ(j["stats"]["max"], 12.0);
}

TEST(Metric, NonFiniteSamplesAreLeftOutAndSaidSo) {
  auto m = sample_metric();
  m.samples = {1.0, kNaN, 3.0, kInf};
  m.stats = summarize(m.samples);
  const auto j = m.to_json();
  EXPECT_EQ(j["samples"], json({1.0, 3.0}));
  EXPECT_EQ(j["stats"]["n"], 2);
  EXPECT_EQ(j["stats"]["median"], 2.0);
  EXPECT_NE(j["note"].get<std::string>().find("2 of 4 samples"), std::string::npos) << j["note"];
  EXPECT_FALSE(has_null_or_non_finite(json::parse(j["samples"].dump())));
  EXPECT_TRUE(j["stats"]["ci95_lo"].is_null());  // two samples: no interval, and null says so
}

BenchmarkRecord sample_record() {
  BenchmarkRecord r;
  r.workload = "memory.bandwidth";
  r.device = "cpu";
  r.params = {{"kernel", "triad"}};
  r.id = benchmark_id(r.workload, r.device, r.params);
  r.metrics.push_back(sample_metric());
  r.timing = {{"source", "host"}};
  r.energy = {{"available", false}, {"reason", "no sensor"}};
  r.started_unix = 1700000000.5;
  r.wall_seconds = 1.25;
  return r;
}

TEST(BenchmarkRecord, HasExactlyTheDocumentedKeys) {
  const auto j = sample_record().to_json();
  std::set<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"id", "workload", "device", "params", "status", "reason", "valid",
                                         "invalid_reason", "conformance", "metrics", "timing", "energy", "details",
                                         "started", "wall_seconds"}));
  EXPECT_EQ(j["valid"], true);
  EXPECT_TRUE(j["invalid_reason"].is_null());
  EXPECT_EQ(j["id"], "memory.bandwidth/cpu/kernel=triad");
  EXPECT_EQ(j["status"], "passed");
  EXPECT_EQ(j["reason"], "");
  EXPECT_EQ(j["metrics"].size(), 1u);
  EXPECT_EQ(j["wall_seconds"], 1.25);
}

TEST(BenchmarkRecord, StartTimeIsIso8601UtcWithMilliseconds) {
  EXPECT_EQ(sample_record().to_json()["started"], "2023-11-14T22:13:20.500Z");
  auto r = sample_record();
  r.started_unix = 1700000000.9996;  // rounds up into the next second
  EXPECT_EQ(r.to_json()["started"], "2023-11-14T22:13:21.000Z");
}

TEST(BenchmarkRecord, FillsTheIdAndANeverMeasuredEnergy) {
  auto r = sample_record();
  r.id.clear();
  r.energy = json::object();
  const auto j = r.to_json();
  EXPECT_EQ(j["id"], "memory.bandwidth/cpu/kernel=triad");
  EXPECT_EQ(j["energy"]["available"], false);
  EXPECT_FALSE(j["energy"]["reason"].get<std::string>().empty());
}

TEST(BenchmarkRecord, NonPassedStatusAlwaysHasAReason) {
  auto r = sample_record();
  r.outcome = Outcome::with(Status::unsupported, "");
  const auto j = r.to_json();
  EXPECT_EQ(j["status"], "unsupported");
  EXPECT_FALSE(j["reason"].get<std::string>().empty());
  r.outcome = Outcome::with(Status::skipped, "needs two NUMA nodes");
  EXPECT_EQ(r.to_json()["reason"], "needs two NUMA nodes");
}

TEST(BenchmarkRecord, NonFiniteFiguresMakeAPassedRecordMistrusted) {
  auto r = sample_record();
  r.metrics[0].samples.push_back(kInf);
  const auto j = r.to_json();
  EXPECT_EQ(j["status"], "mistrusted");
  EXPECT_NE(j["reason"].get<std::string>().find("bandwidth"), std::string::npos) << j["reason"];
  EXPECT_FALSE(has_null_or_non_finite(j["metrics"][0]["samples"]));
}

TEST(BenchmarkRecord, AnInvalidRecordSaysWhy) {
  auto r = sample_record();
  r.valid = false;
  r.invalid_reason = "2 of the policy's minimum 5 samples";
  const auto j = r.to_json();
  EXPECT_EQ(j["valid"], false);
  EXPECT_EQ(j["invalid_reason"], "2 of the policy's minimum 5 samples");
}

TEST(BenchmarkRecord, NonFiniteNumbersInFreeFormObjectsBecomeNullAndAreNamed) {
  auto r = sample_record();
  r.details = {{"levels", {{{"gbps", 3.0}}, {{"gbps", kNaN}}}}};
  const auto j = r.to_json();
  EXPECT_TRUE(j["details"]["levels"][1]["gbps"].is_null());
  EXPECT_EQ(j["details"]["levels"][0]["gbps"], 3.0);
  EXPECT_EQ(j["status"], "mistrusted");
  EXPECT_NE(j["reason"].get<std::string>().find("details/levels/1/gbps"), std::string::npos) << j["reason"];
}

TEST(BenchmarkRecord, AFailedRecordKeepsItsStatusAndGainsTheNonFiniteNote) {
  auto r = sample_record();
  r.outcome = Outcome::with(Status::failed, "checksum mismatch");
  r.timing["ratio"] = kNaN;
  const auto j = r.to_json();
  EXPECT_EQ(j["status"], "failed");
  EXPECT_EQ(j["reason"].get<std::string>().rfind("checksum mismatch; ", 0), 0u) << j["reason"];
}

TEST(EnergyReadingJson, UnavailableSaysWhyAndGivesNoFigure) {
  EnergyReading e;
  e.source = "rapl";
  e.reason = "permission denied";
  const auto j = to_json(e);
  EXPECT_EQ(j, json({{"available", false}, {"source", "rapl"}, {"reason", "permission denied"}}));
  EnergyReading silent;
  EXPECT_FALSE(to_json(silent)["reason"].get<std::string>().empty());
  EXPECT_FALSE(to_json(silent).contains("joules"));
}

TEST(EnergyReadingJson, AvailableCarriesJoulesSecondsAndDomains) {
  EnergyReading e;
  e.available = true;
  e.source = "rapl";
  e.joules = 12.5;
  e.seconds = 2.0;
  e.domains = {{"package-0", 10.0}, {"dram", 2.5}};
  const auto j = to_json(e);
  EXPECT_EQ(j["available"], true);
  EXPECT_EQ(j["joules"], 12.5);
  EXPECT_EQ(j["seconds"], 2.0);
  EXPECT_EQ(j["domains"], json({{"package-0", 10.0}, {"dram", 2.5}}));
}

TEST(EnergyReadingJson, ANonFiniteReadingIsUnavailable) {
  EnergyReading e;
  e.available = true;
  e.source = "nvml";
  e.joules = kNaN;
  const auto j = to_json(e);
  EXPECT_EQ(j["available"], false);
  EXPECT_FALSE(j.contains("joules"));
  EXPECT_EQ(j["source"], "nvml");
}

}  // namespace
}  // namespace xpb
