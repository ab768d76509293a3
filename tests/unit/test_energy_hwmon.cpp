// hwmon trees are built in a temporary directory per test (never the real /sys): counters must
// change between two snapshots, and an unreadable file cannot be stored in git. Real sysfs
// lists its chips as symlinks into /sys/devices; both forms are built here.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "forked_child.hpp"
#include "xpubench/energy.hpp"

namespace {

namespace fs = std::filesystem;

class Hwmon : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    base_ = fs::temp_directory_path() / ("xpb-hwmon-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    root_ = base_ / "class-hwmon";
    fs::create_directories(root_);
  }
  void TearDown() override {
    std::error_code ec;
    for (auto& p : fs::recursive_directory_iterator(base_, ec))
      fs::permissions(p.path(), fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(base_, ec);
  }

  static void write(const fs::path& file, const std::string& text) { std::ofstream(file) << text << "\n"; }
  // While a sensor's thread samples the file: a rename, so that it never reads a half-written one.
  static void replace(const fs::path& file, const std::string& text) {
    const fs::path tmp = file.string() + ".tmp";
    write(tmp, text);
    fs::rename(tmp, file);
  }

  // A chip directory at <root>/hwmonN, or elsewhere with <root>/hwmonN a symlink to it.
  fs::path chip(int n, const std::string& name, bool symlinked = false) {
    const std::string id = "hwmon" + std::to_string(n);
    const fs::path dir = symlinked ? base_ / "devices" / id : root_ / id;
    fs::create_directories(dir);
    if (symlinked) fs::create_directory_symlink(dir, root_ / id);
    write(dir / "name", name);
    return dir;
  }

  static std::map<std::string, double> domains(const xpb::EnergyReading& r) {
    return {r.domains.begin(), r.domains.end()};
  }

  fs::path base_, root_;
};

TEST_F(Hwmon, EnergyInputsAreSummedAndReportedPerDomain) {
  const auto cpu = chip(0, "amd_energy");
  write(cpu / "energy1_input", "1000000");
  write(cpu / "energy1_label", "Esocket0");
  write(cpu / "energy2_input", "500");  // no label: named after the input
  const auto gpu = chip(1, "xe", /*symlinked=*/true);
  write(gpu / "energy1_input", "42");
  write(gpu / "energy1_label", "card");
  write(gpu / "power1_input", "9000000");  // left out: energy inputs are used where any chip has them
  const auto temp = chip(2, "coretemp");
  write(temp / "temp1_input", "45000");
  const auto meter = chip(3, "power_meter");
  write(meter / "power1_average", "300000000");

  auto sensor = xpb::make_hwmon_sensor(root_);
  ASSERT_EQ(sensor->unavailable_reason(), "");
  EXPECT_EQ(sensor->name(), "hwmon");
  EXPECT_DOUBLE_EQ(sensor->update_interval_s(), 1e-3);
  const auto covers = sensor->covers();
  EXPECT_NE(covers.find("the hwmon chips amd_energy, xe meter"), std::string::npos) << covers;
  EXPECT_NE(covers.find("amd_energy/Esocket0"), std::string::npos) << covers;
  EXPECT_NE(covers.find("power inputs of xe, power_meter are left out"), std::string::npos) << covers;

  const auto before = sensor->snapshot();
  ASSERT_TRUE(before.ok);
  EXPECT_EQ(before.counters, (std::vector<std::uint64_t>{1'000'000, 500, 42}));
  write(cpu / "energy1_input", "3500000");  // 2.5 J
  write(cpu / "energy2_input", "250500");   // 0.25 J
  write(gpu / "energy1_input", "1000042");  // 1 J
  const auto r = sensor->since(before);
  ASSERT_TRUE(r.available) << r.reason;
  EXPECT_EQ(r.source, "hwmon");
  EXPECT_TRUE(r.reason.empty());
  EXPECT_DOUBLE_EQ(r.joules, 3.75);
  EXPECT_GE(r.seconds, 0.0);
  EXPECT_EQ(domains(r), (std::map<std::string, double>{
                            {"amd_energy/Esocket0", 2.5}, {"amd_energy/energy2", 0.25}, {"xe/card", 1.0}}));
}

TEST_F(Hwmon, InputsInsideAnotherInputAreNotReadNorAddedTwice) {
  // amd_energy: the socket's energy includes its cores'; xe: the card's includes the package's.
  const auto cpu = chip(0, "amd_energy");
  write(cpu / "energy1_input", "0");
  write(cpu / "energy1_label", "Ecore000");
  write(cpu / "energy2_input", "0");
  write(cpu / "energy2_label", "Ecore001");
  write(cpu / "energy3_input", "0");
  write(cpu / "energy3_label", "Esocket0");
  const auto gpu = chip(1, "xe");
  write(gpu / "energy1_input", "0");
  write(gpu / "energy1_label", "card");
  write(gpu / "energy2_input", "0");
  write(gpu / "energy2_label", "pkg");
  const auto other = chip(2, "some_chip");  // an unknown driver: its inputs are added up
  write(other / "energy1_input", "0");
  write(other / "energy1_label", "Ecore000");
  auto sensor = xpb::make_hwmon_sensor(root_);
  ASSERT_EQ(sensor->unavailable_reason(), "");
  const auto before = sensor->snapshot();
  write(cpu / "energy1_input", "1000000");
  write(cpu / "energy2_input", "2000000");
  write(cpu / "energy3_input", "5000000");
  write(gpu / "energy1_input", "7000000");
  write(gpu / "energy2_input", "6000000");
  write(other / "energy1_input", "500000");
  const auto r = sensor->since(before);
  ASSERT_TRUE(r.available) << r.reason;
  EXPECT_DOUBLE_EQ(r.joules, 5.0 + 7.0 + 0.5);
  EXPECT_EQ(domains(r), (std::map<std::string, double>{
                            {"amd_energy/Esocket0", 5.0}, {"xe/card", 7.0}, {"some_chip/Ecore000", 0.5}}));
  EXPECT_NE(sensor->covers().find("not read, being parts (or other views) of those inputs: amd_energy/Ecore000, "
                                  "amd_energy/Ecore001, xe/pkg"),
            std::string::npos)
      << sensor->covers();
}

TEST_F(Hwmon, ChipsAreTakenInNumericOrderAndSameNamedChipsAreTold) {
  write(chip(10, "amdgpu") / "energy1_input", "0");
  write(chip(9, "amdgpu") / "energy1_input", "0");
  auto sensor = xpb::make_hwmon_sensor(root_);
  ASSERT_EQ(sensor->unavailable_reason(), "");
  const auto r = sensor->since(sensor->snapshot());
  ASSERT_TRUE(r.available) << r.reason;
  ASSERT_EQ(r.domains.size(), 2u);
  EXPECT_EQ(r.domains[0].first, "amdgpu (hwmon9)/energy1");
  EXPECT_EQ(r.domains[1].first, "amdgpu (hwmon10)/energy1");
  EXPECT_NE(sensor->covers().find("the hwmon chips amdgpu (hwmon9), amdgpu (hwmon10) meter"), std::string::npos)
      << sensor->covers();
}

TEST_F(Hwmon, UpdateIntervalLongerThanAMillisecondIsTheResolution) {
  const auto dir = chip(0, "amd_energy");
  write(dir / "energy1_input", "0");
  write(dir / "update_interval", "100");
  auto sensor = xpb::make_hwmon_sensor(root_);
  ASSERT_EQ(sensor->unavailable_reason(), "");
  EXPECT_DOUBLE_EQ(sensor->update_interval_s(), 0.1);
  EXPECT_NE(sensor->covers().find("what the hwmon chip amd_energy meters (energy inputs: amd_energy/energy1)"),
            std::string::npos)
      << sensor->covers();
}

TEST_F(Hwmon, CounterResetIsUnavailableNamingTheFile) {
  const auto dir = chip(0, "amd_energy");
  write(dir / "energy1_input", "5000000");
  write(dir / "energy2_input", "5000000");
  auto sensor = xpb::make_hwmon_sensor(root_);
  const auto before = sensor->snapshot();
  ASSERT_TRUE(before.ok);
  write(dir / "energy1_input", "6000000");
  write(dir / "energy2_input", "100");  // the driver was reloaded: the counter starts again
  const auto r = sensor->since(before);
  EXPECT_FALSE(r.available);
  EXPECT_EQ(r.joules, 0.0);
  EXPECT_TRUE(r.domains.empty());
  EXPECT_NE(r.reason.find((dir / "energy2_input").string() + " went backwards"), std::string::npos) << r.reason;
  // The next interval, after the reset, is measured again.
  const auto again = sensor->snapshot();
  write(dir / "energy2_input", "2000100");
  const auto r2 = sensor->since(again);
  ASSERT_TRUE(r2.available) << r2.reason;
  EXPECT_DOUBLE_EQ(r2.joules, 2.0);
}

// The tolerances leave room for a loaded machine: the integral is exact for constant power
// whenever it is sampled, so only the clock readings around it can differ.
TEST_F(Hwmon, PowerOnlyChipsAreIntegratedOverTime) {
  const auto gpu = chip(0, "amdgpu");
  write(gpu / "power1_average", "25000000");  // 25 W
  write(gpu / "power1_label", "PPT");
  const auto board = chip(1, "power_meter", /*symlinked=*/true);
  write(board / "power1_input", "10000000");  // 10 W, preferred to the average beside it
  write(board / "power1_average", "99000000");
  write(board / "update_interval", "5");

  auto sensor = xpb::make_hwmon_sensor(root_);
  ASSERT_EQ(sensor->unavailable_reason(), "");
  EXPECT_DOUBLE_EQ(sensor->update_interval_s(), 0.010);  // the slower chip's period (10 ms default)
  EXPECT_NE(sensor->covers().find("integrated over time: amdgpu/PPT, power_meter/power1"), std::string::npos)
      << sensor->covers();
  const auto before = sensor->snapshot();
  ASSERT_TRUE(before.ok);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  const auto r = sensor->since(before);
  ASSERT_TRUE(r.available) << r.reason;
  ASSERT_GT(r.seconds, 0.1);
  EXPECT_NEAR(r.joules, 35.0 * r.seconds, 0.2 * 35.0 * r.seconds);
  const auto d = domains(r);
  EXPECT_NEAR(d.at("amdgpu/PPT"), 25.0 * r.seconds, 0.2 * 25.0 * r.seconds);
  EXPECT_NEAR(d.at("power_meter/power1"), 10.0 * r.seconds, 0.2 * 10.0 * r.seconds);
}

TEST_F(Hwmon, PowerThatCannotBeReadDuringTheIntervalIsAGap) {
  const auto gpu = chip(0, "amdgpu");
  write(gpu / "power1_input", "20000000");
  write(gpu / "update_interval", "2");
  auto sensor = xpb::make_hwmon_sensor(root_);
  ASSERT_EQ(sensor->unavailable_reason(), "");
  const auto before = sensor->snapshot();
  ASSERT_TRUE(before.ok);
  // Polled rather than slept on, so that a slow machine cannot skip the bad reading.
  const auto until = [&](bool ok) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (sensor->snapshot().ok != ok && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return sensor->snapshot().ok == ok;
  };
  replace(gpu / "power1_input", "twenty");
  ASSERT_TRUE(until(false));
  const auto r_during = sensor->since(before);
  EXPECT_FALSE(r_during.available);
  EXPECT_NE(r_during.reason.find("'twenty'"), std::string::npos) << r_during.reason;
  replace(gpu / "power1_input", "20000000");
  ASSERT_TRUE(until(true));
  const auto r = sensor->since(before);
  EXPECT_FALSE(r.available);
  EXPECT_NE(r.reason.find("unparsable content in " + (gpu / "power1_input").string() + ": 'twenty'"), std::string::npos)
      << r.reason;
  // An interval after the gap is measured again.
  const auto again = sensor->snapshot();
  ASSERT_TRUE(again.ok);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  const auto r2 = sensor->since(again);
  ASSERT_TRUE(r2.available) << r2.reason;
  EXPECT_NEAR(r2.joules, 20.0 * r2.seconds, 0.2 * 20.0 * r2.seconds);
}

TEST_F(Hwmon, PermissionDeniedIsUnavailableNamingTheFile) {
  const auto dir = chip(0, "amd_energy");
  write(dir / "energy1_input", "1000");
  fs::permissions(dir / "energy1_input", fs::perms::none);
  if (::geteuid() == 0) {
    // root reads a mode-000 file; nobody, in a child, cannot.
    const auto said = xpb::test::in_forked_child([&] {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) return std::string("cannot become nobody");
      auto as_nobody = xpb::make_hwmon_sensor(root_);
      return as_nobody->unavailable_reason();
    });
    EXPECT_NE(said.find("cannot read " + (dir / "energy1_input").string() + ": permission denied"), std::string::npos)
        << said;
    return;
  }
  auto sensor = xpb::make_hwmon_sensor(root_);
  const auto why = sensor->unavailable_reason();
  EXPECT_NE(why.find("cannot read " + (dir / "energy1_input").string() + ": permission denied"), std::string::npos)
      << why;
  EXPECT_FALSE(sensor->snapshot().ok);
  const auto r = sensor->since(sensor->snapshot());
  EXPECT_FALSE(r.available);
  EXPECT_EQ(r.reason, why);
}

