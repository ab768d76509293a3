// The `photonic-sim` driver: a photonic matrix engine (DESIGN.md §4, docs/SIMULATORS.md).
// Matrix products run on its optical arrays, the transformer's other ops on its electronic
// co-processor; time and energy come from photonic_model.hpp, parameterised by a description
// (photonic.yaml built in, or --device photonic-sim,description=FILE). In functional mode the
// cpu computes the outputs of a rewritten graph: weights rounded through the DACs once (as the
// arrays hold them), and around each matmul the catalogue's dac_round (the inputs) and
// analog_readout (noise, clipping and the ADC on the outputs). Timing-only computes nothing.
#include <cmath>
#include <optional>
#include <stdexcept>

#include "photonic_executable.hpp"
#include "photonic_model.hpp"
#include "grid_rounding.hpp"
#include "sim_buffer.hpp"
#include "sim_support.hpp"
#include "xpubench/error.hpp"
#include "xpubench/quant.hpp"
#include "xpubench/registry.hpp"

namespace xpb::photonic {

const std::string& builtin_description();  // photonic.yaml, embedded by CMakeLists.txt

namespace {

sim::BuiltinDescription builtin() { return {builtin_description(), "built in: photonic_sim/photonic.yaml"}; }

// Graphs with up to this many weight elements run functional in mode=auto; larger ones
// timing-only (an 8B model simulates without its 8 GB of weights).
constexpr double kFunctionalUpTo = 1.2e9;

double weight_elements(const Graph& g) {
  double n = 0;
  for (const auto& t : g.tensors())
    if (t.role == TensorRole::weight) n += static_cast<double>(t.elements());
  return n;
}

class PhotonicDevice final : public Device {
 public:
  // `mode`: "functional", "timing-only" or "auto"; `cpu` set unless timing-only.
  PhotonicDevice(std::shared_ptr<Driver> driver, DeviceInfo info, sim::SimDescription d,
                 std::shared_ptr<const PhotonicModel> model, std::string mode, std::shared_ptr<Device> cpu)
      : driver_(std::move(driver)), info_(std::move(info)), description_(std::move(d)), model_(std::move(model)),
        mode_(std::move(mode)), cpu_(std::move(cpu)) {}

  const DeviceInfo& info() const override { return info_; }
  DeviceCaps caps() const override {
    DeviceCaps c;
    // It claims no op to conformance: in timing-only mode it computes nothing, and in
    // functional mode its outputs carry noise by design; compile() says which ops its model
    // covers, and the llm checks report the accuracy cost.
    c.dtypes = {DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0, DType::i32};
    c.max_threads = 0;
    c.models_energy = true;
    c.timing_only = !cpu_;
    c.analog_outputs = cpu_ != nullptr;
    c.memory_bytes = cpu_ ? cpu_->caps().memory_bytes : 0;
    const auto bits = [&](const char* p) { return std::to_string(static_cast<int>(description_.number(p))); };
    c.numeric_profile = {{"mode", mode_ + (mode_ == "auto" ? " (functional up to 1.2e9 weights, timing-only above)" : "")}};
    if (cpu_) {
      c.numeric_profile["weights"] = "rounded through " + bits("dac_bits") + "-bit DACs per block of array_cols";
      c.numeric_profile["matmul"] = "inputs through " + bits("dac_bits") + "-bit DACs; outputs with Gaussian noise of " +
                                    std::to_string(description_.number("output_noise")) +
                                    " full scale, clipped, through " + bits("adc_bits") + "-bit ADCs";
    }
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
    if (mode_ == "auto") return {Outcome::ok(), std::make_shared<sim::SimBuffer>(t)};  // made at compile
    if (cpu_) {
      auto b = std::make_shared<sim::SimBuffer>(t);
      if (auto o = make(*b, opts); !o.passed()) return {o, nullptr};
      return {Outcome::ok(), std::move(b)};
    }
    const bool hold = t.role == TensorRole::input || t.role == TensorRole::output;
    auto b = std::make_shared<sim::SimBuffer>(t.bytes(), hold);
    if (hold) fill_initial(t, {b->data(), t.bytes()});
    return {Outcome::ok(), std::move(b)};
  }
  void upload(Buffer& dst, std::span<const std::byte> src, std::size_t offset) override {
    sim::upload("photonic-sim", dst, src, offset);
  }
  void download(const Buffer& src, std::span<std::byte> dst, std::size_t offset) override {
    sim::download("photonic-sim", src, dst, offset);
  }
  bool can_bind(const Buffer& b) const override { return dynamic_cast<const sim::SimBuffer*>(&b) != nullptr; }

