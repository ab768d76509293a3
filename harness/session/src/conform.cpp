#include "xpubench/conform.hpp"

#include <chrono>
#include <cmath>
#include <limits>

#include "isolation.hpp"
#include "xpubench/conformance.hpp"
#include "xpubench/error.hpp"
#include "xpubench/op_catalogue.hpp"
#include "xpubench/registry.hpp"
#include "xpubench/suite.hpp"

namespace xpb {
namespace {

double number_or_inf(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : std::numeric_limits<double>::infinity();
}

std::shared_ptr<Device> open_reference() {
  std::shared_ptr<Driver> ref = DriverRegistry::instance().create("ref");
  if (!ref) throw InputError("conform needs the ref driver, which is not built in");
  auto e = ref->enumerate();
  if (e.devices.empty()) throw InputError("conform: ref has no device: " + e.reason);
  auto r = ref->open(e.devices.front(), {});
  if (!r.outcome.passed()) throw InputError("conform: ref cannot be opened: " + r.outcome.reason);
  return r.device;
}

}  // namespace

bool ConformRow::fails_device() const {
  switch (outcome.status) {
    case Status::passed:
    case Status::skipped: return false;
    case Status::unsupported: return kind == "op" && claimed;  // it refused what it claims
    default: return true;  // failed, mistrusted, invalid, interrupted
  }
}

nlohmann::json ConformRow::to_json() const {
  nlohmann::json j = {{"kind", kind}, {"name", name}, {"status", std::string(xpb::name(outcome.status))}, {"seconds", seconds}};
  if (!outcome.reason.empty()) j["reason"] = outcome.reason;
  if (kind == "op") {
    j["op"] = op;
    j["dtype"] = dtype;
    j["claimed"] = claimed;
    // JSON has no infinity: an error that is not finite is written as null.
    j["max_abs_error"] = std::isfinite(max_abs_error) ? nlohmann::json(max_abs_error) : nlohmann::json(nullptr);
    j["rms_rel_error"] = std::isfinite(rms_rel_error) ? nlohmann::json(rms_rel_error) : nlohmann::json(nullptr);
  }
  j["fails_device"] = fails_device();
  return j;
}

bool ConformReport::passed() const {
  if (interrupted) return false;
  for (const auto& r : rows)
    if (r.fails_device()) return false;
  return true;
}

nlohmann::json ConformReport::to_json() const {
  auto rows_json = nlohmann::json::array();
  for (const auto& r : rows) rows_json.push_back(r.to_json());
  return {{"device", device}, {"device_info", device_info}, {"passed", passed()}, {"interrupted", interrupted},
          {"rows", rows_json}};
}

ConformReport run_conform(OpenDevice& d, const SystemInfo& system, const ConformOptions& options) {
  ConformReport report;
  report.device = d.id;
  report.device_info = {{"id", d.id}, {"driver", d.device->info().driver}, {"name", d.device->info().name},
                        {"kind", d.device->info().kind}};
  auto reference = open_reference();
  const bool isolate = options.isolate && d.device->info().isolatable;
  auto stopped = [&] { return options.cancel != nullptr && options.cancel->load(); };
  auto add = [&](ConformRow row) {
    if (options.on_row) options.on_row(row);
    report.rows.push_back(std::move(row));
  };
  // Runs `work` here or in a child; a child that crashed or hung gives `failure`.
  auto guarded = [&](const std::function<nlohmann::json()>& work, std::string& failure) -> nlohmann::json {
    if (!isolate) return work();
    auto child = run_in_child(work, options.timeout_s, options.cancel);
    if (child.ok) return child.value;
    failure = child.failure;
    return nullptr;
  };

  // 1. The ABI contract, for a plugin.
  if (options.abi_checks) {
    const auto t0 = std::chrono::steady_clock::now();
    std::string failure;
    nlohmann::json checks;
    try {
      checks = guarded(options.abi_checks, failure);
    } catch (const std::exception& e) {
      failure = e.what();
    }
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!failure.empty()) {
      add({"abi", "ABI test kit", "", "", true, Outcome::with(Status::failed, failure), 0, 0, took});
    } else {
      for (const auto& c : checks) {
        const bool ok = c.value("passed", false);
        const auto detail = c.value("detail", "");
        add({"abi", c.value("name", "?"), "", "", true, ok ? Outcome::ok() : Outcome::with(Status::failed, detail), 0, 0,
             took / static_cast<double>(checks.size())});
        if (ok && !detail.empty()) report.rows.back().outcome.reason = detail;
      }
    }
  }

  // 2. Every op x dtype case of the catalogue.
  const auto caps = d.device->caps();
  for (const auto& c : conformance_cases()) {
    if (stopped()) {
      report.interrupted = true;
      return report;
    }
    ConformRow row{"op", c.name, std::string(name(c.op)), std::string(name(c.dtype)), caps.claims(c.op, c.dtype), {}, 0, 0, 0};
    const auto t0 = std::chrono::steady_clock::now();
    std::string failure;
    nlohmann::json r;
    try {
      r = guarded([&] { return run_conformance_case(*d.device, *reference, c).to_json(); }, failure);
    } catch (const std::exception& e) {
      failure = std::string("the case threw: ") + e.what();
    }
    row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!failure.empty()) {
      row.outcome = Outcome::with(Status::failed, failure);
    } else {
      const auto status = parse_status(r.value("status", "failed")).value_or(Status::failed);
      row.outcome = status == Status::passed ? Outcome::ok() : Outcome::with(status, r.value("reason", ""));
      row.max_abs_error = number_or_inf(r, "max_abs_error");
      row.rms_rel_error = number_or_inf(r, "rms_rel_error");
    }
    add(std::move(row));
  }

  // 3. The workloads' own checks.
  if (options.workloads) {
    const auto plan = make_plan({resolve_suite("conform")}, false, {}, system);
    SessionOptions so;
    so.cancel = options.cancel;
    so.isolate = options.isolate;
    so.isolate_timeout_s = options.timeout_s;
    Session session(plan, {d}, system, so);
    for (std::size_t i = 0; i < plan.size(); ++i) {
      if (stopped()) {
        report.interrupted = true;
        return report;
      }
      const auto t0 = std::chrono::steady_clock::now();
      const auto rec = session.run(i, 0);
      ConformRow row{"workload", rec.value("id", plan[i].workload), "", "", true, {}, 0, 0, 0};
      row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const auto status = parse_status(rec.value("status", "failed")).value_or(Status::failed);
      std::string reason = rec.value("reason", "");
      if (status == Status::passed && rec.contains("conformance") && rec["conformance"].is_object()) {
        // What was compared: "passed (greedy tokens identical over 16 steps, ...)".
        const auto& conf = rec["conformance"];
        reason = conf.value("method", "");
      }
      row.outcome = {status, reason};
      add(std::move(row));
    }
  }
  return report;
}

}  // namespace xpb
