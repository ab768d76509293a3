#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "xpubench/error.hpp"
#include "xpubench/parse.hpp"
#include "xpubench/suite.hpp"

namespace {

std::string error_of(const std::string& yaml) {
  try {
    xpb::parse_suite(yaml, "s.yaml");
  } catch (const xpb::InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Suite, ParsesEntriesParamsAndPolicies) {
  const auto s = xpb::parse_suite(R"(suite: mem
description: test
policy: {max_seconds: 2}
quick_policy: {max_seconds: 0.5}
benchmarks:
  - workload: memory.bandwidth
    params: {kernel: [copy, triad], threads: 2, array_bytes: 64MiB, name: "007"}
    quick_params: {array_bytes: 1MiB}
)", "s.yaml");
  EXPECT_EQ(s.name, "mem");
  ASSERT_EQ(s.entries.size(), 1u);
  const auto& e = s.entries[0];
  EXPECT_EQ(e.workload, "memory.bandwidth");
  EXPECT_EQ(e.params["kernel"], nlohmann::json({"copy", "triad"}));
  EXPECT_EQ(e.params["threads"], 2);
  EXPECT_EQ(e.params["array_bytes"], "64MiB");
  EXPECT_EQ(e.params["name"], "007");  // quoted: stays a string
  EXPECT_EQ(e.quick_params["array_bytes"], "1MiB");
  EXPECT_EQ(e.policy["max_seconds"], 2);
  EXPECT_EQ(e.quick_policy["max_seconds"], 0.5);
  EXPECT_EQ(e.where, "s.yaml:6:5");
  EXPECT_EQ(e.param_where.at("threads"), "s.yaml:7:46");
}

TEST(Suite, ErrorsNameFileLineColumnAndWhatWasExpected) {
  EXPECT_EQ(error_of("suite: x\nbenchmarks: 3\n"),
            "s.yaml:2:13: expected 'benchmarks' to be a list of entries ('- workload: ...')");
  EXPECT_EQ(error_of("suite: x\nbenchmarks:\n  - params: {}\n"),
            "s.yaml:3:5: benchmark entry needs a 'workload' key (e.g. workload: memory.bandwidth)");
  EXPECT_NE(error_of("suite: x\nbenchmark: []\n").find("s.yaml:2:1: unknown key 'benchmark' in a suite"),
            std::string::npos);
  EXPECT_NE(error_of("suite: x\npolicy: {max_seconds: -1}\nbenchmarks: [{workload: w}]\n")
                .find("s.yaml:2:10: run-policy key 'max_seconds' expects a finite non-negative number"),
            std::string::npos);
  // A YAML syntax error keeps yaml-cpp's position, 1-based.
  EXPECT_NE(error_of("suite: x\nbenchmarks: [\n").find("s.yaml:3:1:"), std::string::npos);
  EXPECT_NE(error_of("- a\n- b\n").find("s.yaml:1:1: expected a suite"), std::string::npos);
  EXPECT_NE(error_of("suite: x\n").find("has no benchmarks"), std::string::npos);
  EXPECT_NE(error_of("suite: x\nquick: maybe\nbenchmarks: [{workload: w}]\n").find("s.yaml:2:8: expected 'quick' to be true or false"),
            std::string::npos);
}

TEST(Suite, IncludeKeepsEachSuitesPolicyUnderTheIncludingOne) {
  const auto dir = std::filesystem::temp_directory_path() / "xpb_suite_include_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "fam.yaml") << "suite: fam\npolicy: {max_seconds: 3, min_seconds: 1}\n"
                                     "benchmarks: [{workload: memory.sweep}]\n";
  std::ofstream(dir / "all.yaml") << "suite: all\npolicy: {max_seconds: 9}\nquick: true\ninclude: [fam]\n";
  const auto s = xpb::load_suite(dir / "all.yaml");
  EXPECT_TRUE(s.quick);
  ASSERT_EQ(s.entries.size(), 1u);
  EXPECT_EQ(s.entries[0].policy["max_seconds"], 9);
  EXPECT_EQ(s.entries[0].policy["min_seconds"], 1);
  std::ofstream(dir / "bad.yaml") << "suite: bad\ninclude: [nowhere]\n";
  try {
    xpb::load_suite(dir / "bad.yaml");
    FAIL() << "an unknown include must fail";
  } catch (const xpb::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.yaml:2:11: included suite 'nowhere' not found"), std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

std::string load_error(const std::filesystem::path& p) {
  try {
    xpb::load_suite(p);
  } catch (const xpb::InputError& e) {
    return e.what();
  }
  return "";
}

// A folder of its own under the test temp dir, removed at the end.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::path(::testing::TempDir()) /
           ("xpb_suite_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path / "locked.yaml", std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path, ec);
  }
};

TEST(Suite, EveryFileProblemNamesTheFileAndTheReason) {
  TempDir d;
  EXPECT_NE(load_error("/nonexistent/suite.yaml").find("/nonexistent/suite.yaml: cannot read the suite: No such file"),
            std::string::npos)
      << load_error("/nonexistent/suite.yaml");
  EXPECT_NE(load_error(d.path).find(": is a directory; expected a suite file"), std::string::npos) << load_error(d.path);
  // A FIFO is never opened (it would block until a writer came).
  const auto fifo = d.path / "fifo.yaml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_NE(load_error(fifo).find("is not a regular file"), std::string::npos) << load_error(fifo);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));  // it did not wait for a writer
  // An unreadable file says the OS's reason (root reads anything: then it parses).
  const auto locked = d.path / "locked.yaml";
  std::ofstream(locked) << "suite: x\nbenchmarks: [{workload: w}]\n";
  std::filesystem::permissions(locked, std::filesystem::perms::none);
  if (::geteuid() != 0) {
    EXPECT_NE(load_error(locked).find("Permission denied"), std::string::npos) << load_error(locked);
  }
}

TEST(Suite, AFifoInTheSearchPathIsNotListedOrOpened) {
  TempDir d;
  ASSERT_EQ(::mkfifo((d.path / "stuck.yaml").c_str(), 0600), 0);
  std::ofstream(d.path / "mine.yaml") << "suite: mine\nbenchmarks: [{workload: memory.latency}]\n";
  ::setenv("XPB_SUITE_PATH", d.path.c_str(), 1);
  bool mine = false, stuck = false;
  for (const auto& l : xpb::list_suites()) {
    mine = mine || l.name == "mine";
    stuck = stuck || l.name == "stuck";
  }
  ::unsetenv("XPB_SUITE_PATH");
  EXPECT_TRUE(mine);
  EXPECT_FALSE(stuck);
}

TEST(Suite, AliasesThatExpandToMillionsOfValuesAreRefusedAtOnce) {
  // Eight levels of ten references: 10^8 values from a few hundred bytes.
  std::string yaml = "suite: bomb\nbenchmarks:\n  - workload: memory.bandwidth\n    params:\n"
                     "      a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 8; ++i) {
    yaml += "      a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) yaml += (k ? ", *a" : "*a") + std::to_string(i - 1);
    yaml += "]\n";
  }
  ASSERT_LT(yaml.size(), 600u);
  const auto t0 = std::chrono::steady_clock::now();
  const auto err = error_of(yaml);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));  // a bound, not a speed goal
  EXPECT_NE(err.find("s.yaml:"), std::string::npos) << err;
  EXPECT_NE(err.find("expands to more than 100000 values"), std::string::npos) << err;
  // The same through a --set value.
  std::string set = "kernel=[&a [x, x, x, x, x, x, x, x, x, x]";
  std::string prev = "a";
  for (int i = 1; i < 7; ++i) {
    const std::string name = "b" + std::to_string(i);
    set += ", &" + name + " [";
    for (int k = 0; k < 10; ++k) set += (k ? ", *" : "*") + prev;
    set += "]";
    prev = name;
  }
  set += "]";
  EXPECT_THROW(xpb::parse_override(set), xpb::InputError);
}

