// memory.launch: what it costs the host to have the device run the smallest kernel there is
// (write_fill of one f32), on the host clock, in two ways (clpeak's "kernel launch latency"
// measures the same pair on OpenCL):
//
//   round_trip    each launch waited for before the next (Executable::run(1) per iteration):
//                 submission, the device's start-up, the kernel, and the completion reaching
//                 the host — the latency a dependent chain of small kernels pays per step;
//   back_to_back  launches queued without waiting (one run of many iterations, the driver
//                 waiting once per batch): the host's cost per launch when the queue stays
//                 full, the rate at which a graph of small kernels can issue them.
//
// On the cpu the "launch" is a dispatch to its thread pool and the wait a barrier, so the
// figure is the pool's; on a plugin, a call through the ABI.
#include <chrono>

#include "memory_common.hpp"
#include "xpubench/registry.hpp"

namespace xpb::memory {
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kValue = 7.0;  // what the kernel writes

class Launch final : public Workload {
 public:
  std::string name() const override { return "memory.launch"; }
  std::string description() const override {
    return "kernel launch latency (us) of the smallest kernel, on the host clock: each launch waited for "
           "(round_trip) or launches queued back to back";
  }
  std::vector<ParamSpec> params() const override {
    return {{"mode", "round_trip (each launch waited for) or back_to_back (queued, one wait per batch)", "round_trip",
             {"round_trip", "back_to_back"}}};
  }

  Outcome check(const nlohmann::json& p, RunContext& ctx) override {
    round_trip_ = p["mode"] == "round_trip";
    if (!ctx.device.caps().claims(Op::write_fill, DType::f32))
      return Outcome::with(Status::unsupported, "the device does not run write_fill on f32, the kernel this times");
    return Outcome::ok();
  }

  BuildResult build(const nlohmann::json&, RunContext&) override {
    Stage stage;
    Graph& g = stage.graph;
    g.set_name("memory.launch");
    out_ = g.add_tensor({"out", {1}, DType::f32, TensorRole::output, TensorInit::filled(0.0)});
    g.add_node(Op::write_fill, {}, {out_}, Attrs{{"value", kValue}});
    stage.clock = host_clock();
    graph_ = g;
    BuildResult r;
    r.stages.push_back(std::move(stage));
    return r;
  }

  RunResult sample(std::size_t, Executable& exe, const RunArgs& args) override {
    RunResult r;
    const auto t0 = Clock::now();
    if (round_trip_) {
      RunArgs one = args;
      one.iterations = 1;
      std::uint64_t done = 0;
      while (done < args.iterations && !r.interrupted && r.error.empty()) {
        const RunResult part = exe.run(one);
        accumulate(r, part);
        done += part.iterations;
        if (part.iterations == 0) break;
      }
      r.iterations = done;
    } else {
      r = exe.run(args);
    }
    // The device's own times are not the figure: the host's wait is.
    r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    r.clock = ClockKind::host;
    r.energy_source = EnergySource::unavailable;
    r.energy_joules = 0;
    return r;
  }

  nlohmann::json verify(std::size_t, Executable& exe, RunContext&) override {
    const float got = read_tensor<float>(exe, graph_, out_)[0];
    nlohmann::json j = {{"status", got == static_cast<float>(kValue) ? "passed" : "failed"},
                        {"method", "the one element the kernel writes, read back"}};
    if (got != static_cast<float>(kValue)) j["reason"] = "the kernel did not write its value";
    return j;
  }

  void metrics(const std::vector<Measurement>& m, BenchmarkRecord& record, RunContext&) override {
    auto metric = Metric::from(m[0], "launch_latency", "us", Direction::lower_is_better, [](double s) { return s * 1e6; });
    metric.note = round_trip_ ? "one launch of a one-element kernel, waited for, per iteration (host clock)"
                              : "launches queued back to back, the host's time per launch (host clock)";
    record.metrics.push_back(std::move(metric));
    record.details = {{"kernel", "write_fill of one f32"},
                      {"mode", round_trip_ ? "round_trip" : "back_to_back"},
                      {"timed_on", "host clock"}};
  }

 private:
  bool round_trip_ = true;
  Graph graph_;
  TensorId out_ = 0;
};

}  // namespace
}  // namespace xpb::memory

XPB_REGISTER_WORKLOAD("memory.launch", xpb::memory::Launch);
