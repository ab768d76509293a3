// The GPU energy sensors (NVML, AMD SMI) against stand-ins for their vendor libraries,
// tests/fakes: the sensors load a library by path at run time, so the tests load the fakes
// built beside them. A fake's GPUs and counters come from FAKE_* environment variables, read
// when the fake is initialised from zero; each test sets its own and clears them all after.
// Energy is checked against the power the fake was given times the interval the sensor
// measured, so a slow machine changes the interval, not the verdict.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "pci_address.hpp"
#include "xpubench/energy.hpp"

namespace {

using namespace std::chrono_literals;

const std::string kFakes = XPB_TEST_FAKES_DIR;
const std::string kNvml = kFakes + "/libfake_nvml.so";
const std::string kAmdSmi = kFakes + "/libfake_amdsmi.so";

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

xpb::PciAddress pci(const char* text) {
  const auto a = xpb::parse_pci_address(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(xpb::PciAddress{});
}

// Energy over `seconds` at `watts`, within what a counter stepping every `step_s` can be off
// at each end of the interval, plus 20 ms of skew between the sensor's clock reading and the
// fake's (a thread preempted between the two on a busy machine).
void expect_energy(const xpb::EnergyReading& r, double watts, double step_s, double count_j = 0) {
  ASSERT_TRUE(r.available) << r.reason;
  EXPECT_GT(r.seconds, 0.0);
  const double expected = watts * r.seconds;
  const double tolerance = watts * (2 * step_s + 0.02) + 2 * count_j;
  EXPECT_NEAR(r.joules, expected, tolerance) << "over " << r.seconds << " s";
  ASSERT_EQ(r.domains.size(), 1u);
  EXPECT_DOUBLE_EQ(r.domains[0].second, r.joules);
}

// ---------------------------------------------------------------------------- PCI addresses

TEST(PciAddress, FormatsFourDigitDomainLowerCase) {
  EXPECT_EQ((xpb::PciAddress{0, 0x17, 0, 0}).to_string(), "0000:17:00.0");
  EXPECT_EQ((xpb::PciAddress{0x1, 0xab, 0x1f, 7}).to_string(), "0001:ab:1f.7");
  EXPECT_EQ((xpb::PciAddress{0x10000, 1, 2, 3}).to_string(), "10000:01:02.3");
}

TEST(PciAddress, ParsesSysfsAndNvmlForms) {
  EXPECT_EQ(pci("0000:17:00.0"), (xpb::PciAddress{0, 0x17, 0, 0}));
  EXPECT_EQ(pci("00000000:17:00.0"), (xpb::PciAddress{0, 0x17, 0, 0}));  // NVML's busId
  EXPECT_EQ(pci("0000:AB:1F.7"), (xpb::PciAddress{0, 0xab, 0x1f, 7}));
  EXPECT_EQ(pci("0000:ab:1f.7"), pci("0000:AB:1F.7"));
  EXPECT_EQ(pci("FFFFFFFF:FF:1F.7"), (xpb::PciAddress{0xffffffff, 0xff, 0x1f, 7}));
}

TEST(PciAddress, RoundTrips) {
  for (std::uint32_t domain : {0u, 1u, 0xffffu, 0x10000u, 0xffffffffu})
    for (std::uint32_t bus : {0u, 0x17u, 0xffu})
      for (std::uint32_t device : {0u, 0x1fu})
        for (std::uint32_t function : {0u, 7u}) {
          const xpb::PciAddress a{domain, bus, device, function};
          const auto back = xpb::parse_pci_address(a.to_string());
          ASSERT_TRUE(back.has_value()) << a.to_string();
          EXPECT_EQ(*back, a) << a.to_string();
        }
}

TEST(PciAddress, RefusesWhatIsNotAnAddress) {
  for (const char* bad : {"", "17:00.0", "0000:17:00", "0000:17:20.0", "0000:17:00.8", " 0000:17:00.0",
                          "0000:17:00.0 ", "000:17:00.0", "000000000:17:00.0", "0000:1:00.0", "0000:017:00.0",
                          "0000:17:00.0x", "0000-17:00.0", "g000:17:00.0", "0000:17:0.0", "0000:17:00.00"})
    EXPECT_FALSE(xpb::parse_pci_address(bad).has_value()) << "'" << bad << "'";
}

// ------------------------------------------------------------------------------------ fakes

class FakeLibrary : public ::testing::Test {
 protected:
  void SetUp() override { clear(); }
  void TearDown() override { clear(); }
  static void set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }
  static void clear() {
    for (const char* n : {"FAKE_NVML_GPUS", "FAKE_NVML_POWER_MW", "FAKE_NVML_STEP_MS", "FAKE_NVML_START_MJ",
                          "FAKE_NVML_RESET_MS", "FAKE_NVML_FAIL_INIT", "FAKE_NVML_NO_ENERGY", "FAKE_AMDSMI_GPUS",
                          "FAKE_AMDSMI_POWER_W", "FAKE_AMDSMI_RESOLUTION_UJ", "FAKE_AMDSMI_STEP_MS", "FAKE_AMDSMI_START",
                          "FAKE_AMDSMI_WIDTH", "FAKE_AMDSMI_RESET_MS", "FAKE_AMDSMI_FAIL_INIT", "FAKE_AMDSMI_NO_ENERGY",
                          "FAKE_AMDSMI_ALL_ONES"})
      ::unsetenv(n);
  }
};

// ------------------------------------------------------------------------------------- NVML

using Nvml = FakeLibrary;

constexpr const char* kTwoH200 = "0000:17:00.0=NVIDIA H200;0000:65:00.0=NVIDIA H200";

TEST_F(Nvml, AbsentLibraryIsUnavailableNamingThePath) {
  const std::string path = "/nonexistent/xpb-test/libnvidia-ml.so.1";
  auto s = xpb::make_nvml_sensor(std::nullopt, "NVIDIA H200", path);
  EXPECT_EQ(s->name(), "nvml");
  const auto why = s->unavailable_reason();
  EXPECT_TRUE(contains(why, path)) << why;
  EXPECT_TRUE(contains(why, "NVML is installed with the NVIDIA driver")) << why;
  const auto snap = s->snapshot();
  EXPECT_FALSE(snap.ok);
  const auto r = s->since(snap);
  EXPECT_FALSE(r.available);
  EXPECT_EQ(r.source, "nvml");
  EXPECT_EQ(r.reason, why);
  EXPECT_EQ(r.joules, 0.0);
}

TEST_F(Nvml, ALibraryWithoutNvmlsCallsIsRefused) {
  auto s = xpb::make_nvml_sensor(std::nullopt, "NVIDIA H200", kAmdSmi);
  const auto why = s->unavailable_reason();
  EXPECT_TRUE(contains(why, "has no nvml")) << why;
}

TEST_F(Nvml, MatchesTheGpuAtItsPciAddress) {
  set("FAKE_NVML_GPUS", kTwoH200);
  auto s = xpb::make_nvml_sensor(pci("0000:65:00.0"), "ignored when the address is known", kNvml);
  ASSERT_EQ(s->unavailable_reason(), "");
  EXPECT_EQ(s->covers(), "GPU NVIDIA H200 at 0000:65:00.0: the whole board as NVML's total-energy counter meters it");
  const auto r = s->since(s->snapshot());
  ASSERT_TRUE(r.available) << r.reason;
  ASSERT_EQ(r.domains.size(), 1u);
  EXPECT_EQ(r.domains[0].first, "nvml:0000:65:00.0");
}

TEST_F(Nvml, NoGpuAtTheAddressListsWhatNvmlSees) {
  set("FAKE_NVML_GPUS", kTwoH200);
  auto s = xpb::make_nvml_sensor(pci("0000:99:00.0"), "NVIDIA H200", kNvml);
  const auto why = s->unavailable_reason();
  EXPECT_TRUE(contains(why, "no GPU at 0000:99:00.0")) << why;
  EXPECT_TRUE(contains(why, "0000:17:00.0 'NVIDIA H200'")) << why;
  EXPECT_TRUE(contains(why, "0000:65:00.0 'NVIDIA H200'")) << why;
}

TEST_F(Nvml, TwoGpusWithTheNameAreAmbiguous) {
  set("FAKE_NVML_GPUS", kTwoH200);
  auto s = xpb::make_nvml_sensor(std::nullopt, "NVIDIA H200", kNvml);
  const auto why = s->unavailable_reason();
  EXPECT_TRUE(contains(why, "2 GPUs named 'NVIDIA H200'")) << why;
  EXPECT_TRUE(contains(why, "0000:17:00.0")) << why;
  EXPECT_TRUE(contains(why, "0000:65:00.0")) << why;
  EXPECT_FALSE(s->since(s->snapshot()).available);
}

TEST_F(Nvml, AUniqueNameIsEnough) {
  set("FAKE_NVML_GPUS", "0000:17:00.0=NVIDIA H200;0000:65:00.0=NVIDIA A100-SXM4-80GB");
  auto s = xpb::make_nvml_sensor(std::nullopt, "NVIDIA A100-SXM4-80GB", kNvml);
  ASSERT_EQ(s->unavailable_reason(), "");
  EXPECT_TRUE(contains(s->covers(), "GPU NVIDIA A100-SXM4-80GB at 0000:65:00.0")) << s->covers();
}

TEST_F(Nvml, AnUnknownNameListsWhatNvmlSees) {
  set("FAKE_NVML_GPUS", kTwoH200);
  auto s = xpb::make_nvml_sensor(std::nullopt, "NVIDIA B200", kNvml);
  const auto why = s->unavailable_reason();
  EXPECT_TRUE(contains(why, "no GPU named 'NVIDIA B200'")) << why;
  EXPECT_TRUE(contains(why, "0000:17:00.0 'NVIDIA H200'")) << why;
}

TEST_F(Nvml, EnergyIsPowerTimesTime) {
  set("FAKE_NVML_POWER_MW", "250000");
  set("FAKE_NVML_STEP_MS", "10");
  auto s = xpb::make_nvml_sensor(std::nullopt, "NVIDIA H200", kNvml);
  ASSERT_EQ(s->unavailable_reason(), "");
  const auto before = s->snapshot();
  ASSERT_TRUE(before.ok);
  std::this_thread::sleep_for(500ms);
  const auto r = s->since(before);
  EXPECT_EQ(r.source, "nvml");
  expect_energy(r, 250.0, 0.010, 1e-3);
  EXPECT_GE(r.seconds, 0.5);
}

TEST_F(Nvml, InitFailureCarriesNvmlsMessage) {
  set("FAKE_NVML_FAIL_INIT", "9");
  auto s = xpb::make_nvml_sensor(std::nullopt, "NVIDIA H200", kNvml);
  const auto why = s->unavailable_reason();
  EXPECT_TRUE(contains(why, "nvmlInit_v2")) << why;
  EXPECT_TRUE(contains(why, "fake NVML: driver not loaded")) << why;
}

TEST_F(Nvml, AGpuWithoutTheCounterSaysVoltaIsNeeded) {
  set("FAKE_NVML_NO_ENERGY", "1");
  auto s = xpb::make_nvml_sensor(std::nullopt, "NVIDIA H200", kNvml);
  const auto why = s->unavailable_reason();
  EXPECT_TRUE(contains(why, "the GPU has no total-energy counter (Volta or later needed)")) << why;
  EXPECT_FALSE(s->snapshot().ok);
}

TEST_F(Nvml, UpdateIntervalIsMeasured) {
  for (int step_ms : {20, 50}) {
    set("FAKE_NVML_STEP_MS", std::to_string(step_ms));
    auto s = xpb::make_nvml_sensor(std::nullopt, "NVIDIA H200", kNvml);
    ASSERT_EQ(s->unavailable_reason(), "");
    EXPECT_NEAR(s->update_interval_s(), step_ms * 1e-3, 0.006) << "step " << step_ms << " ms";
  }
}

TEST_F(Nvml, ACounterThatNeverStepsGetsNvmlsWorstCase) {
  set("FAKE_NVML_POWER_MW", "0");
  auto s = xpb::make_nvml_sensor(std::nullopt, "NVIDIA H200", kNvml);
  ASSERT_EQ(s->unavailable_reason(), "");
  EXPECT_DOUBLE_EQ(s->update_interval_s(), 0.1);
}

TEST_F(Nvml, ACounterGoingBackIsNoFigure) {
  set("FAKE_NVML_START_MJ", "1000000000");
  set("FAKE_NVML_RESET_MS", "700");
  auto s = xpb::make_nvml_sensor(std::nullopt, "NVIDIA H200", kNvml);
  ASSERT_EQ(s->unavailable_reason(), "");
  const auto before = s->snapshot();
  ASSERT_TRUE(before.ok);
  if (before.counters[0] < 1000000000u) GTEST_SKIP() << "the machine was too slow: the fake reset before the first snapshot";
  std::this_thread::sleep_for(900ms);
  const auto r = s->since(before);
  EXPECT_FALSE(r.available);
  EXPECT_TRUE(contains(r.reason, "went back")) << r.reason;
  EXPECT_EQ(r.joules, 0.0);
}

TEST_F(Nvml, EachSensorEndsItsInitialisation) {
  // The fake reads its variables only when initialised from zero: a sensor that did not shut
  // NVML down would leave the next one on the old GPU list. The test holds the library
  // loaded, so that unloading it cannot reset the fake instead.
  void* held = ::dlopen(kNvml.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(held, nullptr) << ::dlerror();
  set("FAKE_NVML_GPUS", "0000:17:00.0=NVIDIA H200");
  { EXPECT_EQ(xpb::make_nvml_sensor(std::nullopt, "NVIDIA H200", kNvml)->unavailable_reason(), ""); }
  set("FAKE_NVML_GPUS", "0000:18:00.0=NVIDIA H100 80GB HBM3");
  EXPECT_EQ(xpb::make_nvml_sensor(std::nullopt, "NVIDIA H100 80GB HBM3", kNvml)->unavailable_reason(), "");
  ::dlclose(held);
}

TEST_F(Nvml, SnapshotsFromManyThreads) {
  auto s = xpb::make_nvml_sensor(std::nullopt, "NVIDIA H200", kNvml);
  ASSERT_EQ(s->unavailable_reason(), "");
  const auto before = s->snapshot();
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) ok[t] += s->since(before).available ? 1 : 0;
    });
  for (auto& t : threads) t.join();
  for (int n : ok) EXPECT_EQ(n, 50);
}

