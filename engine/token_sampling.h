// The head's sampling rule, shared by every backend (the CUDA backend's
// sampling kernel computes the same function on the device):
//  - temperature 0: argmax, ties to the lowest id, NaN never wins (all NaN: 0).
//  - otherwise, with m the largest logit and w_i = exp((l_i - m) / T):
//    top-k keeps the ids whose logit is >= t_k, the k-th largest logit (ties
//    at the boundary are all kept); top-p then keeps those whose logit is
//    >= t_p, the largest value such that the ids at or above it carry at
//    least top_p of the weight top-k kept. +inf logits count as the largest
//    finite float; if every logit is -inf (or NaN) the token is 0. The token is the first
//    kept id, in ascending id order, at which the cumulative kept weight
//    exceeds uniform * (total kept weight); rounding at the very top of the
//    range gives the last kept id. NaN logits count as -inf.
// Unlike Sampler (engine/sampler.h), there is no repetition penalty and the
// draw is taken in id order, so that a GPU can compute it without sorting.
#pragma once

#include <span>

#include "engine/backend.h"

namespace radial {

// Throws Error(kInvalidArgument) on empty logits or parameters out of range
// (temperature < 0, top_k < 0, top_p outside (0, 1], uniform outside [0, 1)).
int sample_token(std::span<const float> logits, const TokenSampling& params);

void validate(const TokenSampling& params);

}  // namespace radial
