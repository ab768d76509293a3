// xpubench._core: the library's entry points for the Python package (DESIGN.md §2), the same
// functions the CLI calls. Plain data crosses as JSON text (json.loads on the Python side): the
// documents are the result schema's, so Python sees exactly what a result file holds.
//
// Threading: every call that measures or reads files releases the GIL, so other Python threads
// (a Dask worker's heartbeat, a progress bar) run meanwhile; callbacks into Python take it back.
// Errors: InputError (bad input: a parameter, a device, a file) becomes ValueError with the
// CLI's message; anything else RuntimeError.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <signal.h>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xpubench/compare.hpp"
#include "xpubench/error.hpp"
#include "xpubench/registry.hpp"
#include "xpubench/result_view.hpp"
#include "xpubench/result_writer.hpp"
#include "xpubench/session.hpp"
#include "xpubench/system_probe.hpp"
#include "xpubench/validate.hpp"

namespace py = pybind11;
using nlohmann::json;

namespace {

// The cancel flag of the run that holds Ctrl-C (run(..., handle_sigint=True), the main
// thread's), which SIGINT sets; null when none does. Runs in other threads have flags of their
// own that no signal reaches.
std::atomic<std::atomic<bool>*> g_sigint_target{nullptr};
extern "C" void on_sigint(int) {
  if (auto* flag = g_sigint_target.load()) *flag = true;
}

std::string devices_json() {
  json out = json::array();
  std::vector<xpb::DriverStatus> drivers;
  {
    py::gil_scoped_release release;
    drivers = xpb::inventory();
  }
  for (const auto& d : drivers) {
    json devices = json::array();
    for (const auto& info : d.devices)
      devices.push_back({{"id", info.id()},
                         {"driver", info.driver},
                         {"name", info.name},
                         {"kind", info.kind},
                         {"simulated", info.simulated},
                         {"reference", info.reference},
                         {"properties", info.properties}});
    out.push_back({{"driver", d.name}, {"description", d.description}, {"reason", d.reason}, {"devices", devices}});
  }
  return out.dump();
}

std::string workloads_json() {
  json out = json::array();
  auto& registry = xpb::WorkloadRegistry::instance();
  for (const auto& name : registry.names()) {
    auto w = registry.create(name);
    json params = json::array();
    for (const auto& p : w->params())
      params.push_back({{"name", p.name}, {"help", p.help}, {"default", p.default_value}, {"choices", p.choices}});
    out.push_back({{"name", name}, {"description", w->description()}, {"params", params}});
  }
  return out.dump();
}

std::string system_json() {
  py::gil_scoped_release release;
  return xpb::describe_system().to_json().dump();
}

// Runs a plan (plan_from_json's form) on the devices named (empty: every device a plain
// `xpubench run` would use). Returns (document as JSON text, interrupted by Ctrl-C).
// `on_done(index, total, record JSON text)` is called after each benchmark; when it raises, the
// run stops before the next benchmark (the Python side keeps the exception and raises it with
// the document).
py::tuple run_json(const std::string& plan_text, const std::vector<std::string>& devices, const std::string& output,
                   const std::vector<std::string>& command, double idle_seconds, bool isolate, double isolate_timeout_s,
                   const std::string& energy_meter, bool handle_sigint,
                   const std::function<void(std::size_t, std::size_t, std::string)>& on_done) {
  const json spec = json::parse(plan_text);
  xpb::SessionOptions opts;
  opts.output = output;
  opts.run_info = {{"command", command}, {"suites", json::array()}, {"quick", false}, {"overrides", json::object()}};
  opts.isolate = isolate;
  opts.isolate_timeout_s = isolate_timeout_s;
  opts.energy_meter = energy_meter;
  opts.idle_seconds = idle_seconds;
  std::atomic<bool> cancel{false}, interrupted{false};
  opts.cancel = &cancel;  // read by the session before each benchmark and by its watcher
  opts.should_stop = [&interrupted] { return interrupted.load(); };
  if (on_done)
    opts.on_done = [&](std::size_t i, std::size_t total, const json& record) {
      py::gil_scoped_acquire gil;
      try {
        on_done(i, total, record.dump());
      } catch (...) {
        cancel = true;
      }
    };
  xpb::SessionResult result;
  {
    py::gil_scoped_release release;
    const auto system = xpb::describe_system();
    auto plan = xpb::plan_from_json(spec, system);
    auto opened = xpb::open_devices(devices);
    if (opened.empty()) throw xpb::InputError("no device could be opened (see xpubench.devices())");
    // Ctrl-C stops the run within ~100 ms and keeps every finished record, as in the CLI. The
    // interpreter's handler, flags included (CPython's SA_ONSTACK, no SA_RESTART), comes back
    // afterwards.
    struct sigaction ours{}, previous{};
    if (handle_sigint) {
      g_sigint_target = &interrupted;
      ours.sa_handler = on_sigint;
      sigemptyset(&ours.sa_mask);
      sigaction(SIGINT, &ours, &previous);
    }
    const auto restore = [&] {
      if (!handle_sigint) return;
      sigaction(SIGINT, &previous, nullptr);
      g_sigint_target = nullptr;
    };
    try {
      xpb::Session session(std::move(plan), std::move(opened), system, opts);
      result = session.run_all();
    } catch (...) {
      restore();
      throw;
    }
    restore();
  }
  // A Ctrl-C that came as the last benchmark ended stopped nothing: Python gets it back.
  if (interrupted && !result.interrupted) PyErr_SetInterrupt();
  return py::make_tuple(result.document.dump(), result.interrupted && interrupted.load());
}

// The benchmarks a plan expands to on this machine, [{workload, params}], checked as run_json
// checks them (ValueError naming the entry and key) without running anything.
std::string plan_json(const std::string& plan_text) {
  const json spec = json::parse(plan_text);
  py::gil_scoped_release release;
  json out = json::array();
  for (const auto& item : xpb::plan_from_json(spec, xpb::describe_system()))
    out.push_back({{"workload", item.workload}, {"params", item.params}});
  return out.dump();
}

// A document from a run header (run, system, devices) and records, as the session assembles
// one: the run's status and counts, and its integrity digest (a sweep merging the records of
// many runs into one document).
std::string assemble_json(const std::string& header, const std::vector<std::string>& records, const std::string& status) {
  std::vector<json> parsed;
  parsed.reserve(records.size());
  for (const auto& r : records) parsed.push_back(json::parse(r));
  const json h = json::parse(header);
  py::gil_scoped_release release;
  return xpb::assemble_result(h, std::move(parsed), status).dump();
}

std::string load_json(const std::string& path) {
  py::gil_scoped_release release;
  return xpb::load_result(path).dump();
}

std::string compare_json(const std::string& base, const std::string& next, double threshold_pct, double alpha) {
  py::gil_scoped_release release;
  const xpb::CompareOptions options{threshold_pct, alpha};
  const auto c = xpb::compare_results(xpb::read_result_view(json::parse(base)), xpb::read_result_view(json::parse(next)),
                                      options);
  return xpb::to_json(c, options).dump();
}

std::vector<std::string> validate_json(const std::string& document) {
  py::gil_scoped_release release;
  std::vector<std::string> out;
  for (const auto& p : xpb::validate_result(json::parse(document))) out.push_back(p.where + ": " + p.what);
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "xpubench's C++ library (internal: use the xpubench package)";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const xpb::InputError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const json::exception& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  m.def("devices_json", &devices_json);
  m.def("workloads_json", &workloads_json);
  m.def("system_json", &system_json);
  m.def("run_json", &run_json, py::arg("plan"), py::arg("devices"), py::arg("output"), py::arg("command"),
        py::arg("idle_seconds"), py::arg("isolate"), py::arg("isolate_timeout_s"), py::arg("energy_meter"),
        py::arg("handle_sigint"), py::arg("on_done"));
  m.def("plan_json", &plan_json);
  m.def("assemble_json", &assemble_json);
  m.def("load_json", &load_json);
  m.def("compare_json", &compare_json);
  m.def("validate_json", &validate_json);
}
