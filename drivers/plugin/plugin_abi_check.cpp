// The ABI test kit (plugins.hpp check_plugin_abi): the contract of xpubench_plugin.h checked
// call by call on a loaded plugin, each check reported with what was seen, so a vendor sees
// which promise their plugin breaks before any benchmark depends on it.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugin_driver.hpp"
#include "xpubench/graph.hpp"
#include "xpubench/plugins.hpp"

namespace xpb {
namespace {

using plugin::Library;
using plugin::status_name;

// Resident memory of this process, in bytes (/proc/self/statm), or 0 when unknown.
double resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) : 0;
}

class Kit {
 public:
  explicit Kit(const Library& lib) : lib_(lib), api_(lib.api()) {}

  void check(const std::string& name, bool passed, std::string detail) {
    checks_.push_back({name, passed, std::move(detail)});
  }
  // A call that must fail with `want`: passes when it does and last_error says why.
  void expect_status(const std::string& name, xpb_status got, xpb_status want) {
    const std::string why = lib_.last_error();
    if (got != want) {
      check(name, false, "returned " + status_name(got) + ", expected " + status_name(want));
      return;
    }
    check(name, !why.empty(), why.empty() ? "returned " + status_name(got) + " but last_error is empty" : "last_error: " + why);
  }
  // A call that must succeed.
  bool expect_ok(const std::string& name, xpb_status got, const std::string& detail = "") {
    if (got == XPB_OK) {
      check(name, true, detail.empty() ? "XPB_OK" : detail);
      return true;
    }
    check(name, false, lib_.describe_failure(name.c_str(), got));
    return false;
  }

  std::vector<AbiCheck> run();

 private:
  bool device_checks(xpb_device dev, const nlohmann::json& caps);
  bool supports(const nlohmann::json& caps, std::uint32_t op, std::uint32_t dtype) const {
    for (const auto& e : caps.value("ops", nlohmann::json::array()))
      if (e.value("op", 0u) == op)
        for (const auto& t : e.value("dtypes", nlohmann::json::array()))
          if (t.is_number_unsigned() && t.get<std::uint32_t>() == dtype) return true;
    return false;
  }

  const Library& lib_;
  const xpb_plugin& api_;
  std::vector<AbiCheck> checks_;
};

