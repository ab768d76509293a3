// What reading an energy sensor costs (issue 13's goal: < 5 us for RAPL and hwmon), outside
// the timed region but between samples: snapshot() of the powercap and hwmon sensors over
// synthetic trees laid out as the kernel lays them out (a two-socket server's RAPL zones: two
// packages with core and dram subzones; an amd_energy hwmon chip with 2 socket and 16 core
// counters; a chip of 18 independent counters), and since(), which reads them again and takes
// the differences. The trees live in a temporary folder (tmpfs or disk, not sysfs: the figure
// is the sensor's code and the read system calls, not the kernel's MSR read behind a real
// energy_uj). On a machine with readable RAPL the real tree is measured too.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "xpubench/energy.hpp"

namespace {

namespace fs = std::filesystem;

void write(const fs::path& file, const std::string& text) { std::ofstream(file) << text << "\n"; }

struct Tree {
  fs::path root;
  Tree() {
    std::random_device rd;
    root = fs::temp_directory_path() / ("xpb-bench-energy-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(root);
  }
  ~Tree() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

void rapl_zone(const fs::path& dir, const std::string& name) {
  fs::create_directories(dir);
  write(dir / "name", name);
  write(dir / "energy_uj", "123456789");
  write(dir / "max_energy_range_uj", "262143328850");
}

const Tree& powercap_tree() {
  static const Tree t = [] {
    Tree tree;
    for (int p = 0; p < 2; ++p) {
      const auto pkg = tree.root / ("intel-rapl:" + std::to_string(p));
      rapl_zone(pkg, "package-" + std::to_string(p));
      rapl_zone(pkg / ("intel-rapl:" + std::to_string(p) + ":0"), "core");
      rapl_zone(pkg / ("intel-rapl:" + std::to_string(p) + ":1"), "dram");
    }
    return tree;
  }();
  return t;
}

// A chip with 16 core and 2 socket energy inputs: named amd_energy, the cores are parts of the
// sockets and not read (2 reads a snapshot); under any other name all 18 are read and added.
Tree make_hwmon_tree(const std::string& chip_name) {
    Tree tree;
    const auto chip = tree.root / "hwmon0";
    fs::create_directories(chip);
    write(chip / "name", chip_name);
    for (int i = 1; i <= 18; ++i) {
      write(chip / ("energy" + std::to_string(i) + "_input"), "987654321");
      write(chip / ("energy" + std::to_string(i) + "_label"), i <= 16 ? "Ecore" + std::to_string(i) : "Esocket" + std::to_string(i - 17));
    }
    return tree;
}

const Tree& amd_energy_tree() {
  static const Tree t = make_hwmon_tree("amd_energy");
  return t;
}

const Tree& eighteen_inputs_tree() {
  static const Tree t = make_hwmon_tree("some_chip");
  return t;
}

void snapshot_bench(benchmark::State& state, xpb::EnergySensor& sensor) {
  if (!sensor.unavailable_reason().empty()) {
    state.SkipWithError(sensor.unavailable_reason().c_str());
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(sensor.snapshot());
}

void since_bench(benchmark::State& state, xpb::EnergySensor& sensor) {
  if (!sensor.unavailable_reason().empty()) {
    state.SkipWithError(sensor.unavailable_reason().c_str());
    return;
  }
  const auto before = sensor.snapshot();
  for (auto _ : state) benchmark::DoNotOptimize(sensor.since(before));
}

void BM_PowercapSnapshot_6Zones(benchmark::State& state) {
  auto sensor = xpb::make_powercap_sensor(powercap_tree().root);
  snapshot_bench(state, *sensor);
}
BENCHMARK(BM_PowercapSnapshot_6Zones);

void BM_PowercapSince_6Zones(benchmark::State& state) {
  auto sensor = xpb::make_powercap_sensor(powercap_tree().root);
  since_bench(state, *sensor);
}
BENCHMARK(BM_PowercapSince_6Zones);

void BM_HwmonSnapshot_AmdEnergy2Sockets16Cores(benchmark::State& state) {
  auto sensor = xpb::make_hwmon_sensor(amd_energy_tree().root);
  snapshot_bench(state, *sensor);
}
BENCHMARK(BM_HwmonSnapshot_AmdEnergy2Sockets16Cores);

void BM_HwmonSince_AmdEnergy2Sockets16Cores(benchmark::State& state) {
  auto sensor = xpb::make_hwmon_sensor(amd_energy_tree().root);
  since_bench(state, *sensor);
}
BENCHMARK(BM_HwmonSince_AmdEnergy2Sockets16Cores);

void BM_HwmonSnapshot_18Inputs(benchmark::State& state) {
  auto sensor = xpb::make_hwmon_sensor(eighteen_inputs_tree().root);
  snapshot_bench(state, *sensor);
}
BENCHMARK(BM_HwmonSnapshot_18Inputs);

// The machine's own RAPL, where it can be read (root, or read access granted).
void BM_PowercapSnapshot_ThisMachine(benchmark::State& state) {
  auto sensor = xpb::make_powercap_sensor();
  snapshot_bench(state, *sensor);
}
BENCHMARK(BM_PowercapSnapshot_ThisMachine);

}  // namespace

BENCHMARK_MAIN();
