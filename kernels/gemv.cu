#include <cstdint>
#include <string>

#include "kernels/common.cuh"
#include "kernels/cuda_check.h"
#include "kernels/gemv.cuh"

namespace radial::kernels {
namespace {

constexpr int kWarps = 8;   // output columns per CTA, one per warp
constexpr int kUnroll = 4;  // 16-byte loads of W in flight per lane

template <typename T>
__device__ __forceinline__ void widen(const uint4& raw, float* out) {
  constexpr int kVec = 16 / sizeof(T);
  const T* v = reinterpret_cast<const T*>(&raw);
#pragma unroll
  for (int j = 0; j < kVec; ++j) out[j] = to_f32(v[j]);
}

// CTA c, warp w: output column j = c * kWarps + w, for every row i < rows
// (R >= rows, a compile-time bound so the accumulators stay in registers).
template <typename T, typename OutT, int R>
__global__ void __launch_bounds__(kWarps * 32)
    gemv_kernel(const T* __restrict__ x, int ldx, const T* __restrict__ w, OutT* __restrict__ y,
                int ldy, int rows, int n, int k, float beta) {
  constexpr int kVec = 16 / sizeof(T);
  const int lane = threadIdx.x & 31;
  const int j = blockIdx.x * kWarps + (threadIdx.x >> 5);
  if (j >= n) return;  // whole warps: no shuffle below misses a lane
  const uint4* wrow = reinterpret_cast<const uint4*>(w + static_cast<int64_t>(j) * k);
  const int vecs = k / kVec;  // 16-byte vectors per row
  float acc[R];
#pragma unroll
  for (int r = 0; r < R; ++r) acc[r] = 0.f;
  for (int v0 = lane; v0 < vecs; v0 += 32 * kUnroll) {
    uint4 wraw[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int v = v0 + 32 * u;
      wraw[u] = v < vecs ? __ldg(wrow + v) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int v = v0 + 32 * u;
      if (v >= vecs) break;
      float wf[kVec];
      widen<T>(wraw[u], wf);
#pragma unroll
      for (int r = 0; r < R; ++r) {
        if (r >= rows) break;
        const uint4 xraw =
            __ldg(reinterpret_cast<const uint4*>(x + static_cast<int64_t>(r) * ldx) + v);
        float xf[kVec];
        widen<T>(xraw, xf);
#pragma unroll
        for (int e = 0; e < kVec; ++e) acc[r] = fmaf(xf[e], wf[e], acc[r]);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r) {
    if (r >= rows) break;
    const float s = warp_sum(acc[r]);
    if (lane == 0) {
      OutT* out = y + static_cast<int64_t>(r) * ldy + j;
      *out = from_f32<OutT>(beta != 0.f ? s + beta * to_f32(*out) : s);
    }
  }
}

template <typename T, typename OutT>
void launch(const void* x, int ldx, const void* w, void* y, int ldy, int rows, int n, int k,
            float beta, cudaStream_t stream) {
  const dim3 grid(ceil_div(n, kWarps)), block(kWarps * 32);
  const T* xt = static_cast<const T*>(x);
  const T* wt = static_cast<const T*>(w);
  OutT* yt = static_cast<OutT*>(y);
  if (rows == 1)
    gemv_kernel<T, OutT, 1><<<grid, block, 0, stream>>>(xt, ldx, wt, yt, ldy, rows, n, k, beta);
  else if (rows == 2)
    gemv_kernel<T, OutT, 2><<<grid, block, 0, stream>>>(xt, ldx, wt, yt, ldy, rows, n, k, beta);
  else if (rows <= 4)
    gemv_kernel<T, OutT, 4><<<grid, block, 0, stream>>>(xt, ldx, wt, yt, ldy, rows, n, k, beta);
  else
    gemv_kernel<T, OutT, 8><<<grid, block, 0, stream>>>(xt, ldx, wt, yt, ldy, rows, n, k, beta);
  CUDA_CHECK_LAUNCH(gemv_kernel);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

bool gemv_supported(const void* x, int ldx, const void* w, DType in_dtype, int rows, int k) {
  if (rows < 1 || rows > kGemvMaxRows || k < 1 || in_dtype == DType::kQ8_0) return false;
  const int vec = 16 / static_cast<int>(dtype_size(in_dtype));
  return k % vec == 0 && ldx % vec == 0 && aligned16(x) && aligned16(w);
}

void gemv_xwt(const void* x, int ldx, const void* w, DType in_dtype, void* y, int ldy,
              DType out_dtype, int rows, int n, int k, float beta, cudaStream_t stream) {
  require(gemv_supported(x, ldx, w, in_dtype, rows, k), ErrorCode::kInternal,
          "gemv_xwt: unsupported operands (rows " + std::to_string(rows) + ", k " +
              std::to_string(k) + ")");
  require(out_dtype == DType::kF32 || out_dtype == in_dtype, ErrorCode::kInternal,
          "gemv_xwt: the output is fp32 or the input dtype");
  if (n == 0) return;
  dispatch_dtype(in_dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if (out_dtype == DType::kF32)
      launch<T, float>(x, ldx, w, y, ldy, rows, n, k, beta, stream);
    else
      launch<T, T>(x, ldx, w, y, ldy, rows, n, k, beta, stream);
  });
}

}  // namespace radial::kernels
