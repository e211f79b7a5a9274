// Q/K/V bias, RoPE and the KV cache write of one layer's batch.
//
// qkv is [n, ld] in `dtype`: row i holds q (q_dim) | k (kv_dim) | v (kv_dim)
// as the projections left them (kv_only rows, i >= nf, hold only k and v;
// their q columns are not read). For every row: k and v get their biases
// (when `bias` is set: fp32 [q_dim + 2 kv_dim]), k is rotated by
// position[i], and both are stored at pool entry kv_index[i] (k_pool and
// v_pool are [entries, kv_dim] in `dtype`). For full rows (i < nf) q gets
// its bias and is rotated in place. Angles: position * inv_freq[j] in
// double (inv_freq [head_dim / 2], rope scaling applied), as the CPU's Rope.
#pragma once

#include <cuda_runtime_api.h>

#include "engine/model_config.h"
#include "engine/tensor.h"

namespace radial::kernels {

struct RopeKvArgs {
  void* qkv = nullptr;
  int ld = 0;
  DType dtype = DType::kF32;
  int n = 0, nf = 0;
  const int* position = nullptr;  // device [n]
  const int* kv_index = nullptr;  // device [n]
  const float* bias = nullptr;    // device, optional
  const double* inv_freq = nullptr;
  RopeLayout layout = RopeLayout::kHalfSplit;
  int num_heads = 0, num_kv_heads = 0, head_dim = 0;
  void* k_pool = nullptr;
  void* v_pool = nullptr;
};

void rope_write_kv(const RopeKvArgs& a, cudaStream_t stream);

}  // namespace radial::kernels
