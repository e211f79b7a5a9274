#include "engine/token_sampling.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/sampler.h"

namespace radial {

void validate(const TokenSampling& p) {
  require(std::isfinite(p.temperature) && p.temperature >= 0.f, ErrorCode::kInvalidArgument,
          "temperature must be finite and >= 0");
  require(p.top_k >= 0, ErrorCode::kInvalidArgument, "top_k must be >= 0");
  require(p.top_p > 0.f && p.top_p <= 1.f, ErrorCode::kInvalidArgument, "top_p must be in (0, 1]");
  require(p.uniform >= 0.f && p.uniform < 1.f, ErrorCode::kInvalidArgument,
          "uniform must be in [0, 1)");
}

int sample_token(std::span<const float> logits, const TokenSampling& p) {
  validate(p);
  if (p.temperature == 0.f) return argmax(logits);
  const int n = static_cast<int>(logits.size());
  std::vector<float> l(logits.begin(), logits.end());
  for (float& v : l) {
    if (std::isnan(v)) v = -INFINITY;
    if (v == INFINITY) v = FLT_MAX;
  }
  const float m = *std::max_element(l.begin(), l.end());
  if (m == -INFINITY) return 0;
  std::vector<float> w(n);
  for (int i = 0; i < n; ++i) w[i] = std::exp((l[i] - m) / p.temperature);

  std::vector<float> sorted(l);
  std::sort(sorted.begin(), sorted.end(), std::greater<float>());
  float t = -INFINITY;
  if (p.top_k > 0 && p.top_k < n) t = sorted[p.top_k - 1];
  if (p.top_p < 1.f) {
    double total = 0;
    for (int i = 0; i < n; ++i)
      if (l[i] >= t) total += w[i];
    // Walk the values best first, a run of equal values at a time.
    const double target = static_cast<double>(p.top_p) * total;
    double mass = 0;
    for (size_t j = 0; j < sorted.size() && sorted[j] >= t;) {
      const float v = sorted[j];
      for (; j < sorted.size() && sorted[j] == v; ++j) mass += std::exp((v - m) / p.temperature);
      if (mass >= target) {
        t = v;
        break;
      }
    }
  }
  double kept = 0;
  for (int i = 0; i < n; ++i)
    if (l[i] >= t) kept += w[i];
  const double r = static_cast<double>(p.uniform) * kept;
  double acc = 0;
  int last = -1;
  for (int i = 0; i < n; ++i) {
    if (l[i] < t) continue;
    acc += w[i];
    if (w[i] > 0) last = i;
    if (acc > r) return i;
  }
  return std::max(last, 0);
}

}  // namespace radial
