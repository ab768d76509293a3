// The xpubench command line (DESIGN.md §8). Thin: parses arguments, calls the library's entry
// points (session.hpp, suite.hpp, report.hpp), prints.
// Exit codes: 0 success, 1 a benchmark failed or validation found problems, 2 usage or input
// error (a record still found invalid at run time counts as one), 130 interrupted (Ctrl-C)
// after saving what was measured.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <new>
#include <optional>

#include "xpubench/build_info.hpp"
#include "xpubench/compare.hpp"
#include "xpubench/conform.hpp"
#include "xpubench/conform_report.hpp"
#include "xpubench/error.hpp"
#include "xpubench/integrity.hpp"
#include "xpubench/model_export.hpp"
#include "xpubench/model_run.hpp"
#include "xpubench/op_catalogue.hpp"
#include "xpubench/parse.hpp"
#include "xpubench/plugins.hpp"
#include "xpubench/registry.hpp"
#include "xpubench/report.hpp"
#include "xpubench/result_writer.hpp"
#include "xpubench/session.hpp"
#include "xpubench/submission.hpp"
#include "xpubench/suite.hpp"
#include "xpubench/system_probe.hpp"
#include "xpubench/validate.hpp"

namespace {

std::atomic<bool> g_cancel{false};

// First Ctrl-C: stop the benchmark in progress, save everything, exit 130. Second: die at once.
extern "C" void on_signal(int sig) {
  if (g_cancel.exchange(true)) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  const char msg[] = "\nxpubench: interrupted; saving what was measured (Ctrl-C again to abort)\n";
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string human_bytes(std::uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{:.4g} {}", v, units[u]);
}

void list_ops() {
  std::cout << "ops (code, name, family, inputs -> outputs, dtypes, attributes; what it computes):\n";
  for (const auto& d : xpb::op_catalogue()) {
    std::vector<std::string> dtypes, attrs;
    for (auto t : d.dtypes) dtypes.emplace_back(xpb::name(t));
    for (const auto& a : d.attrs)
      attrs.push_back(std::string(a.name) + ":" + std::string(xpb::name(a.type)) + (a.required ? "" : "?"));
    const std::string ins = d.min_inputs == d.max_inputs ? std::to_string(d.min_inputs)
                                                         : std::to_string(d.min_inputs) + "-" + std::to_string(d.max_inputs);
    std::cout << fmt::format("  {:>3} {:<15} {:<15} {} -> {}  [{}]  {}\n      {}; {} conformance case(s)\n",
                             static_cast<unsigned>(d.op), d.name, xpb::name(d.family), ins, d.outputs, join(dtypes),
                             attrs.empty() ? "no attributes" : join(attrs, " "), d.summary, d.conformance().size());
  }
}

int cmd_list(const std::string& what) {
  const bool all = what.empty();
  if (all || what == "drivers" || what == "devices") {
    const auto drivers = xpb::inventory();
    std::size_t width = 12;  // the longest name, so plugins' long ones line up too
    for (const auto& d : drivers) {
      width = std::max(width, d.name.size());
      for (const auto& info : d.devices) width = std::max(width, info.id().size());
    }
    if (all || what == "drivers") {
      std::cout << "drivers:\n";
      for (const auto& d : drivers)
        std::cout << fmt::format("  {:<{}} {}{}\n", d.name, width, d.description,
                                 d.reason.empty() ? "" : " [no devices: " + d.reason + "]");
    }
    if (all || what == "devices") {
      std::cout << "devices:\n";
      for (const auto& d : drivers)
        for (const auto& info : d.devices)
          std::cout << fmt::format("  {:<{}} {} ({}{}){}\n", info.id(), width, info.name, info.kind,
                                   info.simulated ? ", simulated" : "",
                                   info.simulated || info.reference ? "  [runs when named: --device " + info.id() + "]" : "");
    }
  }
  if (all || what == "workloads") {
    std::cout << "workloads:\n";
    for (const auto& n : xpb::WorkloadRegistry::instance().names()) {
      auto w = xpb::WorkloadRegistry::instance().create(n);
      std::cout << fmt::format("  {:<18} {}\n", n, w->description());
      for (const auto& p : w->params())
        std::cout << fmt::format("      {:<18} {} (default {}{})\n", p.name, p.help, xpb::json_text(p.default_value),
                                 p.choices.empty() ? "" : "; one of " + join(p.choices));
    }
  }
  if (all || what == "suites") {
    std::cout << "suites:\n";
    for (const auto& s : xpb::list_suites()) {
      if (s.error.empty())
        std::cout << fmt::format("  {:<12} {} ({} entries; {})\n", s.name, s.description, s.entries, s.file.string());
      else
        std::cout << fmt::format("  {:<12} (unreadable: {})\n", s.name, s.error);
    }
  }
  if (all || what == "ops") list_ops();
  return 0;
}

int cmd_info(bool as_json) {
  const auto sys = xpb::describe_system();
  const auto drivers = xpb::inventory();
  if (as_json) {
    nlohmann::json devices = nlohmann::json::array(), why_none = nlohmann::json::object();
    for (const auto& d : drivers) {
      for (const auto& info : d.devices)
        devices.push_back({{"id", info.id()}, {"name", info.name}, {"kind", info.kind}, {"simulated", info.simulated}});
      if (!d.reason.empty()) why_none[d.name] = d.reason;
    }
    std::cout << nlohmann::json{{"system", sys.to_json()}, {"devices", devices}, {"drivers_without_devices", why_none}}.dump(2)
              << "\n";
    return 0;
  }
  const auto& t = sys.topology;
  std::cout << fmt::format("host      {}\nos        {} (kernel {}, {})\ncpu       {} ({})\n", sys.hostname, sys.os,
                           sys.kernel, sys.arch, sys.cpu_model, sys.cpu_vendor);
  std::cout << fmt::format("topology  {} package(s), {} core(s), {} PU(s), {} NUMA node(s)  [{}]\n", t.packages, t.cores,
                           t.pus, t.numa_nodes.size(), t.source);
  if (t.machine_pus > t.pus) {
    std::vector<std::string> ids;
    for (int pu : t.allowed_pus) ids.push_back(std::to_string(pu));
    std::cout << fmt::format("affinity  this process may run on {} of the machine's {} PUs ({}): benchmarks use only "
                             "those\n",
                             t.pus, t.machine_pus, join(ids, ","));
  }
  for (const auto& c : t.caches)
    std::cout << fmt::format("cache     L{} {:<12} {:>10} x{}, shared by {} PU(s)\n", c.level, c.type,
                             human_bytes(c.size_bytes), c.instances, c.pus_sharing);
  std::cout << fmt::format("memory    {} total, {} available, {} usable by tests{}\n", human_bytes(sys.memory.total_bytes),
                           human_bytes(sys.memory.available_bytes), human_bytes(sys.memory.usable_bytes()),
                           sys.memory.cgroup_limit_bytes ? " (cgroup limit " + human_bytes(*sys.memory.cgroup_limit_bytes) + ")" : "");
  std::cout << fmt::format("isa       {}\ngovernor  {}\nthp       {}\n", join(sys.isa_flags, " "), sys.governor, sys.thp);
  std::cout << fmt::format("build     xpubench {} ({}), {} {} [{}]\n", sys.xpubench_version, sys.git_revision,
                           sys.compiler, sys.build_type, sys.compile_flags);
  std::cout << "devices:\n";
  for (const auto& d : drivers) {
    for (const auto& info : d.devices)
      std::cout << fmt::format("  {:<12} {} ({}{})\n", info.id(), info.name, info.kind, info.simulated ? ", simulated" : "");
    if (!d.reason.empty()) std::cout << fmt::format("  {:<12} none: {}\n", d.name, d.reason);
  }
  // The host's sensors as a run would find them (a GPU's own is named with its records).
  for (const auto& sensor : {xpb::make_powercap_sensor(), xpb::make_hwmon_sensor("/sys/class/hwmon", xpb::cpu_hwmon_chips())}) {
    const auto why = sensor->unavailable_reason();
    std::cout << fmt::format("energy    {:<6} {}\n", sensor->name(),
                             why.empty() ? "available: " + sensor->covers() : "unavailable: " + why);
  }
  return 0;
}

// How the session runs its benchmarks: in child processes or not, and what meters them.
struct SessionFlags {
  bool isolate = false;
  double timeout_s = 300;
  std::string energy_meter;  // "fifo:PATH" or "tcp:127.0.0.1:PORT" (docs/ENERGY.md); empty: none
  double idle_seconds = -1;  // the idle baseline's window; < 0: 2 s, 1 s with --quick
  std::vector<std::string> reports;  // --report formats, written next to the result
};

// The report formats of `report --format` and `run --report`, and the file name each takes
// beside a result (results/quick.json -> results/quick.md).
const std::vector<std::pair<std::string, std::string>> kReportFormats = {
    {"md", ".md"}, {"csv", ".csv"}, {"html", ".html"}, {"junit", ".junit.xml"}};

std::vector<std::string> report_format_names() {
  std::vector<std::string> names;
  for (const auto& [f, ext] : kReportFormats) names.push_back(f);
  return names;
}

std::string render_report(const std::string& format, const std::vector<xpb::ResultView>& views) {
  if (format == "md") return xpb::render_markdown(views);
  if (format == "csv") return xpb::render_csv(views);
  if (format == "html") return xpb::render_html(views);
  if (format == "junit") return xpb::render_junit(views);
  throw xpb::InputError("--format " + format + ": expected md, csv, html or junit");
}

std::string report_path_beside(const std::string& result, const std::string& format) {
  std::string base = result;
  if (base.size() > 5 && base.substr(base.size() - 5) == ".json") base.resize(base.size() - 5);
  for (const auto& [f, ext] : kReportFormats)
    if (f == format) return base + ext;
  throw xpb::InputError("--report " + format + ": expected md, csv, html or junit");
}

int cmd_run(const std::vector<std::string>& names, const std::vector<std::string>& device_names,
            const std::vector<std::string>& sets, bool quick, const std::string& output, const SessionFlags& isolation,
            const std::vector<std::string>& argv) {
  // Checked before anything runs: a result that cannot be written at the end would waste the run.
  xpb::check_output_path(output, "-o");
  for (const auto& f : isolation.reports) xpb::check_output_path(report_path_beside(output, f), "--report " + f);
  std::vector<xpb::Suite> suites;
  for (const auto& n : names.empty() ? std::vector<std::string>{"standard"} : names) suites.push_back(xpb::resolve_suite(n));
  std::vector<xpb::Override> overrides;
  for (const auto& s : sets) overrides.push_back(xpb::parse_override(s));
  const auto system = xpb::describe_system();
  const auto plan = xpb::make_plan(suites, quick, overrides, system);
  if (plan.empty()) {
    std::vector<std::string> where;
    for (const auto& s : suites) where.push_back(s.file.empty() ? s.name : s.file.string());
    throw xpb::InputError(join(where) + ": nothing to run: every benchmark of the selected suites was left out "
                          "(e.g. kernel=read with stores=nontemporal has no benchmark)");
  }
  // A suite may name the devices it is about (photonic.yaml: one engine per design point),
  // used when the command line names none.
  std::vector<std::string> wanted = device_names;
  if (wanted.empty())
    for (const auto& s : suites) wanted.insert(wanted.end(), s.devices.begin(), s.devices.end());
  auto devices = xpb::open_devices(wanted);
  if (devices.empty()) throw xpb::InputError("no device could be opened (see `xpubench list drivers`)");

  nlohmann::json run_info;
  run_info["command"] = argv;
  run_info["quick"] = quick;
  auto suite_names = nlohmann::json::array();
  for (const auto& s : suites) suite_names.push_back(s.name);
  run_info["suites"] = suite_names;
  auto suite_files = nlohmann::json::object();
  for (const auto& s : suites)
    for (const auto& [path, text] : s.files) suite_files[path.filename().string()] = xpb::sha256_hex(text);
  run_info["suite_files"] = suite_files;
  auto ov = nlohmann::json::object();
  for (const auto& o : overrides) ov[o.key] = o.value;
  run_info["overrides"] = ov;

  const bool tty = ::isatty(STDERR_FILENO) != 0;
  xpb::SessionOptions opts;
  opts.output = output;
  opts.run_info = run_info;
  opts.cancel = &g_cancel;
  opts.isolate = isolation.isolate;
  opts.isolate_timeout_s = isolation.timeout_s;
  opts.energy_meter = isolation.energy_meter;
  opts.idle_seconds = isolation.idle_seconds >= 0 ? isolation.idle_seconds : quick ? 1 : 2;
  opts.on_start = [tty](std::size_t i, std::size_t total, const xpb::PlanItem& item, const std::string& dev) {
    if (!tty) return;
    std::string params;
    for (const auto& [k, v] : item.params.items()) params += " " + k + "=" + (v.is_string() ? v.get<std::string>() : xpb::json_text(v));
    std::string line = fmt::format("[{}/{}] {} on {}:{} ...", i + 1, total, item.workload, dev, params);
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
  };
  opts.on_done = [tty](std::size_t i, std::size_t total, const nlohmann::json& r) {
    std::string line = fmt::format("[{}/{}] {}", i + 1, total, xpb::render_record_line(r));
    std::fprintf(stderr, tty ? "\r\033[K%s\n" : "%s\n", line.c_str());
    std::fflush(stderr);
  };
  std::fprintf(stderr, "xpubench: %zu benchmark(s) on %zu device(s); writing %s\n", plan.size(), devices.size(),
               output.c_str());
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  xpb::Session session(plan, devices, system, opts);
  const auto result = session.run_all();
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);

  std::cout << "\n" << xpb::render_console_summary(result.document);
  std::cout << fmt::format("\nresult: {} ({} benchmarks, run {})\n", output, result.document["benchmarks"].size(),
                           result.document["run"]["status"].get<std::string>());
  for (const auto& f : isolation.reports) {
    const auto path = report_path_beside(output, f);
    xpb::write_file_atomically(path, render_report(f, {xpb::read_result_view(result.document)}));
    std::cout << fmt::format("report: {}\n", path);
  }
  if (result.interrupted) return 130;
  if (result.invalid > 0) {
    std::fprintf(stderr, "xpubench: error: %zu benchmark(s) had invalid parameters (see their reasons above)\n",
                 result.invalid);
    return 2;
  }
  return result.failed > 0 ? 1 : 0;
}

int cmd_conform(const std::string& device_name, const std::string& junit, const std::string& json_out,
                const SessionFlags& isolation, bool ops_only) {
  if (!junit.empty()) xpb::check_output_path(junit, "--junit");
  if (!json_out.empty()) xpb::check_output_path(json_out, "--json");
  const auto system = xpb::describe_system();
  auto devices = xpb::open_devices({device_name});
  if (devices.empty()) throw xpb::InputError("--device " + device_name + ": no device opened");
  auto& d = devices.front();
  xpb::ConformOptions opts;
  opts.isolate = isolation.isolate;
  opts.timeout_s = isolation.timeout_s;
  opts.workloads = !ops_only;
  opts.cancel = &g_cancel;
  const std::string driver = d.device->info().driver;
  if (driver.rfind("plugin:", 0) == 0)
    opts.abi_checks = [driver] {
      auto rows = nlohmann::json::array();
      for (const auto& c : xpb::check_plugin_abi(driver))
        rows.push_back({{"name", c.name}, {"passed", c.passed}, {"detail", c.detail}});
      return rows;
    };
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  std::size_t n = 0;
  opts.on_row = [&](const xpb::ConformRow& r) {
    ++n;
    if (tty) {
      std::fprintf(stderr, "\r\033[K[%zu] %s %s: %s", n, r.kind.c_str(), r.name.c_str(), std::string(xpb::name(r.outcome.status)).c_str());
      std::fflush(stderr);
    } else if (r.fails_device()) {
      std::fprintf(stderr, "xpubench: %s %s: %s: %s\n", r.kind.c_str(), r.name.c_str(),
                   std::string(xpb::name(r.outcome.status)).c_str(), r.outcome.reason.c_str());
    }
  };
  std::fprintf(stderr, "xpubench: conformance of %s against ref%s\n", d.id.c_str(),
               opts.isolate && d.device->info().isolatable ? " (each check in a child process)" : "");
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const auto report = xpb::run_conform(d, system, opts);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (tty) std::fprintf(stderr, "\r\033[K");
  std::cout << xpb::render_conform_table(report);
  if (!junit.empty()) {
    xpb::write_file_atomically(junit, xpb::render_conform_junit(report));
    std::cout << "junit: " << junit << "\n";
  }
  if (!json_out.empty()) {
    xpb::write_file_atomically(json_out, report.to_json().dump(2) + "\n");
    std::cout << "json: " << json_out << "\n";
  }
  if (report.interrupted) return 130;
  return report.passed() ? 0 : 1;
}

// `validate --submission RESULT|DIR ...`: the run rules of a submission, VALID or INVALID with
// every reason.
int cmd_validate_submission(const std::vector<std::string>& paths) {
  const auto rules = xpb::shipped_submission_rules();
  int rc = 0;
  for (const auto& p : paths) {
    std::vector<xpb::Problem> problems;
    if (std::filesystem::is_directory(p)) {
      problems = xpb::check_submission_dir(p, rules);
    } else {
      try {
        problems = xpb::check_submission(xpb::load_result(p), rules);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "xpubench: error: %s\n", e.what());
        rc = std::max(rc, 2);
        continue;
      }
    }
    if (problems.empty()) {
      std::cout << fmt::format("{}: VALID submission\n", p);
      continue;
    }
    rc = std::max(rc, 1);
    std::cout << fmt::format("{}: INVALID submission, {} reason(s)\n", p, problems.size());
    for (const auto& pr : problems) std::cout << fmt::format("  {}: {}\n", pr.where.empty() ? "/" : pr.where, pr.what);
  }
  return rc;
}

