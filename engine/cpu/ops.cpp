#include "engine/cpu/ops.h"

#include <cmath>
#include <numbers>

#include "engine/cpu/gemm.h"
#include "engine/rope.h"

namespace radial::cpu {

void rmsnorm(const float* x, const float* w, float* out, int d, float eps) {
  float ss = dot(x, x, d) / static_cast<float>(d) + eps;
  const float inv = 1.f / std::sqrt(ss);
  for (int i = 0; i < d; ++i) out[i] = w[i] * (inv * x[i]);
}

namespace {

inline float act1(float v, Activation act) {
  switch (act) {
    case Activation::kSilu:
      return v / (1.f + std::exp(-v));
    case Activation::kGelu:
      return 0.5f * v * (1.f + std::erf(v * static_cast<float>(std::numbers::sqrt2 / 2)));
    case Activation::kRelu:
      return v > 0.f ? v : 0.f;
  }
  return v;
}

}  // namespace

void activate(float* x, int64_t n, Activation act) {
  for (int64_t i = 0; i < n; ++i) x[i] = act1(x[i], act);
}

void gated_activation(const float* gate, const float* up, float* out, int64_t n, Activation act) {
  for (int64_t i = 0; i < n; ++i) out[i] = act1(gate[i], act) * up[i];
}

Rope::Rope(const ModelConfig& c)
    : head_dim_(c.head_dim), layout_(c.rope_layout), inv_freq_(rope_inv_freq(c)) {}

void Rope::angles(int pos, float* cos_out, float* sin_out) const {
  for (size_t i = 0; i < inv_freq_.size(); ++i) {
    const double a = static_cast<double>(pos) * inv_freq_[i];
    cos_out[i] = static_cast<float>(std::cos(a));
    sin_out[i] = static_cast<float>(std::sin(a));
  }
}

void Rope::apply(float* x, int num_heads, const float* cos, const float* sin) const {
  const int half = head_dim_ / 2;
  for (int h = 0; h < num_heads; ++h) {
    float* v = x + static_cast<int64_t>(h) * head_dim_;
    if (layout_ == RopeLayout::kHalfSplit) {
      for (int i = 0; i < half; ++i) {
        const float x0 = v[i], x1 = v[i + half];
        v[i] = x0 * cos[i] - x1 * sin[i];
        v[i + half] = x1 * cos[i] + x0 * sin[i];
      }
    } else {
      for (int i = 0; i < half; ++i) {
        const float x0 = v[2 * i], x1 = v[2 * i + 1];
        v[2 * i] = x0 * cos[i] - x1 * sin[i];
        v[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
      }
    }
  }
}

}  // namespace radial::cpu
