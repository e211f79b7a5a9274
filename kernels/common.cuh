// Device helpers shared by the kernels (include from .cu files only):
// element types, conversions to and from fp32, warp and block reductions.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "engine/error.h"
#include "engine/model_config.h"
#include "engine/tensor.h"

namespace radial::kernels {

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half from_f32<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every
// thread gets the result. `scratch` holds 32 floats of shared memory.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : 0.f;
  return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : -INFINITY;
  return warp_max(v);
}

// The MLP and router activations, as engine/cpu/ops.cpp computes them.
__device__ __forceinline__ float activate(float v, Activation act) {
  switch (act) {
    case Activation::kSilu:
      return v / (1.f + expf(-v));
    case Activation::kGelu:
      return 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
    case Activation::kRelu:
      return v > 0.f ? v : 0.f;
  }
  return v;
}

// Calls f with a null pointer of the element type of `t` (a tag), so that a
// host launcher can instantiate a kernel for each dtype.
template <typename F>
void dispatch_dtype(DType t, F&& f) {
  switch (t) {
    case DType::kF32:
      f(static_cast<float*>(nullptr));
      return;
    case DType::kF16:
      f(static_cast<__half*>(nullptr));
      return;
    case DType::kBF16:
      f(static_cast<__nv_bfloat16*>(nullptr));
      return;
    case DType::kQ8_0:  // blockwise weights only, never an activation
      break;
  }
  throw Error(ErrorCode::kInternal, "no elementwise kernel for this dtype");
}

inline int ceil_div(int64_t a, int64_t b) { return static_cast<int>((a + b - 1) / b); }

}  // namespace radial::kernels
