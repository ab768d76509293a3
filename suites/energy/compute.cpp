// energy.compute: energy per operation of the device's arithmetic, from countable work whose
// operation count the op cost model gives exactly:
//   - fma_loop (graph.hpp): chains of dependent multiply-adds per element in f32, f64, f16,
//     bf16 or i8, at the compute limit (compute.peak's kernel): pJ/FLOP (pJ/op for i8);
//   - int8_dot_loop: chains of 4-way 8-bit dot products (VNNI's vpdpbusd on a CPU): pJ/op and
//     pJ/MAC of the 8-bit multipliers;
//   - matmul: x f32 [rows, K] times W [N, K] in the weights' dtype, the product every device
//     runs (photonic-sim's arrays included): pJ/MAC, conversions and the weights' reads in it.
// Each benchmark measures `points` sizes (the chain, or the rows, times 1, 2, ... points) with the
// device's sensor or energy model, and fits joules per run against operations per run
// (energy_fit.hpp): the slope is the figure, what a run costs besides its work the intercept.
// Without a sensor or a model the benchmark is skipped with the sensor's reason.
#include <algorithm>
#include <cstring>

#include "energy_fit.hpp"
#include "fma_loop_graph.hpp"
#include "workload_common.hpp"
#include "xpubench/conformance.hpp"
#include "xpubench/error.hpp"
#include "xpubench/op_catalogue.hpp"
#include "xpubench/quant.hpp"
#include "xpubench/registry.hpp"

namespace xpb::energy {
namespace {

constexpr std::int64_t kMaxElements = std::int64_t{1} << 40;
constexpr std::int64_t kCheckRows = 8;  // rows of the small matmul checked against ref

class Compute final : public Workload {
 public:
  std::string name() const override { return "energy.compute"; }
  std::string description() const override {
    return "energy per operation: fma_loop chains (pJ/FLOP) or a matmul (pJ/MAC) at several sizes under the "
           "device's sensor or model, the slope of energy against operations";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"kernel", "fma_loop (dependent multiply-adds, pJ/FLOP), int8_dot_loop (8-bit dot products, pJ/op) or matmul "
                   "(x f32 times W, pJ/MAC)",
         "fma_loop", {"fma_loop", "int8_dot_loop", "matmul"}},
        {"dtype", "fma_loop: f32, f64, f16, bf16 or i8; matmul: the weights' dtype (" + weight_dtype_list() +
                      "); int8_dot_loop: i8 (whatever is given)",
         "f32", {}},
        {"threads", "thread count or \"all\"", "all", {}},
        {"points", "sizes fitted: 1, 2, ... points times the base (chain, or rows); at least 3", 4, {}},
        {"chain", "fma_loop, int8_dot_loop: dependent steps per element at scale 1", 512, {}},
        {"elements", "fma_loop, int8_dot_loop: independent chains (array elements)", 1048576, {}},
        {"rows", "matmul: rows of x at scale 1", 64, {}},
        {"k", "matmul: the shared dimension", 2048, {}},
        {"n", "matmul: rows of W (outputs per row of x)", 2048, {}},
    };
  }

  std::vector<nlohmann::json> expand(const nlohmann::json& p, const SystemInfo& system) const override {
    auto base = p;
    const auto kernel = p["kernel"].get<std::string>();
    if (kernel == "int8_dot_loop") base["dtype"] = "i8";  // its one dtype, so its records compare
    const auto dtype = parse_dtype(base["dtype"].get<std::string>());
    if (!dtype) throw InputError("unknown dtype '" + base["dtype"].get<std::string>() + "'");
    const auto& fma_types = op_def(Op::fma_loop).dtypes;
    if (kernel == "fma_loop" && std::find(fma_types.begin(), fma_types.end(), *dtype) == fma_types.end())
      throw InputError("fma_loop is defined on f64, f32, f16, bf16 and i8, not " + p["dtype"].get<std::string>());
    if (kernel == "matmul" && !is_weight_dtype(*dtype))
      throw InputError("matmul weights are " + weight_dtype_list() + ", not " + p["dtype"].get<std::string>());
    base["points"] = whole_number(p["points"], "points", 3, 64);
    base["chain"] = whole_number(p["chain"], "chain", 1, (std::int64_t{1} << 31) / 64);
    base["elements"] = whole_number(p["elements"], "elements", 1, kMaxElements);
    base["rows"] = whole_number(p["rows"], "rows", 1, std::int64_t{1} << 24);
    base["k"] = whole_number(p["k"], "k", 1, std::int64_t{1} << 24);
    base["n"] = whole_number(p["n"], "n", 1, std::int64_t{1} << 24);
    // Only the parameters of the kernel asked for, so records of one kernel compare.
    for (const char* key : kernel != "matmul" ? std::vector<const char*>{"rows", "k", "n"}
                                              : std::vector<const char*>{"chain", "elements"})
      base.erase(key);
    std::vector<nlohmann::json> out;
    for (int t : thread_counts(p["threads"], system, "threads")) {
      auto q = base;
      q["threads"] = t;
      out.push_back(std::move(q));
    }
    return out;
  }

