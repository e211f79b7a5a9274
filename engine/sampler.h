// Token sampling from logits on the host: greedy, temperature, top-k, top-p,
// repetition penalty; deterministic for a seed.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/random.h"

namespace radial {

struct SamplingParams {
  float temperature = 0.f;         // 0: greedy (argmax; ties to the lowest id)
  int top_k = 0;                   // 0: off
  float top_p = 1.f;               // in (0, 1]; 1: off
  float repetition_penalty = 1.f;  // > 0; 1: off (CTRL-style: logit/p if > 0, else logit*p)
  uint64_t seed = 0;

  // Throws Error(kInvalidArgument) naming the bad field.
  void validate() const;
};

// One per sequence: owns the random stream so that a sequence's samples do
// not depend on other sequences.
class Sampler {
 public:
  // Validates `params` (throws Error(kInvalidArgument)); the random stream
  // starts from params.seed (splitmix64).
  explicit Sampler(const SamplingParams& params);
  // `logits` is modified in place (repetition penalty; NaN becomes -inf);
  // temperature is applied in double precision on a copy. `history` holds the
  // ids the repetition penalty applies to (prompt + generated); every id in
  // `history` must be in [0, logits.size()). Throws Error(kInvalidArgument)
  // on empty logits or an out-of-range history id.
  int sample(std::span<float> logits, std::span<const int> history);

 private:
  SamplingParams p_;
  Rng rng_;  // splitmix64 stream seeded with params.seed
  struct Candidate {
    double weight;  // unnormalized probability exp((logit - max) / T)
    int id;
  };
  std::vector<int> order_;       // scratch: history ids, top-k selection
  std::vector<Candidate> cand_;  // scratch: candidates
};

// Index of the largest logit, ties to the lowest id; NaN never wins unless
// every value is NaN (then 0). Throws Error(kInvalidArgument) when empty.
int argmax(std::span<const float> logits);

}  // namespace radial
