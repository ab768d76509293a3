// The timing and energy model of hc1-sim (docs/SIMULATORS.md has the equations and sources).
// A pure function of a step's rows and the description: functional and timing-only mode give
// the same simulated time because both ask this model.
//
// Per-user time per token at context c (positions attended, the new one included):
//   t(c) = t0 + slope * c,  t0 = 1 / decode_short_context_tokens_per_s,
//   slope = (1 / decode_tokens_per_s - t0) / decode_context
// A step of sequences s, each with n_s rows whose last attends c_s positions:
//   cost_s  = (n_s - 1) / prefill_tokens_per_s + t(c_s)     (prompt rows stream, the last traverses)
//   time    = max( max_s cost_s,  sum_s (n_s - 1) / prefill_tokens_per_s + sum_s t(c_s) / pipeline_slots )
//           + request_overhead_s   if any sequence starts at position 0 (a new request)
//   energy  = time * card_power_w
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sim_description.hpp"

namespace xpb::hc1 {

// The parameters hc1.yaml must give (sim_description.hpp).
const std::vector<sim::ParameterSpec>& parameter_specs();

struct StepCost {
  double seconds = 0;
  double joules = 0;
};

class Hc1Model {
 public:
  explicit Hc1Model(const sim::SimDescription& d);

  // The cost of one step over `rows` rows: rows[i] of sequence sequences[i] at position
  // positions[i]. Positions and sequences must be >= 0 (the engine checks them first).
  StepCost step(std::span<const std::int32_t> positions, std::span<const std::int32_t> sequences) const;
  // One user's decode time per token with `context` positions attended.
  double token_seconds(double context) const { return t0_ + slope_ * context; }

  // The hardwired model: its name, and its shape in the words of a graph's ModelIdentity
  // ("dim=4096 layers=32 ..."; graph.hpp), so compile can compare the two.
  const std::string& model_name() const { return model_name_; }
  const std::string& model_shape() const { return model_shape_; }
  std::uint64_t model_parameters() const { return parameters_; }
  // KV cache bytes per position on chip (every layer's K and V at kv_bits), and how many
  // positions, over all sequences, the KV SRAM holds.
  double kv_bytes_per_position() const { return kv_bytes_per_position_; }
  std::uint64_t kv_capacity_positions() const;
  double kv_sram_bytes() const { return kv_sram_bytes_; }

  // The bits a weight tensor is held in on chip (`name` in GGUF naming: blk.N.attn_v.weight).
  int weight_bits(const std::string& tensor_name) const;
  int weight_block() const { return weight_block_; }
  double card_power_w() const { return card_power_w_; }

 private:
  std::string model_name_, model_shape_;
  std::uint64_t parameters_ = 0;
  double t0_ = 0, slope_ = 0, prefill_rate_ = 0, slots_ = 1, overhead_s_ = 0, card_power_w_ = 0;
  double kv_bytes_per_position_ = 0, kv_sram_bytes_ = 0;
  int bits_ = 3, bits_wide_ = 6, weight_block_ = 32;
  std::vector<std::string> wide_;
};

}  // namespace xpb::hc1