  Outcome check(const nlohmann::json& p, RunContext& ctx) override {
    matmul_ = p["kernel"] == "matmul";
    int8_ = p["kernel"] == "int8_dot_loop";
    dtype_ = *parse_dtype(p["dtype"].get<std::string>());
    threads_ = p["threads"].get<int>();
    scales_.clear();
    for (std::int64_t s = 1; s <= p["points"].get<std::int64_t>(); ++s) scales_.push_back(s);
    const Op op = matmul_ ? Op::matmul : int8_ ? Op::int8_dot_loop : Op::fma_loop;
    if (auto o = op_offered(ctx, op, dtype_); !o.passed()) return o;
    if (auto o = threads_fit(ctx, threads_); !o.passed()) return o;
    if (auto o = energy_available(ctx); !o.passed()) return o;
    if (matmul_) {
      rows_ = p["rows"].get<std::int64_t>();
      k_ = p["k"].get<std::int64_t>();
      n_ = p["n"].get<std::int64_t>();
      const auto block = static_cast<std::int64_t>(traits(dtype_).block_elements);
      if (k_ % block != 0)
        return Outcome::with(Status::invalid, "k (" + std::to_string(k_) + ") must be whole " +
                                                  std::string(xpb::name(dtype_)) + " blocks of " +
                                                  std::to_string(block) + " values");
      const auto top = static_cast<std::uint64_t>(rows_ * scales_.back());
      return memory_fits(ctx, storage_bytes(dtype_, static_cast<std::size_t>(n_ * k_)) +
                                  4 * top * static_cast<std::uint64_t>(k_ + n_));
    }
    chain_ = p["chain"].get<std::int64_t>();
    elements_ = p["elements"].get<std::int64_t>();
    const std::uint64_t per_element = int8_ ? 8 : 2 * traits(dtype_).block_bytes;  // x and y
    return memory_fits(ctx, per_element * static_cast<std::uint64_t>(elements_));
  }

  BuildResult build(const nlohmann::json&, RunContext& ctx) override {
    BuildResult r;
    for (std::int64_t s : scales_) {
      Stage stage;
      stage.name = "scale " + std::to_string(s);
      stage.options.threads = threads_;
      stage.policy = sample_policy(ctx);
      if (matmul_) {
        stage.graph = matmul_graph(rows_ * s);
      } else if (int8_) {
        stage.graph = int8_graph(chain_ * s);
      } else {
        fma_.push_back(compute::fma_loop_graph(dtype_, elements_, chain_ * s, 0));
        stage.graph = fma_.back().graph;
      }
      r.stages.push_back(std::move(stage));
    }
    return r;
  }

  nlohmann::json verify(std::size_t stage, Executable& exe, RunContext& ctx) override {
    if (int8_) return check_int8(stage, exe);
    if (!matmul_) return compute::check_fma_loop(fma_[stage], exe);
    const std::string method = "a matmul of " + std::to_string(kCheckRows) + " rows at this K and N, on the device "
                               "and on ref, compared within matmul's conformance tolerance for the dtype";
    if (stage != 0) return check_skipped(method, "checked once, at the first size");
    const auto caps = ctx.device.caps();
    if (caps.timing_only) return check_skipped(method, "the device is in timing-only mode: it computes no outputs");
    if (caps.analog_outputs)
      return check_skipped(method, "the device's outputs carry modeled analog effects; its matmul's accuracy is "
                                   "reported by the llm and video checks");
    if (ctx.reference == nullptr) return check_skipped(method, "no ref device in this session");
    ConformanceCase c;
    c.name = "energy.compute matmul check";
    c.op = Op::matmul;
    c.dtype = dtype_;
    c.graph = matmul_graph(kCheckRows);
    c.outputs = {out_};
    for (const auto& known : op_def(Op::matmul).conformance())
      if (known.dtype == dtype_) {
        c.tolerance = known.tolerance;
        break;
      }
    CompileOptions opts;
    opts.threads = threads_;
    const auto res = run_conformance_case(ctx.device, *ctx.reference, c, opts);
    nlohmann::json j = res.to_json();
    j["status"] = std::string(xpb::name(res.outcome.status));
    j["method"] = method;
    if (!res.outcome.passed()) j["reason"] = res.outcome.reason;
    return j;
  }