int cmd_validate(const std::vector<std::string>& files) {
  int rc = 0;
  for (const auto& f : files) {
    nlohmann::json doc;
    try {
      doc = xpb::load_result(f);
    } catch (const std::exception& e) {  // one unreadable file does not stop the others
      std::fprintf(stderr, "xpubench: error: %s\n", e.what());
      rc = std::max(rc, 2);
      continue;
    }
    const auto problems = xpb::validate_result(doc);
    if (problems.empty()) {
      std::cout << fmt::format("{}: valid {} ({} benchmarks, run {})\n", f, doc.value("schema", "?"),
                               doc.value("benchmarks", nlohmann::json::array()).size(), doc["run"].value("status", "?"));
      continue;
    }
    rc = std::max(rc, 1);
    std::cout << fmt::format("{}: {} problem(s)\n", f, problems.size());
    for (const auto& p : problems) std::cout << fmt::format("  {}: {}\n", p.where.empty() ? "/" : p.where, p.what);
  }
  return rc;
}

// The read models of result files, each file parsed on its own thread (parsing is most of the
// time a large result takes); the first file that cannot be read is the error.
std::vector<xpb::ResultView> load_views(const std::vector<std::string>& files) {
  std::vector<std::future<xpb::ResultView>> pending;
  for (const auto& f : files)
    pending.push_back(std::async(std::launch::async, [f] { return xpb::load_result_view(f); }));
  std::vector<xpb::ResultView> views;
  for (auto& p : pending) views.push_back(p.get());
  return views;
}