  CompileResult compile(const Graph& g, const Bindings& bound, const CompileOptions& opts) override {
    if (auto err = g.check()) return {Outcome::with(Status::invalid, *err), nullptr};
    if (auto err = check_bindings(g, bound)) return {Outcome::with(Status::invalid, *err), nullptr};
    for (const Node& n : g.nodes()) {
      if (PhotonicModel::runs(n.op)) continue;
      const std::string op(name(n.op));
      if (op_def(n.op).family == OpFamily::memory)
        return {Outcome::with(Status::unsupported,
                              "photonic-sim models no memory system of its own: memory_bandwidth_bytes_per_s is a "
                              "parameter of its description, so " + op + " would report that parameter back, not a "
                              "measurement"),
                nullptr};
      return {Outcome::with(Status::unsupported, "photonic-sim runs matrix products on its optical arrays and the "
                                                 "transformer's other ops on its co-processor; " + op + " is neither"),
              nullptr};
    }
    const bool functional = mode_ == "functional" || (mode_ == "auto" && weight_elements(g) <= kFunctionalUpTo);
    std::vector<std::shared_ptr<sim::SimBuffer>> buffers;
    for (TensorId id = 0; id < g.tensors().size(); ++id) {
      if (opts.cancel != nullptr && opts.cancel->load())
        return {Outcome::with(Status::interrupted, "stopped by the user while allocating"), nullptr};
      std::shared_ptr<sim::SimBuffer> b;
      if (auto it = bound.find(id); it != bound.end()) {
        b = std::static_pointer_cast<sim::SimBuffer>(it->second);
      } else {
        auto a = alloc(g.tensor(id), opts);
        if (!a.outcome.passed()) return {a.outcome, nullptr};
        b = std::static_pointer_cast<sim::SimBuffer>(a.buffer);
      }
      // Functional: every tensor in cpu memory; timing-only under auto: the inputs and outputs
      // the engine writes and reads (weights, caches and activations stay sizes).
      const TensorRole role = g.tensor(id).role;
      if (b->pending() && (functional || role == TensorRole::input || role == TensorRole::output))
        if (auto o = make(*b, opts); !o.passed()) return {o, nullptr};
      buffers.push_back(std::move(b));
    }
    const double cv = description_.number("clock_jitter_cv");
    const auto seed = static_cast<std::uint64_t>(description_.number("clock_jitter_seed"));
    if (!functional)
      return {Outcome::ok(), std::make_shared<PhotonicExecutable>(g, model_, std::move(buffers), nullptr, cv, seed)};
    Bindings inner;
    for (TensorId id = 0; id < buffers.size(); ++id) inner[id] = buffers[id]->inner();
    CompileOptions o = opts;
    o.threads = 0;  // host threads change how long the math takes here, never the engine's time
    auto c = cpu_->compile(analog_graph(g, buffers), inner, o);
    if (!c.outcome.passed()) return c;
    return {Outcome::ok(),
            std::make_shared<PhotonicExecutable>(g, model_, std::move(buffers), std::move(c.exe), cv, seed)};
  }

  nlohmann::json describe() const override {
    nlohmann::json j = description_.to_json();
    j["mode"] = mode_;
    j["derived"] = {{"peak_array_macs_per_s", model_->peak_macs_per_s()},
                    {"peak_array_tops", 2 * model_->peak_macs_per_s() / 1e12},
                    {"note", "derived from the parameters above (photonic_model.hpp)"}};
    return j;
  }

 private:
  // Gives a deferred buffer its cpu memory, filled as its tensor says; a weight matrix is then
  // rounded through the DACs, per block of array_cols (each tile programmed at its own scale).
  Outcome make(sim::SimBuffer& b, const CompileOptions& opts) {
    const TensorDesc t = *b.pending();
    auto a = cpu_->alloc(t, opts);
    if (!a.outcome.passed()) return a.outcome;
    if (t.role == TensorRole::weight && t.shape.size() == 2 && is_weight_dtype(t.dtype))
      sim::round_rows(t.dtype, a.buffer->host_data(), static_cast<std::size_t>(t.shape[0]),
                      static_cast<std::size_t>(t.shape[1]), static_cast<int>(description_.number("dac_bits")),
                      static_cast<std::size_t>(description_.number("array_cols")));
    b.materialize(std::move(a.buffer));
    return Outcome::ok();
  }

