// memory.bandwidth: STREAM's four kernels plus read-only and write-only, with regular or
// non-temporal stores, at one thread count. Arrays default to 4x the last-level cache.
//
// Bytes are counted as the code moves them, STREAM's way: copy and scale 16 B per element
// (f64), add and triad 24, read and write 8. With regular stores the CPU also reads each
// destination line before writing it (write-allocate); that traffic is not counted, so the
// figures compare with STREAM's. Non-temporal stores bypass the cache and have no such read.
//
// Each benchmark runs one kernel on freshly initialised arrays (a = 1, b = 2, c = 0.5,
// scalar 3), so every kernel is idempotent and its output has one exact expected value:
// copy c = a -> 1, scale b = 3c -> 1.5, add c = a + b -> 3, triad a = b + 3c -> 3.5,
// read sum(a) -> n, write c = 7. Like STREAM, every element is checked after timing.
#include <cmath>

#include "memory_common.hpp"
#include "xpubench/error.hpp"
#include "xpubench/parse.hpp"
#include "xpubench/registry.hpp"

namespace xpb::memory {
namespace {

struct KernelSpec {
  const char* name;
  Op op;
  int arrays_moved;  // arrays read + arrays written per iteration
  double expected;   // every output element (read: the sum per element)
};

constexpr KernelSpec kKernels[] = {
    {"copy", Op::copy, 2, 1.0},  {"scale", Op::scale, 2, 1.5}, {"add", Op::add, 3, 3.0},
    {"triad", Op::triad, 3, 3.5}, {"read", Op::read_sum, 1, 1.0}, {"write", Op::write_fill, 1, 7.0},
};

const KernelSpec& kernel_spec(const std::string& name) {
  for (const auto& k : kKernels)
    if (name == k.name) return k;
  throw InputError("unknown kernel '" + name + "'");
}

class Bandwidth final : public Workload {
 public:
  std::string name() const override { return "memory.bandwidth"; }
  std::string description() const override {
    return "STREAM copy/scale/add/triad, read-only and write-only bandwidth (GB/s = 1e9 B/s), "
           "regular or non-temporal stores, at each thread count";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"kernel", "copy, scale, add, triad, read or write", "triad",
         {"copy", "scale", "add", "triad", "read", "write"}},
        {"stores", "regular or nontemporal (streaming) stores; read has no stores", "regular",
         {"regular", "nontemporal"}},
        {"threads", "thread count, \"all\", or \"scaling\" (1, 2, 4, ... all)", "all", {}},
        {"array_bytes", "bytes per array, or \"auto\" (4x the last-level cache)", "auto", {}},
        {"dtype", "element type", "f64", {"f64", "f32"}},
    };
  }

  std::vector<nlohmann::json> expand(const nlohmann::json& p, const SystemInfo& system) const override {
    // A read-only kernel has no stores, so its non-temporal variant would repeat the regular one.
    if (p["kernel"] == "read" && p["stores"] == "nontemporal") return {};
    const auto bytes = size_param(p["array_bytes"], beyond_cache_bytes(system), "array_bytes");
    const auto elem = traits(*parse_dtype(p["dtype"].get<std::string>())).block_bytes;
    if (bytes < elem)
      throw InputError("parameter 'array_bytes' is " + std::to_string(bytes) + " bytes, less than one " +
                       p["dtype"].get<std::string>() + " element (" + std::to_string(elem) + " bytes)");
    std::vector<nlohmann::json> out;
    for (int t : thread_counts(p["threads"], system, "threads")) {
      auto q = p;
      q["threads"] = t;
      q["array_bytes"] = bytes;
      out.push_back(std::move(q));
    }
    return out;
  }

  Outcome check(const nlohmann::json& p, RunContext& ctx) override {
    k_ = &kernel_spec(p["kernel"].get<std::string>());
    dtype_ = *parse_dtype(p["dtype"].get<std::string>());
    n_ = static_cast<std::int64_t>(p["array_bytes"].get<std::uint64_t>() / traits(dtype_).block_bytes);
    threads_ = p["threads"].get<int>();
    nontemporal_ = p["stores"] == "nontemporal";
    if (auto o = threads_fit(ctx, threads_); !o.passed()) return o;
    if (auto o = memory_fits(ctx, bytes_per_array() * static_cast<std::uint64_t>(k_->arrays_moved)); !o.passed()) return o;
    if (nontemporal_ && !ctx.device.caps().nontemporal_stores)
      return Outcome::with(Status::unsupported, "the device has no non-temporal (streaming) stores");
    return Outcome::ok();
  }

