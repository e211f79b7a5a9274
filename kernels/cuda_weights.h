// The model and the router on the device, uploaded once at load: the
// projections and the embedding in the compute dtype (Q/K/V fused into one
// [q_dim + 2 kv_dim, d] matrix, gate/up into one [2 ff, d]), norms, biases
// and the whole router in fp32. Host tensors of any dtype are converted on
// the device.
#pragma once

#include <vector>

#include <cuda_runtime_api.h>

#include "engine/model_weights.h"
#include "engine/router.h"
#include "kernels/device_buffer.h"

namespace radial::kernels {

struct DeviceLayer {
  DeviceBuffer wqkv, wo, wgate_up, wdown;  // compute dtype
  DeviceBuffer attn_norm, mlp_norm;        // fp32 [d]
  DeviceBuffer bqkv;                       // fp32 [q_dim + 2 kv_dim]; empty without biases
  DeviceBuffer qk_norm;  // fp32 [2 head_dim]: q_norm | k_norm (Qwen3); empty without
};

struct DeviceRouter {
  DeviceBuffer norm, fc1_w, fc1_b, fc2_w, fc2_b;  // fp32
  DeviceBuffer pinned;                            // int32 [L]: 1 where pinned
};

struct DeviceWeights {
  DType dtype = DType::kBF16;
  DeviceBuffer embed;        // [vocab, d]
  DeviceBuffer lm_head_own;  // [vocab, d] when untied
  const void* lm_head = nullptr;
  std::vector<DeviceLayer> layers;
  DeviceBuffer final_norm;  // fp32 [d]
  DeviceBuffer inv_freq;    // double [head_dim / 2]
  bool has_router = false;
  DeviceRouter router;
};

// Uploads `w` (and `router`, if not null) converted to `dtype`. Synchronous;
// uses a device staging buffer of at most 64 MiB.
DeviceWeights upload_weights(const ModelWeights& w, const RouterWeights* router, DType dtype,
                             cudaStream_t stream);

}  // namespace radial::kernels
