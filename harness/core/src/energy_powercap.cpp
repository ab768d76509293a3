// Linux powercap energy counters (Intel RAPL; AMD Zen's RAPL goes through the same driver and
// the same intel-rapl zone names). Layout, as the kernel exposes it:
//   <root>/intel-rapl:0/{name,energy_uj,max_energy_range_uj}          name "package-0"
//   <root>/intel-rapl:0/intel-rapl:0:0/...                            name "core", "uncore", "dram"
//   <root>/intel-rapl:0:0 -> a symlink to the same subzone, listed flat beside the packages
//   <root>/intel-rapl:1                                                "package-1", or "psys"
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <optional>

#include "sysfs_attribute.hpp"
#include "xpubench/energy.hpp"

namespace xpb {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSource = "rapl";

struct Counter {
  std::uint64_t value = 0;
  std::string error;  // empty when read
};

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
  return s;
}

// One reading of a counter held open (sysfs_attribute.hpp), with the reason when it fails.
Counter read_counter(const SysfsAttribute& file) {
  Counter c;
  std::string text;
  const int err = file.read_unsigned(c.value, text);
  if (err == EACCES || err == EPERM)
    c.error = file.path().string() +
              ": energy_uj is readable only by root since Linux 5.10 (CVE-2020-8694); run as root or grant read access";
  else if (err == EINVAL)
    c.error = "unparsable content in " + file.path().string() + ": '" + text + "'";
  else if (err != 0)
    c.error = "cannot read " + file.path().string() + ": " + std::strerror(err);
  return c;
}

// "intel-rapl:N" -> {N, -1}; "intel-rapl:N:M" -> {N, M}. Not "intel-rapl-mmio:N", which is the
// same package counter read through MMIO on recent Intel parts: summing it would double count.
std::optional<std::pair<long, long>> zone_id(const std::string& name) {
  constexpr std::string_view prefix = "intel-rapl:";
  if (name.rfind(prefix, 0) != 0) return std::nullopt;
  const char* p = name.data() + prefix.size();
  const char* end = name.data() + name.size();
  long zone = 0;
  auto r = std::from_chars(p, end, zone);
  if (r.ec != std::errc() || r.ptr == p) return std::nullopt;
  if (r.ptr == end) return std::pair{zone, -1L};
  if (*r.ptr != ':') return std::nullopt;
  long sub = 0;
  const char* q = r.ptr + 1;
  r = std::from_chars(q, end, sub);
  if (r.ec != std::errc() || r.ptr == q || r.ptr != end) return std::nullopt;
  return std::pair{zone, sub};
}

struct Zone {
  std::string domain;  // "package-0", or "package-0/dram" for a subzone
  fs::path dir;
  std::uint64_t max_range = 0;
  bool in_total = false;
};

class PowercapSensor final : public EnergySensor {
 public:
  explicit PowercapSensor(const fs::path& root) {
    reason_ = discover(root);
    if (!reason_.empty()) {
      zones_.clear();
      energy_uj_.clear();
    }
  }

  std::string name() const override { return kSource; }
  std::string covers() const override {
    std::string totalled;
    bool psys = false;
    for (const auto& z : zones_)
      if (z.in_total) {
        totalled += (totalled.empty() ? "" : ", ") + z.domain;
        psys = psys || z.domain == "psys";
      }
    if (totalled.empty()) return "the CPU packages (RAPL), when readable";
    if (psys) return "the platform as RAPL's psys domain meters it (" + totalled + ")";
    return "the CPU packages (" + totalled + "): cores, caches, uncore and memory controller; "
           "DRAM and the rest of the machine are not in the total (a dram domain is reported apart)";
  }
  std::string unavailable_reason() const override { return reason_; }
  // Intel documents RAPL's energy status counters as updated about every millisecond.
  double update_interval_s() const override { return 1e-3; }

  EnergySnapshot snapshot() const override {
    std::string error;
    return read_all(error);
  }

  EnergyReading since(const EnergySnapshot& before) const override {
    EnergyReading r;
    r.source = kSource;
    if (!reason_.empty()) return unavailable(r, reason_);
    if (!before.ok || before.counters.size() != zones_.size())
      return unavailable(r, "the snapshot at the start of the interval could not be read");
    std::string error;
    const EnergySnapshot after = read_all(error);
    if (!after.ok) return unavailable(r, error);
    double total_uj = 0;
    for (std::size_t i = 0; i < zones_.size(); ++i) {
      const auto& z = zones_[i];
      if (before.counters[i] > z.max_range || after.counters[i] > z.max_range)
        return unavailable(r, (z.dir / "energy_uj").string() + " reads above its max_energy_range_uj (" +
                                  std::to_string(z.max_range) + ")");
      const auto uj = counter_delta(before.counters[i], after.counters[i], z.max_range);
      r.domains.emplace_back(z.domain, static_cast<double>(uj) * 1e-6);
      if (z.in_total) total_uj += static_cast<double>(uj);
    }
    r.available = true;
    r.joules = total_uj * 1e-6;
    r.seconds = std::chrono::duration<double>(after.when - before.when).count();
    return r;
  }

