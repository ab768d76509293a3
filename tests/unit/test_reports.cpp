// The renderers over the result's read model (console energy table, md, csv, junit) and the readers that make it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "xpubench/error.hpp"
#include "xpubench/report.hpp"
#include "xpubench/result_writer.hpp"

namespace xpb {
namespace {

using json = nlohmann::json;

json metric(const std::string& name, const std::string& unit, double value, const std::string& source) {
  return {{"name", name}, {"unit", unit}, {"direction", "lower_is_better"}, {"source", source},
          {"samples", {value}}, {"stats", {{"n", 1}, {"median", value}}}};
}

json record(const std::string& workload, const std::string& device, json params, const std::string& status,
            json metrics = json::array()) {
  return {{"id", workload + "/" + device}, {"workload", workload}, {"device", device}, {"params", std::move(params)},
          {"status", status}, {"reason", status == "passed" ? "" : "why not"}, {"valid", true},
          {"metrics", std::move(metrics)}};
}

// A host CPU without a sensor, a GPU with NVML and an idle figure, and a simulator.
json document() {
  json doc;
  doc["devices"] = json::array(
      {{{"id", "cpu"}, {"energy", {{"available", false}, {"source", "rapl, hwmon"}, {"reason", "rapl: no powercap interface"}}}},
       {{"id", "opencl:0"},
        {"energy", {{"available", true}, {"source", "nvml"}, {"covers", "one GPU board"}, {"idle", {{"watts", 71.5}}}}}},
       {{"id", "photonic-sim"}, {"energy", {{"available", true}, {"source", "modeled"}}}}});
  const json matmul = {{"kernel", "matmul"}, {"dtype", "f32"}, {"points", 4}};
  const json fma = {{"kernel", "fma_loop"}, {"dtype", "f32"}, {"points", 4}};
  const json tiny = {{"model", "tiny"}, {"n_gen", 16}};
  doc["benchmarks"] = json::array({
      record("energy.compute", "cpu", fma, "skipped"),
      record("energy.compute", "opencl:0", fma, "passed", {metric("energy_per_flop", "pJ/FLOP", 1.25, "measured"),
                                                           metric("energy_per_flop_net", "pJ/FLOP", 0.5, "measured")}),
      record("energy.compute", "photonic-sim", fma, "unsupported"),
      record("energy.compute", "cpu", matmul, "skipped"),
      record("energy.compute", "photonic-sim", matmul, "passed", {metric("energy_per_mac", "pJ/MAC", 15.5, "modeled")}),
      record("llm.bench", "cpu", tiny, "passed", {metric("tokens_per_second", "t/s", 600, "measured")}),
      record("llm.bench", "photonic-sim", tiny, "passed", {metric("energy_per_token", "J/token", 2.59, "modeled")}),
      record("memory.bandwidth", "opencl:0", {{"size", 1024}}, "passed", {metric("energy_per_gb", "J/GB", 3, "measured")}),
  });
  return doc;
}

std::string line_with(const std::string& text, const std::string& needle) {
  const auto at = text.find(needle);
  if (at == std::string::npos) return "";
  const auto start = text.rfind('\n', at) + 1;
  return text.substr(start, text.find('\n', at) - start);
}

TEST(EnergyComparison, OneRowPerFigureWithEveryDeviceSayingWhatItHas) {
  const auto text = render_energy_comparison(document());
  const auto fma = line_with(text, "kernel=fma_loop");
  EXPECT_NE(fma.find("(pJ/FLOP)"), std::string::npos) << fma;
  EXPECT_NE(fma.find("no sensor"), std::string::npos) << fma;  // the cpu's skip is its missing sensor
  EXPECT_NE(fma.find("1.25"), std::string::npos) << fma;       // measured: no mark
  EXPECT_EQ(fma.find("1.25 ("), std::string::npos) << fma;
  EXPECT_NE(fma.find("unsupported"), std::string::npos) << fma;
  const auto matmul = line_with(text, "kernel=matmul");
  EXPECT_NE(matmul.find("15.50 (modeled)"), std::string::npos) << matmul;
  EXPECT_NE(matmul.find("(pJ/MAC)"), std::string::npos) << matmul;
  const auto token = line_with(text, "(J/token)");
  EXPECT_NE(token.find("2.59 (modeled)"), std::string::npos) << token;
  EXPECT_NE(token.find("no sensor"), std::string::npos) << token;  // cpu passed, without energy
  // Net figures and a memory sweep's J/GB stay out of the comparison.
  EXPECT_EQ(text.find("0.50"), std::string::npos) << text;
  EXPECT_EQ(text.find("J/GB"), std::string::npos) << text;
  // Only the parameters that differ name a row.
  EXPECT_EQ(fma.find("points="), std::string::npos) << fma;
}

TEST(EnergyComparison, EachDeviceNamesItsSourceOrWhyItHasNone) {
  const auto text = render_energy_comparison(document());
  EXPECT_NE(line_with(text, "  cpu: none").find("rapl: no powercap interface"), std::string::npos) << text;
  const auto gpu = line_with(text, "  opencl:0: nvml");
  EXPECT_NE(gpu.find("one GPU board"), std::string::npos) << text;
  EXPECT_NE(gpu.find("idle 71.50 W"), std::string::npos) << text;
  EXPECT_NE(line_with(text, "  photonic-sim: modeled"), "") << text;
}

TEST(EnergyComparison, AResultWithoutEnergyHasNoTable) {
  json doc = document();
  doc["benchmarks"] = json::array({record("memory.bandwidth", "cpu", {{"size", 1024}}, "passed",
                                          {metric("bandwidth", "GB/s", 20, "measured")})});
  EXPECT_EQ(render_energy_comparison(doc), "");
  EXPECT_EQ(render_console_summary(doc).find("energy per unit of work"), std::string::npos);
}

TEST(EnergyComparison, IsPartOfTheConsoleSummary) {
  EXPECT_NE(render_console_summary(document()).find("energy per unit of work"), std::string::npos);
}

// --- reading ----------------------------------------------------------------------------------

// The fast reader (simdjson) gives the same read model as the careful one, so every report of a
// file is the same whichever read it.
TEST(ResultReader, SimdjsonAndNlohmannGiveTheSameViews) {
  namespace fs = std::filesystem;
  for (const auto& entry : fs::directory_iterator(fs::path(XPB_TEST_DATA_DIR) / "results" / "good")) {
    const auto fast = load_result_view(entry.path());
    const auto careful = read_result_view(load_result(entry.path()));
    EXPECT_EQ(render_markdown({fast}), render_markdown({careful})) << entry.path();
    EXPECT_EQ(render_csv({fast}), render_csv({careful})) << entry.path();
    ASSERT_EQ(fast.benchmarks.size(), careful.benchmarks.size());
    for (std::size_t i = 0; i < fast.benchmarks.size(); ++i) {
      EXPECT_EQ(fast.benchmarks[i].params, careful.benchmarks[i].params);
      EXPECT_EQ(fast.benchmarks[i].details, careful.benchmarks[i].details);
      EXPECT_EQ(fast.benchmarks[i].clock, careful.benchmarks[i].clock);
    }
  }
}

TEST(ResultReader, WhatSimdjsonCannotTakeIsReadCarefullyWithItsPosition) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("xpb-reader-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "broken.json") << "{\"schema\": \"xpubench.result/1\",\n \"benchmarks\": [1,}\n";
  try {
    load_result_view(dir / "broken.json");
    FAIL() << "read a broken file";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("broken.json:2:"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

// --- md, csv, junit --------------------------------------------------------------------------

// A result whose strings try to break each format: a pipe and a line break for Markdown, a comma
// and quotes for CSV, markup for XML.
json hostile() {
  json doc = document();
  doc["run"] = {{"id", "run<1>"}, {"status", "complete"}, {"started", "2026-12-01T00:00:00Z"}};
  doc["system"] = {{"hostname", "box,\"one\""}, {"cpu_model", "cpu|x"}};
  auto bad = record("llm.bench", "npu|<script>alert(1)</script>,\"x\"", {{"model", "a\nb"}}, "failed");
  bad["reason"] = "wrong | output <b>&</b>";
  doc["benchmarks"].push_back(bad);
  return doc;
}

TEST(Reports, MarkdownKeepsEveryRowInItsTableAndMarksModeledFigures) {
  const auto md = render_markdown({read_result_view(hostile())});
  EXPECT_NE(md.find("energy_per_mac *(modeled)*"), std::string::npos) << md;
  EXPECT_NE(md.find("npu\\|&lt;script&gt;"), std::string::npos) << md;  // a pipe escaped, markup as text
  EXPECT_EQ(md.find("<script>"), std::string::npos) << md;
  // Every table row has the same number of unescaped cell separators.
  std::size_t rows = 0;
  std::istringstream in(md);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| llm.bench", 0) != 0 && line.rfind("| energy.compute", 0) != 0) continue;
    std::size_t pipes = 0;
    for (std::size_t i = 0; i < line.size(); ++i) pipes += line[i] == '|' && (i == 0 || line[i - 1] != '\\');
    EXPECT_EQ(pipes, 8u) << line;
    ++rows;
  }
  EXPECT_GE(rows, 8u);
  EXPECT_NE(md.find("wrong \\| output"), std::string::npos) << md;  // the reason, listed and escaped
}

TEST(Reports, CsvIsTidyQuotedAndHasTheDocumentedColumns) {
  const auto csv = render_csv({read_result_view(hostile())});
  EXPECT_EQ(csv.substr(0, csv.find('\n')), kCsvHeader);
  EXPECT_NE(csv.find("\"box,\"\"one\"\"\""), std::string::npos) << csv;  // RFC 4180: quoted, quotes doubled
  // One row per statistic: energy_per_flop has n and median here, so two rows.
  std::size_t flop_rows = 0;
  for (std::size_t at = 0; (at = csv.find(",energy_per_flop,", at)) != std::string::npos; ++at) ++flop_rows;
  EXPECT_EQ(flop_rows, 2u);
  EXPECT_NE(csv.find(",energy_per_flop,pJ/FLOP,lower_is_better,measured,median,1.25\n"), std::string::npos) << csv;
  // A record without figures keeps its status, metric columns empty.
  EXPECT_NE(csv.find(",skipped,true,,,,,,\n"), std::string::npos) << csv;
}

TEST(Reports, JunitClassifiesEveryStatusAndEscapesWhatTheResultSays) {
  const auto xml = render_junit({read_result_view(hostile())});
  EXPECT_NE(xml.find("<testsuite name=\"run&lt;1&gt;\" tests=\"9\" failures=\"1\" errors=\"0\" skipped=\"3\""),
            std::string::npos)
      << xml;
  EXPECT_EQ(xml.find("<script>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<failure message=\"failed: wrong | output &lt;b&gt;&amp;&lt;/b&gt;\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<skipped message=\"unsupported: why not\"/>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<system-out>energy_per_flop 1.25 pJ/FLOP"), std::string::npos) << xml;
}

}  // namespace
}  // namespace xpb
