// The `plugin` driver: each loaded plugin library (plugin_library.hpp) as a Driver whose devices
// implement the device contract by calling through the C table of xpubench_plugin.h. Every
// status the plugin returns is checked; every handle is released exactly once, in the order the
// header promises (buffers and executables before their device, devices before the library).
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "plugin_driver.hpp"
#include "plugin_graph.hpp"
#include "xpubench/plugins.hpp"
#include "xpubench/registry.hpp"

namespace xpb::plugin {
namespace {

// An open device handle; released when the last buffer, executable and Device using it goes.
struct DeviceHandle {
  std::shared_ptr<Library> lib;
  xpb_device handle = nullptr;
  ~DeviceHandle() {
    if (handle != nullptr) lib->api().release_device(handle);
  }
};

struct ExecutableHandle {
  std::shared_ptr<DeviceHandle> device;
  xpb_executable handle = nullptr;
  std::vector<std::shared_ptr<Buffer>> bound;  // kept unreleased while the executable lives
  ~ExecutableHandle() {
    if (handle != nullptr) device->lib->api().release_executable(handle);
  }
};

class PluginBuffer final : public Buffer {
 public:
  // A buffer the host allocated (released here) ...
  PluginBuffer(std::shared_ptr<DeviceHandle> d, xpb_buffer b, std::size_t bytes)
      : device_(std::move(d)), handle_(b), bytes_(bytes), owned_(true) {}
  // ... or one an executable owns (kept alive through it, never released by the host).
  PluginBuffer(std::shared_ptr<ExecutableHandle> e, xpb_buffer b, std::size_t bytes)
      : device_(e->device), exe_(std::move(e)), handle_(b), bytes_(bytes), owned_(false) {}
  ~PluginBuffer() override {
    if (owned_) device_->lib->api().release_buffer(handle_);
  }
  std::size_t bytes() const override { return bytes_; }
  xpb_buffer handle() const { return handle_; }
  const DeviceHandle* device() const { return device_.get(); }

 private:
  std::shared_ptr<DeviceHandle> device_;
  std::shared_ptr<ExecutableHandle> exe_;
  xpb_buffer handle_;
  std::size_t bytes_;
  bool owned_;
};

int poll_cancel(void* context) { return static_cast<const std::atomic<bool>*>(context)->load() ? 1 : 0; }

class PluginExecutable final : public Executable {
 public:
  PluginExecutable(std::shared_ptr<ExecutableHandle> h, Graph g) : h_(std::move(h)), graph_(std::move(g)) {}

  RunResult run(const RunArgs& args) override {
    if (auto err = graph_.check_dims(args.dims)) throw std::invalid_argument(*err);
    const Library& lib = *h_->device->lib;
    xpb_run_args a{};
    a.struct_size = sizeof a;
    a.dim_count = static_cast<std::uint32_t>(args.dims.size());
    a.iterations = args.iterations;
    a.dims = args.dims.data();
    if (args.cancel != nullptr) {
      a.cancelled = &poll_cancel;
      a.cancel_context = const_cast<std::atomic<bool>*>(args.cancel);
    }
    xpb_run_result out{};
    out.struct_size = sizeof out;
    const xpb_status s = lib.api().run(h_->handle, &a, &out);
    RunResult r;
    if (s != XPB_OK && s != XPB_INTERRUPTED) {
      r.error = lib.describe_failure("run", s);
      return r;
    }
    if (out.clock > XPB_CLOCK_SIMULATED) {
      r.error = "plugin " + lib.name() + ": run: clock code " + std::to_string(out.clock) + " is not a clock kind";
      return r;
    }
    if (out.energy_source > XPB_ENERGY_MODELED) {
      r.error = "plugin " + lib.name() + ": run: energy source " + std::to_string(out.energy_source) +
                " is not an energy source";
      return r;
    }
    r.seconds = out.seconds;  // the runner checks it is finite and not negative
    r.clock = static_cast<ClockKind>(out.clock);
    r.iterations = out.iterations;
    r.interrupted = s == XPB_INTERRUPTED;
    r.energy_source = static_cast<EnergySource>(out.energy_source);
    r.energy_joules = out.energy_joules;
    if (!r.interrupted && out.iterations != args.iterations)
      r.error = "plugin " + lib.name() + ": run: asked for " + std::to_string(args.iterations) + " iterations, it says " +
                std::to_string(out.iterations) + " ran";
    r.work = graph_work(graph_, args.dims) * static_cast<double>(std::min(out.iterations, args.iterations));
    return r;
  }

