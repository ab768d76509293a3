// The template run of one benchmark (workload.hpp): the steps every workload shares, in one
// place, so a workload writes only its graph, its sample, its check and its figures.
#include <chrono>
#include <new>

#include "xpubench/workload.hpp"

namespace xpb {
namespace {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The status of several stages' checks: the worst that is a verdict (failed, then
// mistrusted, then passed); skipped only when every stage skipped.
std::string combined_status(const std::vector<nlohmann::json>& checks) {
  bool passed = false, mistrusted = false;
  for (const auto& c : checks) {
    const auto s = c.value("status", "skipped");
    if (s == "failed") return "failed";
    mistrusted = mistrusted || s == "mistrusted";
    passed = passed || s == "passed";
  }
  return mistrusted ? "mistrusted" : passed ? "passed" : "skipped";
}

// The reason of the first check with this status.
std::string reason_of(const std::vector<nlohmann::json>& checks, const std::vector<std::string>& names,
                      const std::string& status) {
  for (std::size_t i = 0; i < checks.size(); ++i)
    if (checks[i].value("status", "") == status) {
      const auto why = checks[i].value("reason", status == "failed" ? "output differs from ref" : "");
      return names[i].empty() ? why : names[i] + ": " + why;
    }
  return "";
}

// A stage's energy for its timing object, when a stage has any to say (null otherwise).
nlohmann::json stage_energy_json(const Measurement& m) {
  if (!m.energy.available) return nullptr;
  return to_json(m.energy);
}

bool is_modeled(const EnergyReading& e) { return e.source == name(EnergySource::modeled); }

// What the reading covers and its idle baseline, gross and net (MLPerf Power reports both).
// Net = gross - idle W x the seconds the reading spans; per iteration, over the sampled time.
void add_attribution(nlohmann::json& energy, const Measurement& m, const RunContext& ctx) {
  if (!energy.value("available", false)) return;
  if (is_modeled(m.energy)) {
    energy["covers"] = "the device's own energy model (simulated hardware; no idle to take off)";
    return;
  }
  if (ctx.energy != nullptr) energy["covers"] = ctx.energy->covers();
  if (m.energy.seconds > 0) energy["average_watts"] = m.energy.joules / m.energy.seconds;
  if (!ctx.idle.available) {
    energy["idle"] = {{"available", false}, {"reason", ctx.idle.reason.empty() ? "not measured" : ctx.idle.reason}};
    return;
  }
  energy["idle"] = {{"available", true}, {"watts", ctx.idle.watts}, {"window_s", ctx.idle.seconds}};
  energy["net_joules"] = m.energy.joules - ctx.idle.watts * m.energy.seconds;
  if (const auto joules = m.sampled_joules()) {
    double seconds = 0;
    for (double s : m.sample_seconds) seconds += s;
    const double runs = static_cast<double>(m.sample_joules.size() * m.iterations);
    energy["net_joules_per_iteration"] = (*joules - ctx.idle.watts * seconds) / runs;
  }
}

}  // namespace

void add_energy_per_unit(BenchmarkRecord& record, const Measurement& m, const IdlePower& idle,
                         double units_per_iteration, const std::string& name, const std::string& unit) {
  if (!m.sampled_joules() || !(units_per_iteration > 0)) return;
  const bool modeled = is_modeled(m.energy);
  const Source source = modeled ? Source::modeled : Source::measured;
  std::vector<double> gross, net;
  for (std::size_t i = 0; i < m.sample_joules.size(); ++i) {
    const double units = units_per_iteration * static_cast<double>(m.iterations);
    gross.push_back(m.sample_joules[i] / units);
    if (!modeled && idle.available) net.push_back((m.sample_joules[i] - idle.watts * m.sample_seconds[i]) / units);
  }
  const std::string how = modeled ? "the device's energy model" : "the sensor, per sample";
  record.metrics.push_back(Metric::of(name, unit, Direction::lower_is_better, source, std::move(gross),
                                      "energy of each sample (" + how + ") over the work it did"));
  if (!net.empty())
    record.metrics.push_back(Metric::of(name + "_net", unit, Direction::lower_is_better, source, std::move(net),
                                        "as " + name + ", less the idle power (" + std::to_string(idle.watts) +
                                            " W, measured before the run) over each sample's seconds"));
}

BenchmarkRecord run_benchmark(Workload& workload, const nlohmann::json& params, RunContext& ctx) {
  BenchmarkRecord record;
  record.workload = workload.name();
  record.device = ctx.device.info().id();
  record.params = params;
  record.id = benchmark_id(record.workload, record.device, params);
  record.started_unix = unix_now();
  const auto t0 = std::chrono::steady_clock::now();

  std::vector<Measurement> measured;
  std::vector<nlohmann::json> checks, timings, executables;
  std::vector<std::string> names;
  bool ended = false;  // the record already says why the benchmark stopped
  auto end_with = [&](Outcome o) {
    record.outcome = std::move(o);
    ended = true;
  };
  try {
    if (Outcome o = workload.check(params, ctx); !o.passed()) {
      end_with(o);
    } else {
      auto built = workload.build(params, ctx);
      if (!built.outcome.passed()) end_with(built.outcome);
      for (std::size_t i = 0; !ended && i < built.stages.size(); ++i) {
        Stage& stage = built.stages[i];
        if (ctx.cancelled()) {
          end_with(Outcome::with(Status::interrupted, "stopped by the user before it was measured"));
          break;
        }
        CompileOptions opts = stage.options;
        opts.cancel = ctx.cancel;
        auto compiled = ctx.device.compile(stage.graph, stage.bindings, opts);
        if (!compiled.outcome.passed() || !compiled.exe) {
          end_with(compiled.outcome.passed()
                       ? Outcome::with(Status::failed, "the device compiled the graph but returned no executable")
                       : compiled.outcome);
          break;
        }
        Executable& exe = *compiled.exe;
        if (Outcome prepared = workload.prepare(i, compiled.exe, ctx); !prepared.passed()) {
          end_with(prepared);
          break;
        }
        const RunPolicy policy = stage.policy.value_or(ctx.policy);
        Measurement m = measure([&](const RunArgs& args) { return workload.sample(i, exe, args); },
                                stage.clock.value_or(ctx.device.clock()), policy, ctx.energy, ctx.cancel);
        auto timing = m.to_json();
        timing["policy"] = policy.to_json();
        if (const auto stage_energy = stage_energy_json(m); !stage_energy.is_null()) timing["energy"] = stage_energy;
        auto described = exe.describe();
        // The three lists stay in step: nothing below can throw between these pushes.
        timings.push_back(std::move(timing));
        names.push_back(stage.name);
        executables.push_back(std::move(described));
        if (m.interrupted) {
          end_with(Outcome::with(Status::interrupted, "stopped by the user before the stop rules were met"));
          measured.push_back(std::move(m));
          break;
        }
        if (!m.error.empty()) {
          end_with(Outcome::with(Status::failed, "a run failed: " + m.error));
          measured.push_back(std::move(m));
          break;
        }
        checks.push_back(workload.verify(i, exe, ctx));
        measured.push_back(std::move(m));
      }
      if (!ended) {
        record.outcome = Outcome::ok();
        workload.metrics(measured, record, ctx);
      }
    }
  } catch (const std::bad_alloc&) {
    record.outcome = Outcome::with(Status::failed, "out of memory (std::bad_alloc)");
  } catch (const std::exception& e) {
    record.outcome = Outcome::with(Status::failed, std::string("the benchmark threw: ") + e.what());
  } catch (...) {
    record.outcome = Outcome::with(Status::failed, "the benchmark threw something that is not a std::exception");
  }

  // Timing, executables and conformance: one stage as it is, several by name.
  if (timings.size() == 1 && names[0].empty()) {
    record.timing = timings[0];
    record.details["executable"] = executables[0];
  } else if (!timings.empty()) {
    record.timing = {{"source", timings[0]["source"]}, {"stages", nlohmann::json::object()}};
    auto exes = nlohmann::json::object();
    for (std::size_t i = 0; i < timings.size(); ++i) {
      record.timing["stages"][names[i]] = timings[i];
      exes[names[i]] = executables[i];
    }
    record.details["executable"] = exes;
  }
  if (checks.size() == 1 && names[0].empty()) {
    record.conformance = checks[0];
  } else if (!checks.empty()) {
    record.conformance = {{"status", combined_status(checks)}, {"method", "each stage checked"},
                          {"stages", nlohmann::json::object()}};
    for (std::size_t i = 0; i < checks.size(); ++i) record.conformance["stages"][names[i]] = checks[i];
  }
  // The record's energy is its first stage's (each stage's own is in its timing); per
  // iteration only from per-sample figures, which cover exactly the sampled iterations (a
  // window reading also covers the host's time between samples).
  // What the workload's metrics() put there (J/token, ...) is kept.
  if (!measured.empty()) {
    const auto& m0 = measured[0];
    nlohmann::json energy = to_json(m0.energy);
    // Only a reading has a stage to speak of; "unavailable" is the same for every stage.
    if (timings.size() > 1 && energy.value("available", false))
      energy["note"] = "the first stage's (" + names[0] + "); each stage's is in timing.stages";
    if (const auto joules = m0.sampled_joules())
      energy["joules_per_iteration"] = *joules / static_cast<double>(m0.sample_joules.size() * m0.iterations);
    add_attribution(energy, m0, ctx);
    if (record.energy.is_object()) energy.update(record.energy);
    record.energy = std::move(energy);
  } else if (!record.energy.is_object() || !record.energy.contains("available")) {
    // Nothing was measured: the record still says whether the device had energy to give, so a
    // skipped or refused benchmark reads the same as the device's entry.
    if (ctx.energy != nullptr && !ctx.energy->unavailable_reason().empty())
      record.energy = {{"available", false}, {"source", ctx.energy->name()}, {"reason", ctx.energy->unavailable_reason()}};
    else if (ctx.energy == nullptr && !ctx.device.caps().models_energy)
      record.energy = {{"available", false}, {"reason", "the device has no energy sensor"}};
  }
  for (std::size_t i = 0; i < measured.size(); ++i)
    if (!measured[i].valid && record.valid) {
      record.valid = false;
      record.invalid_reason = names[i].empty() ? measured[i].invalid_reason : names[i] + ": " + measured[i].invalid_reason;
    }
  // A check that failed (or cannot be trusted) decides the status of a benchmark that was
  // otherwise fine: a fast wrong answer is not a result.
  if (record.outcome.passed() && !checks.empty()) {
    const auto status = combined_status(checks);
    if (status == "failed") record.outcome = Outcome::with(Status::failed, reason_of(checks, names, "failed"));
    if (status == "mistrusted")
      record.outcome = Outcome::with(Status::mistrusted, reason_of(checks, names, "mistrusted"));
  }
  record.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return record;
}

}  // namespace xpb