// `report RESULTS... --format F [-o FILE]`: to stdout without -o.
int cmd_report(const std::vector<std::string>& files, const std::string& format, const std::string& out) {
  if (!out.empty()) xpb::check_output_path(out, "report -o");
  const auto views = load_views(files);
  const auto text = render_report(format, views);
  if (out.empty()) std::cout << text;
  else xpb::write_file_atomically(out, text);
  return 0;
}

// A key file of `keygen`: one line of base64. Errors name the file.
std::string read_key_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw xpb::InputError(what + " " + path + ": not a regular file (expected a key written by `xpubench keygen`)");
  std::ifstream in(path);
  std::string key;
  if (!std::getline(in, key) || key.empty()) throw xpb::InputError(what + " " + path + ": empty or unreadable");
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
  return key;
}

// `keygen -o KEY`: KEY (the secret key, readable by its owner only) and KEY.pub.
int cmd_keygen(const std::string& path) {
  xpb::check_output_path(path, "keygen -o");
  xpb::check_output_path(path + ".pub", "keygen -o");
  const auto keys = xpb::generate_key_pair();
  xpb::write_file_atomically(path, keys.secret_key + "\n");
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  xpb::write_file_atomically(path + ".pub", keys.public_key + "\n");
  std::cout << fmt::format("secret key: {} (keep it; mode 600)\npublic key: {}.pub ({})\n", path, path, keys.public_key);
  return 0;
}

