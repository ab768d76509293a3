// memory.bandwidth: STREAM's four kernels plus read-only and write-only, with regular or
// non-temporal stores, at one thread count and (on devices that take one) one vector width.
// Arrays default to 4x the last-level cache.
//
// Bytes are counted as the code moves them, STREAM's way: copy and scale 16 B per element
// (f64), add and triad 24, read and write 8. With regular stores the CPU also reads each
// destination line before writing it (write-allocate); that traffic is not counted, so the
// figures compare with STREAM's. Non-temporal stores bypass the cache and have no such read.
//
// The input arrays hold random values in [1, 2) (every mantissa bit random, seeded), so a
// memory system that compresses data (as some GPUs do) cannot move fewer bytes than counted;
// each kernel is idempotent (scalar 3), and after timing every output element is compared
// with its value computed on the host from the same inputs: exactly (IEEE addition and multiplication are correctly rounded everywhere; triad
// may be fused into one multiply-add, so either rounding is accepted), and read's sum within
// the error its accumulation dtype allows. write stores one value (7), which a compressing
// memory could store in fewer bytes: its note says so. Outputs start at 0.5, a value no
// kernel writes.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <type_traits>

#include "memory_common.hpp"
#include "xpubench/error.hpp"
#include "xpubench/parse.hpp"
#include "xpubench/registry.hpp"

namespace xpb::memory {
namespace {

struct KernelSpec {
  const char* name;
  Op op;
  int inputs;        // arrays read
  int arrays_moved;  // arrays read + arrays written per iteration
};

constexpr KernelSpec kKernels[] = {
    {"copy", Op::copy, 1, 2},  {"scale", Op::scale, 1, 2},     {"add", Op::add, 2, 3},
    {"triad", Op::triad, 2, 3}, {"read", Op::read_sum, 1, 1}, {"write", Op::write_fill, 0, 1},
};
constexpr double kScalar = 3.0;  // scale's and triad's multiplier, STREAM's
constexpr double kWriteValue = 7.0;


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
        {"vector_width", "elements per vector access (1, 2, 4, 8, 16) on devices that take one (OpenCL), or \"auto\" "
         "(the device's own choice)", "auto", {}},
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
    const auto width = vector_width_param(p.value("vector_width", nlohmann::json("auto")), "vector_width");
    std::vector<nlohmann::json> out;
    for (int t : thread_counts(p["threads"], system, "threads")) {
      auto q = p;
      q["threads"] = t;
      q["array_bytes"] = bytes;
      if (width != 0) q["vector_width"] = width;
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
    vector_width_ = vector_width_param(p.value("vector_width", nlohmann::json("auto")), "vector_width");
    const auto caps = ctx.device.caps();
    if (auto o = threads_fit(ctx, threads_); !o.passed()) return o;
    if (auto o = vector_width_fits(ctx, vector_width_); !o.passed()) return o;
    // The arrays on the device; when its memory is the host's, the host's copies of their
    // random contents (kept for the check) take as much again from the same memory.
    const auto arrays = static_cast<std::uint64_t>(k_->arrays_moved) * (caps.shares_host_memory ? 2 : 1);
    if (auto o = memory_fits(ctx, bytes_per_array() * arrays); !o.passed()) return o;
    if (nontemporal_ && !caps.nontemporal_stores)
      return Outcome::with(Status::unsupported, "the device has no non-temporal (streaming) stores");
    return Outcome::ok();
  }

  BuildResult build(const nlohmann::json&, RunContext&) override {
    Stage stage;
    Graph& g = stage.graph;
    g.set_name("memory.bandwidth " + std::string(k_->name));
    const auto n = static_cast<std::size_t>(n_);
    std::uint64_t seed = 101;  // one per array, fixed: every run moves the same bytes
    auto tensor = [&](const char* name, TensorRole role) {
      TensorDesc d{name, {n_}, dtype_, role, {}};
      auto& host = hosts_.emplace_back();
      if (dtype_ == DType::f64) {
        auto v = random_array<double>(n, seed++);
        host = {v->data(), v};
        d.init = TensorInit::copy_of({reinterpret_cast<const std::byte*>(v->data()), n * sizeof(double)}, v);
      } else {
        auto v = random_array<float>(n, seed++);
        host = {v->data(), v};
        d.init = TensorInit::copy_of({reinterpret_cast<const std::byte*>(v->data()), n * sizeof(float)}, v);
      }
      return g.add_tensor(std::move(d));
    };
    Attrs attrs{{"scalar", kScalar}, {"value", kWriteValue}, {"nontemporal", nontemporal_}};
    if (vector_width_ != 0) attrs.set("vector_width", std::int64_t{vector_width_});
    std::vector<TensorId> ins;
    for (int i = 0; i < k_->inputs; ++i) ins.push_back(tensor(i == 0 ? "x" : "y", TensorRole::input));
    if (k_->op == Op::read_sum) {
      out_ = g.add_tensor({"sum", {1}, DType::f64, TensorRole::output, {}});
    } else {
      // 0.5 is no value any kernel writes, so an element left unwritten shows.
      out_ = g.add_tensor({"out", {n_}, dtype_, TensorRole::output, TensorInit::filled(0.5)});
    }
    g.add_node(k_->op, ins, {out_}, attrs);
    stage.options.threads = threads_;
    graph_ = g;
    BuildResult r;
    r.stages.push_back(std::move(stage));
    return r;
  }

