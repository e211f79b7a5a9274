// Weights of a Llama-family model, in host memory, in the layout the engine
// computes with: projections are [out, in] row-major (PyTorch nn.Linear), so
// y = x * W^T. Q/K rows follow config.rope_layout.
#pragma once

#include <vector>

#include "engine/model_config.h"
#include "engine/tensor.h"

namespace radial {

struct LayerWeights {
  Tensor attn_norm;       // [d]
  Tensor wq;              // [q_dim, d]
  Tensor wk;              // [kv_dim, d]
  Tensor wv;              // [kv_dim, d]
  Tensor bq, bk, bv;      // [q_dim], [kv_dim], [kv_dim] when config.attention_bias, else empty
  Tensor q_norm, k_norm;  // [head_dim] each when config.qk_norm (Qwen3), else empty
  Tensor wo;              // [d, q_dim]
  Tensor mlp_norm;        // [d]
  Tensor w_gate;          // [ff, d]
  Tensor w_up;            // [ff, d]
  Tensor w_down;          // [d, ff]
};

struct ModelWeights {
  ModelConfig config;
  Tensor embed;  // [vocab, d]
  std::vector<LayerWeights> layers;
  Tensor final_norm;  // [d]
  Tensor lm_head;     // [vocab, d]; shares storage with embed when tied

  // Throws Error(kCorrupt) naming the first tensor whose shape or dtype does
  // not match the config (matrices: F32, BF16, F16 or Q8_0, each its own;
  // norms and biases: F32).
  void validate() const;
  // The weight matrices (embed, each layer's projections, lm_head), in that
  // order (lm_head is embed's storage when tied).
  std::vector<const Tensor*> matrices() const;
  // Bytes of all weight matrices and norms, counting tied storage once.
  size_t weight_bytes() const;
};

}  // namespace radial
