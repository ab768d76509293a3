#include "photonic_model.hpp"

#include <algorithm>
#include <cmath>

#include "xpubench/op_catalogue.hpp"

namespace xpb::photonic {

const std::vector<sim::ParameterSpec>& parameter_specs() {
  static const std::vector<sim::ParameterSpec> specs = {
      {"array_rows", "cells", 1, 1 << 16},
      {"array_cols", "cells", 1, 1 << 16},
      {"arrays", "count", 1, 1 << 20},
      {"clock_hz", "Hz", 1, 1e13},
      {"mvm_latency_s", "s", 0, 1},
      {"weight_reprogram_s", "s", 0, 1},
      {"dac_bits", "bits", 1, 32},
      {"adc_bits", "bits", 1, 32},
      {"dac_energy_j", "J/sample", 0, 1e-6},
      {"adc_energy_j", "J/sample", 0, 1e-6},
      {"modulator_energy_j_per_bit", "J/bit", 0, 1e-6},
      {"laser_optical_w", "W", 0, 1e4},
      {"laser_wall_plug_efficiency", "ratio", 1e-6, 1},
      {"tuning_w_per_cell", "W", 0, 10},
      {"input_block", "elements", 0, 1 << 20},
      {"output_noise", "ratio", 0, 10},
      {"output_bound", "ratio", 1e-6, 1e6},
      {"noise_seed", "count", 0, 9007199254740992.0},
      {"digital_energy_j_per_op", "J/op", 0, 1e-6},
      {"digital_ops_per_s", "ops/s", 1, 1e18},
      {"memory_energy_j_per_byte", "J/byte", 0, 1e-6},
      {"memory_bandwidth_bytes_per_s", "bytes/s", 1, 1e16},
      {"static_w", "W", 0, 1e6},
      {"clock_jitter_cv", "ratio", 0, 1},
      {"clock_jitter_seed", "count", 0, 9007199254740992.0},
      {"clock_resolution_s", "s", 1e-15, 1},
  };
  return specs;
}

nlohmann::json EnergyBreakdown::to_json() const {
  return {{"dac_j", dac},       {"modulator_j", modulator}, {"adc_j", adc},         {"weight_load_j", weight_load},
          {"laser_j", laser},  {"tuning_j", tuning},       {"digital_j", digital}, {"memory_j", memory},
          {"static_j", static_}, {"total_j", total()}};
}

PhotonicModel::PhotonicModel(const sim::SimDescription& d)
    : rows_(d.number("array_rows")), cols_(d.number("array_cols")), arrays_(d.number("arrays")),
      clock_(d.number("clock_hz")), latency_(d.number("mvm_latency_s")), reprogram_(d.number("weight_reprogram_s")),
      dac_bits_(d.number("dac_bits")), dac_j_(d.number("dac_energy_j")), adc_j_(d.number("adc_energy_j")),
      mod_j_(d.number("modulator_energy_j_per_bit")), laser_w_(d.number("laser_optical_w")),
      wall_plug_(d.number("laser_wall_plug_efficiency")), tuning_w_(d.number("tuning_w_per_cell")),
      digital_j_(d.number("digital_energy_j_per_op")), digital_rate_(d.number("digital_ops_per_s")),
      mem_j_(d.number("memory_energy_j_per_byte")), mem_bw_(d.number("memory_bandwidth_bytes_per_s")),
      static_w_(d.number("static_w")) {}

bool PhotonicModel::runs(Op op) {
  switch (op) {
    case Op::matmul:
    case Op::embedding:
    case Op::rms_norm:
    case Op::rope:
    case Op::attention:
    case Op::add:
    case Op::silu_mul:
    case Op::add_bias:
    case Op::gather_rows:
    case Op::argmax:
    case Op::layer_norm:
    case Op::modulate:
    case Op::gated_add:
    case Op::gelu:
    case Op::silu:
    case Op::cross_attention:
    case Op::flow_step:
    case Op::unpatchify:
      return true;
    default:
      return false;
  }
}

RunCost PhotonicModel::run(const Graph& g, std::span<const std::int64_t> dims) const {
  RunCost c;
  for (const Node& n : g.nodes()) {
    const Work w = op_def(n.op).cost(g, n, dims);
    const double bytes = w.bytes_read + w.bytes_written;
    const double t_mem = bytes / mem_bw_;
    c.energy.memory += bytes * mem_j_;
    if (n.op != Op::matmul) {  // the electronic co-processor
      c.seconds += std::max(w.flops / digital_rate_, t_mem);
      c.energy.digital += w.flops * digital_j_;
      continue;
    }
    const TensorDesc& x = g.tensor(n.inputs[0]);
    const TensorDesc& wt = g.tensor(n.inputs[1]);
    const auto m = static_cast<double>(g.live_rows(n.inputs[0], dims));
    const auto k = static_cast<double>(x.shape.back());
    const auto out = static_cast<double>(wt.shape[0]);
    const double row_tiles = std::ceil(out / rows_), col_tiles = std::ceil(k / cols_);
    const double tiles = row_tiles * col_tiles;
    const bool resident = tiles <= arrays_;
    const double passes = std::ceil(tiles / arrays_);
    const double t_optical = passes * ((resident ? 0.0 : reprogram_) + m / clock_ + latency_);
    c.seconds += std::max(t_optical, t_mem);
    c.optical_seconds += t_optical;
    c.macs += m * k * out;
    const double in_samples = m * k * row_tiles, out_samples = m * out * col_tiles;
    c.energy.dac += in_samples * dac_j_;
    c.energy.modulator += in_samples * dac_bits_ * mod_j_;
    c.energy.adc += out_samples * adc_j_;
    if (!resident) c.energy.weight_load += tiles * rows_ * cols_ * dac_j_;
    c.energy.digital += m * out * (col_tiles - 1) * digital_j_;
    c.energy.laser += arrays_ * laser_w_ / wall_plug_ * t_optical;
  }
  c.energy.tuning = arrays_ * rows_ * cols_ * tuning_w_ * c.seconds;
  c.energy.static_ = static_w_ * c.seconds;
  return c;
}

}  // namespace xpb::photonic
