// Linux hwmon energy and power inputs. The attributes, as the kernel documents them
// (Documentation/hwmon/sysfs-interface.rst):
//   <root>/hwmonN              a chip (in sysfs a symlink into /sys/devices)
//   <root>/hwmonN/name         the chip's driver name ("amd_energy", "amdgpu", "power_meter")
//   energyN_input              cumulative energy, microjoules (64-bit: read as a counter)
//   powerN_input               instantaneous power, microwatts
//   powerN_average             power averaged over powerN_average_interval, microwatts
//   energyN_label, powerN_label  what the input measures ("Ecore000", "PPT")
//   update_interval            how often the chip refreshes its readings, milliseconds
// Which rails a chip sees is its driver's and its board's business: the sensor names the chips
// and inputs it read, and promises nothing beyond them.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>

#include "power_integrator.hpp"
#include "sysfs_attribute.hpp"
#include "xpubench/energy.hpp"

namespace xpb {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSource = "hwmon";
// A chip without update_interval is sampled every 10 ms: fast enough for the 20-100 ms
// refresh of GPU and board power sensors, cheap enough (one small read per input) to leave
// running through a benchmark.
constexpr std::chrono::milliseconds kDefaultPowerPeriod{10};
// Energy counters read through hwmon come from the same registers as RAPL (amd_energy, the
// Intel GPU drivers), which the vendors document as updated about every millisecond.
constexpr double kEnergyUpdateS = 1e-3;
// sysfs attributes are at most a page.
constexpr std::size_t kMaxAttribute = 4096;

std::string errno_text(int err) {
  if (err == EACCES || err == EPERM) return "permission denied";
  char buf[128];
  return ::strerror_r(err, buf, sizeof buf);  // the GNU variant: returns the message
}

std::string trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  return std::string(s);
}

// Reads a sysfs attribute whole; returns 0 or the errno of the failure. POSIX I/O, because the
// errno is what tells "root only" from "absent". One read() suffices: sysfs hands over an
// attribute (at most a page) in a single read, and a snapshot reads every input, so each system
// call saved counts.
int read_attribute(const fs::path& path, std::string& text) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char buf[kMaxAttribute];
  ssize_t n;
  do n = ::read(fd, buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  const int err = n < 0 ? errno : 0;
  ::close(fd);
  if (n >= 0) text.assign(buf, static_cast<std::size_t>(n));
  return err;
}

std::string read_error(const fs::path& path, int err) {
  std::string why = "cannot read " + path.string() + ": " + errno_text(err);
  if (err == EACCES || err == EPERM)
    why +=
        " (some drivers make energy and power inputs readable only by root, against power side channels; "
        "run as root or grant read access)";
  return why;
}

// An unsigned decimal attribute (microjoules, microwatts, milliseconds). Returns "" or why not.
std::string read_unsigned(const fs::path& path, std::uint64_t& value) {
  std::string text;
  if (const int err = read_attribute(path, text); err != 0) return read_error(path, err);
  const std::string t = trim(text);
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size())
    return "unparsable content in " + path.string() + ": '" + t + "'";
  return {};
}

// A label or name: cosmetic, so absent or unreadable gives `fallback`.
std::string read_label(const fs::path& path, const std::string& fallback) {
  std::string text;
  if (read_attribute(path, text) != 0) return fallback;
  std::string t = trim(text);
  return t.empty() ? fallback : t;
}

// "<prefix><N><suffix>" -> N (decimal, no sign), else nothing.
std::optional<unsigned> numbered(std::string_view name, std::string_view prefix, std::string_view suffix) {
  if (name.size() <= prefix.size() + suffix.size() || name.substr(0, prefix.size()) != prefix ||
      name.substr(name.size() - suffix.size()) != suffix)
    return std::nullopt;
  const std::string_view digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  unsigned n = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.front() == '+') return std::nullopt;
  return n;
}

struct Input {
  std::string domain;  // "amd_energy/Ecore000"
  fs::path file;
  bool in_total = true;  // false for a part (or another view) of another input of its chip
};

// Inputs of one chip that overlap: where a chip has an input labelled `whole...`, its inputs
// labelled `part...` are already in it, and adding them would count their energy twice. They
// are still reported per domain. Known drivers only; any other chip's inputs are added up.
struct Overlap {
  const char* chip;
  const char* part;
  const char* whole;
};
constexpr Overlap kOverlaps[] = {
    {"amd_energy", "Ecore", "Esocket"},  // a core's energy is part of its socket's
    {"xe", "pkg", "card"},               // Intel discrete GPUs: the card's energy includes the package's
    {"amdgpu", "slowPPT", "fastPPT"},    // AMD APUs: one socket power, over two averaging windows
};

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