// `sign RESULT --key KEY`: the result rewritten with its integrity signed.
int cmd_sign(const std::string& file, const std::string& key_path) {
  const auto key = read_key_file(key_path, "--key");
  const auto doc = xpb::load_result(file);
  nlohmann::json signed_doc;
  try {
    signed_doc = xpb::sign_result(doc, key);
  } catch (const std::invalid_argument& e) {
    throw xpb::InputError(file + ": " + e.what());
  }
  xpb::write_file_atomically(file, signed_doc.dump(1) + "\n");
  std::cout << fmt::format("{}: signed (sha256 {}, public key {})\n", file, signed_doc["integrity"]["sha256"].get<std::string>(),
                           signed_doc["integrity"]["signature"]["public_key"].get<std::string>());
  return 0;
}

// `verify RESULT... [--pubkey KEY.pub]`: 0 when every document is intact (and signed by that
// key, when one is given), 1 otherwise.
int cmd_verify(const std::vector<std::string>& files, const std::string& pubkey_path) {
  std::optional<std::string> trusted;
  if (!pubkey_path.empty()) trusted = read_key_file(pubkey_path, "--pubkey");
  int rc = 0;
  for (const auto& f : files) {
    const auto report = xpb::verify_integrity(xpb::load_result(f), trusted);
    if (report.ok()) {
      std::cout << fmt::format("{}: intact{}\n", f,
                               report.is_signed ? ", signed by " + report.public_key + " (signature valid)" : ", not signed");
      continue;
    }
    rc = 1;
    std::cout << fmt::format("{}: {} problem(s)\n", f, report.problems.size());
    for (const auto& p : report.problems) std::cout << "  " << p << "\n";
  }
  return rc;
}

