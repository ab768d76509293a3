// What the energy workloads share: whether a device can give an energy figure at all, samples
// long enough for its sensor, and energy per unit of work from a fit of energy against work
// over several sizes (the slope), so what a run costs besides its work (launch, the arrays'
// first touch, a sensor's offset) falls into the intercept instead of the figure.
#pragma once
#include <string>
#include <vector>

#include "xpubench/workload.hpp"

namespace xpb::energy {

// Passed when the device models its energy or its sensor can be read; else skipped, with the
// sensor's reason, before anything is measured (a run with no energy figure has none to give).
Outcome energy_available(RunContext& ctx);

// Whether the device may run `op` on `dtype`: it claims it, or it claims no op at all (a
// simulator that holds its ops out of conformance: its compile() says what it runs).
Outcome op_offered(RunContext& ctx, Op op, DType dtype);

// The run's policy with every sample at least 10 of the sensor's update intervals long, the
// length at which the runner reads energy per sample (runner.cpp).
RunPolicy sample_policy(const RunContext& ctx);

// How a fit's slope is reported: metric `name` in `unit`, the slope (joules per unit of work)
// times `scale` (1e12 for pJ/FLOP), lower is better; the work unit named for the notes.
struct FitFigure {
  std::string name;  // "energy_per_flop"
  std::string unit;  // "pJ/FLOP"
  double scale = 1e12;
  std::string work;  // "FLOP per run"
};

// Fits joules per run against `work_per_run[i]` over every sample of every stage i (each
// sample's joules over its runs), gross and, where the idle baseline exists and the energy
// is a sensor's, net of it. Adds the figures (each as `figure`, and `figure`_net) and
// average_power (W, every sample), and details.energy_fit (both fits, per stage: work, runs,
// median J/run and W). A slope that is not positive makes the record mistrusted; a fit that
// explains less than 90% of the variance (R^2 < 0.9) makes it invalid, with the reason.
void add_fit(const std::vector<Measurement>& measured, const std::vector<double>& work_per_run,
             const std::vector<FitFigure>& figures, const RunContext& ctx, BenchmarkRecord& record);

}  // namespace xpb::energy
