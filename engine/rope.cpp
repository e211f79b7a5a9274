#include "engine/rope.h"

#include <cmath>
#include <numbers>

namespace radial {

std::vector<double> rope_inv_freq(const ModelConfig& c) {
  const int half = c.head_dim / 2;
  std::vector<double> f(half);
  for (int i = 0; i < half; ++i)
    f[i] = 1.0 / std::pow(static_cast<double>(c.rope_theta), (2.0 * i) / c.head_dim);
  if (c.rope_scaling == RopeScaling::kLinear) {
    for (double& x : f) x /= c.rope_factor;
  } else if (c.rope_scaling == RopeScaling::kLlama3) {
    // Hugging Face _compute_llama3_parameters.
    const double old_ctx = c.rope_original_max_position;
    const double low_wavelen = old_ctx / c.rope_low_freq_factor;
    const double high_wavelen = old_ctx / c.rope_high_freq_factor;
    for (double& x : f) {
      const double wavelen = 2 * std::numbers::pi / x;
      if (wavelen > low_wavelen) {
        x = x / c.rope_factor;
      } else if (wavelen >= high_wavelen) {  // medium band: smooth interpolation
        const double smooth = (old_ctx / wavelen - c.rope_low_freq_factor) /
                              (c.rope_high_freq_factor - c.rope_low_freq_factor);
        x = (1 - smooth) * x / c.rope_factor + smooth * x;
      }
    }
  }
  return f;
}

}  // namespace radial
