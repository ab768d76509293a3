// The `photonic-sim` driver: a photonic matrix engine (DESIGN.md §4, docs/SIMULATORS.md).
// Matrix products run on its optical arrays, the transformer's other ops on its electronic
// co-processor; time and energy come from photonic_model.hpp, parameterised by a description
// (photonic.yaml built in, or --device photonic-sim,description=FILE). Timing-only: the
// functional mode (outputs computed with DAC/ADC rounding and analog noise) is not built yet,
// and asking for it is refused with that reason.
#include <cstring>
#include <optional>
#include <stdexcept>

#include "photonic_executable.hpp"
#include "photonic_model.hpp"
#include "sim_buffer.hpp"
#include "xpubench/error.hpp"
#include "xpubench/registry.hpp"

namespace xpb::photonic {

const std::string& builtin_description();  // photonic.yaml, embedded by CMakeLists.txt

namespace {

bool is_memory_op(Op op) { return op_def(op).family == OpFamily::memory; }

class PhotonicDevice final : public Device {
 public:
  PhotonicDevice(std::shared_ptr<Driver> driver, DeviceInfo info, sim::SimDescription d,
                 std::shared_ptr<const PhotonicModel> model)
      : driver_(std::move(driver)), info_(std::move(info)), description_(std::move(d)), model_(std::move(model)) {}

  const DeviceInfo& info() const override { return info_; }
  DeviceCaps caps() const override {
    DeviceCaps c;
    // Timing-only: it computes nothing, so it claims no op to conformance (c.ops stays empty);
    // compile() says which ops its model covers.
    c.dtypes = {DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0, DType::i32};
    c.max_threads = 0;
    c.models_energy = true;
    c.timing_only = true;
    c.numeric_profile = {{"mode", "timing-only: no outputs are computed (functional mode is not built yet)"}};
    return c;
  }
  ClockInfo clock() const override {
    ClockInfo c;
    c.kind = ClockKind::simulated;
    c.resolution_s = description_.number("clock_resolution_s");
    c.deterministic = true;
    return c;
  }
  AllocResult alloc(const TensorDesc& t, const CompileOptions&) override {
    const bool hold = t.role == TensorRole::input || t.role == TensorRole::output;
    auto b = std::make_shared<sim::SimBuffer>(t.bytes(), hold);
    if (hold) fill_initial(t, {b->data(), t.bytes()});
    return {Outcome::ok(), std::move(b)};
  }
  void upload(Buffer& dst, std::span<const std::byte> src, std::size_t offset) override {
    auto& b = mine(dst);
    check_range(b.bytes(), offset, src.size());
    if (b.data() != nullptr && !src.empty()) std::memcpy(b.data() + offset, src.data(), src.size());
  }
  void download(const Buffer& src, std::span<std::byte> dst, std::size_t offset) override {
    const auto& b = mine(src);
    check_range(b.bytes(), offset, dst.size());
    if (b.data() == nullptr) throw std::invalid_argument("photonic-sim in timing-only mode holds no contents to download");
    if (!dst.empty()) std::memcpy(dst.data(), b.data() + offset, dst.size());
  }
  bool can_bind(const Buffer& b) const override { return dynamic_cast<const sim::SimBuffer*>(&b) != nullptr; }

  CompileResult compile(const Graph& g, const Bindings& bound, const CompileOptions& opts) override {
    if (auto err = g.check()) return {Outcome::with(Status::invalid, *err), nullptr};
    if (auto err = check_bindings(g, bound)) return {Outcome::with(Status::invalid, *err), nullptr};
    for (const Node& n : g.nodes()) {
      if (PhotonicModel::runs(n.op)) continue;
      const std::string op(name(n.op));
      if (is_memory_op(n.op))
        return {Outcome::with(Status::unsupported,
                              "photonic-sim models no memory system of its own: memory_bandwidth_bytes_per_s is a "
                              "parameter of its description, so " + op + " would report that parameter back, not a "
                              "measurement"),
                nullptr};
      return {Outcome::with(Status::unsupported, "photonic-sim runs matrix products on its optical arrays and the "
                                                 "transformer's other ops on its co-processor; " + op + " is neither"),
              nullptr};
    }
    std::vector<std::shared_ptr<sim::SimBuffer>> buffers;
    for (TensorId id = 0; id < g.tensors().size(); ++id) {
      if (auto it = bound.find(id); it != bound.end()) {
        buffers.push_back(std::static_pointer_cast<sim::SimBuffer>(it->second));
        continue;
      }
      if (opts.cancel != nullptr && opts.cancel->load())
        return {Outcome::with(Status::interrupted, "stopped by the user while allocating"), nullptr};
      buffers.push_back(std::static_pointer_cast<sim::SimBuffer>(alloc(g.tensor(id), opts).buffer));
    }
    return {Outcome::ok(), std::make_shared<PhotonicExecutable>(g, model_, std::move(buffers))};
  }