// ---------------------------------------------------------------------------------- AMD SMI

using AmdSmi = FakeLibrary;

constexpr const char* kFourMi300x =
    "0000:c1:00.0=AMD Instinct MI300X;0000:c2:00.0=AMD Instinct MI300X;0000:d1:00.0=AMD Instinct MI300X;"
    "0001:e1:1f.3=AMD Instinct MI300X";

TEST_F(AmdSmi, AbsentLibraryIsUnavailableNamingThePath) {
  const std::string path = "/nonexistent/xpb-test/libamd_smi.so";
  auto s = xpb::make_amdsmi_sensor(std::nullopt, "AMD Instinct MI300X", path);
  EXPECT_EQ(s->name(), "amd-smi");
  const auto why = s->unavailable_reason();
  EXPECT_TRUE(contains(why, path)) << why;
  EXPECT_TRUE(contains(why, "installed with ROCm")) << why;
  EXPECT_FALSE(s->snapshot().ok);
  const auto r = s->since(s->snapshot());
  EXPECT_FALSE(r.available);
  EXPECT_EQ(r.source, "amd-smi");
  EXPECT_EQ(r.reason, why);
}

TEST_F(AmdSmi, ABareNameIsAlsoLookedForWhereRocmInstallsIt) {
  auto s = xpb::make_amdsmi_sensor(std::nullopt, "AMD Instinct MI300X", "libxpb-test-no-such-amd-smi.so");
  const auto why = s->unavailable_reason();
  EXPECT_TRUE(contains(why, "'/opt/rocm/lib/libxpb-test-no-such-amd-smi.so'")) << why;
}