  void read(TensorId id, std::span<std::byte> dst) const override {
    auto b = tensor_buffer(id, dst.size());
    const Library& lib = *h_->device->lib;
    if (auto s = lib.api().download(h_->device->handle, b, 0, dst.data(), dst.size()); s != XPB_OK)
      throw std::runtime_error(lib.describe_failure("download", s));
  }
  void write(TensorId id, std::span<const std::byte> src) override {
    auto b = tensor_buffer(id, src.size());
    const Library& lib = *h_->device->lib;
    if (auto s = lib.api().upload(h_->device->handle, b, 0, src.data(), src.size()); s != XPB_OK)
      throw std::runtime_error(lib.describe_failure("upload", s));
    if (auto s = lib.api().tensor_written(h_->handle, id); s != XPB_OK)
      throw std::runtime_error(lib.describe_failure("tensor_written", s));
  }
  std::shared_ptr<Buffer> buffer(TensorId id) const override {
    return std::make_shared<PluginBuffer>(h_, tensor_buffer(id, graph_.tensor(id).bytes()), graph_.tensor(id).bytes());
  }
  nlohmann::json describe() const override {
    return {{"plugin", h_->device->lib->name()}, {"plugin_file", h_->device->lib->file()}};
  }

 private:
  xpb_buffer tensor_buffer(TensorId id, std::size_t bytes) const {
    if (id >= graph_.tensors().size()) throw std::invalid_argument("tensor " + std::to_string(id) + " is not in the graph");
    if (bytes != graph_.tensor(id).bytes())
      throw std::invalid_argument("tensor '" + graph_.tensor(id).name + "' holds " + std::to_string(graph_.tensor(id).bytes()) +
                                  " bytes, not " + std::to_string(bytes));
    const Library& lib = *h_->device->lib;
    xpb_buffer b = nullptr;
    if (auto s = lib.api().executable_buffer(h_->handle, id, &b); s != XPB_OK)
      throw std::runtime_error(lib.describe_failure("executable_buffer", s));
    if (b == nullptr) throw std::runtime_error("plugin " + lib.name() + ": executable_buffer returned XPB_OK and no buffer");
    return b;
  }

  std::shared_ptr<ExecutableHandle> h_;
  Graph graph_;  // without its initial contents: the plugin has them
};

Outcome outcome_of(const Library& lib, const char* call, xpb_status s) {
  if (!Library::known_status(s))
    return Outcome::with(Status::failed, "plugin " + lib.name() + ": " + call + " returned " + status_name(s) +
                                             " (not a status of xpubench_plugin.h)");
  const auto why = lib.describe_failure(call, s);
  return Outcome::with(s == XPB_UNSUPPORTED ? Status::unsupported : Status::failed, why);
}

class PluginDevice final : public Device {
 public:
  PluginDevice(std::shared_ptr<Driver> driver, DeviceInfo info, std::shared_ptr<DeviceHandle> h, DeviceCaps caps,
               ClockInfo clock)
      : driver_(std::move(driver)), info_(std::move(info)), h_(std::move(h)), caps_(std::move(caps)), clock_(clock) {}
  const DeviceInfo& info() const override { return info_; }
  DeviceCaps caps() const override { return caps_; }
  ClockInfo clock() const override { return clock_; }