// `compare BASE NEW`, or `compare RESULT --base-device D`: the table, and exit 1 on a
// significant regression past the threshold when asked to gate.
int cmd_compare(const std::vector<std::string>& files, const std::string& base_device, double threshold, double alpha,
                bool fail_on_regression, const std::string& json_out) {
  if (!json_out.empty()) xpb::check_output_path(json_out, "compare --json");
  if (base_device.empty() && files.size() != 2)
    throw xpb::InputError("compare: expected two results, BASE and NEW (or one result and --base-device)");
  if (!base_device.empty() && files.size() != 1)
    throw xpb::InputError("compare --base-device: expected one result, whose devices are compared");
  const auto views = load_views(files);
  const xpb::CompareOptions options{threshold, alpha};
  xpb::Comparison c;
  if (base_device.empty()) {
    c = xpb::compare_results(views[0], views[1], options);
  } else {
    try {
      c = xpb::compare_devices(views[0], base_device, options);
    } catch (const std::invalid_argument& e) {
      throw xpb::InputError(e.what());
    }
  }
  std::cout << xpb::render_comparison(c, options);
  if (!json_out.empty()) xpb::write_file_atomically(json_out, xpb::to_json(c, options).dump(2) + "\n");
  return fail_on_regression && c.regressions > 0 ? 1 : 0;
}