 private:
  static EnergyReading unavailable(EnergyReading r, const std::string& why) {
    r.available = false;
    r.reason = why;
    r.domains.clear();
    return r;
  }

  EnergySnapshot read_all(std::string& error) const {
    EnergySnapshot s;
    if (!reason_.empty()) {
      error = reason_;
      return s;
    }
    s.counters.reserve(zones_.size());
    for (const auto& file : energy_uj_) {
      const Counter c = read_counter(file);
      if (!c.error.empty()) {
        error = c.error;
        s.counters.clear();
        return s;
      }
      s.counters.push_back(c.value);
    }
    s.when = std::chrono::steady_clock::now();
    s.ok = true;
    return s;
  }

  // Fills zones_; returns why the sensor cannot be used, or "".
  std::string discover(const fs::path& root) {
    std::error_code ec;
    if (!fs::is_directory(root, ec))
      return "no powercap interface at " + root.string() + " (no RAPL driver, or a virtual machine)";

    // Subzones appear twice in sysfs (flat under the root and nested in their package), so
    // they are keyed by id and the first path found is kept.
    std::map<std::pair<long, long>, fs::path> found;
    auto scan = [&](const fs::path& dir) {
      std::error_code iter_ec;
      for (fs::directory_iterator it(dir, iter_ec), end; !iter_ec && it != end; it.increment(iter_ec))
        if (auto id = zone_id(it->path().filename().string()); id && it->is_directory(iter_ec))
          found.emplace(*id, it->path());
    };
    scan(root);
    std::vector<fs::path> package_dirs;
    for (const auto& [id, dir] : found)
      if (id.second < 0) package_dirs.push_back(dir);
    for (const auto& dir : package_dirs) scan(dir);
    if (found.empty()) return "no RAPL zones (intel-rapl:N) under " + root.string();

    std::map<long, std::string> top_names;
    bool have_package = false;
    for (const auto& [id, dir] : found) {  // ordered: each package before its subzones
      std::string zname;
      if (SysfsAttribute(dir / "name").read(zname) != 0 || trimmed(zname).empty()) zname = dir.filename().string();
      zname = trimmed(zname);
      Zone z;
      z.dir = dir;
      if (id.second < 0) {
        top_names[id.first] = zname;
        z.domain = zname;
        // The total is package energy. Not psys: it meters the whole platform, packages
        // included. Not the subzones: core and uncore are parts of their package. DRAM is
        // outside the package, yet left out too, so that a total means the same on every
        // machine: AMD and client Intel parts have no DRAM domain. It is reported per domain.
        z.in_total = zname.rfind("package", 0) == 0;
        have_package = have_package || z.in_total;
      } else {
        const auto parent = top_names.find(id.first);
        z.domain = (parent != top_names.end() ? parent->second : "intel-rapl:" + std::to_string(id.first)) + "/" + zname;
      }
      SysfsAttribute energy_uj(dir / "energy_uj");
      const Counter energy = read_counter(energy_uj);
      if (!energy.error.empty()) return energy.error;
      const Counter range = read_counter(SysfsAttribute(dir / "max_energy_range_uj"));
      if (!range.error.empty()) return range.error;
      if (range.value == 0) return "unparsable content in " + (dir / "max_energy_range_uj").string() + ": '0'";
      z.max_range = range.value;
      zones_.push_back(std::move(z));
      energy_uj_.push_back(std::move(energy_uj));
    }
    if (!have_package) {
      // Some platforms expose psys alone; it is then the best whole-system figure there is.
      for (auto& z : zones_)
        if (z.domain == "psys") z.in_total = true;
      if (std::none_of(zones_.begin(), zones_.end(), [](const Zone& z) { return z.in_total; }))
        return "no package or psys zone among the RAPL zones under " + root.string() + " to total";
    }
    return {};
  }

  std::vector<Zone> zones_;
  std::vector<SysfsAttribute> energy_uj_;  // each zone's counter, held open: one pread a reading
  std::string reason_;
};

}  // namespace

std::unique_ptr<EnergySensor> make_powercap_sensor(const std::filesystem::path& root) {
  return std::make_unique<PowercapSensor>(root);
}

std::uint64_t counter_delta(std::uint64_t before, std::uint64_t after, std::uint64_t max_range) {
  if (after >= before) return after - before;
  // max_range is itself a value the counter takes, so the step from max_range to 0 is one.
  if (before > max_range) return after;  // inconsistent with the range: count from the wrap
  return (max_range - before) + after + 1;
}

}  // namespace xpb