void mark_overlaps(const std::string& chip, std::vector<Input>& inputs) {
  for (const auto& o : kOverlaps) {
    if (chip != o.chip) continue;
    const bool has_whole =
        std::any_of(inputs.begin(), inputs.end(), [&](const Input& in) { return starts_with(in.domain, o.whole); });
    if (!has_whole) continue;
    for (auto& in : inputs)
      if (starts_with(in.domain, o.part)) in.in_total = false;
  }
}

struct Chip {
  std::string name;           // from the chip's `name` attribute
  std::string prefix;         // of its domains: the name, with hwmonN where two chips share it
  fs::path dir;               // <root>/hwmonN
  std::vector<Input> energy;  // energyN_input, by N
  std::vector<Input> power;   // powerN_input, else powerN_average, by N
  std::optional<std::chrono::milliseconds> update_interval;
};

// "a, b, c and 5 more": the record names what was read without listing 128 per-core counters.
std::string list_of(const std::vector<std::string>& items, std::size_t shown = 8) {
  std::string s;
  for (std::size_t i = 0; i < items.size() && i < shown; ++i) s += (i ? ", " : "") + items[i];
  if (items.size() > shown) s += " and " + std::to_string(items.size() - shown) + " more";
  return s;
}

class HwmonSensor final : public EnergySensor {
 public:
  HwmonSensor(const fs::path& root, std::vector<std::string> only) : only_(std::move(only)) {
    reason_ = discover(root);
    if (!reason_.empty()) {
      inputs_.clear();
      energy_files_.clear();
      power_.clear();
      chips_.clear();
      mode_ = Mode::none;
    }
  }

  std::string name() const override { return kSource; }

  std::string covers() const override {
    if (mode_ == Mode::none) return "nothing: no hwmon chip with energy or power inputs could be read";
    std::vector<std::string> domains;
    for (const auto& in : inputs_) domains.push_back(in.domain);
    const bool one = chips_.size() == 1;
    std::string s =
        (one ? "what the hwmon chip " : "what the hwmon chips ") + list_of(chips_) + (one ? " meters (" : " meter (");
    s += mode_ == Mode::energy ? "energy inputs: " : "power inputs, integrated over time: ";
    s += list_of(domains) + ")";
    if (!parts_.empty())
      s += "; not read, being parts (or other views) of those inputs: " + list_of(parts_);
    if (!ignored_.empty())
      s += "; the power inputs of " + list_of(ignored_) +
           " are left out, energy inputs being used where any chip has them";
    return s + "; which rails a chip sees depends on its driver and board, so this need not be the whole machine";
  }

  std::string unavailable_reason() const override { return reason_; }

  double update_interval_s() const override { return update_interval_s_; }

  EnergySnapshot snapshot() const override {
    std::string error;
    return take(error);
  }