int cmd_model_export(const std::string& preset, const std::string& dtype, const std::string& seed_text,
                     const std::string& path) {
  xpb::check_output_path(path, "model export -o");
  const auto seed = xpb::parse_unsigned(nlohmann::json(seed_text), "model export --seed", UINT64_MAX);
  const auto t0 = std::chrono::steady_clock::now();
  xpb::export_model(preset, dtype, seed, path);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << fmt::format("{}: {} at {} (synthetic weights, seed {}), written in {:.1f} s\n", path, preset, dtype, seed, s);
  return 0;
}

// `model run`: the greedy tokens printed, every step's logits in the --json file.
int cmd_model_run(const std::string& model, const std::string& device_name, const std::string& dtype,
                  const std::string& tokens_text, const std::string& n_text, const std::string& json_out) {
  if (!json_out.empty()) xpb::check_output_path(json_out, "model run --json");
  std::vector<std::int32_t> prompt;
  std::size_t at = 0;
  while (at <= tokens_text.size()) {
    const std::size_t comma = std::min(tokens_text.find(',', at), tokens_text.size());
    const std::string item = tokens_text.substr(at, comma - at);
    prompt.push_back(static_cast<std::int32_t>(
        xpb::parse_whole(nlohmann::json(item), "--tokens item " + std::to_string(prompt.size() + 1), 0, INT32_MAX)));
    at = comma + 1;
  }
  const auto n = static_cast<int>(xpb::parse_whole(nlohmann::json(n_text), "--n", 0, 1 << 20));
  auto devices = xpb::open_devices({device_name});
  if (devices.empty()) throw xpb::InputError("--device " + device_name + ": no device opened");
  const auto r = xpb::greedy_run(*devices.front().device, devices.front().id, model, dtype, prompt, n);
  std::string line;
  for (auto t : r.tokens) line += (line.empty() ? "" : " ") + std::to_string(t);
  std::cout << fmt::format("{} on {}: {} tokens after {} prompt tokens\n{}\n", model, r.device, r.tokens.size(),
                           r.prompt.size(), line);
  if (!json_out.empty()) xpb::write_file_atomically(json_out, xpb::to_json(r).dump() + "\n");
  return 0;
}

