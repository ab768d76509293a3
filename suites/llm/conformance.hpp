// The llm workloads' correctness check: the same model, the same tokens, on the device and on
// `ref`, step by step (DESIGN.md §5). Greedy tokens are compared, and every logit, with
// tolerances written down per weight dtype (see tolerance_for).
#pragma once
#include <nlohmann/json.hpp>

#include "llm_common.hpp"
#include "model_weights.hpp"
#include "xpubench/workload.hpp"

namespace xpb::llm {

// The tolerance of a model whose weight matrices are all of dtype `weights` (a model with any
// quantized matrix takes the quantized one: the device rounds activations for those).
struct Tolerance {
  double rms_logit_error;  // RMS of (device - ref) over a step's logits, over the RMS of ref's
  bool tokens_must_match;  // every greedy token identical
  double min_token_agreement;  // else: the fraction of steps whose greedy tokens agree
  const char* why;
};
Tolerance tolerance_for(DType weights);

// Runs a prompt of `prompt` tokens and `steps` decode steps on ctx.device (a twin of the
// benchmark's engine, bound to the same `weights`) and on ctx.reference (bound to them too
// when it can address them, so no second copy of the model is made), both from the tokens ref
// chose (teacher forcing, so one early difference
// cannot send the two down different paths and hide how close the logits are), and returns
// the conformance object: {status, method, steps, token_agreement, first_disagreement,
// rms_logit_error (the worst step's, what the tolerance bounds), max_logit_error and
// max_error (the largest single difference seen, over the logits' RMS), tolerance,
// weights_shared (whether ref bound the device's weights rather than loading a copy)}. Status
// is passed, failed, mistrusted (non-finite or constant logits) or skipped (with the reason;
// also when ref's own logits are all zero, which leave nothing to scale an error by, and on a
// timing-only device, which computes no logits). On a device that holds weights at fewer bits
// than given (DeviceCaps::alters_weights: hc1-sim's ROM) ref computes on the weights as the
// device holds them, so the tolerance is that of the dtype, and `accuracy_cost` adds the same
// comparison against ref on the weights as given: what the rounding costs, reported, ungated.
nlohmann::json check_against_ref(RunContext& ctx, const std::shared_ptr<ModelWeights>& weights, int threads, int prompt,
                                 int steps, std::uint64_t prompt_seed);

}  // namespace xpb::llm
