#include "kernels/common.cuh"
#include "kernels/cuda_check.h"
#include "kernels/router.cuh"

namespace radial::kernels {
namespace {

__global__ void bias_act_kernel(float* __restrict__ x, const float* __restrict__ bias,
                                int64_t total, int width, bool apply_act, Activation act) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float v = x[e] + bias[e % width];
    x[e] = apply_act ? activate(v, act) : v;
  }
}

__global__ void route_kernel(const float* __restrict__ gates, int n, int L, RouteMode mode,
                             const int* __restrict__ pinned, const int* __restrict__ queries,
                             int* __restrict__ targets) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float* g = gates + static_cast<int64_t>(i) * (L + 1);
  const int last = queries[2 * i];
  const float threshold = __int_as_float(queries[2 * i + 1]);
  int target = L;
  if (mode == RouteMode::kForward) {
    for (int j = last + 1; j < L; ++j) {
      // Exactly as sigmoid() in engine/router.cpp: 1 / (1 + exp(-x)) in float.
      if (pinned[j] || 1.f / (1.f + expf(-g[j])) >= threshold) {
        target = j;
        break;
      }
    }
  } else {
    int best = -1;
    for (int j = 0; j <= L; ++j) {
      if (j == last) continue;
      if (best < 0 || g[j] > g[best]) best = j;
    }
    target = best;
  }
  targets[i] = target;
}

}  // namespace

void bias_activation(float* x, const float* bias, int n, int width, bool apply_act, Activation act,
                     cudaStream_t stream) {
  const int64_t total = static_cast<int64_t>(n) * width;
  if (total == 0) return;
  const int blocks = static_cast<int>(std::min<int64_t>(ceil_div(total, 256), 4096));
  bias_act_kernel<<<blocks, 256, 0, stream>>>(x, bias, total, width, apply_act, act);
  CUDA_CHECK_LAUNCH(bias_act_kernel);
}

void route_decide(const float* gates, int n, int num_layers, RouteMode mode, const int* pinned,
                  const int* queries, int* targets, cudaStream_t stream) {
  if (n == 0) return;
  require(mode != RouteMode::kFull, ErrorCode::kInternal, "route_decide in full mode");
  route_kernel<<<ceil_div(n, 128), 128, 0, stream>>>(gates, n, num_layers, mode, pinned, queries,
                                                     targets);
  CUDA_CHECK_LAUNCH(route_kernel);
}

}  // namespace radial::kernels
