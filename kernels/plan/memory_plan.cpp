#include "kernels/plan/memory_plan.h"

#include <algorithm>
#include <limits>
#include <string>

#include "engine/error.h"

namespace radial::gpu {

int64_t weight_bytes(const ModelConfig& c, DType dtype) {
  const int64_t d = c.hidden_size, qd = c.q_dim(), kvd = c.kv_dim(), ff = c.intermediate_size;
  const int64_t es = static_cast<int64_t>(dtype_size(dtype));
  const int64_t per_layer = (qd + 2 * kvd) * d + d * qd + 2 * ff * d + d * ff;
  const int64_t embed = static_cast<int64_t>(c.vocab_size) * d;
  int64_t bytes = es * (c.num_layers * per_layer + embed * (c.tie_word_embeddings ? 1 : 2));
  const int64_t norms = c.num_layers * 2 * d + d;
  const int64_t bias = c.attention_bias ? c.num_layers * (qd + 2 * kvd) : 0;
  const int64_t qk_norms = c.qk_norm ? c.num_layers * 2 * c.head_dim : 0;
  return bytes + 4 * (norms + bias + qk_norms);
}

int64_t WorkspaceSizes::total() const {
  return hidden + resid + normed + normed32 + qkv + att + gate_up + act + partial + logits +
         router + small;
}

WorkspaceSizes workspace_sizes(const ModelConfig& c, DType dtype, const WorkspaceShape& s) {
  const int64_t es = static_cast<int64_t>(dtype_size(dtype));
  const int64_t d = c.hidden_size, qd = c.q_dim(), kvd = c.kv_dim(), ff = c.intermediate_size;
  const int64_t rows = s.rows;
  WorkspaceSizes w;
  w.hidden = 4LL * s.max_slots * d;
  w.resid = 4 * rows * d;
  w.normed = es * rows * d;
  w.normed32 = s.router_hidden > 0 ? 4 * rows * d : 0;
  w.qkv = es * rows * (qd + 2 * kvd);
  w.att = es * rows * qd;
  w.gate_up = es * rows * 2 * ff;
  w.act = es * rows * ff;
  w.partial = 4LL * s.partial_rows * c.num_heads * (c.head_dim + 2);
  w.logits = 4LL * s.head_rows * c.vocab_size;
  w.router = s.router_hidden > 0 ? 4 * rows * (s.router_hidden + c.num_layers + 1) : 0;
  // tokens + slots + targets + route queries (2) + sampling params (4), per row.
  w.small = 4 * (s.plan_ints + 9 * rows);
  return w;
}

}  // namespace radial::gpu
