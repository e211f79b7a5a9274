#include "kernels/common.cuh"
#include "kernels/cuda_check.h"
#include "kernels/swiglu.cuh"

namespace radial::kernels {
namespace {

template <typename T>
__global__ void gated_kernel(const T* __restrict__ gate_up, int64_t total, int ff,
                             T* __restrict__ out, Activation act) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = e / ff, j = e - i * ff;
    const T* row = gate_up + i * 2 * ff;
    out[e] = from_f32<T>(activate(to_f32(row[j]), act) * to_f32(row[ff + j]));
  }
}

}  // namespace

void gated_activation(const void* gate_up, int n, int ff, void* out, DType dtype, Activation act,
                      cudaStream_t stream) {
  const int64_t total = static_cast<int64_t>(n) * ff;
  if (total == 0) return;
  const int blocks = static_cast<int>(std::min<int64_t>(ceil_div(total, 256), 8192));
  dispatch_dtype(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    gated_kernel<T><<<blocks, 256, 0, stream>>>(static_cast<const T*>(gate_up), total, ff,
                                                static_cast<T*>(out), act);
    CUDA_CHECK_LAUNCH(gated_kernel);
  });
}

}  // namespace radial::kernels