TEST(Suite, IncludesThatMultiplyAreRefusedAtOnce) {
  // Seven files, each including the next ten times: 10^7 includes from seven two-line files.
  TempDir d;
  for (int i = 0; i < 7; ++i) {
    std::string text = "suite: l" + std::to_string(i) + "\n";
    if (i == 6) {
      text += "benchmarks: [{workload: memory.latency}]\n";
    } else {
      text += "include: [";
      for (int k = 0; k < 10; ++k) text += (k ? ", l" : "l") + std::to_string(i + 1);
      text += "]\n";
    }
    std::ofstream(d.path / ("l" + std::to_string(i) + ".yaml")) << text;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const auto err = load_error(d.path / "l0.yaml");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));  // a bound, not a speed goal
  EXPECT_NE(err.find("expands to more than 100000 values, entries and includes"), std::string::npos) << err;
}

TEST(Suite, ALongNumberIsTextAndLongKeysOrDeepNestingAreRefusedClearly) {
  // 60,000 digits once overflowed the stack in the number regex; now they are text, which the
  // workload then refuses as a value of the wrong type.
  const std::string digits(60000, '9');
  const auto value = xpb::parse_override("size=" + digits).value;
  EXPECT_TRUE(value.is_string());
  const auto suite =
      xpb::parse_suite("suite: s\nbenchmarks:\n  - workload: memory.latency\n    params: {steps: " + digits + "}\n", "s.yaml");
  EXPECT_TRUE(suite.entries.at(0).params.at("steps").is_string());
  EXPECT_THROW(xpb::parse_override(std::string(200, 'k') + "=1"), xpb::InputError);
  EXPECT_THROW(xpb::parse_bytes(std::string(60000, ' ') + "1", "x"), xpb::InputError);
  // Nesting past the YAML reader's own limit names the place, not "bad file".
  const std::string deep = "suite: s\nbenchmarks:\n  - workload: w\n    params: {a: " + std::string(1000, '[') +
                           std::string(1000, ']') + "}\n";
  const auto err = error_of(deep);
  EXPECT_NE(err.find("s.yaml:4:"), std::string::npos) << err;
  EXPECT_NE(err.find("nest deeper"), std::string::npos) << err;
}

