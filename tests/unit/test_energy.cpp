// Powercap trees are built in a temporary directory per test: the counters have to change
// between two snapshots, and an unreadable file cannot be stored in git.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "forked_child.hpp"
#include "xpubench/energy.hpp"

namespace {

namespace fs = std::filesystem;

// The range a Skylake-SP package reports: 2^32 counts of 61.035 uJ.
constexpr std::uint64_t kRange = 262143328850;

class Powercap : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    root_ = fs::temp_directory_path() / ("xpb-powercap-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(root_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(root_, fs::perms::owner_all, fs::perm_options::add, ec);
    for (auto& p : fs::recursive_directory_iterator(root_, ec))
      fs::permissions(p.path(), fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(root_, ec);
  }

  static void write(const fs::path& file, const std::string& text) {
    std::ofstream(file) << text << "\n";
  }
  // `rel` is relative to the root: "intel-rapl:0" or "intel-rapl:0/intel-rapl:0:2".
  fs::path zone(const std::string& rel, const std::string& name, std::uint64_t energy_uj,
                std::uint64_t range = kRange) {
    const fs::path dir = root_ / rel;
    fs::create_directories(dir);
    write(dir / "name", name);
    write(dir / "energy_uj", std::to_string(energy_uj));
    write(dir / "max_energy_range_uj", std::to_string(range));
    return dir;
  }
  void set(const std::string& rel, std::uint64_t energy_uj) { write(root_ / rel / "energy_uj", std::to_string(energy_uj)); }

  static std::map<std::string, double> domains(const xpb::EnergyReading& r) {
    return {r.domains.begin(), r.domains.end()};
  }

  fs::path root_;
};

TEST(CounterDelta, NoWrap) { EXPECT_EQ(xpb::counter_delta(10, 30, 100), 20u); }

TEST(CounterDelta, WrapCountsThroughMaxAndZero) {
  EXPECT_EQ(xpb::counter_delta(90, 5, 100), 16u);  // 90..100 is 10 steps, 100->0 one, 0..5 five
  EXPECT_EQ(xpb::counter_delta(100, 0, 100), 1u);
  EXPECT_EQ(xpb::counter_delta(kRange - 1'000'000, 2'000'000, kRange), 3'000'001u);
}

TEST(CounterDelta, EqualReadingsAreZero) { EXPECT_EQ(xpb::counter_delta(42, 42, 100), 0u); }

TEST_F(Powercap, OnePackageGivesJoulesFromMicrojoules) {
  zone("intel-rapl:0", "package-0", 1'000'000);
  auto sensor = xpb::make_powercap_sensor(root_);
  ASSERT_EQ(sensor->unavailable_reason(), "");
  EXPECT_EQ(sensor->name(), "rapl");
  const auto before = sensor->snapshot();
  ASSERT_TRUE(before.ok);
  set("intel-rapl:0", 3'500'000);
  const auto r = sensor->since(before);
  ASSERT_TRUE(r.available) << r.reason;
  EXPECT_EQ(r.source, "rapl");
  EXPECT_TRUE(r.reason.empty());
  EXPECT_DOUBLE_EQ(r.joules, 2.5);
  EXPECT_GE(r.seconds, 0.0);
  EXPECT_EQ(domains(r), (std::map<std::string, double>{{"package-0", 2.5}}));
}

TEST_F(Powercap, TwoPackagesAreSummedAndSubzonesReportedApart) {
  zone("intel-rapl:0", "package-0", 100);
  zone("intel-rapl:0/intel-rapl:0:0", "core", 100);
  zone("intel-rapl:0/intel-rapl:0:1", "dram", 100);
  zone("intel-rapl:1", "package-1", 100);
  // sysfs also lists each subzone flat beside the packages; this one is only there.
  zone("intel-rapl:1:0", "dram", 100);
  // The same package counter over MMIO: summing it would count package 0 twice.
  zone("intel-rapl-mmio:0", "package-0", 100);

  auto sensor = xpb::make_powercap_sensor(root_);
  ASSERT_EQ(sensor->unavailable_reason(), "");
  const auto before = sensor->snapshot();
  ASSERT_TRUE(before.ok);
  EXPECT_EQ(before.counters.size(), 5u);
  set("intel-rapl:0", 10'000'100);                // 10 J
  set("intel-rapl:0/intel-rapl:0:0", 6'000'100);  // 6 J, inside package 0's 10 J
  set("intel-rapl:0/intel-rapl:0:1", 3'000'100);  // 3 J
  set("intel-rapl:1", 20'000'100);                // 20 J
  set("intel-rapl:1:0", 4'000'100);               // 4 J
  set("intel-rapl-mmio:0", 99'000'100);
  const auto r = sensor->since(before);
  ASSERT_TRUE(r.available) << r.reason;
  EXPECT_DOUBLE_EQ(r.joules, 30.0);
  EXPECT_EQ(domains(r), (std::map<std::string, double>{{"package-0", 10.0},
                                                       {"package-0/core", 6.0},
                                                       {"package-0/dram", 3.0},
                                                       {"package-1", 20.0},
                                                       {"package-1/dram", 4.0}}));
}

TEST_F(Powercap, PsysIsNotAddedToPackages) {
  zone("intel-rapl:0", "package-0", 0);
  zone("intel-rapl:1", "psys", 0);
  auto sensor = xpb::make_powercap_sensor(root_);
  const auto before = sensor->snapshot();
  set("intel-rapl:0", 5'000'000);
  set("intel-rapl:1", 9'000'000);
  const auto r = sensor->since(before);
  ASSERT_TRUE(r.available) << r.reason;
  EXPECT_DOUBLE_EQ(r.joules, 5.0);
  EXPECT_DOUBLE_EQ(domains(r).at("psys"), 9.0);
}

TEST_F(Powercap, PsysAloneIsTheTotal) {
  zone("intel-rapl:0", "psys", 0);
  auto sensor = xpb::make_powercap_sensor(root_);
  const auto before = sensor->snapshot();
  set("intel-rapl:0", 7'000'000);
  const auto r = sensor->since(before);
  ASSERT_TRUE(r.available) << r.reason;
  EXPECT_DOUBLE_EQ(r.joules, 7.0);
}

TEST_F(Powercap, CounterWrapAroundIsCounted) {
  zone("intel-rapl:0", "package-0", kRange - 2'000'000);
  auto sensor = xpb::make_powercap_sensor(root_);
  const auto before = sensor->snapshot();
  ASSERT_TRUE(before.ok);
  set("intel-rapl:0", 1'000'000);
  const auto r = sensor->since(before);
  ASSERT_TRUE(r.available) << r.reason;
  EXPECT_NEAR(r.joules, 3.0, 2e-6);  // 2 J to the top, 1 J after it; not a negative or 262 kJ
}

TEST_F(Powercap, CounterAboveItsRangeIsUnavailableNotANumber) {
  zone("intel-rapl:0", "package-0", 10, 1000);
  auto sensor = xpb::make_powercap_sensor(root_);
  const auto before = sensor->snapshot();
  set("intel-rapl:0", 5000);
  const auto r = sensor->since(before);
  EXPECT_FALSE(r.available);
  EXPECT_EQ(r.joules, 0.0);
  EXPECT_NE(r.reason.find("max_energy_range_uj"), std::string::npos) << r.reason;
}

TEST_F(Powercap, PermissionDeniedNamesTheCve) {
  const auto dir = zone("intel-rapl:0", "package-0", 1000);
  fs::permissions(dir / "energy_uj", fs::perms::none);
  if (::access((dir / "energy_uj").c_str(), R_OK) == 0) {
    // root (CAP_DAC_OVERRIDE) reads a mode-000 file: the sensor must then work, not claim a
    // permission problem; the unreadable case is then proved as nobody, in a child.
    auto sensor = xpb::make_powercap_sensor(root_);
    EXPECT_EQ(sensor->unavailable_reason(), "");
    const auto said = xpb::test::in_forked_child([&] {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) return std::string("cannot become nobody");
      auto as_nobody = xpb::make_powercap_sensor(root_);
      const auto r = as_nobody->since(as_nobody->snapshot());
      return as_nobody->unavailable_reason() + "|" + (r.available ? "available" : r.reason);
    });
    EXPECT_NE(said.find("energy_uj is readable only by root since Linux 5.10 (CVE-2020-8694)"), std::string::npos)
        << said;
    EXPECT_EQ(said.find("|available"), std::string::npos) << said;
    return;
  }
  auto sensor = xpb::make_powercap_sensor(root_);
  const auto why = sensor->unavailable_reason();
  EXPECT_NE(why.find("energy_uj is readable only by root since Linux 5.10 (CVE-2020-8694)"), std::string::npos) << why;
  const auto r = sensor->since(sensor->snapshot());
  EXPECT_FALSE(r.available);
  EXPECT_EQ(r.reason, why);
}

