// Rotary position embedding frequencies, one definition for every backend:
// the angle of pair i at position p is p * rope_inv_freq(c)[i] (in double),
// with the model's scaling (none, linear, or Llama 3's) applied.
#pragma once

#include <vector>

#include "engine/model_config.h"

namespace radial {

// [head_dim / 2] inverse frequencies.
std::vector<double> rope_inv_freq(const ModelConfig& c);

// Llama 3's scaling as GGUF files carry it: llama.cpp's converter
// (convert_hf_to_gguf.py) writes no scaling parameters, only the tensor
// rope_freqs.weight, [head_dim / 2] factors that divide the unscaled inverse
// frequencies: 1 in the high band, rope_factor in the low band,
// 1 / ((1 - s) / factor + s) between. These are c's factors (c.rope_scaling
// kLlama3), computed as that converter does.
std::vector<float> llama3_rope_freq_factors(const ModelConfig& c);

// The inverse of llama3_rope_freq_factors: sets c's rope scaling (kNone when
// every factor is 1, else kLlama3 with its factor, low/high frequency factors
// and original context) so that rope_inv_freq(c)[i] equals the unscaled
// inverse frequency over factors[i] within 1e-4 relative. Only two numbers
// besides the factor shape the curve, so the four parameters are not unique:
// low_freq_factor 1 (every Llama 3.x release's) is assumed first, then the
// original context 8192. Returns false, leaving c as it was, when no Llama 3
// scaling gives `factors` (or it has the wrong length).
bool fit_llama3_rope(const std::vector<float>& factors, ModelConfig& c);

}  // namespace radial
