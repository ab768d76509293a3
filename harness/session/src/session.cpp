#include "xpubench/parse.hpp"
#include "xpubench/session.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "xpubench/build_info.hpp"
#include "xpubench/error.hpp"
#include "xpubench/fingerprint.hpp"
#include "xpubench/registry.hpp"
#include "xpubench/result_writer.hpp"
#include "xpubench/workload.hpp"

#include "isolation.hpp"

namespace xpb {
namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string iso8601_utc(double unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string new_run_id(double started) {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", rd());
  std::string stamp = iso8601_utc(started);
  std::erase(stamp, '-');
  std::erase(stamp, ':');
  return stamp + "-" + buf;
}

std::string render(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : json_text(v); }

// One suite entry (or plan dict) resolved against its workload: what make_plan and
// plan_from_json share.
struct EntrySource {
  std::string suite, workload, where;
  nlohmann::json params = nlohmann::json::object();  // value or list per key, after overrides
  std::map<std::string, std::string> param_where;
  RunPolicy policy;
  std::vector<std::string> only_on;
};

// A grid: every key whose value is a list is an axis; the points are its cartesian product.
// An empty axis or a product past kMaxPlanItems is refused before any point is made.
std::vector<nlohmann::json> grid_points(const EntrySource& e) {
  auto at = [&](const std::string& key) { return e.param_where.count(key) ? e.param_where.at(key) : e.where; };
  std::size_t count = 1;
  for (const auto& [key, value] : e.params.items()) {
    if (!value.is_array()) continue;
    if (value.empty())
      throw InputError(at(key) + ": parameter '" + key + "' of " + e.workload +
                       " is an empty list, so the grid has no point; give at least one value");
    if (count > kMaxPlanItems / value.size())
      throw InputError(at(key) + ": the grid of " + e.workload + " has more than " + std::to_string(kMaxPlanItems) +
                       " points (the product of its lists' lengths)");
    count *= value.size();
  }
  std::vector<nlohmann::json> points{nlohmann::json::object()};
  for (const auto& [key, value] : e.params.items()) {
    const auto values = value.is_array() ? value : nlohmann::json::array({value});
    std::vector<nlohmann::json> next;
    next.reserve(points.size() * values.size());
    for (const auto& p : points)
      for (const auto& v : values) {
        auto q = p;
        q[key] = v;
        next.push_back(std::move(q));
      }
    points = std::move(next);
  }
  return points;
}

// Checks every point of an entry's grid against the workload's choices and expand(), and adds
// the benchmarks it gives (each once: two suites may name the same one) to the plan.
void expand_entry(const EntrySource& e, Workload& workload, const SystemInfo& system,
                  std::map<std::string, std::size_t>& planned, std::vector<PlanItem>& plan) {
  std::map<std::string, ParamSpec> specs;
  for (auto& s : workload.params()) specs[s.name] = s;
  auto at = [&](const std::string& key) { return e.param_where.count(key) ? e.param_where.at(key) : e.where; };
  for (const auto& point : grid_points(e)) {
    for (const auto& [key, value] : point.items()) {
      const auto& choices = specs.at(key).choices;
      if (choices.empty()) continue;
      if (std::find(choices.begin(), choices.end(), render(value)) == choices.end())
        throw InputError(at(key) + ": parameter '" + key + "' of " + e.workload + " is " + json_text(value) +
                         ", expected one of: " + join(choices));
    }
    std::vector<nlohmann::json> expanded;
    try {
      expanded = workload.expand(point, system);
    } catch (const InputError& err) {
      throw InputError(e.where + " (" + e.workload + "): " + err.what());
    }
    for (auto& p : expanded) {
      const auto id = benchmark_id(e.workload, "", p);
      if (const auto it = planned.find(id); it != planned.end()) {
        // Planned already: it runs wherever either entry has it run (an empty list is everywhere).
        auto& only_on = plan[it->second].only_on;
        if (only_on.empty() || e.only_on.empty()) {
          only_on.clear();
        } else {
          for (const auto& d : e.only_on)
            if (std::find(only_on.begin(), only_on.end(), d) == only_on.end()) only_on.push_back(d);
        }
        continue;
      }
      if (plan.size() >= kMaxPlanItems)
        throw InputError(e.where + ": the plan has more than " + std::to_string(kMaxPlanItems) + " benchmarks");
      planned.emplace(id, plan.size());
      plan.push_back({e.suite, e.workload, std::move(p), e.policy, e.where, e.only_on});
    }
  }
}

std::unique_ptr<Workload> workload_named(const std::string& name, const std::string& where) {
  auto w = WorkloadRegistry::instance().create(name);
  if (!w)
    throw InputError(where + ": unknown workload '" + name + "' (expected one of: " +
                     join(WorkloadRegistry::instance().names()) + ")");
  return w;
}

}  // namespace

// --- planning ------------------------------------------------------------------------------------

bool runs_on(const PlanItem& item, const std::string& run_id, const DeviceInfo& info) {
  if (item.only_on.empty()) return true;
  const std::string bare = run_id.substr(0, run_id.find(','));
  for (const auto& d : item.only_on)
    if (d == run_id || d == bare || d == info.id() || d == info.driver || d == info.kind) return true;
  return false;
}

std::vector<PlanItem> make_plan(const std::vector<Suite>& suites, bool quick, const std::vector<Override>& overrides,
                                const SystemInfo& system) {
  // Which overrides some selected workload (or the run policy) accepts.
  std::set<std::string> accepted;
  std::map<std::string, std::size_t> planned;  // benchmark id -> its index in the plan
  std::vector<PlanItem> plan;
  for (const auto& suite : suites) {
    const bool use_quick = quick || suite.quick;
    for (const auto& entry : suite.entries) {
      EntrySource e{suite.name, entry.workload, entry.where, nlohmann::json::object(),
                    entry.param_where, RunPolicy{}, entry.only_on};
      // Suite policy, its quick variant, then --set policy.*: merged first and applied once, so
      // the result does not depend on the order of the keys (min before max or after).
      auto merged = entry.policy.is_object() ? entry.policy : nlohmann::json::object();
      if (use_quick && entry.quick_policy.is_object()) merged.update(entry.quick_policy);
      bool overridden = false;
      for (const auto& o : overrides) {
        if (o.key.rfind("policy.", 0) != 0) continue;
        if (auto err = RunPolicy::check(o.key.substr(7), o.value); !err.empty())
          throw InputError("--set " + o.key + ": " + err);
        merged[o.key.substr(7)] = o.value;
        accepted.insert(o.key);
        overridden = true;
      }
      if (auto err = e.policy.apply(merged); !err.empty())
        throw InputError(overridden ? "--set policy.*: " + err + " (with the policy of " + entry.where + ")"
                                    : entry.where + ": " + err);
      auto workload = workload_named(entry.workload, entry.where);
      std::vector<std::string> names;
      for (const auto& s : workload->params()) {
        names.push_back(s.name);
        e.params[s.name] = s.default_value;
      }
      auto take = [&](const nlohmann::json& given) {
        for (const auto& [key, value] : given.items()) {
          if (!e.params.contains(key))
            throw InputError((entry.param_where.count(key) ? entry.param_where.at(key) : entry.where) +
                             ": unknown parameter '" + key + "' for workload " + entry.workload +
                             " (expected one of: " + join(names) + ")");
          e.params[key] = value;
        }
      };
      take(entry.params);
      if (use_quick) take(entry.quick_params);
      for (const auto& o : overrides) {
        if (!e.params.contains(o.key)) continue;
        e.params[o.key] = o.value;
        e.param_where[o.key] = "--set " + o.key;
        accepted.insert(o.key);
      }
      expand_entry(e, *workload, system, planned, plan);
    }
  }
  for (const auto& o : overrides)
    if (!accepted.count(o.key))
      throw InputError("--set " + o.key + ": no selected workload has a parameter '" + o.key +
                       "' (run `xpubench list workloads` to see each workload's parameters)");
  return plan;
}

std::vector<PlanItem> plan_from_json(const nlohmann::json& spec, const SystemInfo& system) {
  const auto entries = spec.is_array() ? spec : nlohmann::json::array({spec});
  std::map<std::string, std::size_t> planned;
  std::vector<PlanItem> plan;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& d = entries[i];
    const std::string where = "plan[" + std::to_string(i) + "]";
    if (!d.is_object()) throw InputError(where + ": expected {\"workload\": ..., \"params\": {...}, \"policy\": {...}}");
    for (const auto& [key, value] : d.items())
      if (key != "workload" && key != "params" && key != "policy")
        throw InputError(where + ": unknown key '" + key + "' (expected workload, params, policy)");
    if (!d.contains("workload") || !d["workload"].is_string())
      throw InputError(where + ": expected \"workload\": a workload name");
    EntrySource e{"python", d["workload"].get<std::string>(), where, nlohmann::json::object(), {}, RunPolicy{}};
    if (d.contains("policy"))
      if (auto err = e.policy.apply(d["policy"]); !err.empty()) throw InputError(where + ".policy: " + err);
    auto workload = workload_named(e.workload, where);
    for (const auto& s : workload->params()) e.params[s.name] = s.default_value;
    if (d.contains("params")) {
      if (!d["params"].is_object()) throw InputError(where + ".params: expected a mapping of parameter names to values");
      for (const auto& [key, value] : d["params"].items()) {
        if (!e.params.contains(key)) throw InputError(where + ".params: unknown parameter '" + key + "' for " + e.workload);
        e.params[key] = value;
        e.param_where[key] = where + ".params." + key;
      }
    }
    expand_entry(e, *workload, system, planned, plan);
  }
  return plan;
}

