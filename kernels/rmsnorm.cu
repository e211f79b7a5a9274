#include "kernels/common.cuh"
#include "kernels/cuda_check.h"
#include "kernels/rmsnorm.cuh"

namespace radial::kernels {
namespace {

template <typename T>
__global__ void rmsnorm_kernel(const float* __restrict__ x, const int* __restrict__ rows, int d,
                               const float* __restrict__ weight, float eps, T* __restrict__ out,
                               float* __restrict__ copy) {
  __shared__ float scratch[32];
  const int i = blockIdx.x;
  const float* src = x + static_cast<int64_t>(rows ? rows[i] : i) * d;
  float ss = 0.f;
  for (int k = threadIdx.x; k < d; k += blockDim.x) ss += src[k] * src[k];
  ss = block_sum(ss, scratch);
  const float inv = 1.f / sqrtf(ss / static_cast<float>(d) + eps);
  T* dst = out + static_cast<int64_t>(i) * d;
  float* cp = copy ? copy + static_cast<int64_t>(i) * d : nullptr;
  for (int k = threadIdx.x; k < d; k += blockDim.x) {
    const float v = src[k];
    dst[k] = from_f32<T>(weight[k] * (inv * v));
    if (cp) cp[k] = v;
  }
}

}  // namespace

void rmsnorm_rows(const float* x, const int* rows, int n, int d, const float* weight, float eps,
                  void* out, DType out_dtype, float* copy, cudaStream_t stream) {
  if (n == 0) return;
  const int threads = d >= 1024 ? 1024 : (d + 31) / 32 * 32;
  dispatch_dtype(out_dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    rmsnorm_kernel<T>
        <<<n, threads, 0, stream>>>(x, rows, d, weight, eps, static_cast<T*>(out), copy);
    CUDA_CHECK_LAUNCH(rmsnorm_kernel);
  });
}

}  // namespace radial::kernels