TEST_F(Hwmon, MissingRootIsUnavailable) {
  const auto missing = base_ / "no-such-dir";
  auto sensor = xpb::make_hwmon_sensor(missing);
  EXPECT_EQ(sensor->unavailable_reason(), "no hwmon interface at " + missing.string());
  EXPECT_FALSE(sensor->snapshot().ok);
  const auto r = sensor->since(sensor->snapshot());
  EXPECT_FALSE(r.available);
  EXPECT_EQ(r.source, "hwmon");
  EXPECT_EQ(r.joules, 0.0);
  EXPECT_TRUE(r.domains.empty());
  EXPECT_NE(sensor->covers().find("nothing"), std::string::npos);
}

TEST_F(Hwmon, ChipsWithoutEnergyOrPowerInputsAreUnavailable) {
  write(chip(0, "coretemp") / "temp1_input", "40000");
  const auto nvme = chip(1, "nvme");
  write(nvme / "power1_max", "25000000");  // a limit, not a reading
  write(nvme / "energy1_input_highest", "1");
  fs::create_directories(root_ / "not-a-chip");
  write(root_ / "not-a-chip" / "energy1_input", "1");
  auto sensor = xpb::make_hwmon_sensor(root_);
  EXPECT_EQ(sensor->unavailable_reason(),
            "no hwmon chip under " + root_.string() + " has energy*_input or power*_input");
}

TEST_F(Hwmon, UnparsableContentIsQuoted) {
  const auto dir = chip(0, "amd_energy");
  write(dir / "energy1_input", "12ab");
  auto sensor = xpb::make_hwmon_sensor(root_);
  EXPECT_EQ(sensor->unavailable_reason(), "unparsable content in " + (dir / "energy1_input").string() + ": '12ab'");
}

TEST_F(Hwmon, UnparsableUpdateIntervalIsReported) {
  const auto dir = chip(0, "amdgpu");
  write(dir / "power1_input", "1000000");
  write(dir / "update_interval", "-5");
  auto sensor = xpb::make_hwmon_sensor(root_);
  EXPECT_EQ(sensor->unavailable_reason(), "unparsable content in " + (dir / "update_interval").string() + ": '-5'");
}

}  // namespace