TEST_F(Powercap, UnreadableCounterIsUnavailableWithThePath) {
  const auto dir = root_ / "intel-rapl:0";
  fs::create_directories(dir / "energy_uj");  // a directory where the counter file should be
  write(dir / "name", "package-0");
  write(dir / "max_energy_range_uj", std::to_string(kRange));
  auto sensor = xpb::make_powercap_sensor(root_);
  const auto why = sensor->unavailable_reason();
  EXPECT_NE(why.find("cannot read " + (dir / "energy_uj").string()), std::string::npos) << why;
  EXPECT_FALSE(sensor->snapshot().ok);
}

TEST_F(Powercap, UnparsableCounterIsUnavailable) {
  const auto dir = zone("intel-rapl:0", "package-0", 0);
  write(dir / "energy_uj", "12ab");
  auto sensor = xpb::make_powercap_sensor(root_);
  const auto why = sensor->unavailable_reason();
  EXPECT_NE(why.find("unparsable content"), std::string::npos) << why;
  EXPECT_NE(why.find("'12ab'"), std::string::npos) << why;
}

TEST_F(Powercap, NoRaplZonesIsUnavailable) {
  fs::create_directories(root_ / "dtpm");
  zone("intel-rapl-mmio:0", "package-0", 0);
  auto sensor = xpb::make_powercap_sensor(root_);
  EXPECT_EQ(sensor->unavailable_reason(), "no RAPL zones (intel-rapl:N) under " + root_.string());
}