// --- devices -------------------------------------------------------------------------------------

DeviceSpec parse_device_spec(const std::string& text) {
  DeviceSpec d;
  std::size_t at = text.find(',');
  d.id = text.substr(0, at);
  if (d.id.empty()) throw InputError("--device '" + text + "': expected a device id such as cpu or opencl:0");
  while (at != std::string::npos) {
    const std::size_t next = text.find(',', at + 1);
    const std::string option = text.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
    const auto eq = option.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InputError("--device '" + text + "': expected options as key=value after the id, got '" + option + "'");
    if (!d.options.emplace(option.substr(0, eq), option.substr(eq + 1)).second)
      throw InputError("--device '" + text + "': option '" + option.substr(0, eq) + "' given twice");
    at = next;
  }
  return d;
}

std::vector<DriverStatus> inventory() {
  std::vector<DriverStatus> out;
  for (const auto& name : DriverRegistry::instance().names()) {
    DriverStatus s{name, "", {}, ""};
    try {
      std::shared_ptr<Driver> driver = DriverRegistry::instance().create(name);
      s.description = driver->description();
      auto e = driver->enumerate();
      s.devices = std::move(e.devices);
      s.reason = s.devices.empty() ? (e.reason.empty() ? "the driver found no device and gave no reason" : e.reason) : "";
    } catch (const std::exception& e) {
      s.reason = std::string("the driver failed while enumerating: ") + e.what();
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<OpenDevice> open_devices(const std::vector<std::string>& wanted) {
  const auto drivers = inventory();
  std::vector<std::string> ids;
  for (const auto& d : drivers)
    for (const auto& info : d.devices) ids.push_back(info.id());
  std::vector<OpenDevice> out;
  // Opens one device; the outcome says why not.
  auto open_one = [&](const DeviceInfo& info, const DeviceOptions& options, const std::string& id) -> Outcome {
    try {
      std::shared_ptr<Driver> driver = DriverRegistry::instance().create(info.driver);
      auto r = driver->open(info, options);
      if (!r.outcome.passed()) return r.outcome;
      if (!r.device) return Outcome::with(Status::failed, "the driver opened no device");
      out.push_back({r.device, id, options});
      return Outcome::ok();
    } catch (const std::exception& e) {
      return Outcome::with(Status::failed, std::string("the driver failed while opening it: ") + e.what());
    }
  };
  if (wanted.empty()) {
    for (const auto& d : drivers)
      for (const auto& info : d.devices) {
        // The machine's own devices: references and simulators only when named (--device).
        if (info.reference || info.simulated) continue;
        if (auto o = open_one(info, {}, info.id()); !o.passed())
          std::fprintf(stderr, "xpubench: skipping device %s: %s\n", info.id().c_str(), o.reason.c_str());
      }
    return out;
  }
  // One device named with different options (a simulator at several design points) is opened
  // once per set of options, each then known by its spec as given ("photonic-sim,dac_bits=4");
  // named once, by its id alone.
  std::map<std::string, std::set<DeviceOptions>> variants;
  for (const auto& w : wanted) {
    const auto spec = parse_device_spec(w);
    variants[spec.id].insert(spec.options);
  }
  std::set<std::pair<std::string, DeviceOptions>> opened;
  for (const auto& w : wanted) {
    const auto spec = parse_device_spec(w);
    const DeviceInfo* found = nullptr;
    for (const auto& d : drivers)
      for (const auto& info : d.devices)
        if (info.id() == spec.id || info.driver + ":" + std::to_string(info.index) == spec.id) found = &info;
    if (found == nullptr) {
      std::string why;
      for (const auto& d : drivers)
        if (d.name == spec.id.substr(0, spec.id.find(':')) && !d.reason.empty()) why = " (driver " + d.name + ": " + d.reason + ")";
      throw InputError("--device " + w + ": no such device" + why + " (available: " + join(ids) + ")");
    }
    // `--device cpu --device cpu:0` opens it once
    if (!opened.insert({found->id(), spec.options}).second) continue;
    const std::string id = variants[spec.id].size() > 1 ? w : found->id();
    if (auto o = open_one(*found, spec.options, id); !o.passed()) throw InputError("--device " + w + ": " + o.reason);
  }
  return out;
}

// --- running -------------------------------------------------------------------------------------

namespace {

// Figures measured once per session and shared (workload.hpp): the read bandwidth rooflines.
class Facts final : public SessionFacts {
 public:
  Facts(const SystemInfo& system, Device* reference, const std::atomic<bool>* cancel)
      : system_(system), reference_(reference), cancel_(cancel) {}

  std::optional<ReadBandwidth> read_bandwidth(Device& device, int threads, std::uint64_t min_bytes,
                                              std::string& why) override {
    std::lock_guard lock(mu_);
    auto bw = WorkloadRegistry::instance().create("memory.bandwidth");
    if (!bw) {
      why = "memory.bandwidth is not built in";
      return std::nullopt;
    }
    nlohmann::json p = nlohmann::json::object();
    for (const auto& spec : bw->params()) p[spec.name] = spec.default_value;
    p["kernel"] = "read";
    p["stores"] = "regular";
    p["threads"] = threads;
    const auto points = bw->expand(p, system_);
    if (points.empty()) {
      why = "memory.bandwidth gave no read benchmark";
      return std::nullopt;
    }
    // The array: the default (4x the last-level cache) for every model that fits in it, so they
    // share one measurement per device and thread count; a larger model its own size, rounded
    // up to 64 MiB (on a virtual machine bandwidth depends on where in host memory the pages
    // land, and a region as large as the weights is the fairer stand-in for them; no larger,
    // since it is held beside them).
    const auto default_bytes = points[0]["array_bytes"].get<std::uint64_t>();
    constexpr std::uint64_t kGrain = std::uint64_t{64} << 20;
    const std::uint64_t bytes = std::max(default_bytes, (min_bytes + kGrain - 1) / kGrain * kGrain);
    const auto key = std::make_tuple(device.info().id(), threads, bytes);
    if (auto it = cache_.find(key); it != cache_.end()) {
      if (!it->second) why = why_[key];
      return it->second;
    }
    auto point = points[0];
    point["array_bytes"] = bytes;
    auto& slot = cache_[key];
    slot = measure_read(device, point, points[0], why_[key]);
    why = why_[key];
    return slot;
  }

 private:
  // memory.bandwidth kernel=read at `point`, or at `fallback` (the default size) when the
  // larger array does not fit in free memory.
  std::optional<ReadBandwidth> measure_read(Device& device, nlohmann::json point, const nlohmann::json& fallback,
                                            std::string& why) {
    // Its own policy, not the run's (a quick llm policy takes 3 samples, too few for a figure
    // every decode result is divided by): the median of at least 10 samples over 0.5-2 s.
    RunPolicy policy;
    policy.min_samples = 10;
    policy.max_samples = 200;
    policy.min_seconds = 0.5;
    policy.max_seconds = 2.0;
    RunContext ctx{device, system_, policy, nullptr, cancel_, reference_, nullptr};
    auto bw = WorkloadRegistry::instance().create("memory.bandwidth");
    auto rec = run_benchmark(*bw, point, ctx);
    if (rec.outcome.status == Status::skipped && point != fallback) {
      point = fallback;
      bw = WorkloadRegistry::instance().create("memory.bandwidth");
      rec = run_benchmark(*bw, point, ctx);
    }
    for (const auto& m : rec.metrics)
      if (rec.outcome.passed() && m.unit == "GB/s" && m.stats.median)
        return ReadBandwidth{*m.stats.median, {{"params", point}, {"samples_gbps", m.samples}, {"valid", rec.valid}}};
    why = "memory.bandwidth read did not pass: " + rec.outcome.reason;
    return std::nullopt;
  }

  const SystemInfo& system_;
  Device* reference_;
  const std::atomic<bool>* cancel_;
  std::mutex mu_;
  std::map<std::tuple<std::string, int, std::uint64_t>, std::optional<ReadBandwidth>> cache_;
  std::map<std::tuple<std::string, int, std::uint64_t>, std::string> why_;
};

// The device's energy in the header: which sensor covers it and what it read at rest, or why
// there is none.
nlohmann::json device_entry(const OpenDevice& d, EnergySensor* sensor, const IdlePower& idle) {
  const auto& info = d.device->info();
  nlohmann::json energy = {{"available", false}, {"reason", "the device has no energy sensor"}};
  if (sensor != nullptr) {
    const auto why = sensor->unavailable_reason();
    energy = why.empty() ? nlohmann::json{{"available", true}, {"source", sensor->name()}, {"covers", sensor->covers()},
                                          {"update_interval_s", sensor->update_interval_s()}}
                         : nlohmann::json{{"available", false}, {"source", sensor->name()}, {"reason", why}};
    if (why.empty())
      energy["idle"] = idle.available ? nlohmann::json{{"available", true}, {"watts", idle.watts}, {"window_s", idle.seconds}}
                                      : nlohmann::json{{"available", false}, {"reason", idle.reason}};
  }
  if (d.device->caps().models_energy)
    energy = {{"available", true}, {"source", "modeled"}, {"covers", "the simulator's energy model (DESIGN.md §10 sources)"}};
  nlohmann::json props = nlohmann::json::object();
  for (const auto& [k, v] : info.properties) props[k] = v;
  nlohmann::json options = nlohmann::json::object();
  for (const auto& [k, v] : d.options) options[k] = v;
  const auto clock = d.device->clock();
  nlohmann::json entry = {{"id", d.id},
          {"driver", info.driver},
          {"name", info.name},
          {"kind", info.kind},
          {"simulated", info.simulated},
          {"clock", name(clock.kind)},
          {"clock_info", clock.to_json()},
          {"options", options},
          {"properties", props},
          {"energy", energy}};
  if (auto sim = d.device->describe(); !sim.empty()) entry["simulator"] = std::move(sim);
  return entry;
}

}  // namespace

struct Session::State {
  std::vector<PlanItem> plan;
  std::vector<OpenDevice> devices;
  SystemInfo system;
  SessionOptions options;
  nlohmann::json header;
  std::unique_ptr<ResultWriter> writer;  // null for a run kept in memory
  std::vector<nlohmann::json> records;
  std::shared_ptr<EnergySensor> host_energy;   // what runs on the host's CPU
  std::shared_ptr<EnergySensor> meter;         // an external meter: every device not simulated
  std::map<const EnergySensor*, IdlePower> idle;  // per sensor in use, measured once
  std::shared_ptr<Device> reference;
  std::unique_ptr<Facts> facts;
  std::atomic<bool> stop{false};  // set from options.cancel or options.should_stop
  std::atomic<bool> watching{true};
  std::thread watcher;
  SessionResult result;
  bool finished = false;
  std::map<std::size_t, std::unique_ptr<ChildWorker>> workers;  // by device, for isolated benchmarks

  // Runs plan item `item` on device `device` through the workload template.
  BenchmarkRecord measure(std::size_t item, std::size_t device, const std::atomic<bool>* cancel);

  // Which sensor covers a device: a meter the user wired up, else the device's own (a GPU's
  // NVML), else the host's for what runs on the host's CPU. A simulator models its own.
  EnergySensor* sensor_for(Device& d) {
    if (d.caps().models_energy) return nullptr;
    if (meter) return meter.get();
    if (EnergySensor* s = d.energy_sensor()) return s;
    const auto& kind = d.info().kind;
    return kind == "cpu" || kind == "reference" ? host_energy.get() : nullptr;
  }
  IdlePower idle_of(const EnergySensor* s) const {
    const auto it = idle.find(s);
    if (it != idle.end()) return it->second;
    IdlePower none;
    none.reason = "the idle baseline was not measured (idle_seconds 0)";
    return none;
  }
  // The host's sensor: the first of RAPL and hwmon that can be read; when neither, a
  // sensor that gives both reasons.
  static std::shared_ptr<EnergySensor> discover_host_sensor();
};

namespace {

// The host's sensors that were tried, none readable: each one's reason, so a record says
// everything that was looked for.
class NoHostSensor final : public EnergySensor {
 public:
  explicit NoHostSensor(std::string reason) : reason_(std::move(reason)) {}
  std::string name() const override { return "rapl, hwmon"; }
  std::string covers() const override { return "nothing: no host sensor could be read"; }
  std::string unavailable_reason() const override { return reason_; }
  EnergySnapshot snapshot() const override { return {}; }
  EnergyReading since(const EnergySnapshot&) const override {
    EnergyReading r;
    r.source = name();
    r.reason = reason_;
    return r;
  }
  double update_interval_s() const override { return 1; }

 private:
  std::string reason_;
};

}  // namespace

std::shared_ptr<EnergySensor> Session::State::discover_host_sensor() {
  std::shared_ptr<EnergySensor> rapl = make_powercap_sensor();
  if (rapl->unavailable_reason().empty()) return rapl;
  std::shared_ptr<EnergySensor> hwmon = make_hwmon_sensor("/sys/class/hwmon", cpu_hwmon_chips());
  if (hwmon->unavailable_reason().empty()) return hwmon;
  return std::make_shared<NoHostSensor>("rapl: " + rapl->unavailable_reason() + "; hwmon: " + hwmon->unavailable_reason());
}

Session::Session(std::vector<PlanItem> plan, std::vector<OpenDevice> devices, SystemInfo system, SessionOptions options)
    : s_(std::make_unique<State>()) {
  s_->plan = std::move(plan);
  s_->devices = std::move(devices);
  s_->system = std::move(system);
  s_->options = std::move(options);
  if (!s_->options.output.empty()) check_output_path(s_->options.output, "-o");
  const double started = unix_now();
  s_->host_energy = s_->options.host_energy ? s_->options.host_energy : State::discover_host_sensor();
  if (!s_->options.energy_meter.empty()) try {
      s_->meter = make_meter_sensor(s_->options.energy_meter);
    } catch (const std::invalid_argument& e) {
      throw InputError(std::string("--energy-meter: ") + e.what());
    }
  // The idle baseline of every sensor in use, before anything runs (nothing of this session
  // is running yet: the machine is as idle as the harness can make it).
  if (s_->options.idle_seconds > 0)
    for (auto& d : s_->devices)
      if (EnergySensor* sensor = s_->sensor_for(*d.device);
          sensor != nullptr && sensor->unavailable_reason().empty() && !s_->idle.count(sensor))
        s_->idle[sensor] = measure_idle_power(*sensor, s_->options.idle_seconds);

  auto devices_json = nlohmann::json::array();
  for (auto& d : s_->devices) {
    EnergySensor* sensor = s_->sensor_for(*d.device);
    devices_json.push_back(device_entry(d, sensor, s_->idle_of(sensor)));
  }
  nlohmann::json config = nlohmann::json::array();
  for (const auto& item : s_->plan) config.push_back({item.workload, item.params, item.policy.to_json()});
  for (const auto& d : s_->devices) config.push_back(d.id);

  nlohmann::json run = s_->options.run_info.is_object() ? s_->options.run_info : nlohmann::json::object();
  // A library or Python caller may say nothing of how it was invoked; the schema still
  // requires these keys.
  if (!run.contains("command")) run["command"] = nlohmann::json::array();
  if (!run.contains("suites")) {
    std::set<std::string> names;
    for (const auto& item : s_->plan) names.insert(item.suite);
    run["suites"] = names;
  }
  if (!run.contains("quick")) run["quick"] = false;
  if (!run.contains("overrides")) run["overrides"] = nlohmann::json::object();
  run["id"] = new_run_id(started);
  run["status"] = "incomplete";
  run["started"] = iso8601_utc(started);
  run["finished"] = nullptr;
  run["xpubench_version"] = build::version;
  run["git_revision"] = build::git_revision;
  run["config_hash"] = fnv1a64(json_text(config));
  if (!run.contains("policy")) run["policy"] = s_->plan.empty() ? RunPolicy{}.to_json() : s_->plan.front().policy.to_json();
  s_->header = {{"schema", kResultSchema}, {"run", run}, {"system", s_->system.to_json()}, {"devices", devices_json}};
  if (!s_->options.output.empty()) s_->writer = std::make_unique<ResultWriter>(s_->options.output, s_->header);

  // The reference device for conformance checks, opened once for the whole session.
  for (const auto& d : s_->devices)
    if (d.device->info().driver == "ref") s_->reference = d.device;
  if (!s_->reference) {
    try {
      std::shared_ptr<Driver> ref = DriverRegistry::instance().create("ref");
      if (ref) {
        auto e = ref->enumerate();
        if (!e.devices.empty()) s_->reference = ref->open(e.devices.front(), {}).device;
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "xpubench: the reference device could not be opened (%s); conformance checks are skipped\n",
                   e.what());
    }
  }
  s_->facts = std::make_unique<Facts>(s_->system, s_->reference.get(), &s_->stop);

  // One watcher merges the ways a run can be stopped into the flag every loop reads.
  if (s_->options.cancel != nullptr || s_->options.should_stop) {
    State* st = s_.get();
    s_->watcher = std::thread([st] {
      // A callback that throws asks to stop: the exception cannot leave this thread.
      auto asked = [st] {
        try {
          return st->options.should_stop && st->options.should_stop();
        } catch (...) {
          return true;
        }
      };
      while (st->watching.load()) {
        if ((st->options.cancel != nullptr && st->options.cancel->load()) || asked()) {
          st->stop.store(true);
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
}

Session::~Session() {
  s_->workers.clear();
  s_->watching.store(false);
  if (s_->watcher.joinable()) s_->watcher.join();
}

const nlohmann::json& Session::header() const { return s_->header; }

bool Session::cancelled() const {
  // The external flag is read directly too: a signal that came between two polls counts.
  return s_->stop.load() || (s_->options.cancel != nullptr && s_->options.cancel->load());
}

BenchmarkRecord Session::State::measure(std::size_t item_index, std::size_t device_index,
                                        const std::atomic<bool>* cancel) {
  const PlanItem& item = plan.at(item_index);
  OpenDevice& d = devices.at(device_index);
  RunContext ctx{*d.device, system, item.policy, sensor_for(*d.device), cancel, reference.get(), facts.get()};
  ctx.idle = idle_of(ctx.energy);
  BenchmarkRecord record;
  if (auto workload = WorkloadRegistry::instance().create(item.workload)) {
    record = run_benchmark(*workload, item.params, ctx);
  } else {
    record.outcome = Outcome::with(Status::failed, "workload " + item.workload + " is not built in");
  }
  record.workload = item.workload;
  record.device = d.id;
  record.params = item.params;
  record.id = benchmark_id(item.workload, d.id, item.params);
  return record;
}

nlohmann::json Session::run(std::size_t item_index, std::size_t device_index) {
  const PlanItem& item = s_->plan.at(item_index);
  OpenDevice& d = s_->devices.at(device_index);
  const double started = unix_now();
  nlohmann::json j;
  if (s_->options.isolate && d.device->info().isolatable) {
    // One worker process per device, forked at its first benchmark and again after a crash. In
    // it the benchmark polls the caller's flag, which the child's copy of a signal handler sets
    // (the session's watcher thread is not in the child).
    auto& worker = s_->workers[device_index];
    if (!worker) {
      State* st = s_.get();
      const auto* child_cancel = st->options.cancel != nullptr ? st->options.cancel : &st->stop;
      worker = std::make_unique<ChildWorker>([st, device_index, child_cancel](std::size_t job) {
        return st->measure(job, device_index, child_cancel).to_json();
      });
    }
    auto child = worker->run(item_index, s_->options.isolate_timeout_s, &s_->stop);
    if (child.ok) {
      j = std::move(child.value);
    } else {
      BenchmarkRecord failed;
      failed.workload = item.workload;
      failed.device = d.id;
      failed.params = item.params;
      failed.id = benchmark_id(item.workload, d.id, item.params);
      failed.outcome = child.interrupted ? Outcome::with(Status::interrupted, "stopped by the user (" + child.failure + ")")
                                         : Outcome::with(Status::failed, child.failure);
      failed.valid = false;
      failed.invalid_reason = "no measurement: " + child.failure;
      failed.started_unix = started;
      failed.wall_seconds = child.host_seconds;
      j = failed.to_json();
    }
    j["details"]["isolated"] = true;
    j["details"]["isolation_host_seconds"] = child.host_seconds;
    if (s_->writer) j = s_->writer->append(std::move(j));
  } else {
    const auto record = s_->measure(item_index, device_index, &s_->stop);
    j = s_->writer ? s_->writer->append(record) : record.to_json();
  }
  const auto status = j["status"].get<std::string>();
  if (status == "failed" || status == "mistrusted") ++s_->result.failed;
  if (status == "invalid") ++s_->result.invalid;
  if (status == "interrupted") s_->result.interrupted = true;
  s_->records.push_back(j);
  return j;
}

SessionResult Session::run_all() {
  auto selected = [&](std::size_t i, std::size_t d) {
    return runs_on(s_->plan[i], s_->devices[d].id, s_->devices[d].device->info());
  };
  std::size_t total = 0;
  for (std::size_t i = 0; i < s_->plan.size(); ++i)
    for (std::size_t d = 0; d < s_->devices.size(); ++d) total += selected(i, d) ? 1 : 0;
  std::size_t index = 0;
  for (std::size_t i = 0; i < s_->plan.size() && !cancelled(); ++i)
    for (std::size_t d = 0; d < s_->devices.size() && !cancelled(); ++d) {
      if (!selected(i, d)) continue;
      if (s_->options.on_start) s_->options.on_start(index, total, s_->plan[i], s_->devices[d].id);
      const auto record = run(i, d);
      if (s_->options.on_done) s_->options.on_done(index, total, record);
      ++index;
    }
  return finish();
}

SessionResult Session::finish() {
  if (s_->finished) return s_->result;
  s_->workers.clear();  // the isolated benchmarks' child processes end with the run
  // A stop requested at any point means the run did not do all it was asked: it is recorded
  // interrupted (and the CLI exits 130), whatever the last benchmark managed.
  if (cancelled()) s_->result.interrupted = true;
  const std::string status = s_->result.interrupted ? "interrupted" : "complete";
  s_->result.document = s_->writer ? s_->writer->finish(status) : assemble_result(s_->header, s_->records, status);
  s_->finished = true;
  return s_->result;
}

SessionResult run_session(const std::vector<PlanItem>& plan, std::vector<OpenDevice>& devices, const SystemInfo& system,
                          const SessionOptions& options) {
  Session session(plan, devices, system, options);
  return session.run_all();
}

}  // namespace xpb