std::vector<AbiCheck> Kit::run() {
  check("table", true,
        "ABI " + std::to_string(api_.abi_version) + " (host " + std::to_string(XPB_PLUGIN_ABI_VERSION) + "), struct_size " +
            std::to_string(api_.struct_size) + " (ABI " + std::to_string(api_.abi_version) + " needs " +
            std::to_string(plugin::table_size_for(api_.abi_version)) + "), name " + lib_.name() + ", every call present");
  std::uint32_t count = 0;
  if (!expect_ok("enumerate", api_.enumerate(&count), "")) return checks_;
  checks_.back().detail = std::to_string(count) + " device(s)";
  if (count == 0) {
    check("enumerate finds a device", false, "no device: the remaining checks need one (" + lib_.last_error() + ")");
    return checks_;
  }
  expect_status("enumerate rejects a NULL count", api_.enumerate(nullptr), XPB_INVALID_ARGUMENT);
  bool described = true;
  for (std::uint32_t i = 0; i < count; ++i) {
    const char* text = nullptr;
    if (api_.describe_device(i, &text) != XPB_OK || text == nullptr) {
      described = false;
      check("describe_device", false, "device " + std::to_string(i) + ": " + lib_.last_error());
      continue;
    }
    try {
      const auto j = nlohmann::json::parse(text);
      if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) throw std::runtime_error("no \"name\" string");
    } catch (const std::exception& e) {
      described = false;
      check("describe_device", false, "device " + std::to_string(i) + ": " + e.what());
    }
  }
  if (described) check("describe_device", true, "a JSON object with a name for each device");
  const char* none = nullptr;
  expect_status("describe_device rejects an index past the end", api_.describe_device(count, &none), XPB_INVALID_ARGUMENT);

  xpb_device dev = nullptr;
  expect_status("open rejects an index past the end", api_.open(count, 0, nullptr, nullptr, &dev), XPB_INVALID_ARGUMENT);
  expect_status("open rejects a NULL out-pointer", api_.open(0, 0, nullptr, nullptr, nullptr), XPB_INVALID_ARGUMENT);
  {
    const char* key = "xpb_abi_kit_no_such_option";
    const char* value = "1";
    xpb_device d = nullptr;
    const auto s = api_.open(0, 1, &key, &value, &d);
    const std::string why = lib_.last_error();
    if (s == XPB_OK) api_.release_device(d);
    check("open rejects an unknown option, naming it", s == XPB_INVALID_ARGUMENT && why.find(key) != std::string::npos,
          status_name(s) + (why.empty() ? "" : ": " + why));
  }
  if (!expect_ok("open", api_.open(0, 0, nullptr, nullptr, &dev)) || dev == nullptr) return checks_;
  const char* caps_text = nullptr;
  nlohmann::json caps;
  if (expect_ok("query", api_.query(dev, &caps_text))) {
    try {
      caps = nlohmann::json::parse(caps_text != nullptr ? caps_text : "");
      const bool shaped = caps.is_object() && caps.contains("ops") && caps["ops"].is_array() && caps.contains("clock") &&
                          caps["clock"].is_object() && caps["clock"].contains("kind");
      checks_.back().passed = shaped;
      checks_.back().detail = shaped ? std::to_string(caps["ops"].size()) + " op(s), clock kind " + caps["clock"]["kind"].dump()
                                     : "the caps lack \"ops\" or \"clock\".\"kind\"";
    } catch (const std::exception& e) {
      checks_.back().passed = false;
      checks_.back().detail = std::string("not JSON: ") + e.what();
    }
  }
  const bool ok = device_checks(dev, caps.is_object() ? caps : nlohmann::json::object());
  expect_ok("release_device", api_.release_device(dev));
  expect_status("release_device rejects NULL", api_.release_device(nullptr), XPB_INVALID_ARGUMENT);
  (void)ok;
  return checks_;
}

