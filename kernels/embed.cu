#include "kernels/common.cuh"
#include "kernels/cuda_check.h"
#include "kernels/embed.cuh"

namespace radial::kernels {
namespace {

template <typename T>
__global__ void embed_kernel(const T* __restrict__ table, const int* __restrict__ tokens,
                             const int* __restrict__ slots, int d, float* __restrict__ hidden) {
  const T* src = table + static_cast<int64_t>(tokens[blockIdx.x]) * d;
  float* dst = hidden + static_cast<int64_t>(slots[blockIdx.x]) * d;
  for (int i = threadIdx.x; i < d; i += blockDim.x) dst[i] = to_f32(src[i]);
}

}  // namespace

void embed_rows(const void* table, DType dtype, const int* tokens, const int* slots, int n, int d,
                float* hidden, cudaStream_t stream) {
  if (n == 0) return;
  dispatch_dtype(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    embed_kernel<T><<<n, 256, 0, stream>>>(static_cast<const T*>(table), tokens, slots, d, hidden);
    CUDA_CHECK_LAUNCH(embed_kernel);
  });
}

}  // namespace radial::kernels
