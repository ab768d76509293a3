#include "xpubench/session.hpp"

#include <chrono>
#include <ctime>
#include <map>
#include <random>
#include <set>

#include "xpubench/build_info.hpp"
#include "xpubench/error.hpp"
#include "xpubench/registry.hpp"
#include "xpubench/result_writer.hpp"

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

// FNV-1a, 64 bit: identifies a configuration (same plan, same devices) across runs; not a
// security hash.
std::string fnv1a64(const std::string& text) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string("fnv1a64:") + buf;
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

// A grid: every key whose value is a list is an axis; the points are its cartesian product.
std::vector<nlohmann::json> grid_points(const nlohmann::json& params) {
  std::vector<nlohmann::json> points{nlohmann::json::object()};
  for (const auto& [key, value] : params.items()) {
    const auto values = value.is_array() ? value : nlohmann::json::array({value});
    std::vector<nlohmann::json> next;
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

std::string render(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

std::vector<PlanItem> make_plan(const std::vector<Suite>& suites, bool quick,
                                const std::vector<Override>& overrides, const SystemInfo& system) {
  // Which overrides some selected workload (or the run policy) accepts.
  std::set<std::string> accepted;
  std::set<std::string> planned;
  std::vector<PlanItem> plan;
  for (const auto& suite : suites) {
    const bool use_quick = quick || suite.quick;
    for (const auto& entry : suite.entries) {
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
      RunPolicy policy;
      if (auto err = policy.apply(merged); !err.empty())
        throw InputError(overridden ? "--set policy.*: " + err + " (with the policy of " + entry.where + ")"
                                    : entry.where + ": " + err);
      auto workload = WorkloadRegistry::instance().create(entry.workload);
      if (!workload)
        throw InputError(entry.where + ": unknown workload '" + entry.workload +
                         "' (expected one of: " + join(WorkloadRegistry::instance().names()) + ")");
      const auto specs = workload->params();
      std::map<std::string, const ParamSpec*> by_name;
      std::vector<std::string> names;
      for (const auto& s : specs) {
        by_name[s.name] = &s;
        names.push_back(s.name);
      }
      auto params = nlohmann::json::object();
      for (const auto& s : specs) params[s.name] = s.default_value;
      auto take = [&](const nlohmann::json& given) {
        for (const auto& [key, value] : given.items()) {
          if (!by_name.count(key)) {
            auto at = entry.param_where.count(key) ? entry.param_where.at(key) : entry.where;
            throw InputError(at + ": unknown parameter '" + key + "' for workload " + entry.workload +
                             " (expected one of: " + join(names) + ")");
          }
          params[key] = value;
        }
      };
      take(entry.params);
      if (use_quick) take(entry.quick_params);
      for (const auto& o : overrides) {
        if (!by_name.count(o.key)) continue;
        params[o.key] = o.value;
        accepted.insert(o.key);
      }
      for (const auto& point : grid_points(params)) {
        for (const auto& [key, value] : point.items()) {
          const auto& choices = by_name.at(key)->choices;
          if (choices.empty()) continue;
          if (std::find(choices.begin(), choices.end(), render(value)) == choices.end()) {
            auto at = entry.param_where.count(key) ? entry.param_where.at(key) : entry.where;
            throw InputError(at + ": parameter '" + key + "' of " + entry.workload + " is " + value.dump() +
                             ", expected one of: " + join(choices));
          }
        }
        std::vector<nlohmann::json> expanded;
        try {
          expanded = workload->expand(point, system);
        } catch (const InputError& e) {
          throw InputError(entry.where + " (" + entry.workload + "): " + e.what());
        }
        for (auto& p : expanded) {
          // Two suites (or a grid and its expansion) may name the same benchmark; it is run
          // once, as first named, so benchmark ids in the result stay unique.
          const auto id = benchmark_id(entry.workload, "", p);
          if (!planned.insert(id).second) continue;
          plan.push_back({suite.name, entry.workload, std::move(p), policy, entry.where});
        }
      }
    }
  }
  for (const auto& o : overrides)
    if (!accepted.count(o.key))
      throw InputError("--set " + o.key + ": no selected workload has a parameter '" + o.key +
                       "' (run `xpubench list workloads` to see each workload's parameters)");
  return plan;
}

std::vector<DeviceInfo> all_devices() {
  std::vector<DeviceInfo> out;
  for (const auto& name : DriverRegistry::instance().names()) {
    auto driver = DriverRegistry::instance().create(name);
    for (auto& d : driver->enumerate()) out.push_back(std::move(d));
  }
  return out;
}

std::vector<OpenDevice> open_devices(const std::vector<std::string>& wanted) {
  const auto devices = all_devices();
  std::vector<std::string> ids;
  for (const auto& d : devices) ids.push_back(d.id());
  std::vector<OpenDevice> out;
  auto open_one = [&](const DeviceInfo& info) {
    auto driver = DriverRegistry::instance().create(info.driver);
    out.push_back({driver->open(info), info.id()});
  };
  if (wanted.empty()) {
    for (const auto& d : devices)
      if (d.driver != "ref") open_one(d);
    return out;
  }
  std::set<std::string> opened;
  for (const auto& w : wanted) {
    bool found = false;
    for (const auto& d : devices)
      if (d.id() == w || (d.driver == w && d.index == 0) || d.driver + ":" + std::to_string(d.index) == w) {
        if (opened.insert(d.id()).second) open_one(d);  // `--device cpu --device cpu:0` opens it once
        found = true;
        break;
      }
    if (!found) throw InputError("--device " + w + ": no such device (available: " + join(ids) + ")");
  }
  return out;
}

SessionResult run_session(const std::vector<PlanItem>& plan, std::vector<OpenDevice>& devices,
                          const SystemInfo& system, const SessionOptions& options) {
  const double started = unix_now();
  auto host_energy = make_powercap_sensor();

  auto devices_json = nlohmann::json::array();
  for (auto& d : devices) {
    const auto& info = d.device->info();
    EnergySensor* sensor = d.device->energy_sensor();
    if (sensor == nullptr && (info.kind == "cpu" || info.kind == "reference")) sensor = host_energy.get();
    nlohmann::json energy = {{"available", false}, {"reason", "the device has no energy sensor"}};
    if (sensor != nullptr) {
      const auto why = sensor->unavailable_reason();
      energy = why.empty() ? nlohmann::json{{"available", true}, {"source", sensor->name()}}
                           : nlohmann::json{{"available", false}, {"source", sensor->name()}, {"reason", why}};
    }
    nlohmann::json props = nlohmann::json::object();
    for (const auto& [k, v] : info.properties) props[k] = v;
    devices_json.push_back({{"id", d.id},
                            {"driver", info.driver},
                            {"name", info.name},
                            {"kind", info.kind},
                            {"simulated", info.simulated},
                            {"clock", name(d.device->clock())},
                            {"properties", props},
                            {"energy", energy}});
  }

  nlohmann::json config = nlohmann::json::array();
  for (const auto& item : plan) config.push_back({item.workload, item.params, item.policy.to_json()});
  for (const auto& d : devices) config.push_back(d.id);

  nlohmann::json run = options.run_info;
  // A library or Python caller may say nothing of how it was invoked; the schema still
  // requires these keys.
  if (!run.contains("command")) run["command"] = nlohmann::json::array();
  if (!run.contains("suites")) {
    std::set<std::string> names;
    for (const auto& item : plan) names.insert(item.suite);
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
  run["config_hash"] = fnv1a64(config.dump());
  if (!run.contains("policy")) run["policy"] = plan.empty() ? RunPolicy{}.to_json() : plan.front().policy.to_json();

  nlohmann::json header = {{"schema", kResultSchema}, {"run", run}, {"system", system.to_json()},
                           {"devices", devices_json}};
  ResultWriter writer(options.output, header);

  auto reference = DriverRegistry::instance().create("ref");
  std::unique_ptr<Device> ref_device;
  if (reference) {
    auto infos = reference->enumerate();
    if (!infos.empty()) ref_device = reference->open(infos.front());
  }

  SessionResult result;
  const std::size_t total = plan.size() * devices.size();
  std::size_t index = 0;
  for (const auto& item : plan) {
    for (auto& d : devices) {
      if (options.cancel != nullptr && options.cancel->load()) {
        result.interrupted = true;
        break;
      }
      if (options.on_start) options.on_start(index, total, item, d.id);
      EnergySensor* sensor = d.device->energy_sensor();
      const auto& kind = d.device->info().kind;
      if (sensor == nullptr && (kind == "cpu" || kind == "reference")) sensor = host_energy.get();
      RunContext ctx{*d.device, system, item.policy, sensor, options.cancel, ref_device.get()};
      const double t0 = unix_now();
      BenchmarkRecord record;
      try {
        auto workload = WorkloadRegistry::instance().create(item.workload);
        record = workload->run(item.params, ctx);
      } catch (const std::exception& e) {
        record.outcome = Outcome::with(Status::failed, std::string("the benchmark threw: ") + e.what());
      }
      record.workload = item.workload;
      record.device = d.id;
      record.params = item.params;
      record.id = benchmark_id(item.workload, d.id, item.params);
      record.started_unix = t0;
      record.wall_seconds = unix_now() - t0;
      if (!record.timing.is_object() || record.timing.empty()) record.timing = nlohmann::json::object();
      record.timing["policy"] = item.policy.to_json();
      const auto status = writer.append(record)["status"].get<std::string>();
      if (status == "interrupted") result.interrupted = true;
      if (status == "failed" || status == "mistrusted") ++result.failed;
      if (options.on_done) options.on_done(index, total, record);
      ++index;
    }
    if (result.interrupted) break;
  }
  result.document = writer.finish(result.interrupted ? "interrupted" : "complete");
  return result;
}

}  // namespace xpb
