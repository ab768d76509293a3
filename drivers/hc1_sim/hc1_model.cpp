#include "hc1_model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

#include "xpubench/error.hpp"

namespace xpb::hc1 {

const std::vector<sim::ParameterSpec>& parameter_specs() {
  using T = sim::ParameterSpec::Type;
  constexpr double big = 1e18;
  static const std::vector<sim::ParameterSpec> specs = {
      {"model_name", "name", 0, 0, T::text},
      {"model_dim", "count", 1, 1 << 20},
      {"model_layers", "count", 1, 4096},
      {"model_heads", "count", 1, 4096},
      {"model_kv_heads", "count", 1, 4096},
      {"model_head_dim", "count", 1, 4096},
      {"model_ffn", "count", 1, 1 << 22},
      {"model_vocab", "count", 1, 1 << 24},
      {"model_tied_embeddings", "flag", 0, 1},
      {"weight_bits", "bits", 2, 16},
      {"weight_bits_wide", "bits", 2, 16},
      {"wide_tensors", "name", 0, 0, T::names},
      {"weight_block", "elements", 1, 4096},
      {"kv_bits", "bits", 1, 32},
      {"kv_sram_bytes", "bytes", 1, big},
      {"decode_tokens_per_s", "tokens/s", 1e-3, 1e12},
      {"decode_context", "positions", 0, 1 << 24},
      {"decode_short_context_tokens_per_s", "tokens/s", 1e-3, 1e12},
      {"pipeline_slots", "sequences", 1, 1 << 20},
      {"prefill_tokens_per_s", "tokens/s", 1e-3, 1e15},
      {"request_overhead_s", "s", 0, 3600},
      {"card_power_w", "W", 0, 1e6},
      {"idle_power_w", "W", 0, 1e6},
      {"server_cards", "cards", 1, 1e4},
      {"server_power_w", "W", 0, 1e8},
      {"clock_resolution_s", "s", 1e-15, 1},
      {"clock_jitter_cv", "ratio", 0, 1},
      {"clock_jitter_seed", "count", 0, 9007199254740992.0},
  };
  return specs;
}

Hc1Model::Hc1Model(const sim::SimDescription& d) {
  auto whole = [&](const char* n) { return static_cast<std::int64_t>(std::llround(d.number(n))); };
  const std::int64_t dim = whole("model_dim"), layers = whole("model_layers"), heads = whole("model_heads"),
                     kv_heads = whole("model_kv_heads"), head_dim = whole("model_head_dim"), ffn = whole("model_ffn"),
                     vocab = whole("model_vocab");
  const bool tied = whole("model_tied_embeddings") != 0;
  model_name_ = d.text("model_name");
  // The words of llm::model_identity (suites/llm/llama_model.cpp), which a graph carries.
  model_shape_ = "dim=" + std::to_string(dim) + " layers=" + std::to_string(layers) + " heads=" + std::to_string(heads) +
                 " kv_heads=" + std::to_string(kv_heads) + " head_dim=" + std::to_string(head_dim) +
                 " ffn=" + std::to_string(ffn) + " vocab=" + std::to_string(vocab) + (tied ? " tied" : "");
  const auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
  const std::uint64_t per_layer = u(dim) * u(heads * head_dim) * 2 + u(dim) * u(kv_heads * head_dim) * 2 + 3 * u(dim) * u(ffn);
  // Matrices, the two norms of each layer and the output norm (as LlamaConfig::parameters).
  parameters_ = u(layers) * (per_layer + 2 * u(dim)) + u(vocab) * u(dim) * (tied ? 1 : 2) + u(dim);

  const double fast = d.number("decode_short_context_tokens_per_s"), rate = d.number("decode_tokens_per_s");
  t0_ = 1.0 / fast;
  const double at = d.number("decode_context");
  if (1.0 / rate < t0_)
    throw InputError(d.file + ": decode_tokens_per_s (" + std::to_string(rate) +
                     ") is above decode_short_context_tokens_per_s (" + std::to_string(fast) +
                     "): a longer context cannot decode faster");
  slope_ = at > 0 ? (1.0 / rate - t0_) / at : 0.0;
  prefill_rate_ = d.number("prefill_tokens_per_s");
  slots_ = d.number("pipeline_slots");
  overhead_s_ = d.number("request_overhead_s");
  card_power_w_ = d.number("card_power_w");
  kv_bytes_per_position_ = static_cast<double>(layers) * 2.0 * static_cast<double>(kv_heads * head_dim) * d.number("kv_bits") / 8.0;
  kv_sram_bytes_ = d.number("kv_sram_bytes");
  bits_ = static_cast<int>(whole("weight_bits"));
  bits_wide_ = static_cast<int>(whole("weight_bits_wide"));
  weight_block_ = static_cast<int>(whole("weight_block"));
  wide_ = d.names("wide_tensors");
}

std::uint64_t Hc1Model::kv_capacity_positions() const {
  return static_cast<std::uint64_t>(std::floor(kv_sram_bytes_ / kv_bytes_per_position_));
}

int Hc1Model::weight_bits(const std::string& tensor_name) const {
  // The component before ".weight": "blk.3.attn_v.weight" -> attn_v, "output.weight" -> output.
  std::string base = tensor_name;
  if (const auto dot = base.rfind(".weight"); dot != std::string::npos && dot + 7 == base.size()) base.resize(dot);
  if (const auto dot = base.rfind('.'); dot != std::string::npos) base = base.substr(dot + 1);
  return std::find(wide_.begin(), wide_.end(), base) != wide_.end() ? bits_wide_ : bits_;
}

StepCost Hc1Model::step(std::span<const std::int32_t> positions, std::span<const std::int32_t> sequences) const {
  struct Seq {
    std::int64_t rows = 0, first = std::numeric_limits<std::int64_t>::max(), last = -1;
  };
  std::map<std::int32_t, Seq> seqs;
  for (std::size_t i = 0; i < positions.size(); ++i) {
    Seq& s = seqs[sequences[i]];
    ++s.rows;
    s.first = std::min<std::int64_t>(s.first, positions[i]);
    s.last = std::max<std::int64_t>(s.last, positions[i]);
  }
  double slowest = 0, prefill = 0, traverse = 0;
  bool new_request = false;
  for (const auto& [id, s] : seqs) {
    const double streamed = static_cast<double>(s.rows - 1) / prefill_rate_;
    const double last = token_seconds(static_cast<double>(s.last + 1));
    slowest = std::max(slowest, streamed + last);
    prefill += streamed;
    traverse += last;
    if (s.first == 0) new_request = true;
  }
  StepCost c;
  if (seqs.empty()) return c;
  c.seconds = std::max(slowest, prefill + traverse / slots_) + (new_request ? overhead_s_ : 0.0);
  c.joules = c.seconds * card_power_w_;
  return c;
}

}  // namespace xpb::hc1
