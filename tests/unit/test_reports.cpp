// The renderers over the result's read model (console energy table, md, csv, junit) and the readers that make it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "reports/report_format.hpp"
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
  EXPECT_NE(xml.find("timestamp=\"2026-12-01T00:00:00Z\""), std::string::npos);
}

TEST(Reports, JunitOfADocumentNotWrittenByXpubenchStillMeetsTheSchema) {
  json doc = document();
  doc["run"] = {{"id", "x"}, {"started", "yesterday"}};
  auto odd = record("llm.bench", "cpu", json::object(), "exploded");
  odd["wall_seconds"] = -3.5;
  doc["benchmarks"] = json::array({odd});
  const auto xml = render_junit({read_result_view(doc)});
  EXPECT_EQ(xml.find("timestamp="), std::string::npos);              // not an xs:dateTime: left out
  EXPECT_NE(xml.find("time=\"0.000\""), std::string::npos) << xml;  // not a duration: 0
  EXPECT_NE(xml.find("errors=\"1\""), std::string::npos);           // an unknown status is an error
  EXPECT_NE(xml.find("<error message=\"exploded: why not\""), std::string::npos) << xml;
  EXPECT_EQ(report_format::xml("a\xEF\xBF\xBE\xEF\xBF\xBF" "b"), "a??b");  // U+FFFE, U+FFFF: not XML
}


// --- html ------------------------------------------------------------------------------------

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = 0; (at = text.find(needle, at)) != std::string::npos; at += needle.size()) ++n;
  return n;
}

json samples_metric(const std::string& name, const std::string& unit, std::vector<double> samples,
                    const std::string& source = "measured") {
  auto m = metric(name, unit, samples[samples.size() / 2], source);
  m["samples"] = samples;
  m["stats"]["n"] = samples.size();
  return m;
}

TEST(HtmlReport, EscapesEveryStringAndCanRunNoScriptOrFetchAnything) {
  auto doc = hostile();
  doc["run"]["id"] = "\"><svg onload=alert(2)>";
  const auto html = render_html({read_result_view(doc)});
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<svg onload"), std::string::npos);
  EXPECT_NE(html.find("npu|&lt;script&gt;alert(1)&lt;/script&gt;,&quot;x&quot;"), std::string::npos) << html;
  EXPECT_NE(html.find("&quot;&gt;&lt;svg onload=alert(2)&gt;"), std::string::npos);
  // The policy that forbids script and every fetch, whatever a string might have become.
  EXPECT_NE(html.find("content=\"default-src 'none'; style-src 'unsafe-inline'\""), std::string::npos);
  EXPECT_EQ(html.find(" src="), std::string::npos);
  EXPECT_EQ(html.find("href=\"http"), std::string::npos);
}

TEST(HtmlReport, HostileStringsInFiguresStayTextInTablesAndCharts) {
  json doc = document();
  const std::string evil = "<script>x</script>\"'&";
  auto m = samples_metric(evil, "ms", {1, 2, 3});
  m["source"] = evil;
  doc["benchmarks"].push_back(record("llm.serving", evil, {{evil, evil}}, "passed", {m}));
  auto sweep = record("memory.sweep", evil, {{"size", 4096}, {"threads", evil}}, "passed",
                      {metric(evil, evil, 3, "measured")});
  doc["benchmarks"].push_back(sweep);
  const auto html = render_html({read_result_view(doc)});
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find(evil), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;x&lt;/script&gt;&quot;&apos;&amp;"), std::string::npos);
  EXPECT_GE(count(html, "<svg "), 8u);  // the hostile figures were charted, not skipped
}

TEST(HtmlReport, ChartsEveryFigureWithModeledOnesDrawnApart) {
  const auto html = render_html({read_result_view(document())});
  // energy.compute: energy_per_flop, energy_per_flop_net, energy_per_mac; llm.bench: tokens/s,
  // J/token; memory.bandwidth: J/GB. One bar chart each.
  EXPECT_EQ(count(html, "<svg "), 6u) << html;
  EXPECT_EQ(count(html, "<g class=\"bar modeled\">"), 2u);  // energy_per_mac and J/token on photonic-sim
  EXPECT_EQ(count(html, "<g class=\"bar\">"), 4u);
  EXPECT_NE(html.find("15.50<small> 1 sample</small><span class=\"tag\">modeled</span>"), std::string::npos) << html;
  // A record without figures says its status in the table.
  EXPECT_NE(html.find("<td class=\"bad\" title=\"why not\">skipped</td>"), std::string::npos);
}

