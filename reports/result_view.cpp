#include "xpubench/result_view.hpp"

namespace xpb {
namespace {

std::string str(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

std::optional<double> num(const nlohmann::json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_number()) return j[key].get<double>();
  return std::nullopt;
}

MetricView read_metric(const nlohmann::json& m) {
  MetricView v;
  v.name = str(m, "name");
  v.unit = str(m, "unit");
  v.direction = str(m, "direction");
  v.source = str(m, "source");
  v.note = str(m, "note");
  if (m.contains("samples") && m["samples"].is_array())
    for (const auto& s : m["samples"])
      if (s.is_number()) v.samples.push_back(s.get<double>());
  const auto& st = m.contains("stats") ? m["stats"] : nlohmann::json::object();
  v.n = st.is_object() && st.contains("n") && st["n"].is_number_unsigned() ? st["n"].get<std::size_t>() : v.samples.size();
  v.median = num(st, "median");
  v.ci95_lo = num(st, "ci95_lo");
  v.ci95_hi = num(st, "ci95_hi");
  v.min = num(st, "min");
  v.max = num(st, "max");
  v.missing = str(st, "missing");
  for (const char* key : kStatisticNames)
    if (const auto value = num(st, key)) v.statistics.emplace_back(key, *value);
  return v;
}

}  // namespace

BenchmarkView read_benchmark_view(const nlohmann::json& r) {
  BenchmarkView b;
  b.id = str(r, "id");
  b.workload = str(r, "workload");
  b.device = str(r, "device");
  b.status = str(r, "status");
  b.started = str(r, "started");
  b.wall_seconds = num(r, "wall_seconds").value_or(0.0);
  b.reason = str(r, "reason");
  if (r.contains("params") && r["params"].is_object()) b.params = r["params"];
  b.valid = !(r.contains("valid") && r["valid"].is_boolean()) || r["valid"].get<bool>();
  b.invalid_reason = str(r, "invalid_reason");
  if (r.contains("timing")) b.clock = str(r["timing"], "source");
  if (r.contains("metrics") && r["metrics"].is_array())
    for (const auto& m : r["metrics"]) b.metrics.push_back(read_metric(m));
  if (r.contains("conformance")) b.conformance_status = str(r["conformance"], "status");
  if (r.contains("details") && r["details"].is_object()) b.details = r["details"];
  return b;
}

ResultView read_result_view(const nlohmann::json& doc) {
  ResultView v;
  v.schema = str(doc, "schema");
  if (doc.contains("run") && doc["run"].is_object()) {
    const auto& run = doc["run"];
    v.run.id = str(run, "id");
    v.run.status = str(run, "status");
    v.run.started = str(run, "started");
    v.run.finished = str(run, "finished");
    if (run.contains("command") && run["command"].is_array())
      for (const auto& c : run["command"])
        if (c.is_string()) v.run.command.push_back(c.get<std::string>());
    v.run.config_hash = str(run, "config_hash");
    v.run.xpubench_version = str(run, "xpubench_version");
    v.run.git_revision = str(run, "git_revision");
    if (run.contains("suites") && run["suites"].is_array())
      for (const auto& su : run["suites"])
        if (su.is_string()) v.run.suites.push_back(su.get<std::string>());
    v.run.quick = run.contains("quick") && run["quick"].is_boolean() && run["quick"].get<bool>();
    if (run.contains("policy") && run["policy"].is_object()) v.run.policy = run["policy"];
  }
  if (doc.contains("system") && doc["system"].is_object()) v.system = doc["system"];
  if (doc.contains("devices") && doc["devices"].is_array())
    for (const auto& d : doc["devices"]) {
      DeviceView dv;
      dv.id = str(d, "id");
      dv.driver = str(d, "driver");
      dv.name = str(d, "name");
      dv.kind = str(d, "kind");
      dv.clock = str(d, "clock");
      dv.simulated = d.contains("simulated") && d["simulated"].is_boolean() && d["simulated"].get<bool>();
      if (d.contains("options") && d["options"].is_object()) dv.options = d["options"];
      if (d.contains("energy") && d["energy"].is_object()) {
        const auto& e = d["energy"];
        dv.energy_available = e.contains("available") && e["available"].is_boolean() && e["available"].get<bool>();
        dv.energy_source = str(e, "source");
        dv.energy_covers = str(e, "covers");
        dv.energy_reason = str(e, "reason");
        if (e.contains("idle") && e["idle"].is_object() && e["idle"].contains("watts") && e["idle"]["watts"].is_number())
          dv.idle_watts = e["idle"]["watts"].get<double>();
      }
      v.devices.push_back(std::move(dv));
    }
  if (doc.contains("benchmarks") && doc["benchmarks"].is_array())
    for (const auto& r : doc["benchmarks"]) v.benchmarks.push_back(read_benchmark_view(r));
  return v;
}

}  // namespace xpb
