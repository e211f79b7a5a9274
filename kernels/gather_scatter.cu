#include "kernels/common.cuh"
#include "kernels/cuda_check.h"
#include "kernels/gather_scatter.cuh"

namespace radial::kernels {
namespace {

// Row blockIdx.x: dst[dst_idx ? dst_idx[i] : i] = src[src_idx ? src_idx[i] : i];
// float4 moves when d is a multiple of 4 (rows are then 16-byte aligned).
__global__ void move_rows_kernel(const float* __restrict__ src, const int* __restrict__ src_idx,
                                 float* __restrict__ dst, const int* __restrict__ dst_idx, int d) {
  const int i = blockIdx.x;
  const float* s = src + static_cast<int64_t>(src_idx ? src_idx[i] : i) * d;
  float* t = dst + static_cast<int64_t>(dst_idx ? dst_idx[i] : i) * d;
  if ((d & 3) == 0) {
    const float4* s4 = reinterpret_cast<const float4*>(s);
    float4* t4 = reinterpret_cast<float4*>(t);
    for (int k = threadIdx.x; k < d / 4; k += blockDim.x) t4[k] = s4[k];
  } else {
    for (int k = threadIdx.x; k < d; k += blockDim.x) t[k] = s[k];
  }
}

void move_rows(const float* src, const int* src_idx, float* dst, const int* dst_idx, int n, int d,
               cudaStream_t stream) {
  if (n == 0) return;
  move_rows_kernel<<<n, 256, 0, stream>>>(src, src_idx, dst, dst_idx, d);
  CUDA_CHECK_LAUNCH(move_rows_kernel);
}

}  // namespace

void gather_rows(const float* hidden, const int* slots, int n, int d, float* batch,
                 cudaStream_t stream) {
  move_rows(hidden, slots, batch, nullptr, n, d, stream);
}

void scatter_rows(const float* batch, const int* slots, int n, int d, float* hidden,
                  cudaStream_t stream) {
  move_rows(batch, nullptr, hidden, slots, n, d, stream);
}

}  // namespace radial::kernels
