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
    std::vector<nlohmann::json> out;
    const auto bytes = size_param(p["array_bytes"], beyond_cache_bytes(system), "array_bytes");
    for (int t : thread_counts(p["threads"], system, "threads")) {
      auto q = p;
      q["threads"] = t;
      q["array_bytes"] = bytes;
      out.push_back(std::move(q));
    }
    return out;
  }

  BenchmarkRecord run(const nlohmann::json& p, RunContext& ctx) override {
    BenchmarkRecord record;
    const auto& k = kernel_spec(p["kernel"].get<std::string>());
    const int threads = p["threads"].get<int>();
    const bool nontemporal = p["stores"] == "nontemporal";
    const DType dtype = *parse_dtype(p["dtype"].get<std::string>());
    const std::size_t elem = traits(dtype).block_bytes;
    const auto n = static_cast<std::int64_t>(p["array_bytes"].get<std::uint64_t>() / elem);
    if (n < 1) {
      record.outcome = Outcome::with(Status::invalid, "array_bytes is smaller than one element");
      return record;
    }
    if (!check_threads(ctx, threads, record)) return record;
    if (!check_memory(ctx, static_cast<std::uint64_t>(n) * elem * static_cast<std::uint64_t>(k.arrays_moved), record))
      return record;
    if (nontemporal && !ctx.device.caps().nontemporal_stores) {
      record.outcome = Outcome::with(Status::unsupported, "the device has no non-temporal (streaming) stores");
      return record;
    }

    Graph g;
    auto tensor = [&](const char* name, double init, TensorRole role) {
      return g.add_tensor({name, {n}, dtype, role, TensorInit::filled(init)});
    };
    const Attrs attrs{{"scalar", 3.0}, {"value", 7.0}, {"nontemporal", nontemporal}};
    TensorId out = 0;
    switch (k.op) {
      case Op::copy: {
        auto a = tensor("a", 1.0, TensorRole::input);
        out = tensor("c", 0.5, TensorRole::output);
        g.add_node(Op::copy, {a}, {out}, attrs);
        break;
      }
      case Op::scale: {
        auto c = tensor("c", 0.5, TensorRole::input);
        out = tensor("b", 2.0, TensorRole::output);
        g.add_node(Op::scale, {c}, {out}, attrs);
        break;
      }
      case Op::add: {
        auto a = tensor("a", 1.0, TensorRole::input);
        auto b = tensor("b", 2.0, TensorRole::input);
        out = tensor("c", 0.5, TensorRole::output);
        g.add_node(Op::add, {a, b}, {out}, attrs);
        break;
      }
      case Op::triad: {
        auto b = tensor("b", 2.0, TensorRole::input);
        auto c = tensor("c", 0.5, TensorRole::input);
        out = tensor("a", 1.0, TensorRole::output);
        g.add_node(Op::triad, {b, c}, {out}, attrs);
        break;
      }
      case Op::read_sum: {
        auto a = tensor("a", 1.0, TensorRole::input);
        out = g.add_tensor({"sum", {1}, DType::f64, TensorRole::output, {}});
        g.add_node(Op::read_sum, {a}, {out}, attrs);
        break;
      }
      case Op::write_fill: {
        out = tensor("c", 0.5, TensorRole::output);
        g.add_node(Op::write_fill, {}, {out}, attrs);
        break;
      }
      default: break;
    }

    CompileOptions opts;
    opts.threads = threads;
    auto exe = compile(ctx, g, opts, record);
    if (!exe) return record;
    const auto m = measure_into(ctx, *exe, record);
    if (!m) return record;

    const double bytes = static_cast<double>(k.arrays_moved) * static_cast<double>(n) * static_cast<double>(elem);
    auto metric = Metric::from(*m, "bandwidth", "GB/s", Direction::higher_is_better,
                               [bytes](double s) { return bytes / s / kGB; });
    metric.note = nontemporal || k.op == Op::read_sum
                      ? "bytes counted as the code moves them"
                      : "bytes counted as the code moves them (STREAM convention); the write-allocate "
                        "read of each destination line is not counted";
    record.metrics.push_back(std::move(metric));

    // STREAM-style validation: every output element against its exact expected value.
    std::uint64_t wrong = 0;
    double max_error = 0;
    if (k.op == Op::read_sum) {
      const double sum = read_tensor<double>(*exe, g, out)[0];
      max_error = std::fabs(sum - static_cast<double>(n));
      wrong = max_error != 0.0;
    } else if (dtype == DType::f64) {
      for (double v : read_tensor<double>(*exe, g, out)) {
        const double e = std::fabs(v - k.expected);
        wrong += e != 0.0;
        max_error = std::max(max_error, e);
      }
    } else {
      for (float v : read_tensor<float>(*exe, g, out)) {
        const double e = std::fabs(static_cast<double>(v) - k.expected);
        wrong += e != 0.0;
        max_error = std::max(max_error, e);
      }
    }
    record.conformance = {{"status", wrong == 0 ? "passed" : "failed"},
                          {"method", "every output element compared with its exact expected value (STREAM-style)"},
                          {"elements_wrong", wrong},
                          {"max_abs_error", max_error}};
    record.details = {{"elements", n},
                      {"array_bytes", static_cast<std::uint64_t>(n) * elem},
                      {"bytes_per_iteration", bytes},
                      {"write_allocate_counted", false},
                      {"executable", exe->describe()}};
    record.outcome = wrong == 0 ? Outcome::ok()
                                : Outcome::with(Status::failed, std::to_string(wrong) +
                                                                    " output elements differ from the expected value");
    return record;
  }
};

}  // namespace
}  // namespace xpb::memory

XPB_REGISTER_WORKLOAD("memory.bandwidth", xpb::memory::Bandwidth);