TEST_F(AmdSmi, ALibraryWithoutAmdSmisCallsIsRefused) {
  auto s = xpb::make_amdsmi_sensor(std::nullopt, "AMD Instinct MI300X", kNvml);
  const auto why = s->unavailable_reason();
  EXPECT_TRUE(contains(why, "has no amdsmi_init")) << why;
}

TEST_F(AmdSmi, MatchesTheGpuAtItsPciAddressInAnySocket) {
  set("FAKE_AMDSMI_GPUS", kFourMi300x);
  // The last GPU, in the second socket, with a domain, device and function that test every
  // field of amdsmi_bdf_t.
  auto s = xpb::make_amdsmi_sensor(pci("0001:e1:1f.3"), "", kAmdSmi);
  ASSERT_EQ(s->unavailable_reason(), "");
  EXPECT_TRUE(contains(s->covers(), "GPU AMD Instinct MI300X at 0001:e1:1f.3")) << s->covers();
  EXPECT_TRUE(contains(s->covers(), "15.3 uJ per count")) << s->covers();
  const auto r = s->since(s->snapshot());
  ASSERT_TRUE(r.available) << r.reason;
  ASSERT_EQ(r.domains.size(), 1u);
  EXPECT_EQ(r.domains[0].first, "amd-smi:0001:e1:1f.3");
}