TEST(Suite, TextThatIsNotUtf8IsRefusedWhereItIsWritten) {
  // Found by fuzzing: such a value once escaped as the JSON library's exception.
  EXPECT_EQ(error_of("suite: x\nbenchmarks:\n  - workload: memory.bandwidth\n    params: {kernel: [copy, tria\xef" "d]}\n"),
            "s.yaml:4:29: a value that is not valid UTF-8");
  EXPECT_EQ(error_of("suite: x\npolicy: {max_seconds: \xb5}\nbenchmarks: [{workload: w}]\n"),
            "s.yaml:2:23: a value that is not valid UTF-8");
  EXPECT_THROW(xpb::parse_override("kernel=[copy, tria\xef" "d]"), xpb::InputError);
  EXPECT_TRUE(xpb::valid_utf8("grüße \xe2\x82\xac"));
  EXPECT_FALSE(xpb::valid_utf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(xpb::valid_utf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(xpb::valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
}

TEST(Suite, ParseBytesAcceptsUnitsAndRejectsNonsense) {
  EXPECT_EQ(xpb::parse_bytes(4096, "x"), 4096u);
  EXPECT_EQ(xpb::parse_bytes("64MiB", "x"), 64ull << 20);
  EXPECT_EQ(xpb::parse_bytes("4 KiB", "x"), 4096u);
  EXPECT_EQ(xpb::parse_bytes("1.5GB", "x"), 1500000000u);
  EXPECT_EQ(xpb::parse_bytes("2TiB", "x"), 2ull << 40);
  EXPECT_THROW(xpb::parse_bytes("lots", "x"), xpb::InputError);
  EXPECT_THROW(xpb::parse_bytes(-5, "x"), xpb::InputError);
  EXPECT_THROW(xpb::parse_bytes("5 MB/s", "x"), xpb::InputError);
  // Sizes past 4 EiB would overflow a uint64 sum or cast; they are refused, not wrapped.
  EXPECT_THROW(xpb::parse_bytes(1e30, "x"), xpb::InputError);
  EXPECT_THROW(xpb::parse_bytes("99999999 TiB", "x"), xpb::InputError);
  EXPECT_THROW(xpb::parse_bytes(nlohmann::json(std::uint64_t{1} << 63), "x"), xpb::InputError);
  EXPECT_EQ(xpb::parse_bytes("4096 TiB", "x"), 4096ull << 40);
  // One parser, consistent limits: 1 PiB is 1024 TiB, both accepted; 4 EiB is the most.
  EXPECT_EQ(xpb::parse_bytes("1PiB", "x"), xpb::parse_bytes("1024TiB", "x"));
  EXPECT_EQ(xpb::parse_bytes("4EiB", "x"), xpb::kMaxBytes);
  EXPECT_EQ(xpb::parse_bytes("2PB", "x"), 2000000000000000000ull / 1000);
  EXPECT_THROW(xpb::parse_bytes("5EiB", "x"), xpb::InputError);
  EXPECT_EQ(xpb::parse_bytes(1e6, "x"), 1000000u);  // a whole float is a size
  EXPECT_THROW(xpb::parse_bytes(1.5, "x"), xpb::InputError);
  // A size that is not a whole number of bytes is refused, never rounded.
  EXPECT_EQ(xpb::parse_bytes("1.5KiB", "x"), 1536u);
  EXPECT_THROW(xpb::parse_bytes("1.5B", "x"), xpb::InputError);
  EXPECT_THROW(xpb::parse_bytes("0.0001KB", "x"), xpb::InputError);
}

TEST(Parse, WholeNumbersHaveBoundsAndNeverWrap) {
  EXPECT_EQ(xpb::parse_whole(nlohmann::json(1e18), "x", 0, INT64_MAX), 1000000000000000000);
  EXPECT_EQ(xpb::parse_whole(nlohmann::json("42"), "x", 0, 100), 42);
  EXPECT_THROW(xpb::parse_whole(nlohmann::json(2.5), "x", 0, 100), xpb::InputError);
  EXPECT_THROW(xpb::parse_whole(nlohmann::json(101), "x", 0, 100), xpb::InputError);
  // -1 is -1: below 0 it is refused, never read as 2^64 - 1.
  try {
    xpb::parse_unsigned(nlohmann::json("-1"), "model export --seed", UINT64_MAX);
    FAIL() << "-1 accepted as an unsigned seed";
  } catch (const xpb::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("model export --seed: expected a whole number in [0, 18446744073709551615], got \"-1\""),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(xpb::parse_unsigned(nlohmann::json("18446744073709551615"), "x", UINT64_MAX), UINT64_MAX);
  EXPECT_THROW(xpb::parse_unsigned(nlohmann::json("18446744073709551616"), "x", UINT64_MAX), xpb::InputError);
}

TEST(Suite, KeysMustBeStringsAndUnique) {
  EXPECT_EQ(error_of("suite: x\nsuite: y\nbenchmarks: [{workload: w}]\n"), "s.yaml:2:1: duplicate key 'suite'");
  EXPECT_EQ(error_of("suite: x\nbenchmarks:\n  - workload: w\n    params: {a: 1, a: 2}\n"),
            "s.yaml:4:20: duplicate key 'a'");
  EXPECT_EQ(error_of("suite: x\n[a]: 1\nbenchmarks: [{workload: w}]\n"), "s.yaml:2:1: expected a plain string as key");
  EXPECT_EQ(error_of("suite: x\nbenchmarks:\n  - workload: w\n    params: {{k: 1}: 2}\n"),
            "s.yaml:4:14: expected a plain string as key");
}

TEST(Suite, OverridesParseValuesAsYaml) {
  auto o = xpb::parse_override("threads=2");
  EXPECT_EQ(o.key, "threads");
  EXPECT_EQ(o.value, 2);
  o = xpb::parse_override("kernel=[copy, add]");
  EXPECT_EQ(o.value, nlohmann::json({"copy", "add"}));
  o = xpb::parse_override("policy.max_seconds=0.5");
  EXPECT_EQ(o.key, "policy.max_seconds");
  EXPECT_DOUBLE_EQ(o.value.get<double>(), 0.5);
  EXPECT_THROW(xpb::parse_override("threads"), xpb::InputError);
  EXPECT_THROW(xpb::parse_override("=2"), xpb::InputError);
  EXPECT_THROW(xpb::parse_override("threads="), xpb::InputError);
  EXPECT_THROW(xpb::parse_override("bad key=1"), xpb::InputError);
  EXPECT_THROW(xpb::parse_override("k=[1, 2"), xpb::InputError);
}

TEST(Suite, ShippedSuitesParse) {
  for (const char* name : {"memory", "compute", "llm", "standard", "quick"}) {
    const auto path = xpb::find_suite(name);
    ASSERT_FALSE(path.empty()) << name;
    const auto s = xpb::load_suite(path);
    EXPECT_FALSE(s.entries.empty()) << name;
  }
}

}  // namespace

TEST(Suite, NamesTheDevicesItIsAbout) {
  const auto s = xpb::parse_suite(R"(suite: sweep
devices: [photonic-sim, "photonic-sim,dac_bits=6"]
benchmarks:
  - workload: llm.bench
)",
                                  "s.yaml");
  EXPECT_EQ(s.devices, (std::vector<std::string>{"photonic-sim", "photonic-sim,dac_bits=6"}));
  EXPECT_NE(error_of("suite: s\ndevices: photonic-sim\nbenchmarks:\n  - workload: llm.bench\n").find("s.yaml:2:10"),
            std::string::npos);
}
