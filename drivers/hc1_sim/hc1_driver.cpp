// The `hc1-sim` driver: a Taalas-HC1-style chip that hardwires one Llama model (DESIGN.md §4,
// docs/SIMULATORS.md). It accepts only graphs of that model, by their identity; its time and
// energy come from the model in hc1_model.hpp, parameterised by a description (hc1.yaml built
// in, or --device hc1-sim,description=FILE); in functional mode the cpu driver computes the
// outputs on weights rounded to the chip's bits, in timing-only mode nothing is computed.
#include <stdexcept>

#include "grid_rounding.hpp"
#include "sim_buffer.hpp"
#include "sim_support.hpp"
#include "hc1_executable.hpp"
#include "hc1_model.hpp"
#include "xpubench/error.hpp"
#include "xpubench/quant.hpp"
#include "xpubench/registry.hpp"

namespace xpb::hc1 {

const std::string& builtin_description();  // hc1.yaml, embedded by CMakeLists.txt

namespace {

sim::BuiltinDescription builtin() { return {builtin_description(), "built in: hc1_sim/hc1.yaml"}; }

// Models up to this many parameters run functional by default (mode=auto); larger ones
// timing-only, so an 8B model simulates in a blink without 16 GB of weights.
constexpr std::uint64_t kFunctionalUpTo = 1'200'000'000;

// The key=value words of a ModelIdentity's shape ("dim=4096 layers=32 ... tied").
std::map<std::string, std::string> shape_words(const std::string& shape) {
  std::map<std::string, std::string> out;
  std::size_t at = 0;
  while (at < shape.size()) {
    std::size_t end = shape.find(' ', at);
    if (end == std::string::npos) end = shape.size();
    const std::string w = shape.substr(at, end - at);
    if (const auto eq = w.find('='); eq != std::string::npos) out[w.substr(0, eq)] = w.substr(eq + 1);
    else if (!w.empty()) out[w] = "yes";
    at = end + 1;
  }
  return out;
}

class Hc1Device final : public Device {
 public:
  Hc1Device(std::shared_ptr<Driver> driver, DeviceInfo info, sim::SimDescription d, std::shared_ptr<const Hc1Model> model,
            std::shared_ptr<Device> cpu)
      : driver_(std::move(driver)), info_(std::move(info)), description_(std::move(d)), model_(std::move(model)),
        cpu_(std::move(cpu)) {}

  const DeviceInfo& info() const override { return info_; }
  DeviceCaps caps() const override {
    DeviceCaps c;
    // It runs its one model's graph as a whole: no op on its own (conform's op cases are
    // refused), the weight dtypes a graph of it may carry.
    c.dtypes = {DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0, DType::i32};
    c.max_threads = 0;
    c.memory_bytes = cpu_ ? cpu_->caps().memory_bytes : 0;
    c.models_energy = true;
    c.timing_only = !cpu_;
    c.alters_weights = cpu_ != nullptr;
    c.numeric_profile = {
        {"weights", "rounded to " + std::to_string(static_cast<int>(description_.number("weight_bits"))) + " bits (" +
                        std::to_string(static_cast<int>(description_.number("weight_bits_wide"))) + " for " +
                        join(description_.names("wide_tensors")) + "), symmetric, one scale per block of " +
                        std::to_string(model_->weight_block()) + " (the chip's ROM)"},
        {"accumulation", cpu_ ? "f32 (the cpu driver's kernels)" : "none: timing-only mode computes no outputs"}};
    return c;
  }
  ClockInfo clock() const override {
    ClockInfo c;
    c.kind = ClockKind::simulated;
    c.resolution_s = description_.number("clock_resolution_s");
    c.deterministic = description_.number("clock_jitter_cv") == 0;
    return c;
  }

