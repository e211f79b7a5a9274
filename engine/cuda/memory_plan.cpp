#include "engine/cuda/memory_plan.h"

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
  return bytes + 4 * (norms + bias);
}

int64_t kv_block_bytes(const ModelConfig& c, DType dtype, int block_size) {
  return 2LL * block_size * c.kv_dim() * static_cast<int64_t>(dtype_size(dtype));
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

int kv_blocks_for_budget(int64_t total_bytes, int64_t free_bytes, double fraction,
                         int64_t block_bytes) {
  require(fraction > 0 && fraction <= 1, ErrorCode::kInvalidArgument,
          "gpu memory fraction must be in (0, 1], got " + std::to_string(fraction));
  require(block_bytes > 0 && total_bytes > 0 && free_bytes >= 0 && free_bytes <= total_bytes,
          ErrorCode::kInternal, "kv_blocks_for_budget: bad sizes");
  const double budget =
      fraction * static_cast<double>(total_bytes) - static_cast<double>(total_bytes - free_bytes);
  const double blocks = budget / static_cast<double>(block_bytes);
  require(blocks >= 1, ErrorCode::kResourceExhausted,
          "no room for the KV pool: " + std::to_string(fraction) + " of " +
              std::to_string(total_bytes >> 20) + " MiB leaves " +
              std::to_string(static_cast<int64_t>(budget) >> 20) +
              " MiB after the weights and the workspace; raise --gpu-memory-fraction");
  return static_cast<int>(std::min<double>(blocks, std::numeric_limits<int>::max()));
}

}  // namespace radial::gpu
