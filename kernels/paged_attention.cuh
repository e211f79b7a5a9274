// Paged attention over a layer's full rows, decode and prompt chunks alike
// (kernels/plan/layer_plan.h plans the work):
//   row r (r < nf), query head h, kv head h / (heads / kv_heads):
//   out[r, h] = softmax_e(q[r, h] . k_e * scale) . v_e over the entries
//   e < entries[r] of the row's block table (tables + table_offset[r]),
//   entry e at pool row tables[offset + e / block_size] * block_size +
//   e % block_size. Under the sparse policy a table holds only the passes
//   that ran the layer; the plan's entry counts say how many a row sees.
// Two kernels: one CTA per (item, kv head) computes unnormalised partial
// results (running max m, sum l, sum of p * v) of the item's entry range
// for the tile's queries; a combine kernel merges the splits of each
// (row, head) and writes out in `dtype`. When every row has one split
// (num_partials == nf) the first kernel writes out itself, with the same
// bits. fp32 arithmetic throughout.
#pragma once

#include <cuda_runtime_api.h>

#include "engine/tensor.h"

namespace radial::kernels {

struct AttentionArgs {
  const void* q = nullptr;  // [nf, ldq] (dtype): heads contiguous from column 0
  int ldq = 0;
  const void* k_pool = nullptr;  // [pool entries, kv_dim] (dtype)
  const void* v_pool = nullptr;
  DType dtype = DType::kF32;
  int nf = 0;
  const int* entries = nullptr;       // device [nf]
  const int* table_offset = nullptr;  // device [nf]
  const int* tables = nullptr;        // device
  const int* items = nullptr;         // device [num_items * kItemInts]
  int num_items = 0;
  const int* partial_base = nullptr;  // device [nf]
  int num_partials = 0;
  float* partial_o = nullptr;   // [num_partials, heads, head_dim]
  float* partial_ml = nullptr;  // [num_partials, heads, 2]
  int num_heads = 0, num_kv_heads = 0, head_dim = 0, block_size = 16;
  float scale = 1.f;
  void* out = nullptr;  // [nf, ldo] (dtype)
  int ldo = 0;
};

// head_dim must be even and at most 256; queries per tile (rows x group)
// at most 16 (AttentionShape::tile_rows).
void paged_attention(const AttentionArgs& a, cudaStream_t stream);

}  // namespace radial::kernels