  AllocResult alloc(const TensorDesc& t, const CompileOptions& opts) override {
    if (!cpu_) {
      const bool hold = t.role == TensorRole::input || t.role == TensorRole::output;
      auto b = std::make_shared<sim::SimBuffer>(t.bytes(), hold);
      if (hold) fill_initial(t, {b->data(), t.bytes()});
      return {Outcome::ok(), std::move(b)};
    }
    auto a = cpu_->alloc(t, opts);
    if (!a.outcome.passed()) return a;
    // The chip's ROM holds every weight matrix at its bits.
    if (t.role == TensorRole::weight && t.shape.size() == 2 && is_weight_dtype(t.dtype)) {
      const auto cols = static_cast<std::size_t>(t.shape[1]);
      sim::round_rows(t.dtype, a.buffer->host_data(), static_cast<std::size_t>(t.shape[0]), cols, model_->weight_bits(t.name),
                      static_cast<std::size_t>(model_->weight_block()));
    }
    return {Outcome::ok(), std::make_shared<sim::SimBuffer>(std::move(a.buffer))};
  }
  void upload(Buffer& dst, std::span<const std::byte> src, std::size_t offset) override {
    sim::upload("hc1-sim", dst, src, offset);
  }
  void download(const Buffer& src, std::span<std::byte> dst, std::size_t offset) override {
    sim::download("hc1-sim", src, dst, offset);
  }
  bool can_bind(const Buffer& b) const override { return dynamic_cast<const sim::SimBuffer*>(&b) != nullptr; }

  CompileResult compile(const Graph& g, const Bindings& bound, const CompileOptions& opts) override {
    if (auto err = g.check()) return {Outcome::with(Status::invalid, *err), nullptr};
    if (auto err = check_bindings(g, bound)) return {Outcome::with(Status::invalid, *err), nullptr};
    if (auto why = refuses(g); !why.empty()) return {Outcome::with(Status::unsupported, why), nullptr};
    TensorId positions = 0, sequences = 0;
    std::optional<DimId> rows;
    std::uint64_t kv_positions = 0;
    for (TensorId id = 0; id < g.tensors().size(); ++id) {
      const auto& t = g.tensor(id);
      if (t.role == TensorRole::input && t.name == "positions") positions = id;
      if (t.role == TensorRole::input && t.name == "sequences") sequences = id;
      if (t.role == TensorRole::state && t.name.ends_with("k_cache") && t.shape.size() == 3)
        kv_positions = static_cast<std::uint64_t>(t.shape[0] * t.shape[1]);
    }
    for (DimId d = 0; d < g.dims().size(); ++d)
      if (g.dims()[d].name == "rows") rows = d;
    if (!rows || g.tensor(positions).name != "positions" || g.tensor(sequences).name != "sequences")
      return {Outcome::with(Status::unsupported, "hc1-sim runs a decoder graph with inputs 'positions' and 'sequences' "
                                                 "and a dynamic dim 'rows'; graph '" + g.name() + "' lacks them"),
              nullptr};
    if (kv_positions > model_->kv_capacity_positions())
      return {Outcome::with(Status::unsupported,
                            "the KV cache of " + std::to_string(kv_positions) + " positions (sequences x context) needs " +
                                std::to_string(static_cast<std::uint64_t>(static_cast<double>(kv_positions) * model_->kv_bytes_per_position()) >> 20) +
                                " MiB; the chip's KV SRAM holds " +
                                std::to_string(static_cast<std::uint64_t>(model_->kv_sram_bytes()) >> 20) + " MiB (" +
                                std::to_string(model_->kv_capacity_positions()) + " positions; kv_sram_bytes, an assumption)"),
              nullptr};
    std::vector<std::shared_ptr<sim::SimBuffer>> buffers;
    Bindings inner;
    for (TensorId id = 0; id < g.tensors().size(); ++id) {
      std::shared_ptr<sim::SimBuffer> b;
      if (auto it = bound.find(id); it != bound.end()) {
        b = std::static_pointer_cast<sim::SimBuffer>(it->second);
      } else {
        if (opts.cancel != nullptr && opts.cancel->load())
          return {Outcome::with(Status::interrupted, "stopped by the user while allocating"), nullptr};
        auto a = alloc(g.tensor(id), opts);
        if (!a.outcome.passed()) return {a.outcome, nullptr};
        b = std::static_pointer_cast<sim::SimBuffer>(a.buffer);
      }
      if (cpu_) inner[id] = b->inner();
      buffers.push_back(std::move(b));
    }
    std::shared_ptr<Executable> functional;
    if (cpu_) {
      CompileOptions o = opts;
      o.threads = 0;  // host threads change how long the math takes here, never the chip's time
      auto c = cpu_->compile(g, inner, o);
      if (!c.outcome.passed()) return c;
      functional = std::move(c.exe);
    }
    return {Outcome::ok(),
            std::make_shared<Hc1Executable>(g, model_, std::move(buffers), std::move(functional), positions, sequences, *rows,
                                            description_.number("clock_jitter_cv"),
                                            static_cast<std::uint64_t>(description_.number("clock_jitter_seed")))};
  }

