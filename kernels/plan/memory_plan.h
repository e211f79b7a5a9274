// Host-side sizing of a GPU backend's device memory (plain C++, no CUDA):
// the weights and the per-call workspace (from the most rows one call
// takes). The KV pool's size comes from engine/kv_sizing.h.
#pragma once

#include <cstdint>

#include "engine/model_config.h"
#include "engine/tensor.h"

namespace radial::gpu {

// Bytes of the device copy of the model: projections and the embedding in
// `dtype`, norms and biases in fp32, the LM head shared with the embedding
// when tied.
int64_t weight_bytes(const ModelConfig& c, DType dtype);

// Device workspace of one backend. Rows: the most rows of one call;
// head_rows: rows the head computes logits for at once; partial_rows: the
// attention partial slots (LayerPlan).
struct WorkspaceSizes {
  int64_t hidden = 0;    // fp32 [max_slots, d]: the passes' hidden states
  int64_t resid = 0;     // fp32 [rows, d]: gathered residual rows
  int64_t normed = 0;    // dtype [rows, d]: normalised rows (GEMM input)
  int64_t normed32 = 0;  // fp32 [rows, d]: normalised rows for the router
  int64_t qkv = 0;       // dtype [rows, q_dim + 2 kv_dim]
  int64_t att = 0;       // dtype [rows, q_dim]
  int64_t gate_up = 0;   // dtype [rows, 2 ff]
  int64_t act = 0;       // dtype [rows, ff]
  int64_t partial = 0;   // fp32 [partial_rows, heads, head_dim + 2]
  int64_t logits = 0;    // fp32 [head_rows, vocab]
  int64_t router = 0;    // fp32 [rows, router_hidden + L + 1]
  int64_t small = 0;     // int32: tokens, targets, plan uploads, sampling params
  int64_t total() const;
};

struct WorkspaceShape {
  int max_slots = 0;
  int rows = 0;           // most rows per call
  int head_rows = 0;      // logits computed at once
  int partial_rows = 0;   // attention partial slots
  int router_hidden = 0;  // 0 without a router
  int64_t plan_ints = 0;  // LayerPlan::max_packed_ints
};

WorkspaceSizes workspace_sizes(const ModelConfig& c, DType dtype, const WorkspaceShape& s);

}  // namespace radial::gpu
