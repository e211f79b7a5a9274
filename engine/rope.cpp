#include "engine/rope.h"

#include <algorithm>
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

std::vector<float> llama3_rope_freq_factors(const ModelConfig& c) {
  ModelConfig plain = c;
  plain.rope_scaling = RopeScaling::kNone;
  const std::vector<double> base = rope_inv_freq(plain);
  const double old_ctx = c.rope_original_max_position;
  const double low_wavelen = old_ctx / c.rope_low_freq_factor;
  const double high_wavelen = old_ctx / c.rope_high_freq_factor;
  std::vector<float> out;
  for (double freq : base) {
    const double wavelen = 2 * std::numbers::pi / freq;
    double factor = 1;
    if (wavelen > low_wavelen) {
      factor = c.rope_factor;
    } else if (wavelen >= high_wavelen) {
      const double smooth = (old_ctx / wavelen - c.rope_low_freq_factor) /
                            (c.rope_high_freq_factor - c.rope_low_freq_factor);
      factor = 1 / ((1 - smooth) / c.rope_factor + smooth);
    }
    out.push_back(static_cast<float>(factor));
  }
  return out;
}

bool fit_llama3_rope(const std::vector<float>& factors, ModelConfig& c) {
  ModelConfig t = c;
  t.rope_scaling = RopeScaling::kNone;
  const std::vector<double> base = rope_inv_freq(t);
  if (factors.size() != base.size() || factors.empty()) return false;
  for (float f : factors)
    if (!std::isfinite(f) || f <= 0) return false;
  const auto matches = [&](const ModelConfig& m) {
    if (m.rope_scaling == RopeScaling::kLlama3 &&
        !(m.rope_factor > 0 && m.rope_low_freq_factor > 0 &&
          m.rope_high_freq_factor > m.rope_low_freq_factor && m.rope_original_max_position > 0))
      return false;
    const std::vector<double> got = rope_inv_freq(m);
    for (size_t i = 0; i < base.size(); ++i)
      if (std::abs(got[i] * factors[i] / base[i] - 1) > 1e-4) return false;
    return true;
  };
  if (matches(t)) {
    c = t;
    return true;
  }
  const double factor = *std::max_element(factors.begin(), factors.end());
  t.rope_scaling = RopeScaling::kLlama3;
  t.rope_factor = static_cast<float>(factor);
  // The medium band: s = (1 / f - 1 / factor) / (1 - 1 / factor) in (0, 1)
  // is a * x + b in x = 1 / wavelength, with a = old / (high - low) and
  // b = -low / (high - low). Least squares over its points.
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < base.size(); ++i) {
    const double s = (1 / factors[i] - 1 / factor) / (1 - 1 / factor);
    if (s <= 1e-3 || s >= 1 - 1e-3) continue;
    const double x = base[i] / (2 * std::numbers::pi);
    n += 1, sx += x, sy += s, sxx += x * x, sxy += x * s;
  }
  std::vector<ModelConfig> candidates;
  if (n >= 2 && n * sxx - sx * sx > 0) {
    const double a = (n * sxy - sx * sy) / (n * sxx - sx * sx), b = (sy - a * sx) / n;
    if (a > 0 && b < 0) {
      ModelConfig low_one = t;  // low_freq_factor 1: old = -a / b, high = 1 - 1 / b
      low_one.rope_original_max_position = static_cast<int>(std::lround(-a / b));
      low_one.rope_low_freq_factor = 1;
      low_one.rope_high_freq_factor = static_cast<float>(1 - 1 / b);
      candidates.push_back(low_one);
      ModelConfig old_8192 = t;  // old 8192: high - low = old / a, low = -b * old / a
      old_8192.rope_original_max_position = 8192;
      old_8192.rope_low_freq_factor = static_cast<float>(-b * 8192 / a);
      old_8192.rope_high_freq_factor = static_cast<float>((1 - b) * 8192 / a);
      candidates.push_back(old_8192);
    }
  }
  // Every factor at 1 or `factor`: Llama 3's defaults, if the gap fits them.
  ModelConfig defaults = t;
  defaults.rope_low_freq_factor = 1;
  defaults.rope_high_freq_factor = 4;
  defaults.rope_original_max_position = 8192;
  candidates.insert(candidates.begin(), defaults);
  for (const ModelConfig& m : candidates)
    if (matches(m)) {
      c = m;
      return true;
    }
  return false;
}

}  // namespace radial