// Standard output that could not be written (a full disk, a closed pipe) is an error, not a
// silent exit 0: whatever was to be printed did not reach its reader.
int finish_stdout(int rc) {
  errno = 0;  // what the flush below sets is the reason
  std::cout.flush();
  const bool flushed = std::fflush(stdout) == 0;
  int why = errno;
  if (!std::cout || !flushed || std::ferror(stdout)) {
    if (why == 0) {
      // An earlier write failed (the output filled stdio's buffer before the end) and its errno
      // is gone: a pipe whose reader left still says so (POLLERR on its write end).
      pollfd out{fileno(stdout), POLLOUT, 0};
      if (poll(&out, 1, 0) == 1 && (out.revents & POLLERR) != 0) why = EPIPE;
    }
    std::fprintf(stderr, "xpubench: error: cannot write to standard output: %s\n", std::strerror(why != 0 ? why : EIO));
    return rc == 130 ? rc : 2;
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  // A file-size limit (ulimit -f) must make writes fail with EFBIG, reported and survived
  // with the journal kept, rather than kill the process mid-write.
  std::signal(SIGXFSZ, SIG_IGN);
  // Likewise a closed pipe (`xpubench run ... 2>&1 | head -1`): writing to it must fail with
  // EPIPE, not kill the run before its result is written. Progress lines are best effort; a
  // closed standard output is reported when the command ends (exit 2).
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"xpubench: hardware benchmarking and conformance suite"};
  app.require_subcommand(1);
  // Options of the whole program, accepted after any subcommand too.
  app.fallthrough();
  std::vector<std::string> plugin_files;
  app.add_option("--plugin", plugin_files,
                 "load a device plugin (a shared library built against xpubench_plugin.h); repeatable; also "
                 "XPB_PLUGIN_PATH (folders or files, colon-separated)");
  app.set_version_flag("--version", std::string("xpubench ") + xpb::build::version);

  std::string list_what;
  auto* list = app.add_subcommand("list", "list drivers, devices, workloads (with parameters), suites or ops");
  list->add_option("what", list_what, "drivers | devices | workloads | suites | ops")
      ->check(CLI::IsMember({"drivers", "devices", "workloads", "suites", "ops"}));

  bool info_json = false;
  auto* info = app.add_subcommand("info", "system and device inventory");
  info->add_flag("--json", info_json, "print as JSON");

  std::vector<std::string> run_names, run_devices, run_sets;
  bool quick = false;
  std::string output = "xpubench-result.json";
  auto* run = app.add_subcommand("run", "run suites or workloads and write a result document");
  run->add_option("suites", run_names, "suite names (memory, llm, quick, standard), suite .yaml files or workload names; default: standard");
  run->add_option("--device,-d", run_devices,
                  "device to run on, e.g. cpu or ref, with options after commas (ID,key=value); repeatable; default: "
                  "every device but ref");
  run->add_option("--set,-s", run_sets, "override a parameter: key=value, or policy.KEY=value (repeatable)");
  run->add_flag("--quick,-q", quick, "use each suite's quick variant");
  run->add_option("-o,--output", output, "result document to write (a regular file or a new path)")->capture_default_str();
  SessionFlags run_isolation;
  run->add_flag("--isolate", run_isolation.isolate,
                "run each benchmark on a plugin device in a child process: a crash or hang becomes a failed record");
  run->add_option("--isolate-timeout", run_isolation.timeout_s, "seconds one isolated benchmark may take before it is killed")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 1e6));
  run->add_option("--energy-meter", run_isolation.energy_meter,
                  "an external power meter's readings, fifo:PATH or tcp:127.0.0.1:PORT (the protocol: docs/ENERGY.md); "
                  "it then meters every device that is not simulated");
  run->add_option("--idle-seconds", run_isolation.idle_seconds,
                  "seconds each energy sensor is read at rest before the run, the idle baseline records are given net "
                  "of (default 2, 1 with --quick; 0: none)")
      ->check(CLI::Range(0.0, 600.0));
  run->add_option("--report", run_isolation.reports,
                  "also write a report beside the result (md, csv, html or junit; repeatable): results/quick.json gives "
                  "results/quick.md, .csv, .html, .junit.xml")
      ->check(CLI::IsMember(report_format_names()));

  std::string conform_device, conform_junit, conform_json;
  SessionFlags conform_isolation{true, 120};
  bool conform_no_isolate = false, conform_ops_only = false;
  auto* conform = app.add_subcommand("conform", "check a device against ref: every op x dtype, each workload's check, a plugin's ABI");
  conform->add_option("--device,-d", conform_device, "the device to check (ID or ID,key=value,...)")->required();
  conform->add_option("--junit", conform_junit, "also write the report as JUnit XML to this file");
  conform->add_option("--json", conform_json, "also write the report as JSON to this file");
  conform->add_flag("--no-isolate", conform_no_isolate, "run the checks in this process (default: a child per check on plugins)");
  conform->add_option("--timeout", conform_isolation.timeout_s, "seconds one isolated check may take before it is killed")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 1e6));
  conform->add_flag("--ops-only", conform_ops_only, "only the op cases (and the ABI kit), not the workload checks");

  std::vector<std::string> validate_files;
  auto* validate = app.add_subcommand("validate", "check result documents against the schema and run rules");
  validate->add_option("files", validate_files, "result documents (or journals); with --submission, results or "
                                                 "submission directories")->required();
  bool validate_submission = false;
  validate->add_flag("--submission", validate_submission,
                     "apply a submission's run rules too (docs/SUBMITTING.md): VALID or INVALID with every reason");

  std::string export_preset, export_dtype = "q8_0", export_path, export_seed = "1";
  std::vector<std::string> compare_files;
  std::string compare_base_device, compare_json;
  double compare_threshold = 5.0, compare_alpha = 0.05;
  bool compare_fail = false;
  auto* compare = app.add_subcommand("compare", "compare two results (or the devices of one) metric by metric: "
                                                "direction-aware change, Mann-Whitney U, regression / improvement / noise");
  compare->add_option("results", compare_files, "BASE NEW (or one RESULT with --base-device)")->required();
  compare->add_option("--base-device", compare_base_device,
                      "compare the other devices of one result against this one (cpu against opencl:0 and hc1-sim)");
  compare->add_option("--threshold", compare_threshold, "a change smaller than this, in percent, is noise")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  compare->add_option("--alpha", compare_alpha, "significance level of the Mann-Whitney U test")
      ->capture_default_str()
      ->check(CLI::Range(1e-12, 1.0));
  compare->add_flag("--fail-on-regression", compare_fail, "exit 1 when any metric regressed significantly past the threshold");
  compare->add_option("--json", compare_json, "also write the comparison as JSON to this file");

  std::vector<std::string> report_files;
  std::string report_format, report_out;
  auto* report = app.add_subcommand("report", "render results as Markdown, CSV (tidy) or JUnit XML");
  report->add_option("results", report_files, "result documents (or journals)")->required();
  report->add_option("--format,-f", report_format, "md, csv, html or junit")->required();
  report->add_option("-o,--output", report_out, "file to write (default: standard output)");

  std::string keygen_out, sign_file, sign_key, verify_pubkey;
  std::vector<std::string> verify_files;
  auto* keygen = app.add_subcommand("keygen", "make an Ed25519 key pair for signing results (KEY and KEY.pub)");
  keygen->add_option("-o,--output", keygen_out, "the secret key file to write; the public key goes to FILE.pub")->required();
  auto* sign = app.add_subcommand("sign", "sign a result with an Ed25519 secret key (rewrites it with the signature)");
  sign->add_option("result", sign_file, "the result document")->required();
  sign->add_option("--key", sign_key, "the secret key file (xpubench keygen)")->required();
  auto* verify = app.add_subcommand("verify", "check results against their SHA-256 and signature; name what changed");
  verify->add_option("results", verify_files, "result documents")->required();
  verify->add_option("--pubkey", verify_pubkey, "require a signature by this public key (KEY.pub)");

  auto* model = app.add_subcommand("model", "models for the llm workloads");
  model->require_subcommand(1);
  auto* model_export = model->add_subcommand("export", "write a preset with its synthetic weights as a GGUF file");
  model_export->add_option("--preset,-p", export_preset, "preset to write")->required();
  model_export->add_option("--dtype,-t", export_dtype, "weight dtype: f32, f16, bf16 or a GGUF block format (q8_0, q4_0, q4_1, "
                           "q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, q6_K, iq4_nl, iq4_xs)")->capture_default_str();
  model_export->add_option("--seed", export_seed, "seed of the synthetic weights (the llm workloads' weight_seed), 0 to 2^64-1")
      ->capture_default_str();
  model_export->add_option("-o,--output", export_path, "GGUF file to write (a regular file or a new path)")->required();
  std::string run_model, run_device = "cpu", run_dtype = "f32", run_tokens, run_n = "32", run_json;
  auto* model_run = model->add_subcommand("run", "greedy generation from given token ids, with every step's logits");
  model_run->add_option("model", run_model, "preset name or GGUF file")->required();
  model_run->add_option("--device,-d", run_device, "device to run on")->capture_default_str();
  model_run->add_option("--dtype,-t", run_dtype, "weight dtype of a preset (a file has its own)")->capture_default_str();
  model_run->add_option("--tokens", run_tokens, "prompt token ids, fed one position after another: 1,10,20")->required();
  model_run->add_option("--n", run_n, "tokens to generate")->capture_default_str();
  model_run->add_option("--json", run_json, "write {model, device, prompt, tokens, logits} here (logits[i] chose tokens[i])");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return finish_stdout(app.exit(e));
  } catch (const CLI::CallForAllHelp& e) {
    return finish_stdout(app.exit(e));
  } catch (const CLI::CallForVersion& e) {
    return finish_stdout(app.exit(e));
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  int rc = 0;
  try {
    // Plugins first: they add drivers that list, info, run and conform see. A file that cannot be
    // loaded is listed with its reason (`list drivers`); one named on the command line is also
    // reported here.
    for (const auto& load : xpb::load_plugins(plugin_files))
      if (!load.error.empty() &&
          std::find(plugin_files.begin(), plugin_files.end(), load.file) != plugin_files.end())
        std::fprintf(stderr, "xpubench: warning: plugin %s not loaded: %s\n", load.file.c_str(), load.error.c_str());
    conform_isolation.isolate = !conform_no_isolate;
    if (*list) rc = cmd_list(list_what);
    else if (*info) rc = cmd_info(info_json);
    else if (*run)
      rc = cmd_run(run_names, run_devices, run_sets, quick, output, run_isolation, std::vector<std::string>(argv, argv + argc));
    else if (*conform) rc = cmd_conform(conform_device, conform_junit, conform_json, conform_isolation, conform_ops_only);
    else if (*validate) rc = validate_submission ? cmd_validate_submission(validate_files) : cmd_validate(validate_files);
    else if (*report) rc = cmd_report(report_files, report_format, report_out);
    else if (*keygen) rc = cmd_keygen(keygen_out);
    else if (*sign) rc = cmd_sign(sign_file, sign_key);
    else if (*verify) rc = cmd_verify(verify_files, verify_pubkey);
    else if (*compare)
      rc = cmd_compare(compare_files, compare_base_device, compare_threshold, compare_alpha, compare_fail, compare_json);
    else if (*model_export) rc = cmd_model_export(export_preset, export_dtype, export_seed, export_path);
    else if (*model_run) rc = cmd_model_run(run_model, run_device, run_dtype, run_tokens, run_n, run_json);
  } catch (const xpb::InputError& e) {
    std::fprintf(stderr, "xpubench: error: %s\n", e.what());
    rc = 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "xpubench: error: out of memory\n");
    rc = 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xpubench: error: %s\n", e.what());
    rc = 2;
  }
  return finish_stdout(rc);
}
