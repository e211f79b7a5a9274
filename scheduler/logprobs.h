// Log-probabilities of a sampled token under the distribution it was drawn
// from: the logits after the logit bias and the penalties, divided by the
// temperature (1 for greedy decoding, and for a prompt's own tokens, whose
// distribution is the model's), through a log-softmax over the whole
// vocabulary (top-k and top-p restrict the draw, not these figures; OpenAI
// and vLLM report the same). -inf logits get -inf.
#pragma once

#include <span>
#include <vector>

#include "scheduler/request.h"

namespace radial {

// `logits` as the sampler left them (NaN already -inf). Sets *chosen to
// token `id`'s log-probability and, with top_n > 0, `top` to the top_n
// likeliest tokens, best first, ties to the lower id.
void token_logprobs(std::span<const float> logits, float temperature, int id, int top_n,
                    float* chosen, std::vector<TokenLogprob>* top);

}  // namespace radial