  // `g` with the analog ops around each matmul: x -> dac_round -> matmul -> analog_readout.
  // g's tensors keep their ids (first, in order); new ones follow. Each weight row's full scale
  // is read from the rounded weights now. Summing ceil(K / array_cols) tiles' partial sums,
  // each with its own noise, adds noise of sqrt(tiles) times one tile's and widens the range
  // tiles times: the read-out of the sum uses both (the clipping and the ADC then act on the
  // sum, an approximation of doing so per tile).
  Graph analog_graph(const Graph& g, const std::vector<std::shared_ptr<sim::SimBuffer>>& buffers) const {
    Graph out(g.name());
    out.set_identity(g.identity());
    for (const auto& d : g.dims()) out.add_dim(d.name, d.max);
    for (const auto& t : g.tensors()) out.add_tensor(t);
    const TensorId step = out.add_tensor({"analog.step", {1}, DType::u64, TensorRole::state, TensorInit::filled(0)});
    const double cols = description_.number("array_cols");
    const auto block = static_cast<std::int64_t>(description_.number("input_block"));
    const auto dac = static_cast<std::int64_t>(description_.number("dac_bits"));
    const auto adc = static_cast<std::int64_t>(description_.number("adc_bits"));
    const auto seed = static_cast<std::int64_t>(description_.number("noise_seed"));
    std::int64_t k_matmul = 0;
    for (const Node& n : g.nodes()) {
      if (n.op != Op::matmul) {
        out.add_node(n.op, n.inputs, n.outputs, n.attrs);
        continue;
      }
      const TensorDesc& x = g.tensor(n.inputs[0]);
      const TensorDesc& w = g.tensor(n.inputs[1]);
      const std::string tag = "analog." + std::to_string(k_matmul) + ".";
      TensorDesc xq{tag + "x", x.shape, DType::f32, TensorRole::activation, {}};
      xq.rows_dim = x.rows_dim;
      TensorDesc xs{tag + "x_scale", {x.shape[0]}, DType::f32, TensorRole::activation, {}};
      xs.rows_dim = x.rows_dim;
      const TensorId xq_id = out.add_tensor(std::move(xq)), xs_id = out.add_tensor(std::move(xs));
      const TensorId ws_id = out.add_tensor({tag + "w_scale", {w.shape[0]}, DType::f32, TensorRole::weight,
                                             TensorInit::values(row_scales(w, *buffers[n.inputs[1]]))});
      const double tiles = std::ceil(static_cast<double>(w.shape[1]) / cols);
      out.add_node(Op::dac_round, {n.inputs[0]}, {xq_id, xs_id}, {{"bits", dac}, {"block", block}});
      out.add_node(Op::matmul, {xq_id, n.inputs[1]}, n.outputs, n.attrs);
      out.add_node(Op::analog_readout, {n.outputs[0], xs_id, ws_id, step}, {n.outputs[0], step},
                   {{"noise", description_.number("output_noise") * std::sqrt(tiles)},
                    {"bound", description_.number("output_bound") * tiles},
                    {"bits", adc},
                    {"seed", seed * 1000003 + k_matmul}});
      ++k_matmul;
    }
    return out;
  }

  // The largest magnitude of each row of a weight matrix, as held (decoded to f32).
  static std::vector<float> row_scales(const TensorDesc& w, const sim::SimBuffer& b) {
    const auto rows = static_cast<std::size_t>(w.shape[0]), cols = static_cast<std::size_t>(w.shape[1]);
    const std::size_t row_bytes = storage_bytes(w.dtype, cols);
    std::vector<float> out(rows), row(cols);
    for (std::size_t r = 0; r < rows; ++r) {
      decode_row(w.dtype, b.data() + r * row_bytes, row.data(), cols);
      float amax = 0;
      for (float v : row) amax = std::max(amax, std::fabs(v));
      out[r] = amax;
    }
    return out;
  }

  std::shared_ptr<Driver> driver_;
  DeviceInfo info_;
  sim::SimDescription description_;
  std::shared_ptr<const PhotonicModel> model_;
  std::string mode_;
  std::shared_ptr<Device> cpu_;  // runs the math unless timing-only
};

class PhotonicDriver final : public Driver {
 public:
  std::string name() const override { return "photonic-sim"; }
  std::string description() const override {
    return "simulated photonic matrix engine: modeled time and energy (DACs, ADCs, modulators, laser, tuning, "
           "co-processor, memory) of matrix products tiled onto optical arrays; functional (cpu math with converter "
           "rounding and analog noise) or timing-only";
  }
  Enumeration enumerate() override { return sim::enumerate_simulator("photonic-sim", builtin(), parameter_specs()); }
  OpenResult open(const DeviceInfo& info, const DeviceOptions& options) override {
    auto o = sim::read_options("photonic-sim", options, builtin(), parameter_specs());
    if (!o.outcome.passed()) return {o.outcome, nullptr};
    const std::string& mode = o.mode;
    auto& d = o.description;
    auto model = std::make_shared<const PhotonicModel>(*d);
    std::shared_ptr<Device> cpu;
    if (mode != "timing-only") {
      auto opened = sim::open_cpu_device();
      if (!opened.outcome.passed()) return opened;
      cpu = std::move(opened.device);
    }
    DeviceInfo i = info;
    i.name = d->name;
    i.properties = {{"mode", mode}, {"description", d->file}};
    return {Outcome::ok(), std::make_shared<PhotonicDevice>(shared_from_this(), std::move(i), std::move(*d), std::move(model),
                                                            mode, std::move(cpu))};
  }
};

}  // namespace
}  // namespace xpb::photonic

XPB_REGISTER_DRIVER("photonic-sim", xpb::photonic::PhotonicDriver);