  EnergyReading since(const EnergySnapshot& before) const override {
    EnergyReading r;
    r.source = kSource;
    if (!reason_.empty()) return unavailable(r, reason_);
    std::string error;
    const EnergySnapshot after = take(error);
    if (!before.ok || before.counters.size() != inputs_.size()) {
      return unavailable(r, "the snapshot at the start of the interval could not be taken" +
                                (error.empty() ? std::string() : ": " + error));
    }
    if (!after.ok) return unavailable(r, error);
    if (mode_ == Mode::power) {
      // Power is integrated only over samples in a row: a failed read in the interval leaves
      // a stretch whose energy is unknown.
      for (const auto& chip : power_)
        if (const auto t = chip.integrator->totals(); t.continuous_since > before.when)
          return unavailable(r, "the power of hwmon chip " + chip.name + " could not be read during the interval (" +
                                    t.last_error + "), so its energy is not known");
    }
    double total_uj = 0;
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
      if (after.counters[i] < before.counters[i])
        return unavailable(r, inputs_[i].file.string() + " went backwards, from " + std::to_string(before.counters[i]) +
                                  " to " + std::to_string(after.counters[i]) +
                                  " uJ: the counter was reset (a driver reload or a chip reset), so the interval "
                                  "cannot be measured");
      const auto uj = static_cast<double>(after.counters[i] - before.counters[i]);
      r.domains.emplace_back(inputs_[i].domain, uj * 1e-6);
      total_uj += uj;
    }
    r.available = true;
    r.joules = total_uj * 1e-6;
    r.seconds = std::chrono::duration<double>(after.when - before.when).count();
    return r;
  }

 private:
  enum class Mode { none, energy, power };

  struct PowerChip {
    std::string name;
    std::unique_ptr<PowerIntegrator> integrator;  // its inputs, in inputs_ order
  };

  static EnergyReading unavailable(EnergyReading r, const std::string& why) {
    r.available = false;
    r.reason = why;
    r.joules = 0;
    r.domains.clear();
    return r;
  }

  // Every input's cumulative microjoules: read from the energy inputs, or the integrals of the
  // power inputs.
  EnergySnapshot take(std::string& error) const {
    EnergySnapshot s;
    if (!reason_.empty()) {
      error = reason_;
      return s;
    }
    s.counters.reserve(inputs_.size());
    if (mode_ == Mode::energy) {
      std::string text;
      for (const auto& file : energy_files_) {
        std::uint64_t uj = 0;
        if (const int err = file.read_unsigned(uj, text); err != 0) {
          error = err == EINVAL ? "unparsable content in " + file.path().string() + ": '" + text + "'"
                                : read_error(file.path(), err);
          return EnergySnapshot{};
        }
        s.counters.push_back(uj);
      }
      s.when = std::chrono::steady_clock::now();
    } else {
      s.when = std::chrono::steady_clock::now();
      for (const auto& chip : power_) {
        const auto t = chip.integrator->totals();
        if (!t.error.empty()) {
          error = t.error;
          return EnergySnapshot{};
        }
        for (const double j : t.joules) s.counters.push_back(static_cast<std::uint64_t>(std::llround(j * 1e6)));
      }
    }
    s.ok = true;
    return s;
  }

  // Finds the chips and their inputs; returns why the sensor cannot be used, or "".
  std::string discover(const fs::path& root) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) return "no hwmon interface at " + root.string();

    std::map<unsigned, fs::path> chip_dirs;  // by N, so that hwmon10 comes after hwmon9
    for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
      const auto n = numbered(it->path().filename().string(), "hwmon", "");
      std::error_code dir_ec;
      if (n && fs::is_directory(it->path(), dir_ec)) chip_dirs.emplace(*n, it->path());  // follows the symlink
    }
    if (ec) return "cannot list " + root.string() + ": " + errno_text(ec.value());

    std::vector<Chip> chips;
    for (const auto& [n, dir] : chip_dirs) {
      Chip chip;
      chip.dir = dir;
      chip.name = read_label(dir / "name", dir.filename().string());
      if (!only_.empty() && std::find(only_.begin(), only_.end(), chip.name) == only_.end()) continue;
      std::map<unsigned, fs::path> energy, power_input, power_average;
      std::error_code list_ec;
      for (fs::directory_iterator it(dir, list_ec), end; !list_ec && it != end; it.increment(list_ec)) {
        const std::string f = it->path().filename().string();
        if (auto i = numbered(f, "energy", "_input"))
          energy.emplace(*i, it->path());
        else if (auto j = numbered(f, "power", "_input"))
          power_input.emplace(*j, it->path());
        else if (auto k = numbered(f, "power", "_average"))
          power_average.emplace(*k, it->path());
      }
      if (list_ec) return "cannot list " + dir.string() + ": " + errno_text(list_ec.value());
      for (const auto& [i, file] : energy)
        chip.energy.push_back(
            {read_label(dir / ("energy" + std::to_string(i) + "_label"), "energy" + std::to_string(i)), file, true});
      // The instantaneous input where a chip has both: an average lags by its averaging window
      // (powerN_average_interval, up to seconds), which moves energy out of short intervals.
      for (const auto& [i, file] : power_average) power_input.emplace(i, file);
      for (const auto& [i, file] : power_input)
        chip.power.push_back(
            {read_label(dir / ("power" + std::to_string(i) + "_label"), "power" + std::to_string(i)), file, true});
      if (chip.energy.empty() && chip.power.empty()) continue;  // coretemp, fans, ...
      // While the domains are still the bare labels:
      mark_overlaps(chip.name, chip.energy);
      mark_overlaps(chip.name, chip.power);
      chips.push_back(std::move(chip));
    }
    if (chips.empty())
      return "no hwmon chip under " + root.string() + (only_.empty() ? "" : " named " + list_of(only_)) +
             " has energy*_input or power*_input";

    // Two chips of one driver (two GPUs) would give the same domain names: those take their
    // hwmonN as well.
    std::map<std::string, int> name_count;
    for (const auto& c : chips) ++name_count[c.name];
    for (auto& c : chips) {
      c.prefix = name_count[c.name] > 1 ? c.name + " (" + c.dir.filename().string() + ")" : c.name;
      for (auto* list : {&c.energy, &c.power})
        for (auto& in : *list) in.domain = c.prefix + "/" + in.domain;
    }

    const bool any_energy = std::any_of(chips.begin(), chips.end(), [](const Chip& c) { return !c.energy.empty(); });
    mode_ = any_energy ? Mode::energy : Mode::power;
    update_interval_s_ = any_energy ? kEnergyUpdateS : 0.0;
    for (auto& c : chips) {
      auto& used = any_energy ? c.energy : c.power;
      if (any_energy && !c.power.empty()) ignored_.push_back(c.prefix);
      // Parts of another input are not read at all: their energy is in that input, and reading
      // each costs a system call between samples (under amd_energy, an interrupt to that core).
      for (const auto& in : used)
        if (!in.in_total) parts_.push_back(in.domain);
      std::erase_if(used, [](const Input& in) { return !in.in_total; });
      if (used.empty()) continue;
      // Every input is read once now, so that a sensor that reports itself available can be read.
      for (const auto& in : used) {
        std::uint64_t v = 0;
        if (auto why = read_unsigned(in.file, v); !why.empty()) return why;
      }
      // Optional; when present it sets the sampling period and the stated resolution, so a
      // value that cannot be read is reported rather than guessed.
      if (std::error_code exists_ec; fs::exists(c.dir / "update_interval", exists_ec)) {
        std::uint64_t ms = 0;
        if (auto why = read_unsigned(c.dir / "update_interval", ms); !why.empty()) return why;
        c.update_interval = std::chrono::milliseconds(std::min<std::uint64_t>(ms, 3'600'000));  // an hour at most
      }
      chips_.push_back(c.prefix);
      inputs_.insert(inputs_.end(), used.begin(), used.end());
      if (any_energy) {
        // Held open: a snapshot is then one pread per input (sysfs_attribute.hpp).
        for (const auto& in : used) energy_files_.emplace_back(in.file);
        if (c.update_interval)
          update_interval_s_ = std::max(update_interval_s_, 1e-3 * static_cast<double>(c.update_interval->count()));
        continue;
      }
      std::vector<fs::path> files;
      for (const auto& in : used) files.push_back(in.file);
      auto read = [files](std::vector<double>& watts) -> std::string {
        watts.clear();
        for (const auto& f : files) {
          std::uint64_t uw = 0;
          if (auto why = read_unsigned(f, uw); !why.empty()) return why;
          watts.push_back(static_cast<double>(uw) * 1e-6);
        }
        return {};
      };
      // The chip's own refresh interval: sampling faster reads the same value again.
      const std::chrono::nanoseconds period = std::max<std::chrono::nanoseconds>(
          c.update_interval.value_or(kDefaultPowerPeriod), std::chrono::milliseconds(1));
      PowerChip pc;
      pc.name = c.prefix;
      pc.integrator = std::make_unique<PowerIntegrator>(std::move(read), period);
      update_interval_s_ = std::max(update_interval_s_, std::chrono::duration<double>(period).count());
      power_.push_back(std::move(pc));
    }
    return {};
  }

  Mode mode_ = Mode::none;
  std::vector<std::string> chips_;    // the chips read, by name
  std::vector<Input> inputs_;         // the inputs read, chip by chip: one counter each
  std::vector<SysfsAttribute> energy_files_;  // energy mode: inputs_' files, held open
  std::vector<std::string> ignored_;  // chips whose power inputs are left out (energy mode)
  std::vector<std::string> parts_;    // inputs inside another input of their chip: not read
  std::vector<PowerChip> power_;      // power mode: one integrator per chip, at its own period
  double update_interval_s_ = kEnergyUpdateS;
  std::string reason_;
  std::vector<std::string> only_;  // chip names to read; empty: every chip
};

}  // namespace

std::unique_ptr<EnergySensor> make_hwmon_sensor(const std::filesystem::path& root, const std::vector<std::string>& chips) {
  return std::make_unique<HwmonSensor>(root, chips);
}

}  // namespace xpb
