// Row-wise fp32 operations of the CPU reference backend. Every function
// processes one row at a time with a fixed operation order, so results do
// not depend on how many rows are processed together.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/model_config.h"

namespace radial::cpu {

// out = w * x / sqrt(mean(x^2) + eps)   (x, w, out: [d]; out may alias x)
void rmsnorm(const float* x, const float* w, float* out, int d, float eps);

// Applies the activation in place to x[0..n).
void activate(float* x, int64_t n, Activation act);

// out[i] = act(gate[i]) * up[i]  (SwiGLU and its gelu/relu variants)
void gated_activation(const float* gate, const float* up, float* out, int64_t n, Activation act);

// Rotary embedding tables for one model: inverse frequencies with
// rope_scaling applied (linear, llama3), as Hugging Face computes them.
class Rope {
 public:
  explicit Rope(const ModelConfig& c);
  // cos/sin of position `pos` for the head_dim/2 frequencies ([head_dim/2] each).
  void angles(int pos, float* cos_out, float* sin_out) const;
  // Rotates `num_heads` heads of `head_dim` in place with the given angles,
  // in the model's layout (half-split or interleaved pairs).
  void apply(float* x, int num_heads, const float* cos, const float* sin) const;
  int head_dim() const { return head_dim_; }
  // Inverse frequencies ([head_dim / 2], scaling applied): angle = pos * f.
  const std::vector<double>& inv_freq() const { return inv_freq_; }

 private:
  int head_dim_;
  RopeLayout layout_;
  std::vector<double> inv_freq_;
};

// One query row attending over `n` cached entries of one KV head:
//   out = softmax(q . k_e * scale) . v_e
// k_rows[e] and v_rows[e] point at the entries' [head_dim] rows; scores has
// room for n floats (scratch). Defined operation by operation in attend.cpp
// (the same bits on every dispatch path; a polynomial exp, not libm's).
void attend(const float* q, const float* const* k_rows, const float* const* v_rows, int n,
            int head_dim, float scale, float* scores, float* out);

}  // namespace radial::cpu
