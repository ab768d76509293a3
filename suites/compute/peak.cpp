// compute.peak: the device's peak arithmetic rate, from chains of dependent multiply-adds
// (the catalogue's fma_loop) on f32, f64, f16, bf16 or i8, at a vector width the device is told to use
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
// Every output element is checked bit for bit against f^chain(x) computed on the host, in the
// dtype's own arithmetic (graph.hpp says why every device must agree exactly; fma_loop_graph).
#include <algorithm>
#include <cstring>

#include "fma_loop_graph.hpp"
#include "workload_common.hpp"
#include "xpubench/error.hpp"
#include "xpubench/quant.hpp"
#include "xpubench/registry.hpp"

namespace xpb::compute {
namespace {

constexpr std::int64_t kMaxChain = (std::int64_t{1} << 31) - 1;  // fma_loop's bound
constexpr std::int64_t kMaxElements = std::int64_t{1} << 40;
constexpr std::uint64_t kInputSeed = 7;

class Peak final : public Workload {
 public:
  std::string name() const override { return "compute.peak"; }
  std::string description() const override {
    return "peak arithmetic rate: chains of dependent multiply-adds (fma_loop) per dtype and vector width, "
           "GFLOPS (1e9 flop/s) or GIOPS for i8, a multiply-add counted as 2 operations";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"dtype", "element type: f32, f64, f16, bf16 or i8 (where the device has native arithmetic for it)", "f32",
         {"f32", "f64", "f16", "bf16", "i8"}},
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
    fma_ = fma_loop_graph(dtype_, n_, chain_, width_);
    Stage stage;
    stage.graph = fma_.graph;
    stage.options.threads = threads_;
    BuildResult r;
    r.stages.push_back(std::move(stage));
    return r;
  }

  nlohmann::json verify(std::size_t, Executable& exe, RunContext&) override { return check_fma_loop(fma_, exe); }

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
  FmaLoopGraph fma_;
};

}  // namespace
}  // namespace xpb::compute

XPB_REGISTER_WORKLOAD("compute.peak", xpb::compute::Peak);