TEST_F(AmdSmi, TwoGpusWithTheNameAreAmbiguous) {
  set("FAKE_AMDSMI_GPUS", kFourMi300x);
  auto s = xpb::make_amdsmi_sensor(std::nullopt, "AMD Instinct MI300X", kAmdSmi);
  const auto why = s->unavailable_reason();
  EXPECT_TRUE(contains(why, "4 GPUs named 'AMD Instinct MI300X'")) << why;
  for (const char* a : {"0000:c1:00.0", "0000:c2:00.0", "0000:d1:00.0", "0001:e1:1f.3"})
    EXPECT_TRUE(contains(why, a)) << why;
}

TEST_F(AmdSmi, AUniqueNameIsEnough) {
  set("FAKE_AMDSMI_GPUS", "0000:c1:00.0=AMD Instinct MI300X;0000:03:00.0=AMD Radeon RX 7900 XTX");
  auto s = xpb::make_amdsmi_sensor(std::nullopt, "AMD Radeon RX 7900 XTX", kAmdSmi);
  ASSERT_EQ(s->unavailable_reason(), "");
  EXPECT_TRUE(contains(s->covers(), "GPU AMD Radeon RX 7900 XTX at 0000:03:00.0")) << s->covers();
}

TEST_F(AmdSmi, NoGpuAtTheAddressListsWhatAmdSmiSees) {
  set("FAKE_AMDSMI_GPUS", kFourMi300x);
  auto s = xpb::make_amdsmi_sensor(pci("0000:c1:00.1"), "AMD Instinct MI300X", kAmdSmi);
  const auto why = s->unavailable_reason();
  EXPECT_TRUE(contains(why, "AMD SMI lists no GPU at 0000:c1:00.1")) << why;
  EXPECT_TRUE(contains(why, "0000:c1:00.0 'AMD Instinct MI300X'")) << why;
}

