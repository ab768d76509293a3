// Crash-safe result files: the journal as the run goes, the atomic final document, and
// reading back whatever a crashed run left.
#include "xpubench/result_writer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "xpubench/error.hpp"
#include "xpubench/validate.hpp"

namespace xpb {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

class ResultWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("xpb_result_writer_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static json header() {
    json run = {{"id", "20250101T000000Z-00000001"}, {"status", "incomplete"}, {"started", "2025-01-01T00:00:00Z"},
                {"finished", nullptr}, {"command", {"xpubench", "run"}}};
    return {{"schema", kResultSchema}, {"run", run}, {"system", {{"hostname", "h"}}},
            {"devices", {{{"id", "cpu"}}}}};
  }

  static BenchmarkRecord record(const std::string& kernel) {
    BenchmarkRecord r;
    r.workload = "memory.bandwidth";
    r.device = "cpu";
    r.params = {{"kernel", kernel}};
    r.id = benchmark_id(r.workload, r.device, r.params);
    Metric m("bandwidth", "GB/s", Direction::higher_is_better, Source::measured);
    m.samples = {1.0, 2.0, 3.0};
    m.stats = summarize(m.samples);
    r.metrics.push_back(m);
    return r;
  }

  static std::vector<std::string> lines(const fs::path& p) {
    std::ifstream in(p);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  static void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }

  // The journal a crashed run leaves after `n` benchmarks (the writer is destroyed unfinished).
  fs::path crashed_journal(int n) {
    const auto out = dir_ / "r.json";
    ResultWriter w(out, header());
    for (int i = 0; i < n; ++i) w.append(record("k" + std::to_string(i)));
    return w.journal_path();
  }