  AllocResult alloc(const TensorDesc& t, const CompileOptions&) override {
    const Library& lib = *h_->lib;
    xpb_buffer b = nullptr;
    if (auto s = lib.api().alloc(h_->handle, t.bytes(), &b); s != XPB_OK)
      return {outcome_of(lib, "alloc", s), nullptr};
    if (b == nullptr)
      return {Outcome::with(Status::failed, "plugin " + lib.name() + ": alloc returned XPB_OK and no buffer"), nullptr};
    auto buf = std::make_shared<PluginBuffer>(h_, b, t.bytes());
    if (t.init.kind != TensorInit::Kind::none) {
      try {
        std::vector<std::byte> staging;
        const auto src = initial_contents(t, staging);
        if (auto s = lib.api().upload(h_->handle, b, 0, src.data(), src.size()); s != XPB_OK)
          return {outcome_of(lib, "upload", s), nullptr};
      } catch (const std::bad_alloc&) {
        return {Outcome::with(Status::failed, "the host could not stage " + std::to_string(t.bytes()) +
                                                  " bytes for tensor '" + t.name + "'"),
                nullptr};
      }
    }
    return {Outcome::ok(), std::move(buf)};
  }
  void upload(Buffer& dst, std::span<const std::byte> src, std::size_t offset) override {
    auto& b = own(dst);
    check_range(b.bytes(), offset, src.size());
    if (auto s = h_->lib->api().upload(h_->handle, b.handle(), offset, src.data(), src.size()); s != XPB_OK)
      throw std::runtime_error(h_->lib->describe_failure("upload", s));
  }
  void download(const Buffer& src, std::span<std::byte> dst, std::size_t offset) override {
    auto& b = own(src);
    check_range(b.bytes(), offset, dst.size());
    if (auto s = h_->lib->api().download(h_->handle, b.handle(), offset, dst.data(), dst.size()); s != XPB_OK)
      throw std::runtime_error(h_->lib->describe_failure("download", s));
  }
  bool can_bind(const Buffer& b) const override {
    const auto* p = dynamic_cast<const PluginBuffer*>(&b);
    return p != nullptr && p->device() == h_.get();
  }

  CompileResult compile(const Graph& g, const Bindings& bound, const CompileOptions& opts) override {
    if (auto err = g.check()) return {Outcome::with(Status::invalid, *err), nullptr};
    if (auto err = check_bindings(g, bound)) return {Outcome::with(Status::invalid, *err), nullptr};
    if (opts.cancel != nullptr && opts.cancel->load())
      return {Outcome::with(Status::interrupted, "stopped by the user before compiling"), nullptr};
    const Library& lib = *h_->lib;
    auto exe = std::make_shared<ExecutableHandle>();
    exe->device = h_;
    std::vector<xpb_buffer> handles(g.tensors().size(), nullptr);
    for (const auto& [id, buf] : bound) {
      handles[id] = static_cast<const PluginBuffer&>(*buf).handle();
      exe->bound.push_back(buf);
    }
    try {
      FlatGraph flat(g, std::move(handles));
      xpb_executable e = nullptr;
      if (auto s = lib.api().compile(h_->handle, &flat.get(), &e); s != XPB_OK) return {outcome_of(lib, "compile", s), nullptr};
      if (e == nullptr)
        return {Outcome::with(Status::failed, "plugin " + lib.name() + ": compile returned XPB_OK and no executable"),
                nullptr};
      exe->handle = e;
    } catch (const std::bad_alloc&) {
      return {Outcome::with(Status::failed, "the host ran out of memory making the graph's initial contents"), nullptr};
    }
    // The plugin copied the initial contents; the executable keeps only the shapes.
    return {Outcome::ok(), std::make_shared<PluginExecutable>(std::move(exe), without_initial_contents(g))};
  }

 private:
  const PluginBuffer& own(const Buffer& b) const {
    if (!can_bind(b)) throw std::invalid_argument("the buffer is not one of device " + info_.id() + "'s");
    return static_cast<const PluginBuffer&>(b);
  }
  static Graph without_initial_contents(const Graph& g) {
    Graph out(g.name());
    out.set_identity(g.identity());
    for (const auto& d : g.dims()) out.add_dim(d.name, d.max);
    for (auto t : g.tensors()) {
      t.init = TensorInit{};
      out.add_tensor(std::move(t));
    }
    for (const auto& n : g.nodes()) out.add_node(n.op, n.inputs, n.outputs, n.attrs);
    return out;
  }