TEST_F(AmdSmi, EnergyIsCountsTimesResolution) {
  // The same power through three resolutions: the counts differ, the joules must not.
  for (const char* resolution : {"15.3", "1", "1000"}) {
    set("FAKE_AMDSMI_RESOLUTION_UJ", resolution);
    set("FAKE_AMDSMI_POWER_W", "300");
    set("FAKE_AMDSMI_STEP_MS", "1");
    auto s = xpb::make_amdsmi_sensor(std::nullopt, "AMD Instinct MI300X", kAmdSmi);
    ASSERT_EQ(s->unavailable_reason(), "");
    const auto before = s->snapshot();
    ASSERT_TRUE(before.ok);
    std::this_thread::sleep_for(400ms);
    const auto r = s->since(before);
    SCOPED_TRACE(std::string("resolution ") + resolution + " uJ");
    EXPECT_EQ(r.source, "amd-smi");
    expect_energy(r, 300.0, 0.001, std::stod(resolution) * 1e-6);
  }
}

TEST_F(AmdSmi, ThirtyTwoBitWrapIsCounted) {
  // 300 W at 15.3 uJ a count is 19.6 M counts a second: from 6 M counts below 2^32 the
  // counter wraps about 0.3 s after init, inside the interval measured.
  set("FAKE_AMDSMI_WIDTH", "32");
  set("FAKE_AMDSMI_START", std::to_string((1ull << 32) - 6'000'000));
  set("FAKE_AMDSMI_POWER_W", "300");
  auto s = xpb::make_amdsmi_sensor(std::nullopt, "AMD Instinct MI300X", kAmdSmi);
  ASSERT_EQ(s->unavailable_reason(), "");
  const auto before = s->snapshot();
  std::this_thread::sleep_for(700ms);
  expect_energy(s->since(before), 300.0, 0.001, 15.3e-6);
}

TEST_F(AmdSmi, ASixtyFourBitCounterGoingBackIsNoFigure) {
  set("FAKE_AMDSMI_START", std::to_string(1ull << 40));
  set("FAKE_AMDSMI_RESET_MS", "500");
  const auto made = std::chrono::steady_clock::now();
  auto s = xpb::make_amdsmi_sensor(std::nullopt, "AMD Instinct MI300X", kAmdSmi);
  ASSERT_EQ(s->unavailable_reason(), "");
  const auto before = s->snapshot();
  ASSERT_TRUE(before.ok);
  if (std::chrono::steady_clock::now() - made > 400ms)
    GTEST_SKIP() << "the machine was too slow: the fake may have reset before the first snapshot";
  std::this_thread::sleep_for(800ms);
  const auto r = s->since(before);
  EXPECT_FALSE(r.available);
  EXPECT_TRUE(contains(r.reason, "went back")) << r.reason;
  // The next interval, after the reset, has its figure again.
  const auto again = s->snapshot();
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(s->since(again).available);
}

