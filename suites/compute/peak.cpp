// compute.peak: the device's peak arithmetic rate, from chains of dependent multiply-adds
// (the catalogue's fma_loop) on f32, f64, f16 or i8, at a vector width the device is told to use
// (OpenCL's floatN) or picks itself. GFLOPS (1e9 floating-point operations per second) for
// floats, GIOPS for i8, with the operation count of the op cost model: a multiply-add is 2
// operations, so one run does 2 x chain x elements.
//
// Defaults: 2^21 elements, chains of 2048 steps. Each run reads and writes each element once
// (8 B an element in f32) for 4096 operations on it: 512 operations per byte, beyond the
// balance of any machine, so the figure is the arithmetic's, not the memory's. 2^21 elements
// make 2^18 work-items of 8 scalar chains on a GPU that prefers scalars (a full wave of the
// largest GPUs, each item with 8 independent chains to hide the FMA latency) and, in f32,
// 8 + 8 MiB on a CPU, which stay in a server's last-level cache between runs.
//
// Every output element is checked bit for bit against f^chain(x) computed here, on the host,
// in the dtype's own arithmetic (graph.hpp says why every device must agree exactly). The
// inputs repeat a table of distinct values (1024 seeded values in [-1, 1) for floats, every
// byte for i8), so the expected values cost one chain per table entry.
#include <algorithm>
#include <cstring>

#include "workload_common.hpp"
#include "xpubench/error.hpp"
#include "xpubench/quant.hpp"
#include "xpubench/registry.hpp"

namespace xpb::compute {
namespace {

constexpr std::int64_t kMaxChain = (std::int64_t{1} << 31) - 1;  // fma_loop's bound
constexpr std::int64_t kMaxElements = std::int64_t{1} << 40;
constexpr std::uint64_t kInputSeed = 7;

// One step of fma_loop in `t`'s arithmetic on the value's bits (graph.hpp).
std::uint64_t step_bits(DType t, std::uint64_t bits) {
  switch (t) {
    case DType::f64: {
      double v;
      std::memcpy(&v, &bits, 8);
      v = v * 0.5 + 0.5;
      std::memcpy(&bits, &v, 8);
      return bits;
    }
    case DType::f32: {
      float v;
      auto b = static_cast<std::uint32_t>(bits);
      std::memcpy(&v, &b, 4);
      v = v * 0.5f + 0.5f;
      std::memcpy(&b, &v, 4);
      return b;
    }
    // In f32, then rounded to f16 once: the exact result's rounding (drivers/ref says why).
    case DType::f16: return f32_to_f16(f16_to_f32(static_cast<std::uint16_t>(bits)) * 0.5f + 0.5f);
    default: return (bits * 5 + 1) & 255;  // i8 as its unsigned byte
  }
}

class Peak final : public Workload {
 public:
  std::string name() const override { return "compute.peak"; }
  std::string description() const override {
    return "peak arithmetic rate: chains of dependent multiply-adds (fma_loop) per dtype and vector width, "
           "GFLOPS (1e9 flop/s) or GIOPS for i8, a multiply-add counted as 2 operations";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"dtype", "element type: f32, f64, f16 or i8 (where the device has native arithmetic for it)", "f32",
         {"f32", "f64", "f16", "i8"}},
        {"vector_width", "elements per vector a work-item computes (1, 2, 4, 8, 16) on devices that take one, or "
                         "\"auto\" (the device's choice: OpenCL's preferred width, the cpu's SIMD)",
         "auto", {"auto", "1", "2", "4", "8", "16"}},
        {"threads", "thread count, \"all\", or \"scaling\" (1, 2, 4, ... all)", "all", {}},
        {"chain", "dependent multiply-add steps per element and run", 2048, {}},
        {"elements", "independent chains (elements of the array)", 2097152, {}},
    };
  }

  std::vector<nlohmann::json> expand(const nlohmann::json& p, const SystemInfo& system) const override {
    auto base = p;
    base["chain"] = whole_number(p["chain"], "chain", 1, kMaxChain);
    base["elements"] = whole_number(p["elements"], "elements", 1, kMaxElements);
    if (const int w = vector_width_param(p["vector_width"], "vector_width"); w != 0) base["vector_width"] = w;
    std::vector<nlohmann::json> out;
    for (int t : thread_counts(p["threads"], system, "threads")) {
      auto q = base;
      q["threads"] = t;
      out.push_back(std::move(q));
    }
    return out;
  }

  Outcome check(const nlohmann::json& p, RunContext& ctx) override {
    dtype_ = *parse_dtype(p["dtype"].get<std::string>());
    chain_ = p["chain"].get<std::int64_t>();
    n_ = p["elements"].get<std::int64_t>();
    threads_ = p["threads"].get<int>();
    width_ = p["vector_width"].is_number() ? p["vector_width"].get<int>() : 0;
    const auto caps = ctx.device.caps();
    if (!caps.claims(Op::fma_loop, dtype_))
      return Outcome::with(Status::unsupported, "the device does not run fma_loop on " + std::string(xpb::name(dtype_)) +
                                                    ": it has no native " + std::string(xpb::name(dtype_)) +
                                                    " multiply-add (or lacks the extension for it)");
    if (auto o = vector_width_fits(ctx, width_); !o.passed()) return o;
    if (auto o = threads_fit(ctx, threads_); !o.passed()) return o;
    return memory_fits(ctx, 2 * array_bytes());
  }