  std::shared_ptr<Driver> driver_;
  DeviceInfo info_;
  std::shared_ptr<DeviceHandle> h_;
  DeviceCaps caps_;
  ClockInfo clock_;
};

// Caps and clock from the plugin's query text, or the reason it cannot be used.
std::string parse_caps(const std::string& text, DeviceCaps& caps, ClockInfo& clock) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return std::string("its caps are not JSON: ") + e.what();
  }
  if (!j.is_object()) return "its caps are not a JSON object";
  std::set<Op> ops;
  std::set<DType> dtypes;
  for (const auto& entry : j.value("ops", nlohmann::json::array())) {
    if (!entry.is_object() || !entry.contains("op") || !entry["op"].is_number_unsigned())
      return "caps.ops: each entry must be {\"op\": CODE, \"dtypes\": [CODE, ...]}";
    auto op = op_from_code(entry["op"].get<std::uint32_t>());
    if (!op) continue;  // an op of a newer xpubench: nothing here asks for it
    ops.insert(*op);
    for (const auto& code : entry.value("dtypes", nlohmann::json::array())) {
      if (!code.is_number_unsigned()) return "caps.ops: dtype codes must be unsigned integers";
      if (auto t = dtype_from_code(code.get<std::uint32_t>())) {
        dtypes.insert(*t);
        caps.op_dtypes.emplace_back(*op, *t);
      }
    }
  }
  // The ABI passes no thread count: the plugin's device decides its own parallelism.
  caps.max_threads = 0;
  caps.ops.assign(ops.begin(), ops.end());
  caps.dtypes.assign(dtypes.begin(), dtypes.end());
  if (j.contains("memory_bytes") && j["memory_bytes"].is_number_unsigned()) caps.memory_bytes = j["memory_bytes"].get<std::uint64_t>();
  if (j.contains("shares_host_memory")) {
    if (!j["shares_host_memory"].is_boolean()) return "caps.shares_host_memory must be true or false";
    caps.shares_host_memory = j["shares_host_memory"].get<bool>();
  }
  const auto profile = j.value("numeric_profile", nlohmann::json::object());
  for (const auto& [k, v] : profile.items())
    caps.numeric_profile[k] = v.is_string() ? v.get<std::string>() : v.dump();
  const auto c = j.value("clock", nlohmann::json::object());
  const auto kind = c.value("kind", -1);
  if (kind < XPB_CLOCK_HOST || kind > XPB_CLOCK_SIMULATED) return "caps.clock.kind must be 0 (host), 1 (device events) or 2 (simulated)";
  const double resolution = c.value("resolution_s", 0.0);
  if (!std::isfinite(resolution) || resolution <= 0 || resolution >= 1)
    return "caps.clock.resolution_s must be a number of seconds in (0, 1)";
  clock = {static_cast<ClockKind>(kind), resolution, c.value("deterministic", false)};
  return "";
}

class PluginDriver final : public Driver {
 public:
  explicit PluginDriver(std::shared_ptr<Library> lib) : lib_(std::move(lib)) {}
  std::string name() const override { return "plugin:" + lib_->name(); }
  std::string description() const override {
    const char* d = lib_->api().description;
    const char* v = lib_->api().version;
    return std::string(d != nullptr ? d : "a plugin") + " (plugin " + (v != nullptr ? v : "?") + ", ABI " +
           std::to_string(lib_->api().abi_version) + ", " + lib_->file() + ")";
  }