  void metrics(const std::vector<Measurement>& measured, BenchmarkRecord& record, RunContext& ctx) override {
    std::vector<double> work;
    for (const auto& m : measured) work.push_back(m.work_per_iteration.flops);
    if (matmul_) {
      // A MAC is two operations in the cost model: per MAC = per FLOP x 2.
      add_fit(measured, work, {{"energy_per_mac", "pJ/MAC", 2e12, "FLOP per run (2 per MAC)"}}, ctx, record);
      record.details["matmul"] = {{"rows_at_scale_1", rows_}, {"k", k_}, {"n", n_}, {"weights", xpb::name(dtype_)}};
    } else if (int8_) {
      add_fit(measured, work,
              {{"energy_per_op", "pJ/op", 1e12, "operations per run (8 per 4-way dot product step)"},
               {"energy_per_mac", "pJ/MAC", 2e12, "operations per run (8 per 4-way dot product step)"}},
              ctx, record);
      record.details["int8_dot_loop"] = {{"elements", elements_}, {"chain_at_scale_1", chain_}};
    } else {
      const bool integer = dtype_ == DType::i8;
      add_fit(measured, work,
              {{integer ? "energy_per_op" : "energy_per_flop", integer ? "pJ/op" : "pJ/FLOP", 1e12,
                "operations per run (2 per multiply-add)"},
               {"energy_per_mac", "pJ/MAC", 2e12, "operations per run (2 per multiply-add)"}},
              ctx, record);
      record.details["fma_loop"] = {{"elements", elements_}, {"chain_at_scale_1", chain_}};
    }
    record.details["scales"] = scales_;
    // The rate at the largest size: where the energy was spent, for a reader to see it was
    // the compute limit (compute.peak gives the rate by itself).
    const Measurement& top = measured.back();
    const double ops = top.work_per_iteration.flops;
    record.metrics.push_back(Metric::from(top, "throughput", dtype_ == DType::i8 ? "GIOPS" : "GFLOPS",
                                          Direction::higher_is_better, [ops](double s) { return ops / s / 1e9; }));
    record.metrics.back().note = "at the largest size";
  }

 private:
  // x: every byte value in a seeded order; w: both signs and the extremes a saturating
  // instruction would clip (int8_dot_loop's conformance cases say why).
  static constexpr std::int8_t kWeights[4] = {-128, 127, 3, -7};

  Graph int8_graph(std::int64_t chain) {
    Graph g;
    g.set_name("energy.compute int8_dot_loop");
    std::vector<std::byte> xb(static_cast<std::size_t>(elements_) * 4);
    for (std::size_t i = 0; i < xb.size(); ++i) xb[i] = static_cast<std::byte>(splitmix64(i) & 255);
    x_bytes_.assign(reinterpret_cast<const std::uint8_t*>(xb.data()),
                    reinterpret_cast<const std::uint8_t*>(xb.data()) + xb.size());
    std::vector<std::byte> wb(4);
    std::memcpy(wb.data(), kWeights, 4);
    const auto x = g.add_tensor({"x", {elements_, 4}, DType::i8, TensorRole::input, TensorInit::values(std::move(xb))});
    const auto w = g.add_tensor({"w", {4}, DType::i8, TensorRole::input, TensorInit::values(std::move(wb))});
    out_ = g.add_tensor({"y", {elements_}, DType::i32, TensorRole::output, {}});
    g.add_node(Op::int8_dot_loop, {x, w}, {out_}, Attrs{{"chain", chain}});
    int8_outs_.push_back(out_);
    int8_graphs_.push_back(g);
    return g;
  }

  nlohmann::json check_int8(std::size_t stage, const Executable& exe) const {
    const auto y = read_tensor<std::int32_t>(exe, int8_graphs_[stage], int8_outs_[stage]);
    const auto chain = static_cast<std::uint32_t>(chain_ * scales_[stage]);
    std::uint64_t wrong = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
      std::int32_t dot = 0;
      for (int k = 0; k < 4; ++k) dot += static_cast<std::int32_t>(x_bytes_[4 * i + k]) * kWeights[k];
      if (static_cast<std::uint32_t>(y[i]) != chain * static_cast<std::uint32_t>(dot)) ++wrong;
    }
    nlohmann::json j = {{"status", wrong == 0 ? "passed" : "failed"},
                        {"method", "every output compared with chain x dot(x, w) wrapped to 32 bits, computed on the host"},
                        {"elements_wrong", wrong}};
    if (wrong != 0) j["reason"] = std::to_string(wrong) + " output elements differ from the expected value";
    return j;
  }

  Graph matmul_graph(std::int64_t rows) {
    Graph g;
    g.set_name("energy.compute matmul " + std::string(xpb::name(dtype_)));
    const auto x = g.add_tensor({"x", {rows, k_}, DType::f32, TensorRole::input, TensorInit::random(11, 1.0)});
    const auto w = g.add_tensor({"w", {n_, k_}, dtype_, TensorRole::weight, TensorInit::random(12, 0.05)});
    out_ = g.add_tensor({"y", {rows, n_}, DType::f32, TensorRole::output, {}});
    g.add_node(Op::matmul, {x, w}, {out_});
    return g;
  }

  bool matmul_ = false, int8_ = false;
  DType dtype_ = DType::f32;
  int threads_ = 1;
  std::vector<std::int64_t> scales_;
  std::int64_t chain_ = 0, elements_ = 0, rows_ = 0, k_ = 0, n_ = 0;
  std::vector<compute::FmaLoopGraph> fma_;  // per stage (fma_loop)
  TensorId out_ = 0;                        // the matmul's output
  std::vector<std::uint8_t> x_bytes_;        // int8_dot_loop's x (the same at every size)
  std::vector<Graph> int8_graphs_;
  std::vector<TensorId> int8_outs_;
};

}  // namespace
}  // namespace xpb::energy

XPB_REGISTER_WORKLOAD("energy.compute", xpb::energy::Compute);