TEST_F(Powercap, AbsentRootIsUnavailable) {
  const auto missing = root_ / "powercap";
  auto sensor = xpb::make_powercap_sensor(missing);
  EXPECT_EQ(sensor->unavailable_reason(),
            "no powercap interface at " + missing.string() + " (no RAPL driver, or a virtual machine)");
  EXPECT_FALSE(sensor->snapshot().ok);
  const auto r = sensor->since(sensor->snapshot());
  EXPECT_FALSE(r.available);
  EXPECT_EQ(r.source, "rapl");
  EXPECT_EQ(r.joules, 0.0);
  EXPECT_TRUE(r.domains.empty());
}

TEST(PowercapOnThisMachine, ReportsAReasonOrAReadingNeverBoth) {
  auto sensor = xpb::make_powercap_sensor();
  const auto why = sensor->unavailable_reason();
  const auto r = sensor->since(sensor->snapshot());
  if (!fs::exists("/sys/class/powercap")) {
    EXPECT_EQ(why, "no powercap interface at /sys/class/powercap (no RAPL driver, or a virtual machine)");
  }
  if (why.empty()) {
    EXPECT_TRUE(r.available) << r.reason;
    EXPECT_GE(r.joules, 0.0);
  } else {
    EXPECT_FALSE(r.available);
    EXPECT_EQ(r.reason, why);
    EXPECT_EQ(r.joules, 0.0);
  }
}

}  // namespace
