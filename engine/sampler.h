// Token sampling from logits on the host: greedy, temperature, top-k, top-p,
// logit bias, repetition, presence and frequency penalties; deterministic
// for a seed.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/random.h"

namespace radial {

// A bias added to one token's logit before sampling (OpenAI's logit_bias).
struct LogitBias {
  int token = 0;   // >= 0; the request validator checks it against the vocabulary
  float bias = 0;  // in [-100, 100]; -100 all but bans the token, 100 all but forces it
};

// The logits are changed in this order before temperature, top-k and top-p:
// 1. logit_bias: logit[t] += bias;
// 2. repetition_penalty (CTRL), once per distinct id of prompt + generated;
// 3. presence and frequency penalties (OpenAI), over generated ids only:
//    logit[t] -= frequency_penalty * count[t] + presence_penalty * (count[t] > 0).
struct SamplingParams {
  float temperature = 0.f;            // 0: greedy (argmax; ties to the lowest id)
  int top_k = 0;                      // 0: off
  float top_p = 1.f;                  // in (0, 1]; 1: off
  float repetition_penalty = 1.f;     // > 0; 1: off (CTRL-style: logit/p if > 0, else logit*p)
  float presence_penalty = 0.f;       // in [-2, 2]; 0: off
  float frequency_penalty = 0.f;      // in [-2, 2]; 0: off
  std::vector<LogitBias> logit_bias;  // distinct tokens; empty: off
  uint64_t seed = 0;

  // Throws Error(kInvalidArgument) naming the bad field.
  void validate() const;
  // True when sampling changes the logits before choosing (a bias or a
  // penalty): such rows need the host Sampler, not a backend's argmax.
  bool modifies_logits() const {
    return repetition_penalty != 1.f || presence_penalty != 0.f || frequency_penalty != 0.f ||
           !logit_bias.empty();
  }
};

// One per sequence: owns the random stream so that a sequence's samples do
// not depend on other sequences.
class Sampler {
 public:
  // Validates `params` (throws Error(kInvalidArgument)); the random stream
  // starts from params.seed (splitmix64).
  explicit Sampler(const SamplingParams& params);
  // `logits` is modified in place (bias and penalties; NaN becomes -inf);
  // temperature is applied in double precision on a copy. `history` is the
  // prompt followed by the generated ids: the repetition penalty applies to
  // all of it, presence and frequency penalties to history[prompt_len:].
  // Every id in `history` and `logit_bias` must be in [0, logits.size()).
  // Throws Error(kInvalidArgument) on empty logits, an out-of-range id or
  // prompt_len > history.size().
  int sample(std::span<float> logits, std::span<const int> history, size_t prompt_len = 0);

 private:
  SamplingParams p_;
  Rng rng_;  // splitmix64 stream seeded with params.seed
  struct Candidate {
    double weight;  // unnormalized probability exp((logit - max) / T)
    int id;
  };
  // Applies logit_bias and the penalties (steps 1-3 above) to `logits`.
  void adjust_logits(std::span<float> logits, std::span<const int> history, size_t prompt_len);

  std::vector<int> order_;       // scratch: history ids, sorted
  std::vector<Candidate> cand_;  // scratch: candidates
};

// Index of the largest logit, ties to the lowest id; NaN never wins unless
// every value is NaN (then 0). Throws Error(kInvalidArgument) when empty.
int argmax(std::span<const float> logits);

}  // namespace radial