bool Kit::device_checks(xpb_device dev, const nlohmann::json& caps) {
  xpb_buffer b = nullptr;
  expect_status("alloc rejects 0 bytes", api_.alloc(dev, 0, &b), XPB_INVALID_ARGUMENT);
  {
    const auto s = api_.alloc(dev, std::uint64_t{1} << 62, &b);
    const std::string why = lib_.last_error();
    if (s == XPB_OK) api_.release_buffer(b);
    check("alloc of 2^62 bytes is refused, not a crash", (s == XPB_OUT_OF_MEMORY || s == XPB_UNSUPPORTED) && !why.empty(),
          status_name(s) + (why.empty() ? " with an empty last_error" : ": " + why));
  }
  b = nullptr;
  if (!expect_ok("alloc", api_.alloc(dev, 4096, &b)) || b == nullptr) return false;
  std::vector<std::uint8_t> data(4096), back(4096, 0);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7 + 3);
  const bool up = api_.upload(dev, b, 0, data.data(), data.size()) == XPB_OK;
  const bool down = api_.download(dev, b, 0, back.data(), back.size()) == XPB_OK;
  check("upload then download gives the bytes back", up && down && data == back,
        !up || !down ? lib_.last_error() : data == back ? "4096 bytes" : "the bytes differ");
  expect_status("upload rejects a range past the end", api_.upload(dev, b, 4000, data.data(), 200), XPB_INVALID_ARGUMENT);
  expect_status("download rejects an offset that overflows", api_.download(dev, b, UINT64_MAX - 10, back.data(), 20),
                XPB_INVALID_ARGUMENT);
  expect_status("upload rejects a NULL buffer", api_.upload(dev, nullptr, 0, data.data(), 16), XPB_INVALID_ARGUMENT);
  expect_ok("release_buffer", api_.release_buffer(b));
  expect_status("release_buffer rejects NULL", api_.release_buffer(nullptr), XPB_INVALID_ARGUMENT);

  // An op code no xpubench has given out: the plugin must refuse it, naming it.
  {
    const std::int64_t shape[1] = {4};
    const std::uint32_t out_id = 0;
    xpb_tensor t{"out", XPB_DTYPE_F32, XPB_ROLE_OUTPUT, 1, -1, shape, 16, nullptr};
    xpb_node n{60000, 0, nullptr, 1, &out_id, 0, nullptr};
    xpb_buffer binding = nullptr;
    xpb_graph g{sizeof(xpb_graph), 1, "abi-kit-unknown-op", "", "", "", "", &t, 1, 0, &n, nullptr, &binding};
    xpb_executable e = nullptr;
    const auto s = api_.compile(dev, &g, &e);
    const std::string why = lib_.last_error();
    if (s == XPB_OK && e != nullptr) api_.release_executable(e);
    check("compile refuses an unknown op code, naming it", s == XPB_UNSUPPORTED && why.find("60000") != std::string::npos,
          status_name(s) + (why.empty() ? " with an empty last_error" : ": " + why));
  }
  expect_status("compile rejects a NULL graph", api_.compile(dev, nullptr, nullptr), XPB_INVALID_ARGUMENT);

  // The empty graph: compiles, runs, says how long on a clock it names.
  xpb_graph empty{sizeof(xpb_graph), 0, "abi-kit-empty", "", "", "", "", nullptr, 0, 0, nullptr, nullptr, nullptr};
  xpb_executable e = nullptr;
  if (expect_ok("compile of the empty graph", api_.compile(dev, &empty, &e)) && e != nullptr) {
    xpb_run_args a{sizeof(xpb_run_args), 0, 3, nullptr, nullptr, nullptr};
    xpb_run_result r{};
    r.struct_size = sizeof r;
    r.seconds = -1;
    if (expect_ok("run of the empty graph", api_.run(e, &a, &r))) {
      const bool good = std::isfinite(r.seconds) && r.seconds >= 0 && r.iterations == 3 && r.clock <= XPB_CLOCK_SIMULATED &&
                        r.energy_source <= XPB_ENERGY_MODELED;
      checks_.back().passed = good;
      checks_.back().detail = "seconds " + std::to_string(r.seconds) + ", iterations " + std::to_string(r.iterations) +
                              " of 3, clock " + std::to_string(r.clock) + ", energy source " + std::to_string(r.energy_source);
    }
    xpb_run_args zero{sizeof(xpb_run_args), 0, 0, nullptr, nullptr, nullptr};
    expect_status("run rejects 0 iterations", api_.run(e, &zero, &r), XPB_INVALID_ARGUMENT);
    expect_status("run rejects NULL arguments", api_.run(e, nullptr, &r), XPB_INVALID_ARGUMENT);
    const std::int64_t dims[1] = {1};
    xpb_run_args extra{sizeof(xpb_run_args), 1, 1, dims, nullptr, nullptr};
    expect_status("run rejects dims the graph does not have", api_.run(e, &extra, &r), XPB_INVALID_ARGUMENT);
    expect_ok("release_executable", api_.release_executable(e));
  }
  expect_status("release_executable rejects NULL", api_.release_executable(nullptr), XPB_INVALID_ARGUMENT);

  // Cancellation: a long run of write_fill with a cancel callback that says stop at once.
  if (supports(caps, static_cast<std::uint32_t>(Op::write_fill), XPB_DTYPE_F32)) {
    const std::int64_t shape[1] = {1 << 16};
    const std::uint32_t out_id = 0;
    xpb_tensor t{"out", XPB_DTYPE_F32, XPB_ROLE_OUTPUT, 1, -1, shape, 4 << 16, nullptr};
    xpb_attr v{"value", XPB_ATTR_REAL, 0, 0, 1.5, nullptr};
    xpb_node n{static_cast<std::uint32_t>(Op::write_fill), 0, nullptr, 1, &out_id, 1, &v};
    xpb_buffer binding = nullptr;
    xpb_graph g{sizeof(xpb_graph), 1, "abi-kit-fill", "", "", "", "", &t, 1, 0, &n, nullptr, &binding};
    xpb_executable fe = nullptr;
    if (api_.compile(dev, &g, &fe) == XPB_OK && fe != nullptr) {
      auto stop = [](void*) { return 1; };
      xpb_run_args a{sizeof(xpb_run_args), 0, std::uint64_t{1} << 40, nullptr, +stop, nullptr};
      xpb_run_result r{};
      r.struct_size = sizeof r;
      const auto t0 = std::chrono::steady_clock::now();
      const auto s = api_.run(fe, &a, &r);
      const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      check("run stops when the cancel callback says so", s == XPB_INTERRUPTED && took < 5,
            status_name(s) + " after " + std::to_string(took) + " s, " + std::to_string(r.iterations) + " of 2^40 iterations");
      api_.release_executable(fe);
    }
  }

  // Releasing gives the memory back: 64 cycles of a touched 4 MiB buffer and 16 of an
  // executable holding 4 MiB of initial bytes must not leave the process much bigger.
  const double before = resident_bytes();
  std::vector<std::uint8_t> chunk(4 << 20, 0x5a);
  bool cycled = true;
  for (int i = 0; i < 64 && cycled; ++i) {
    xpb_buffer c = nullptr;
    cycled = api_.alloc(dev, chunk.size(), &c) == XPB_OK && c != nullptr &&
             api_.upload(dev, c, 0, chunk.data(), chunk.size()) == XPB_OK && api_.release_buffer(c) == XPB_OK;
  }
  if (cycled && supports(caps, static_cast<std::uint32_t>(Op::copy), XPB_DTYPE_F32)) {
    const std::int64_t shape[1] = {1 << 20};
    const std::uint32_t ids[2] = {0, 1};
    xpb_tensor ts[2] = {{"in", XPB_DTYPE_F32, XPB_ROLE_INPUT, 1, -1, shape, 4 << 20, chunk.data()},
                        {"out", XPB_DTYPE_F32, XPB_ROLE_OUTPUT, 1, -1, shape, 4 << 20, nullptr}};
    xpb_node n{static_cast<std::uint32_t>(Op::copy), 1, &ids[0], 1, &ids[1], 0, nullptr};
    xpb_buffer bindings[2] = {nullptr, nullptr};
    xpb_graph g{sizeof(xpb_graph), 2, "abi-kit-copy", "", "", "", "", ts, 1, 0, &n, nullptr, bindings};
    for (int i = 0; i < 16 && cycled; ++i) {
      xpb_executable ce = nullptr;
      cycled = api_.compile(dev, &g, &ce) == XPB_OK && ce != nullptr && api_.release_executable(ce) == XPB_OK;
    }
  }
  const double grew = resident_bytes() - before;
  check("releasing every handle gives the memory back", cycled && grew < 64.0 * (1 << 20),
        !cycled ? "a cycle failed: " + lib_.last_error()
                : "resident memory grew by " + std::to_string(static_cast<long long>(grew / (1 << 20))) +
                      " MiB over 64 alloc/upload/release cycles of 4 MiB (and 16 compile/release cycles of a 4 MiB graph); "
                      "at most 64 MiB allowed");
  return true;
}

}  // namespace

std::vector<AbiCheck> check_plugin_abi(const std::string& driver) {
  auto lib = plugin::loaded_library(driver);
  if (!lib) throw std::invalid_argument(driver + " is not a loaded plugin");
  return Kit(*lib).run();
}

}  // namespace xpb