TEST_F(AmdSmi, InitFailureCarriesAmdSmisMessage) {
  set("FAKE_AMDSMI_FAIL_INIT", "34");
  auto s = xpb::make_amdsmi_sensor(std::nullopt, "AMD Instinct MI300X", kAmdSmi);
  const auto why = s->unavailable_reason();
  EXPECT_TRUE(contains(why, "amdsmi_init")) << why;
  EXPECT_TRUE(contains(why, "fake AMD SMI: processor driver not loaded")) << why;
}

TEST_F(AmdSmi, NoEnergyCounterMentionsVirtualMachines) {
  set("FAKE_AMDSMI_NO_ENERGY", "1");
  auto s = xpb::make_amdsmi_sensor(std::nullopt, "AMD Instinct MI300X", kAmdSmi);
  const auto why = s->unavailable_reason();
  EXPECT_TRUE(contains(why, "AMDSMI_STATUS_NOT_SUPPORTED")) << why;
  EXPECT_TRUE(contains(why, "virtual machine guest")) << why;
}

TEST_F(AmdSmi, AnAllOnesCounterIsUnsupported) {
  set("FAKE_AMDSMI_ALL_ONES", "1");
  auto s = xpb::make_amdsmi_sensor(std::nullopt, "AMD Instinct MI300X", kAmdSmi);
  const auto why = s->unavailable_reason();
  EXPECT_TRUE(contains(why, "reads all ones")) << why;
}

TEST_F(AmdSmi, UpdateIntervalIsMeasured) {
  for (int step_ms : {20, 50}) {
    set("FAKE_AMDSMI_STEP_MS", std::to_string(step_ms));
    auto s = xpb::make_amdsmi_sensor(std::nullopt, "AMD Instinct MI300X", kAmdSmi);
    ASSERT_EQ(s->unavailable_reason(), "");
    EXPECT_NEAR(s->update_interval_s(), step_ms * 1e-3, 0.006) << "step " << step_ms << " ms";
  }
  set("FAKE_AMDSMI_POWER_W", "0");
  auto still = xpb::make_amdsmi_sensor(std::nullopt, "AMD Instinct MI300X", kAmdSmi);
  ASSERT_EQ(still->unavailable_reason(), "");
  EXPECT_DOUBLE_EQ(still->update_interval_s(), 1.0);
}

TEST_F(AmdSmi, SensorsShareOneInitialisation) {
  // amdsmi_init keeps a flag, not a count: were each sensor to shut the library down, the
  // first to go would leave the other reading an uninitialised library.
  void* held = ::dlopen(kAmdSmi.c_str(), RTLD_NOW | RTLD_LOCAL);  // see EachSensorEndsItsInitialisation
  ASSERT_NE(held, nullptr) << ::dlerror();
  set("FAKE_AMDSMI_GPUS", kFourMi300x);
  auto a = xpb::make_amdsmi_sensor(pci("0000:c1:00.0"), "", kAmdSmi);
  auto b = xpb::make_amdsmi_sensor(pci("0000:d1:00.0"), "", kAmdSmi);
  ASSERT_EQ(a->unavailable_reason(), "");
  ASSERT_EQ(b->unavailable_reason(), "");
  const auto before = b->snapshot();
  a.reset();
  std::this_thread::sleep_for(50ms);
  const auto r = b->since(before);
  EXPECT_TRUE(r.available) << r.reason;
  // Once both are gone the library is shut down: the next sensor sees new variables.
  b.reset();
  set("FAKE_AMDSMI_GPUS", "0000:07:00.0=AMD Instinct MI250X");
  EXPECT_EQ(xpb::make_amdsmi_sensor(std::nullopt, "AMD Instinct MI250X", kAmdSmi)->unavailable_reason(), "");
  ::dlclose(held);
}

TEST_F(AmdSmi, SnapshotsFromManyThreads) {
  auto s = xpb::make_amdsmi_sensor(std::nullopt, "AMD Instinct MI300X", kAmdSmi);
  ASSERT_EQ(s->unavailable_reason(), "");
  const auto before = s->snapshot();
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) ok[t] += s->since(before).available ? 1 : 0;
    });
  for (auto& t : threads) t.join();
  for (int n : ok) EXPECT_EQ(n, 50);
}

}  // namespace