  // STREAM-style validation: every output element against its value computed on the host.
  nlohmann::json verify(std::size_t, Executable& exe, RunContext&) override {
    return dtype_ == DType::f64 ? check_outputs<double>(exe) : check_outputs<float>(exe);
  }

  void metrics(const std::vector<Measurement>& m, BenchmarkRecord& record, RunContext& ctx) override {
    const double bytes = static_cast<double>(k_->arrays_moved) * static_cast<double>(bytes_per_array());
    auto metric = Metric::from(m[0], "bandwidth", "GB/s", Direction::higher_is_better,
                               [bytes](double s) { return bytes / s / kGB; });
    metric.note = nontemporal_ || k_->op == Op::read_sum
                      ? "bytes counted as the code moves them"
                      : "bytes counted as the code moves them (STREAM convention); the write-allocate "
                        "read of each destination line is not counted";
    if (k_->op == Op::write_fill) metric.note += "; one value stored everywhere, which memory that compresses could store in fewer bytes";
    const bool host_memory = ctx.device.caps().shares_host_memory;
    nlohmann::json where;
    if (host_memory) {
      where = working_set(ctx.system, static_cast<std::uint64_t>(bytes), threads_);
    } else {
      // The device's own memory: its cache, where the device says how large it is.
      const auto& props = ctx.device.info().properties;
      const auto it = props.find("global_memory_cache_bytes");
      const std::uint64_t cache = it == props.end() ? 0 : std::strtoull(it->second.c_str(), nullptr, 10);
      where = {{"working_set_bytes", bytes}, {"device_cache_bytes", cache}};
      if (cache != 0 && bytes < 4.0 * static_cast<double>(cache))
        where["note"] = "the arrays are less than 4x the device's cache: not a figure of its memory alone";
    }
    if (where.contains("note")) metric.note += "; " + where["note"].get<std::string>();
    record.metrics.push_back(std::move(metric));
    add_energy_per_unit(record, m[0], ctx.idle, bytes / 1e9, "energy_per_gb", "J/GB");
    record.details = {{"elements", n_},
                      {"array_bytes", bytes_per_array()},
                      {"bytes_per_iteration", bytes},
                      {"data", "random values in [1, 2), every mantissa bit random (seeded)"},
                      {"write_allocate_counted", false},
                      {"working_set", where}};
    if (host_memory) record.details["cache_levels"] = cache_levels(ctx.system);
  }

 private:
  std::uint64_t bytes_per_array() const { return static_cast<std::uint64_t>(n_) * traits(dtype_).block_bytes; }

  // The output against the host's computation from the same inputs (see the top of the file).
  template <class T>
  nlohmann::json check_outputs(Executable& exe) const {
    const T* x = hosts_.empty() ? nullptr : static_cast<const T*>(hosts_[0].data);
    const T* y = hosts_.size() < 2 ? nullptr : static_cast<const T*>(hosts_[1].data);
    const auto n = static_cast<std::size_t>(n_);
    if (k_->op == Op::read_sum) {
      double want = 0;  // exact enough: f64 over values in [1, 2)
      for (std::size_t i = 0; i < n; ++i) want += static_cast<double>(x[i]);
      const double got = read_tensor<double>(exe, graph_, out_)[0];
      // The device accumulates in the data's dtype (numeric profile): partial sums of random
      // values lose a few units in the last place each; a sum that misses even 1 element in
      // 1000 is far outside this.
      const bool f32 = std::is_same_v<T, float>;
      const double rel = f32 ? 1e-4 : 1e-10;
      const double error = std::fabs(got - want);
      nlohmann::json j = {{"status", error <= rel * want ? "passed" : "failed"},
                          {"method", std::string("the sum against the host's f64 sum of the same values, within a relative ") +
                                         (f32 ? "1e-4" : "1e-10") + " (accumulation in the data's dtype)"},
                          {"expected", want},
                          {"got", got}};
      if (error > rel * want) j["reason"] = "the sum differs from the host's by " + std::to_string(error / want) + " of it";
      return j;
    }
    const auto out = read_tensor<T>(exe, graph_, out_);
    const T s = static_cast<T>(kScalar);
    std::uint64_t wrong = 0;
    std::size_t first = n;
    for (std::size_t i = 0; i < n; ++i) {
      bool ok = false;
      switch (k_->op) {
        case Op::copy: ok = out[i] == x[i]; break;
        case Op::scale: ok = out[i] == static_cast<T>(s * x[i]); break;
        case Op::add: ok = out[i] == static_cast<T>(x[i] + y[i]); break;
        case Op::triad: {
          const T product = s * y[i];  // rounded, then added: or fused, one rounding
          ok = out[i] == static_cast<T>(x[i] + product) || out[i] == std::fma(s, y[i], x[i]);
          break;
        }
        default: ok = out[i] == static_cast<T>(kWriteValue); break;
      }
      if (!ok) {
        ++wrong;
        if (first == n) first = i;
      }
    }
    nlohmann::json j = {{"status", wrong == 0 ? "passed" : "failed"},
                        {"method", "every output element compared with its value computed on the host from the same "
                                   "inputs (exact; triad: rounded or fused multiply-add)"},
                        {"elements_wrong", wrong}};
    if (wrong != 0)
      j["reason"] = std::to_string(wrong) + " output elements differ from the host's values (the first at index " +
                    std::to_string(first) + ")";
    return j;
  }

  // The host's copy of each input array (x, then y), kept for the check.
  struct HostArray {
    const void* data = nullptr;
    std::shared_ptr<const void> owner;
  };
  std::vector<HostArray> hosts_;
  int vector_width_ = 0;
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