  Enumeration enumerate() override {
    std::uint32_t count = 0;
    if (auto s = lib_->api().enumerate(&count); s != XPB_OK) return {{}, lib_->describe_failure("enumerate", s)};
    if (count == 0) {
      const auto why = lib_->last_error();
      return {{}, "the plugin found no device" + (why.empty() ? std::string() : ": " + why)};
    }
    Enumeration e;
    for (std::uint32_t i = 0; i < count && i < 1024; ++i) {
      const char* text = nullptr;
      DeviceInfo d;
      d.driver = name();
      d.index = static_cast<int>(i);
      d.isolatable = true;
      if (auto s = lib_->api().describe_device(i, &text); s != XPB_OK || text == nullptr) {
        e.reason = s != XPB_OK ? lib_->describe_failure("describe_device", s) : "describe_device gave no text";
        continue;
      }
      try {
        const auto j = nlohmann::json::parse(text);
        d.name = j.value("name", lib_->name() + " device " + std::to_string(i));
        d.kind = j.value("kind", "npu");
        d.reference = j.value("reference", false);
        const auto props = j.value("properties", nlohmann::json::object());
        for (const auto& [k, v] : props.items())
          d.properties[k] = v.is_string() ? v.get<std::string>() : v.dump();
      } catch (const std::exception& ex) {
        e.reason = "device " + std::to_string(i) + ": describe_device gave text that is not a JSON object: " + ex.what();
        continue;
      }
      d.properties["plugin_file"] = lib_->file();
      d.properties["plugin_version"] = lib_->api().version != nullptr ? lib_->api().version : "";
      d.properties["plugin_abi"] = std::to_string(lib_->api().abi_version);
      e.devices.push_back(std::move(d));
    }
    if (!e.devices.empty()) e.reason.clear();
    return e;
  }

  OpenResult open(const DeviceInfo& info, const DeviceOptions& options) override {
    std::vector<const char*> keys, values;
    for (const auto& [k, v] : options) {
      keys.push_back(k.c_str());
      values.push_back(v.c_str());
    }
    xpb_device dev = nullptr;
    auto s = lib_->api().open(static_cast<std::uint32_t>(info.index), static_cast<std::uint32_t>(keys.size()), keys.data(),
                              values.data(), &dev);
    if (s != XPB_OK) {
      auto o = outcome_of(*lib_, "open", s);
      if (s == XPB_INVALID_ARGUMENT) o.status = Status::invalid;  // an option it does not take
      return {o, nullptr};
    }
    if (dev == nullptr) return {Outcome::with(Status::failed, "plugin " + lib_->name() + ": open returned XPB_OK and no device"), nullptr};
    auto h = std::make_shared<DeviceHandle>();
    h->lib = lib_;
    h->handle = dev;
    const char* caps_text = nullptr;
    if (auto q = lib_->api().query(dev, &caps_text); q != XPB_OK) return {outcome_of(*lib_, "query", q), nullptr};
    DeviceCaps caps;
    ClockInfo clock;
    if (auto why = parse_caps(caps_text != nullptr ? caps_text : "", caps, clock); !why.empty())
      return {Outcome::with(Status::failed, "plugin " + lib_->name() + ": query: " + why), nullptr};
    DeviceInfo opened = info;
    opened.properties["clock"] = std::string(xpb::name(clock.kind));
    return {Outcome::ok(), std::make_shared<PluginDevice>(shared_from_this(), opened, std::move(h), std::move(caps), clock)};
  }

 private:
  std::shared_ptr<Library> lib_;
};

// A plugin file that could not be loaded: listed with the reason, no devices.
class UnloadableDriver final : public Driver {
 public:
  UnloadableDriver(std::string name, std::string file, std::string why)
      : name_(std::move(name)), file_(std::move(file)), why_(std::move(why)) {}
  std::string name() const override { return name_; }
  std::string description() const override { return "plugin " + file_ + " (not loaded)"; }
  Enumeration enumerate() override { return {{}, file_ + ": " + why_}; }
  OpenResult open(const DeviceInfo&, const DeviceOptions&) override {
    return {Outcome::with(Status::failed, file_ + ": " + why_), nullptr};
  }

 private:
  std::string name_, file_, why_;
};