  BuildResult build(const nlohmann::json&, RunContext&) override {
    // The table of distinct inputs and each one's expected output.
    const std::size_t distinct = dtype_ == DType::i8 ? 256 : 1024;
    const std::size_t elem = traits(dtype_).block_bytes;
    inputs_.assign(distinct, 0);
    expected_.assign(distinct, 0);
    for (std::size_t k = 0; k < distinct; ++k) {
      const float v = synthetic_value(kInputSeed, k, 1.0f);
      std::uint64_t bits = 0;
      if (dtype_ == DType::f64) {
        const double d = v;
        std::memcpy(&bits, &d, 8);
      } else if (dtype_ == DType::f32) {
        std::uint32_t b;
        std::memcpy(&b, &v, 4);
        bits = b;
      } else if (dtype_ == DType::f16) {
        bits = f32_to_f16(v);
      } else {
        bits = k;
      }
      inputs_[k] = bits;
      for (std::int64_t s = 0; s < chain_; ++s) bits = step_bits(dtype_, bits);
      expected_[k] = bits;
    }
    std::vector<std::byte> x(array_bytes());
    for (std::size_t i = 0; i < static_cast<std::size_t>(n_); ++i)
      std::memcpy(x.data() + i * elem, &inputs_[i % distinct], elem);  // little-endian: the low bytes

    Stage stage;
    Graph& g = stage.graph;
    g.set_name("compute.peak " + std::string(xpb::name(dtype_)));
    const auto in = g.add_tensor({"x", {n_}, dtype_, TensorRole::input, TensorInit::values(std::move(x))});
    out_ = g.add_tensor({"y", {n_}, dtype_, TensorRole::output, {}});
    Attrs attrs{{"chain", chain_}};
    if (width_ != 0) attrs.set("vector_width", std::int64_t{width_});
    g.add_node(Op::fma_loop, {in}, {out_}, attrs);
    stage.options.threads = threads_;
    graph_ = g;
    BuildResult r;
    r.stages.push_back(std::move(stage));
    return r;
  }

  nlohmann::json verify(std::size_t, Executable& exe, RunContext&) override {
    const std::size_t elem = traits(dtype_).block_bytes;
    std::vector<std::byte> y(array_bytes());
    exe.read(out_, y);
    std::uint64_t wrong = 0;
    nlohmann::json first;
    for (std::size_t i = 0; i < static_cast<std::size_t>(n_); ++i) {
      std::uint64_t got = 0;
      std::memcpy(&got, y.data() + i * elem, elem);
      const std::uint64_t want = expected_[i % expected_.size()];
      if (got == want) continue;
      if (wrong == 0)
        first = {{"index", i}, {"input_bits", inputs_[i % inputs_.size()]}, {"expected_bits", want}, {"got_bits", got}};
      ++wrong;
    }
    nlohmann::json j = {
        {"status", wrong == 0 ? "passed" : "failed"},
        {"method", "every output element compared bit for bit with f^chain(x) computed on the host in the dtype's "
                   "arithmetic (float chains settle on the fixed point 1 after about as many steps as the dtype has "
                   "mantissa bits; the i8 chain has the full period 256 and never settles)"},
        {"elements_wrong", wrong}};
    if (wrong != 0) {
      j["first_mismatch"] = first;
      j["reason"] = std::to_string(wrong) + " output elements differ from the expected value";
    }
    return j;
  }

  void metrics(const std::vector<Measurement>& m, BenchmarkRecord& record, RunContext&) override {
    const double ops = m[0].work_per_iteration.flops;
    const bool integer = dtype_ == DType::i8;
    auto metric = Metric::from(m[0], "throughput", integer ? "GIOPS" : "GFLOPS", Direction::higher_is_better,
                               [ops](double s) { return ops / s / 1e9; });
    metric.note = std::string("a multiply-add counts 2 ") + (integer ? "integer" : "floating-point") +
                  " operations: 2 x chain x elements per run (the op cost model)";
    record.metrics.push_back(std::move(metric));
    record.details = {{"elements", n_},
                      {"chain", chain_},
                      {"operations_per_run", ops},
                      {"bytes_per_run", 2 * array_bytes()},
                      {"vector_width_requested", width_ == 0 ? nlohmann::json("auto") : nlohmann::json(width_)}};
  }

 private:
  std::uint64_t array_bytes() const { return static_cast<std::uint64_t>(n_) * traits(dtype_).block_bytes; }

  DType dtype_ = DType::f32;
  std::int64_t chain_ = 1;
  std::int64_t n_ = 0;
  int threads_ = 1;
  int width_ = 0;  // 0: the device's choice
  std::vector<std::uint64_t> inputs_, expected_;  // per distinct input: its bits, and f^chain's
  Graph graph_;
  TensorId out_ = 0;
};

}  // namespace
}  // namespace xpb::compute

XPB_REGISTER_WORKLOAD("compute.peak", xpb::compute::Peak);