  nlohmann::json describe() const override {
    nlohmann::json j = description_.to_json();
    j["mode"] = cpu_ ? "functional" : "timing-only";
    const double per_card = description_.number("server_power_w") / description_.number("server_cards");
    j["derived"] = {
        {"model_parameters", model_->model_parameters()},
        {"token_seconds_at_context_0", model_->token_seconds(0)},
        {"token_seconds_per_context_position", model_->token_seconds(1) - model_->token_seconds(0)},
        {"kv_bytes_per_position", model_->kv_bytes_per_position()},
        {"kv_capacity_positions", model_->kv_capacity_positions()},
        {"server_watts_per_card", per_card},
        {"server_joules_per_card_joule", per_card / description_.number("card_power_w")},
        {"note", "derived from the parameters above (hc1_model.hpp); a server-level J/token is the card's "
                 "times server_joules_per_card_joule (the hosts' and fans' share)"}};
    return j;
  }

 private:
  static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  }
  // Why the chip cannot run `g`, or "": it runs the model it hardwires and nothing else.
  std::string refuses(const Graph& g) const {
    const std::string mine = model_->model_name() + " (llama " + model_->model_shape() + ")";
    const auto& id = g.identity();
    if (id.empty()) return "this HC1 hardwires " + mine + "; got graph '" + g.name() + "', which is no model";
    if (id.architecture != "llama" || shape_words(id.shape) != shape_words(model_->model_shape()))
      return "this HC1 hardwires " + mine + "; got " + id.architecture + " " + id.shape;
    return "";
  }

  std::shared_ptr<Driver> driver_;
  DeviceInfo info_;
  sim::SimDescription description_;
  std::shared_ptr<const Hc1Model> model_;
  std::shared_ptr<Device> cpu_;  // functional mode: runs the math; null in timing-only mode
};

class Hc1Driver final : public Driver {
 public:
  std::string name() const override { return "hc1-sim"; }
  std::string description() const override {
    return "simulated Taalas-HC1-style chip hardwiring one Llama model: modeled time and energy, "
           "functional (cpu math on its 3/6-bit weights) or timing-only";
  }
  Enumeration enumerate() override { return sim::enumerate_simulator("hc1-sim", builtin(), parameter_specs()); }
  OpenResult open(const DeviceInfo& info, const DeviceOptions& options) override {
    auto o = sim::read_options("hc1-sim", options, builtin(), parameter_specs());
    if (!o.outcome.passed()) return {o.outcome, nullptr};
    const std::string& mode = o.mode;
    auto& d = o.description;
    std::shared_ptr<const Hc1Model> model;
    try {
      model = std::make_shared<Hc1Model>(*d);
    } catch (const InputError& e) {
      return {Outcome::with(Status::invalid, e.what()), nullptr};
    }
    const bool functional = mode == "functional" || (mode == "auto" && model->model_parameters() <= kFunctionalUpTo);
    std::shared_ptr<Device> cpu;
    if (functional) {
      auto opened = sim::open_cpu_device();
      if (!opened.outcome.passed()) return opened;
      cpu = std::move(opened.device);
    }
    DeviceInfo i = info;
    i.name = d->name;
    i.properties = {{"hardwired_model", model->model_name() + " (llama " + model->model_shape() + ")"},
                    {"mode", functional ? "functional" : "timing-only"},
                    {"description", d->file}};
    return {Outcome::ok(), std::make_shared<Hc1Device>(shared_from_this(), std::move(i), std::move(*d), std::move(model),
                                                       std::move(cpu))};
  }
};

}  // namespace
}  // namespace xpb::hc1

XPB_REGISTER_DRIVER("hc1-sim", xpb::hc1::Hc1Driver);
