// Rotary position embedding frequencies, one definition for every backend:
// the angle of pair i at position p is p * rope_inv_freq(c)[i] (in double),
// with the model's scaling (none, linear, or Llama 3's) applied.
#pragma once

#include <vector>

#include "engine/model_config.h"

namespace radial {

// [head_dim / 2] inverse frequencies.
std::vector<double> rope_inv_freq(const ModelConfig& c);

}  // namespace radial