struct Loaded {
  std::mutex mu;
  std::set<std::string> files;                             // canonical paths seen
  std::map<std::string, std::shared_ptr<Library>> by_driver;
  std::vector<PluginLoad> loads;
};
Loaded& loaded() {
  static Loaded l;
  return l;
}

// "libxpubench-npu_ref.so" -> "npu_ref": the name of a file that could not tell its own.
std::string stem_of(const std::string& file) {
  std::string s = file.substr(file.find_last_of('/') + 1);
  for (const char* prefix : {"libxpubench-", "lib"})
    if (s.rfind(prefix, 0) == 0) {
      s = s.substr(std::string(prefix).size());
      break;
    }
  if (auto dot = s.find(".so"); dot != std::string::npos) s = s.substr(0, dot);
  return s;
}

// Loads one file; `quiet_duplicate` drops a second plugin of a name already loaded instead of
// listing it (the installed plugins: the first folder that has one wins).
void load_one(Loaded& l, const std::string& file, bool quiet_duplicate) {
  char real[PATH_MAX];
  const std::string canonical = ::realpath(file.c_str(), real) != nullptr ? real : file;
  if (!l.files.insert(canonical).second) return;
  PluginLoad load{file, "", ""};
  std::shared_ptr<Library> lib;
  try {
    lib = std::make_shared<Library>(file);
    load.driver = "plugin:" + lib->name();
  } catch (const std::exception& e) {
    load.driver = "plugin:" + stem_of(file);
    load.error = e.what();
  }
  if (lib && l.by_driver.count(load.driver) != 0) {
    if (quiet_duplicate) return;
    load.error = "a plugin named " + lib->name() + " was already loaded from " + l.by_driver[load.driver]->file();
    load.driver += "@" + file;
    lib.reset();
  }
  auto& reg = DriverRegistry::instance();
  if (lib) {
    l.by_driver[load.driver] = lib;
    reg.add(load.driver, [lib] { return std::make_unique<PluginDriver>(lib); });
  } else {
    const auto name = load.driver, why = load.error;
    if (!reg.add(name, [name, file, why] { return std::make_unique<UnloadableDriver>(name, file, why); })) return;
  }
  l.loads.push_back(load);
}

std::vector<std::string> shared_objects_in(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n.size() > 3 && n.compare(n.size() - 3, 3, ".so") == 0) out.push_back(dir + "/" + n);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());  // a stable order: which duplicate wins does not vary
  return out;
}

bool is_dir(const std::string& p) {
  struct stat st{};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

std::shared_ptr<Library> loaded_library(const std::string& driver) {
  auto& l = loaded();
  std::lock_guard lock(l.mu);
  auto it = l.by_driver.find(driver);
  return it == l.by_driver.end() ? nullptr : it->second;
}

}  // namespace xpb::plugin

namespace xpb {

std::vector<PluginLoad> load_plugins(const std::vector<std::string>& files) {
  auto& l = plugin::loaded();
  std::lock_guard lock(l.mu);
  const std::size_t before = l.loads.size();
  for (const auto& f : files) plugin::load_one(l, f, false);
  if (const char* path = std::getenv("XPB_PLUGIN_PATH")) {
    std::string p = path;
    for (std::size_t at = 0; at <= p.size();) {
      const auto next = std::min(p.find(':', at), p.size());
      const std::string entry = p.substr(at, next - at);
      if (!entry.empty()) {
        if (plugin::is_dir(entry))
          for (const auto& f : plugin::shared_objects_in(entry)) plugin::load_one(l, f, false);
        else
          plugin::load_one(l, entry, false);
      }
      at = next + 1;
    }
  }
  for (const char* dir : {XPB_INSTALL_PLUGIN_DIR, XPB_BUILD_PLUGIN_DIR})
    for (const auto& f : plugin::shared_objects_in(dir)) plugin::load_one(l, f, true);
  return {l.loads.begin() + static_cast<std::ptrdiff_t>(before), l.loads.end()};
}

}  // namespace xpb