TEST(HtmlReport, SweepAgainstWorkingSetLatencyAsCdfFrameLatencyAgainstDeadline) {
  json doc = document();
  doc["system"] = {{"topology", {{"caches", json::array({{{"level", 1}, {"type", "data"}, {"size_bytes", 49152}},
                                                         {{"level", 1}, {"type", "instruction"}, {"size_bytes", 32768}},
                                                         {{"level", 2}, {"type", "unified"}, {"size_bytes", 2097152}}})}}}};
  doc["benchmarks"] = json::array();
  for (std::uint64_t size = 4096; size <= (8u << 20); size *= 2)
    doc["benchmarks"].push_back(record("memory.sweep", "cpu", {{"size", size}, {"threads", 1}}, "passed",
                                       {metric("read_bandwidth", "GB/s", 1e6 / static_cast<double>(size), "measured")}));
  doc["benchmarks"].push_back(record("memory.latency", "cpu", {{"chains", 1}}, "passed",
                                     {samples_metric("latency", "ns/load", {80, 81, 82, 90, 120})}));
  auto video = record("video.stream", "photonic-sim", {{"model", "dit-small"}}, "passed",
                      {samples_metric("frame_latency", "ms", {30, 31, 31, 32}, "simulated")});
  video["details"] = {{"stream", {{"chunk_deadline_ms", 750.0}}}};
  doc["benchmarks"].push_back(video);
  const auto html = render_html({read_result_view(doc)});
  EXPECT_NE(html.find(">L1d 48KiB</text>"), std::string::npos) << html;
  EXPECT_NE(html.find(">L2 2MiB</text>"), std::string::npos);
  EXPECT_EQ(html.find("32KiB</text></g>"), std::string::npos);  // no instruction cache
  EXPECT_NE(html.find(">4MiB</text>"), std::string::npos);       // a log2 axis in bytes
  EXPECT_NE(html.find(">cpu: p50 82.00, p90 108.0, p99 118.8 ns/load</li>"), std::string::npos) << html;
  EXPECT_NE(html.find(">deadline 750 ms</text>"), std::string::npos);
  EXPECT_NE(html.find("<g class=\"series modeled\">"), std::string::npos);  // the simulated stream
  EXPECT_NE(html.find("<g class=\"series\">"), std::string::npos);
}

TEST(HtmlReport, ResultsSideBySideAndChartsStopWhereTablesGoOn) {
  json a = document(), b = document();
  a["benchmarks"] = json::array();
  for (int i = 0; i < 100; ++i)
    a["benchmarks"].push_back(record("memory.bandwidth", "cpu", {{"copy", i}}, "passed",
                                     {metric("bandwidth", "GB/s", 10 + i, "measured")}));
  b["benchmarks"] = json::array({record("memory.bandwidth", "cpu", {{"copy", 0}}, "passed",
                                        {metric("bandwidth", "GB/s", 12.5, "measured")})});
  const auto html = render_html({read_result_view(a), read_result_view(b)});
  EXPECT_NE(html.find("<th>R1</th><th>R2</th>"), std::string::npos);
  // The first row has both results' figures; the others say R2 lacks them.
  EXPECT_NE(html.find("<td>copy=0</td><td>cpu</td><td>bandwidth</td><td>GB/s</td><td class=\"num\">10.00<small> 1 "
                      "sample</small></td><td class=\"num\">12.50"),
            std::string::npos)
      << html;
  EXPECT_EQ(count(html, "<g class=\"bar\">"), 48u);
  EXPECT_NE(html.find("The first 48 of 101 rows; every row is in the table."), std::string::npos);
  EXPECT_EQ(count(html, "<td>copy="), 100u);
}

}  // namespace
}  // namespace xpb