  nlohmann::json describe() const override {
    nlohmann::json j = description_.to_json();
    j["mode"] = "timing-only";
    j["derived"] = {{"peak_array_macs_per_s", model_->peak_macs_per_s()},
                    {"peak_array_tops", 2 * model_->peak_macs_per_s() / 1e12},
                    {"note", "derived from the parameters above (photonic_model.hpp)"}};
    return j;
  }

 private:
  sim::SimBuffer& mine(const Buffer& b) const {
    auto* s = dynamic_cast<const sim::SimBuffer*>(&b);
    if (s == nullptr) throw std::invalid_argument("not a buffer of photonic-sim");
    return const_cast<sim::SimBuffer&>(*s);
  }

  std::shared_ptr<Driver> driver_;
  DeviceInfo info_;
  sim::SimDescription description_;
  std::shared_ptr<const PhotonicModel> model_;
};

class PhotonicDriver final : public Driver {
 public:
  std::string name() const override { return "photonic-sim"; }
  std::string description() const override {
    return "simulated photonic matrix engine: modeled time and energy (DACs, ADCs, modulators, laser, tuning, "
           "co-processor, memory) of matrix products tiled onto optical arrays; timing-only";
  }
  Enumeration enumerate() override {
    DeviceInfo d;
    d.driver = "photonic-sim";
    d.kind = "simulator";
    d.simulated = true;
    try {
      d.name = sim::parse_description(builtin_description(), "built in: photonic_sim/photonic.yaml", parameter_specs()).name;
    } catch (const std::exception& e) {
      return {{}, std::string("its built-in description does not load: ") + e.what()};
    }
    return {{d}, ""};
  }
  OpenResult open(const DeviceInfo& info, const DeviceOptions& options) override {
    if (auto why = unknown_options("photonic-sim", options, {"mode", "description"}); !why.empty())
      return {Outcome::with(Status::invalid, why), nullptr};
    const std::string mode = options.count("mode") ? options.at("mode") : "auto";
    if (mode == "functional")
      return {Outcome::with(Status::unsupported, "photonic-sim's functional mode (outputs with DAC/ADC rounding and "
                                                 "analog noise) is not built yet; mode=timing-only (the default) models "
                                                 "time and energy"),
              nullptr};
    if (mode != "auto" && mode != "timing-only")
      return {Outcome::with(Status::invalid, "photonic-sim option mode expects auto or timing-only, got '" + mode + "'"),
              nullptr};
    std::optional<sim::SimDescription> d;
    try {
      d = options.count("description")
              ? sim::load_description(options.at("description"), parameter_specs())
              : sim::parse_description(builtin_description(), "built in: photonic_sim/photonic.yaml", parameter_specs());
    } catch (const InputError& e) {
      return {Outcome::with(Status::invalid, e.what()), nullptr};
    }
    auto model = std::make_shared<const PhotonicModel>(*d);
    DeviceInfo i = info;
    i.name = d->name;
    i.properties = {{"mode", "timing-only"}, {"description", d->file}};
    return {Outcome::ok(), std::make_shared<PhotonicDevice>(shared_from_this(), std::move(i), std::move(*d), std::move(model))};
  }
};

}  // namespace
}  // namespace xpb::photonic

XPB_REGISTER_DRIVER("photonic-sim", xpb::photonic::PhotonicDriver);