  BuildResult build(const nlohmann::json&, RunContext&) override {
    Stage stage;
    Graph& g = stage.graph;
    g.set_name("memory.bandwidth " + std::string(k_->name));
    auto tensor = [&](const char* name, double init, TensorRole role) {
      return g.add_tensor({name, {n_}, dtype_, role, TensorInit::filled(init)});
    };
    const Attrs attrs{{"scalar", 3.0}, {"value", 7.0}, {"nontemporal", nontemporal_}};
    switch (k_->op) {
      case Op::copy: {
        auto a = tensor("a", 1.0, TensorRole::input);
        out_ = tensor("c", 0.5, TensorRole::output);
        g.add_node(Op::copy, {a}, {out_}, attrs);
        break;
      }
      case Op::scale: {
        auto c = tensor("c", 0.5, TensorRole::input);
        out_ = tensor("b", 2.0, TensorRole::output);
        g.add_node(Op::scale, {c}, {out_}, attrs);
        break;
      }
      case Op::add: {
        auto a = tensor("a", 1.0, TensorRole::input);
        auto b = tensor("b", 2.0, TensorRole::input);
        out_ = tensor("c", 0.5, TensorRole::output);
        g.add_node(Op::add, {a, b}, {out_}, attrs);
        break;
      }
      case Op::triad: {
        auto b = tensor("b", 2.0, TensorRole::input);
        auto c = tensor("c", 0.5, TensorRole::input);
        out_ = tensor("a", 1.0, TensorRole::output);
        g.add_node(Op::triad, {b, c}, {out_}, attrs);
        break;
      }
      case Op::read_sum: {
        auto a = tensor("a", 1.0, TensorRole::input);
        out_ = g.add_tensor({"sum", {1}, DType::f64, TensorRole::output, {}});
        g.add_node(Op::read_sum, {a}, {out_}, attrs);
        break;
      }
      case Op::write_fill: {
        out_ = tensor("c", 0.5, TensorRole::output);
        g.add_node(Op::write_fill, {}, {out_}, attrs);
        break;
      }
      default: break;
    }
    stage.options.threads = threads_;
    graph_ = g;
    BuildResult r;
    r.stages.push_back(std::move(stage));
    return r;
  }

  // STREAM-style validation: every output element against its exact expected value.
  nlohmann::json verify(std::size_t, Executable& exe, RunContext&) override {
    std::uint64_t wrong = 0;
    double max_error = 0;
    if (k_->op == Op::read_sum) {
      max_error = std::fabs(read_tensor<double>(exe, graph_, out_)[0] - static_cast<double>(n_));
      wrong = max_error != 0.0;
    } else if (dtype_ == DType::f64) {
      for (double v : read_tensor<double>(exe, graph_, out_)) {
        const double e = std::fabs(v - k_->expected);
        wrong += e != 0.0;
        max_error = std::max(max_error, e);
      }
    } else {
      for (float v : read_tensor<float>(exe, graph_, out_)) {
        const double e = std::fabs(static_cast<double>(v) - k_->expected);
        wrong += e != 0.0;
        max_error = std::max(max_error, e);
      }
    }
    nlohmann::json j = {{"status", wrong == 0 ? "passed" : "failed"},
                        {"method", "every output element compared with its exact expected value (STREAM-style)"},
                        {"elements_wrong", wrong},
                        {"max_abs_error", max_error}};
    if (wrong != 0) j["reason"] = std::to_string(wrong) + " output elements differ from the expected value";
    return j;
  }

  void metrics(const std::vector<Measurement>& m, BenchmarkRecord& record, RunContext& ctx) override {
    const double bytes = static_cast<double>(k_->arrays_moved) * static_cast<double>(bytes_per_array());
    auto metric = Metric::from(m[0], "bandwidth", "GB/s", Direction::higher_is_better,
                               [bytes](double s) { return bytes / s / kGB; });
    metric.note = nontemporal_ || k_->op == Op::read_sum
                      ? "bytes counted as the code moves them"
                      : "bytes counted as the code moves them (STREAM convention); the write-allocate "
                        "read of each destination line is not counted";
    const auto where = working_set(ctx.system, static_cast<std::uint64_t>(bytes), threads_);
    if (where.contains("note")) metric.note += "; " + where["note"].get<std::string>();
    record.metrics.push_back(std::move(metric));
    record.details = {{"elements", n_},
                      {"array_bytes", bytes_per_array()},
                      {"bytes_per_iteration", bytes},
                      {"write_allocate_counted", false},
                      {"working_set", where},
                      {"cache_levels", cache_levels(ctx.system)}};
  }

 private:
  std::uint64_t bytes_per_array() const { return static_cast<std::uint64_t>(n_) * traits(dtype_).block_bytes; }

  const KernelSpec* k_ = nullptr;
  DType dtype_ = DType::f64;
  std::int64_t n_ = 0;
  int threads_ = 1;
  bool nontemporal_ = false;
  Graph graph_;
  TensorId out_ = 0;
};

}  // namespace
}  // namespace xpb::memory

XPB_REGISTER_WORKLOAD("memory.bandwidth", xpb::memory::Bandwidth);
