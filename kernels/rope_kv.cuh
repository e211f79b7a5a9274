// Q/K/V bias, Qwen3's per-head q/k RMSNorm, RoPE and the KV cache write of
// one layer's batch.
//
// qkv is [n, ld] in `dtype`: row i holds q (q_dim) | k (kv_dim) | v (kv_dim)
// as the projections left them (kv_only rows, i >= nf, hold only k and v;
// their q columns are not read). For every row: k and v get their biases
// (when `bias` is set: fp32 [q_dim + 2 kv_dim]), each head of k is
// normalized (when `k_norm` is set: x * rsqrt(mean(x^2) + norm_eps) *
// k_norm, fp32 weights [head_dim], over the biased values in fp32), k is
// rotated by position[i], and both are stored at pool entry kv_index[i]
// (k_pool and v_pool are [entries, kv_dim] in `dtype`). For full rows
// (i < nf) q gets its bias, its heads' norm (q_norm) and is rotated in
// place. Angles: position * inv_freq[j] in double (inv_freq [head_dim / 2],
// rope scaling applied), as the CPU's Rope.
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
  const float* q_norm = nullptr;  // device [head_dim], optional (with k_norm)
  const float* k_norm = nullptr;  // device [head_dim], optional (with q_norm)
  float norm_eps = 0.f;
  const double* inv_freq = nullptr;
  RopeLayout layout = RopeLayout::kHalfSplit;
  int num_heads = 0, num_kv_heads = 0, head_dim = 0;
  void* k_pool = nullptr;
  void* v_pool = nullptr;
};

void rope_write_kv(const RopeKvArgs& a, cudaStream_t stream);

}  // namespace radial::kernels
