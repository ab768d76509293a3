// The timing and energy model of photonic-sim (docs/SIMULATORS.md has the equations and
// sources). Per node of a graph, from the op cost model and the shapes:
//
// matmul, x [M, K] times W [N, K] (weights, N outputs):
//   tiles      = ceil(N / array_rows) * ceil(K / array_cols)
//   resident   = tiles <= arrays          (every tile stays programmed between runs)
//   passes     = ceil(tiles / arrays)
//   t_optical  = passes * ((resident ? 0 : weight_reprogram_s) + M / clock_hz + mvm_latency_s)
//   t          = max(t_optical, bytes moved / memory_bandwidth_bytes_per_s)
//   samples in = M * K * ceil(N / array_rows)        (each input feeds every tile of its column)
//   samples out= M * N * ceil(K / array_cols)        (each tile's partial sums are digitised)
//   energy     = samples in * (dac_energy_j + dac_bits * modulator_energy_j_per_bit)
//              + (resident ? 0 : tiles * rows * cols * dac_energy_j)     (weights loaded)
//              + samples out * adc_energy_j
//              + (M * N * (ceil(K / array_cols) - 1)) * digital_energy_j_per_op  (partial sums)
//              + arrays * laser_optical_w / laser_wall_plug_efficiency * t_optical
// every other op (the electronic co-processor):
//   t = max(ops / digital_ops_per_s, bytes / memory_bandwidth), energy = ops * digital_energy_j_per_op
// every node: + bytes moved * memory_energy_j_per_byte; the whole run: + the static power
//   holding the phase shifters, arrays * rows * cols * tuning_w_per_cell, and the other
//   electronics, static_w, over its time.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sim_description.hpp"
#include "xpubench/graph.hpp"

namespace xpb::photonic {

const std::vector<sim::ParameterSpec>& parameter_specs();

// Where the energy of a run went, in joules.
struct EnergyBreakdown {
  double dac = 0, modulator = 0, adc = 0, weight_load = 0, laser = 0, tuning = 0, digital = 0, memory = 0, static_ = 0;
  double total() const { return dac + modulator + adc + weight_load + laser + tuning + digital + memory + static_; }
  nlohmann::json to_json() const;
};

struct RunCost {
  double seconds = 0;
  double optical_seconds = 0;  // of which the arrays computed (or loaded weights)
  double macs = 0;             // multiply-accumulates on the arrays
  EnergyBreakdown energy;
};

class PhotonicModel {
 public:
  explicit PhotonicModel(const sim::SimDescription& d);
  // The cost of one run of `g` with its dynamic dims at `dims` (empty: every dim at its max).
  RunCost run(const Graph& g, std::span<const std::int64_t> dims) const;
  // The ops the engine runs: matmul on the arrays, the transformer's other ops on the
  // co-processor. Memory microkernels and fma_loop are not among them (see refusal()).
  static bool runs(Op op);
  // Peak MAC/s of the arrays: arrays * rows * cols * clock.
  double peak_macs_per_s() const { return arrays_ * rows_ * cols_ * clock_; }

 private:
  double rows_, cols_, arrays_, clock_, latency_, reprogram_, dac_bits_, dac_j_, adc_j_, mod_j_, laser_w_, wall_plug_,
      tuning_w_, digital_j_, digital_rate_, mem_j_, mem_bw_, static_w_;
};

}  // namespace xpb::photonic
