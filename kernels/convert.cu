#include "kernels/common.cuh"
#include "kernels/convert.cuh"
#include "kernels/cuda_check.h"

namespace radial::kernels {
namespace {

template <typename S, typename D>
__global__ void convert_kernel(const S* __restrict__ src, D* __restrict__ dst, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[i] = from_f32<D>(to_f32(src[i]));
}

}  // namespace

void convert(const void* src, DType from, void* dst, DType to, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  const int blocks = static_cast<int>(std::min<int64_t>(ceil_div(n, 256), 65536));
  dispatch_dtype(from, [&](auto* s_tag) {
    dispatch_dtype(to, [&](auto* d_tag) {
      using S = std::remove_pointer_t<decltype(s_tag)>;
      using D = std::remove_pointer_t<decltype(d_tag)>;
      convert_kernel<S, D>
          <<<blocks, 256, 0, stream>>>(static_cast<const S*>(src), static_cast<D*>(dst), n);
      CUDA_CHECK_LAUNCH(convert_kernel);
    });
  });
}

}  // namespace radial::kernels