  // Message of the InputError that load_result throws for `file`, or "" when it does not throw.
  static std::string load_error(const fs::path& file) {
    try {
      load_result(file);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(ResultWriterTest, CreatesParentDirectoriesAndStartsTheJournalWithTheHeader) {
  const auto out = dir_ / "a" / "b" / "r.json";
  ResultWriter w(out, header());
  EXPECT_EQ(w.journal_path(), dir_ / "a" / "b" / "r.json.journal");
  const auto l = lines(w.journal_path());
  ASSERT_EQ(l.size(), 1u);
  const auto first = json::parse(l[0]);
  EXPECT_EQ(first["kind"], "header");
  EXPECT_EQ(first["run"]["id"], "20250101T000000Z-00000001");
  EXPECT_EQ(first["schema"], std::string(kResultSchema));
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(ResultWriterTest, EachAppendIsInTheJournalWhenItReturns) {
  ResultWriter w(dir_ / "r.json", header());
  w.append(record("copy"));
  auto l = lines(w.journal_path());
  ASSERT_EQ(l.size(), 2u);
  auto second = json::parse(l[1]);
  EXPECT_EQ(second["kind"], "benchmark");
  EXPECT_EQ(second["record"]["id"], "memory.bandwidth/cpu/kernel=copy");
  EXPECT_EQ(second["record"]["metrics"][0]["samples"], json({1.0, 2.0, 3.0}));
  w.append(record("triad"));
  l = lines(w.journal_path());
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(json::parse(l[2])["record"]["params"]["kernel"], "triad");
}

TEST_F(ResultWriterTest, FinishWritesTheDocumentAndRemovesTheJournal) {
  const auto out = dir_ / "r.json";
  json doc;
  {
    ResultWriter w(out, header());
    w.append(record("copy"));
    w.append(record("triad"));
    doc = w.finish("complete");
  }
  EXPECT_FALSE(fs::exists(dir_ / "r.json.journal"));
  ASSERT_TRUE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(dir_)) EXPECT_EQ(e.path(), out) << "left behind: " << e.path();
  const auto loaded = load_result(out);
  EXPECT_EQ(loaded, doc);
  EXPECT_EQ(loaded["run"]["status"], "complete");
  EXPECT_TRUE(std::regex_match(loaded["run"]["finished"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  ASSERT_EQ(loaded["benchmarks"].size(), 2u);
  EXPECT_EQ(loaded["benchmarks"][0]["params"]["kernel"], "copy");
  EXPECT_EQ(loaded["benchmarks"][1]["params"]["kernel"], "triad");
  EXPECT_FALSE(loaded.contains("kind"));
}

TEST_F(ResultWriterTest, FinishedDocumentOfARealRunPassesTheRunRules) {
  // The header a run writes carries every run key; then the document must validate in full.
  auto h = header();
  h["run"].update({{"xpubench_version", "0.1.0"}, {"git_revision", "x"}, {"suites", json::array()}, {"quick", false},
                   {"overrides", json::object()}, {"config_hash", "h"}, {"policy", json::object()}});
  h["devices"] = {{{"id", "cpu"}, {"driver", "cpu"}, {"name", "c"}, {"kind", "cpu"}, {"simulated", false},
                   {"clock", "host"}, {"properties", json::object()},
                   {"energy", {{"available", false}, {"reason", "none"}}}}};
  ResultWriter w(dir_ / "r.json", h);
  w.append(record("copy"));
  const auto doc = w.finish("interrupted");
  std::string problems;
  for (const auto& p : validate_result(doc))
    if (p.where.rfind("/system", 0) != 0) problems += p.where + ": " + p.what + "\n";
  EXPECT_EQ(problems, "");
}

TEST_F(ResultWriterTest, AppendAfterFinishIsALogicError) {
  ResultWriter w(dir_ / "r.json", header());
  w.finish("complete");
  EXPECT_THROW(w.append(record("copy")), std::logic_error);
}

TEST_F(ResultWriterTest, AnUnfinishedWriterLeavesAJournalThatLoadsAsIncomplete) {
  const auto journal = crashed_journal(2);
  ASSERT_TRUE(fs::exists(journal));
  EXPECT_FALSE(fs::exists(dir_ / "r.json"));
  const auto doc = load_result(journal);
  EXPECT_EQ(doc["run"]["status"], "incomplete");
  EXPECT_TRUE(doc["run"]["finished"].is_null());
  EXPECT_EQ(doc["run"]["recovery"]["records"], 2);
  EXPECT_FALSE(doc["run"]["recovery"].contains("dropped_lines"));
  ASSERT_EQ(doc["benchmarks"].size(), 2u);
  EXPECT_EQ(doc["benchmarks"][1]["params"]["kernel"], "k1");
}

TEST_F(ResultWriterTest, AJournalWithOnlyItsHeaderLoadsWithNoBenchmarks) {
  const auto doc = load_result(crashed_journal(0));
  EXPECT_EQ(doc["run"]["status"], "incomplete");
  EXPECT_TRUE(doc["benchmarks"].empty());
}

TEST_F(ResultWriterTest, ATruncatedLastLineIsDroppedWithANote) {
  const auto journal = crashed_journal(2);
  const auto whole = json{{"kind", "benchmark"}, {"record", record("k2").to_json()}}.dump();
  std::ofstream(journal, std::ios::app) << whole.substr(0, whole.size() / 2);
  const auto doc = load_result(journal);
  EXPECT_EQ(doc["run"]["status"], "incomplete");
  ASSERT_EQ(doc["benchmarks"].size(), 2u);
  EXPECT_EQ(doc["run"]["recovery"]["records"], 2);
  ASSERT_EQ(doc["run"]["recovery"]["dropped_lines"].size(), 1u);
  EXPECT_EQ(doc["run"]["recovery"]["dropped_lines"][0]["line"], 4);
}

TEST_F(ResultWriterTest, TrailingZeroBytesAfterAPowerCutCountAsTruncation) {
  const auto journal = crashed_journal(1);
  std::ofstream(journal, std::ios::app | std::ios::binary) << "{\"kind\":\"bench" << std::string(64, '\0');
  const auto doc = load_result(journal);
  EXPECT_EQ(doc["benchmarks"].size(), 1u);
  EXPECT_EQ(doc["run"]["recovery"]["dropped_lines"][0]["line"], 3);
}

TEST_F(ResultWriterTest, AMalformedLineBeforeTheEndNamesFileAndLine) {
  const auto journal = crashed_journal(3);
  auto l = lines(journal);
  l[2] = l[2].substr(0, 20);  // line 3 cut, yet more lines follow: corruption, not a crash
  std::string text;
  for (const auto& s : l) text += s + "\n";
  write(journal, text);
  const auto what = load_error(journal);
  EXPECT_EQ(what.rfind(journal.string() + ":3:", 0), 0u) << what;
  EXPECT_NE(what.find("not a JSON line"), std::string::npos) << what;
}

TEST_F(ResultWriterTest, ABrokenLastLineThatEndsInANewlineIsAnError) {
  const auto journal = crashed_journal(1);
  std::ofstream(journal, std::ios::app) << "{\"kind\": \"benchmark\", oops}\n";
  EXPECT_EQ(load_error(journal).rfind(journal.string() + ":3:", 0), 0u) << load_error(journal);
}

TEST_F(ResultWriterTest, ALineOfTheWrongShapeSaysWhatWasExpected) {
  const auto journal = crashed_journal(1);
  std::ofstream(journal, std::ios::app) << "{\"kind\": \"benchmark\", \"rec\": {}}\n";
  const auto what = load_error(journal);
  EXPECT_EQ(what.rfind(journal.string() + ":3: expected a benchmark line", 0), 0u) << what;
}

TEST_F(ResultWriterTest, AJournalMustStartWithItsHeader) {
  const auto journal = dir_ / "x.journal";
  write(journal, "{\"kind\":\"benchmark\",\"record\":{}}\n{\"kind\":\"header\"}\n");
  const auto what = load_error(journal);
  EXPECT_EQ(what.rfind(journal.string() + ":1:", 0), 0u) << what;
  EXPECT_NE(what.find("expected the journal header"), std::string::npos) << what;
}

TEST_F(ResultWriterTest, AnExistingJournalIsKeptAsideNotOverwritten) {
  const auto out = dir_ / "r.json";
  write(dir_ / "r.json.journal", "journal of an earlier crashed run\n");
  ResultWriter w(out, header());
  EXPECT_EQ(read(dir_ / "r.json.journal.1"), "journal of an earlier crashed run\n");
  EXPECT_EQ(lines(w.journal_path()).size(), 1u);
}

TEST_F(ResultWriterTest, AnOldJournalThatCannotBeKeptStopsTheRunAndIsLeftAsItWas) {
  const auto out = dir_ / "r.json";
  write(dir_ / "r.json.journal", "the only copy of a crashed run\n");
  for (int i = 1; i < 1000; ++i) write(dir_ / ("r.json.journal." + std::to_string(i)), "older\n");
  try {
    ResultWriter w(out, header());
    FAIL() << "the writer started over a journal it could not keep";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("999 journals of earlier runs"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read(dir_ / "r.json.journal"), "the only copy of a crashed run\n");
  EXPECT_EQ(read(dir_ / "r.json.journal.999"), "older\n");
  EXPECT_FALSE(fs::exists(dir_ / "r.json.lock"));  // the lock was given up
}

TEST_F(ResultWriterTest, ADocumentNestedTooDeeplyIsRefusedNotACrash) {
  const auto file = dir_ / "deep.json";
  write(file, "{\"schema\": " + std::string(200000, '[') + std::string(200000, ']') + "}");
  const auto what = load_error(file);
  EXPECT_NE(what.find("deep.json: values nest deeper than 512 levels"), std::string::npos) << what;
}

TEST_F(ResultWriterTest, AJournalThatCannotBeCreatedThrows) {
  write(dir_ / "file", "x");
  EXPECT_THROW(ResultWriter(dir_ / "file" / "sub" / "r.json", header()), std::runtime_error);
}

TEST_F(ResultWriterTest, ADocumentIsReturnedAsIs) {
  const json doc = {{"schema", "xpubench.result/1"}, {"anything", {1, 2}}};
  write(dir_ / "d.json", doc.dump());
  EXPECT_EQ(load_result(dir_ / "d.json"), doc);
}

TEST_F(ResultWriterTest, JsonWithoutASchemaKeyIsNotAResult) {
  const auto f = dir_ / "other.json";
  write(f, "{\"name\": \"package.json, perhaps\"}");
  EXPECT_EQ(load_error(f), f.string() + ": not an xpubench result (no \"schema\" key)");
  write(f, "[1, 2]");
  EXPECT_EQ(load_error(f), f.string() + ": not an xpubench result (no \"schema\" key)");
}

TEST_F(ResultWriterTest, ParseErrorsNameLineAndColumn) {
  const auto f = dir_ / "bad.json";
  write(f, "{\n  \"a\": 1,\n  \"b\" 2\n}\n");
  const auto what = load_error(f);
  EXPECT_EQ(what.rfind(f.string() + ":3:7: ", 0), 0u) << what;
  EXPECT_EQ(what.find("json.exception"), std::string::npos) << what;
}

TEST_F(ResultWriterTest, ParseErrorAtTheEndOfAFilePointsPastItsLastLine) {
  const auto f = dir_ / "cut.json";
  write(f, "{\n  \"schema\": \n");
  EXPECT_EQ(load_error(f).rfind(f.string() + ":3:1: ", 0), 0u) << load_error(f);
}

TEST_F(ResultWriterTest, AMissingFileIsAnInputError) {
  const auto what = load_error(dir_ / "nope.json");
  EXPECT_NE(what.find("nope.json: cannot read"), std::string::npos) << what;
}

TEST(AssembleResult, SetsStatusAndFinishTimeAndKeepsRecordOrder) {
  const json header = {{"kind", "header"}, {"schema", "xpubench.result/1"}, {"run", {{"id", "x"}}},
                       {"system", json::object()}, {"devices", json::array()}};
  const auto done = assemble_result(header, {{{"id", "a"}}, {{"id", "b"}}}, "failed");
  EXPECT_EQ(done["run"]["status"], "failed");
  EXPECT_TRUE(done["run"]["finished"].is_string());
  EXPECT_EQ(done["run"]["id"], "x");
  EXPECT_EQ(done["benchmarks"], json({{{"id", "a"}}, {{"id", "b"}}}));
  EXPECT_FALSE(done.contains("kind"));
  const auto cut = assemble_result(header, {}, "incomplete");
  EXPECT_TRUE(cut["run"]["finished"].is_null());
  EXPECT_EQ(cut["benchmarks"], json::array());
}

TEST(WriteFileAtomically, ReplacesTheWholeFileAndLeavesNoTemporary) {
  const auto dir = fs::temp_directory_path() / ("xpb_atomic_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const auto f = dir / "nested" / "out.txt";
  write_file_atomically(f, "a much longer first version\n");
  write_file_atomically(f, "second\n");
  std::ifstream in(f);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "second\n");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir / "nested")) ++entries;
  EXPECT_EQ(entries, 1);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace xpb
