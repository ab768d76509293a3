// Energy per unit of work from a fit (energy_fit.hpp).
#include "energy_fit.hpp"

#include <algorithm>
#include <cmath>

#include "xpubench/stats.hpp"

namespace xpb::energy {

Outcome energy_available(RunContext& ctx) {
  if (ctx.device.caps().models_energy) return Outcome::ok();
  if (ctx.energy == nullptr)
    return Outcome::with(Status::skipped, "no energy figure on this device: it has no energy sensor");
  if (const auto why = ctx.energy->unavailable_reason(); !why.empty())
    return Outcome::with(Status::skipped, "no energy figure on this device: " + ctx.energy->name() + ": " + why);
  return Outcome::ok();
}

Outcome op_offered(RunContext& ctx, Op op, DType dtype) {
  const auto caps = ctx.device.caps();
  if (caps.claims(op, dtype) || (caps.ops.empty() && caps.op_dtypes.empty())) return Outcome::ok();
  return Outcome::with(Status::unsupported, "the device does not run " + std::string(name(op)) + " on " +
                                                std::string(name(dtype)));
}

RunPolicy sample_policy(const RunContext& ctx) {
  RunPolicy p = ctx.policy;
  if (ctx.energy != nullptr && !ctx.device.caps().models_energy)
    p.min_sample_seconds = std::max(p.min_sample_seconds, 10 * ctx.energy->update_interval_s());
  return p;
}

namespace {

double median_of(std::vector<double> v) {
  const auto s = summarize(v);
  return s.median.value_or(std::nan(""));
}

}  // namespace

void add_fit(const std::vector<Measurement>& measured, const std::vector<double>& work_per_run,
             const std::vector<FitFigure>& figures, const RunContext& ctx, BenchmarkRecord& record) {
  const bool modeled = !measured.empty() && measured[0].energy.source == name(EnergySource::modeled);
  const bool net = !modeled && ctx.idle.available;
  const Source source = modeled ? Source::modeled : Source::measured;
  std::vector<double> x, gross, net_y, watts;
  auto stages = nlohmann::json::array();
  for (std::size_t i = 0; i < measured.size() && i < work_per_run.size(); ++i) {
    const Measurement& m = measured[i];
    if (!m.sampled_joules()) {
      record.outcome = Outcome::with(
          Status::skipped, "no energy figure per sample at work " + std::to_string(work_per_run[i]) + ": " +
                               (m.energy.available ? "the sensor updates too slowly for these samples"
                                                   : m.energy.reason.empty() ? "no reading" : m.energy.reason));
      return;
    }
    std::vector<double> per_run, stage_w;
    for (std::size_t k = 0; k < m.sample_joules.size(); ++k) {
      const double runs = static_cast<double>(m.iterations);
      x.push_back(work_per_run[i]);
      per_run.push_back(m.sample_joules[k] / runs);
      gross.push_back(per_run.back());
      if (net) net_y.push_back((m.sample_joules[k] - ctx.idle.watts * m.sample_seconds[k]) / runs);
      if (m.sample_seconds[k] > 0) stage_w.push_back(m.sample_joules[k] / m.sample_seconds[k]);
    }
    watts.insert(watts.end(), stage_w.begin(), stage_w.end());
    stages.push_back({{"work_per_run", work_per_run[i]},
                      {"samples", m.sample_joules.size()},
                      {"runs_per_sample", m.iterations},
                      {"median_joules_per_run", median_of(per_run)},
                      {"median_watts", median_of(stage_w)}});
  }
  const auto fit = fit_line(x, gross);
  nlohmann::json details = {{"method", "ordinary least squares of joules per run against " +
                                           (figures.empty() ? std::string("work") : figures[0].work) +
                                           ", one point per sample; the slope is the energy of one unit of work, "
                                           "the intercept what a run costs besides"},
                            {"source", name(source)},
                            {"stages", stages}};
  if (!fit) {
    record.outcome = Outcome::with(Status::failed, "no fit: fewer than 3 samples, or every size did the same work");
    record.details["energy_fit"] = details;
    return;
  }
  details["gross"] = to_json(*fit);
  std::optional<LinearFit> net_fit;
  if (net) {
    net_fit = fit_line(x, net_y);
    if (net_fit) details["net"] = to_json(*net_fit);
    details["idle_watts"] = ctx.idle.watts;
  } else {
    details["net"] = nullptr;
    details["net_reason"] = modeled ? "modeled energy: no idle to take off"
                                    : "no idle baseline: " + (ctx.idle.reason.empty() ? "not measured" : ctx.idle.reason);
  }
  auto quality = [&](const LinearFit& f) {
    return "slope of a least-squares fit over " + std::to_string(f.n) + " samples at " +
           std::to_string(measured.size()) + " sizes, R^2 " + std::to_string(f.r2) + " (details.energy_fit)";
  };
  for (const auto& fig : figures) {
    record.metrics.push_back(Metric::of(fig.name, fig.unit, Direction::lower_is_better, source,
                                        {fit->slope * fig.scale}, quality(*fit)));
    if (net_fit)
      record.metrics.push_back(Metric::of(fig.name + "_net", fig.unit, Direction::lower_is_better, source,
                                          {net_fit->slope * fig.scale},
                                          quality(*net_fit) + ", less the idle power over each sample"));
  }
  record.metrics.push_back(Metric::of("average_power", "W", Direction::none, source, watts,
                                      "each sample's energy over its seconds, every size"));
  record.details["energy_fit"] = details;
  if (!(fit->slope > 0)) {
    record.outcome = Outcome::with(Status::mistrusted,
                                   "energy does not grow with work (slope " + std::to_string(fit->slope) +
                                       " J per unit): the sensor does not see this device's work");
  } else if (fit->r2 < 0.9) {
    record.valid = false;
    record.invalid_reason = "the energy fit explains too little of the variance (R^2 " + std::to_string(fit->r2) +
                            " < 0.9): the sensor is too coarse or noisy for these sizes; longer samples "
                            "(policy.min_seconds) or larger sizes help";
  }
}

}  // namespace xpb::energy
