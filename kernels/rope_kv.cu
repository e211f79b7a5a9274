#include "kernels/common.cuh"
#include "kernels/cuda_check.h"
#include "kernels/rope_kv.cuh"

namespace radial::kernels {
namespace {

struct Pair {
  int a, b;
};

__device__ __forceinline__ Pair pair_of(int j, int half, RopeLayout layout) {
  return layout == RopeLayout::kHalfSplit ? Pair{j, j + half} : Pair{2 * j, 2 * j + 1};
}

// Rotates pair j of one head (x0, x1) by angle (c, s), in the layout's
// formula order (engine/cpu/ops.cpp).
__device__ __forceinline__ void rotate(float x0, float x1, float c, float s, RopeLayout layout,
                                       float* y0, float* y1) {
  if (layout == RopeLayout::kHalfSplit) {
    *y0 = x0 * c - x1 * s;
    *y1 = x1 * c + x0 * s;
  } else {
    *y0 = x0 * c - x1 * s;
    *y1 = x0 * s + x1 * c;
  }
}

constexpr int kMaxHalf = 128;   // head_dim <= 256
constexpr int kMaxHeads = 256;  // num_heads + num_kv_heads, with q/k norms
constexpr int kThreads = 256;

// One CTA per row. The row's angles depend on (position, pair) only, not on
// the head: cos and sin of position * inv_freq[j] (double, as the CPU's
// Rope) are computed once per pair into shared memory, not once per head
// and pair (a profile on an H200 measured the per-head double-precision
// sin/cos at 11 us a layer for one row of a 1B model).
template <typename T>
__global__ void __launch_bounds__(kThreads) rope_kv_kernel(RopeKvArgs a) {
  __shared__ float cs[kMaxHalf], sn[kMaxHalf];
  __shared__ float inv_rms[kMaxHeads];  // with norms: k heads, then q heads
  const int i = blockIdx.x;
  const int hd = a.head_dim, half = hd / 2, qd = a.num_heads * hd, kvd = a.num_kv_heads * hd;
  const double pos = static_cast<double>(a.position[i]);
  for (int j = threadIdx.x; j < half; j += blockDim.x) {
    const double ang = pos * a.inv_freq[j];
    cs[j] = static_cast<float>(cos(ang));
    sn[j] = static_cast<float>(sin(ang));
  }
  T* row = static_cast<T*>(a.qkv) + static_cast<int64_t>(i) * a.ld;
  const int64_t kv_at = static_cast<int64_t>(a.kv_index[i]) * kvd;
  T* kp = static_cast<T*>(a.k_pool) + kv_at;
  T* vp = static_cast<T*>(a.v_pool) + kv_at;
  const float* bq = a.bias;
  const float* bk = a.bias ? a.bias + qd : nullptr;
  const float* bv = a.bias ? a.bias + qd + kvd : nullptr;
  if (a.k_norm) {  // one warp per head: the inverse RMS of its biased values
    const int heads = a.num_kv_heads + (i < a.nf ? a.num_heads : 0);
    const int lane = threadIdx.x & 31;
    for (int hh = threadIdx.x >> 5; hh < heads; hh += kThreads / 32) {
      const bool is_k = hh < a.num_kv_heads;
      const int h = is_k ? hh : hh - a.num_kv_heads;
      const T* x = row + (is_k ? qd : 0) + h * hd;
      const float* b = is_k ? bk : bq;
      float ss = 0.f;
      for (int t = lane; t < hd; t += 32) {
        const float v = to_f32(x[t]) + (b ? b[h * hd + t] : 0.f);
        ss += v * v;
      }
      ss = warp_sum(ss);
      if (lane == 0) inv_rms[hh] = rsqrtf(ss / static_cast<float>(hd) + a.norm_eps);
    }
  }
  __syncthreads();
  // K: rotate and store; V: store.
  for (int idx = threadIdx.x; idx < a.num_kv_heads * half; idx += blockDim.x) {
    const int h = idx / half, j = idx % half;
    const Pair p = pair_of(j, half, a.layout);
    const int o0 = h * hd + p.a, o1 = h * hd + p.b;
    float x0 = to_f32(row[qd + o0]), x1 = to_f32(row[qd + o1]);
    if (bk) x0 += bk[o0], x1 += bk[o1];
    if (a.k_norm) {
      x0 = a.k_norm[p.a] * (inv_rms[h] * x0);
      x1 = a.k_norm[p.b] * (inv_rms[h] * x1);
    }
    float y0, y1;
    rotate(x0, x1, cs[j], sn[j], a.layout, &y0, &y1);
    kp[o0] = from_f32<T>(y0);
    kp[o1] = from_f32<T>(y1);
  }
  for (int k = threadIdx.x; k < kvd; k += blockDim.x) {
    float v = to_f32(row[qd + kvd + k]);
    if (bv) v += bv[k];
    vp[k] = from_f32<T>(v);
  }
  if (i >= a.nf) return;
  // Q of a full row: rotate in place.
  for (int idx = threadIdx.x; idx < a.num_heads * half; idx += blockDim.x) {
    const int h = idx / half, j = idx % half;
    const Pair p = pair_of(j, half, a.layout);
    const int o0 = h * hd + p.a, o1 = h * hd + p.b;
    float x0 = to_f32(row[o0]), x1 = to_f32(row[o1]);
    if (bq) x0 += bq[o0], x1 += bq[o1];
    if (a.q_norm) {
      x0 = a.q_norm[p.a] * (inv_rms[a.num_kv_heads + h] * x0);
      x1 = a.q_norm[p.b] * (inv_rms[a.num_kv_heads + h] * x1);
    }
    float y0, y1;
    rotate(x0, x1, cs[j], sn[j], a.layout, &y0, &y1);
    row[o0] = from_f32<T>(y0);
    row[o1] = from_f32<T>(y1);
  }
}

}  // namespace

void rope_write_kv(const RopeKvArgs& a, cudaStream_t stream) {
  if (a.n == 0) return;
  require(a.head_dim % 2 == 0 && a.head_dim <= 2 * kMaxHalf, ErrorCode::kUnsupported,
          "RoPE supports even head_dim up to 256, got " + std::to_string(a.head_dim));
  require((a.q_norm == nullptr) == (a.k_norm == nullptr), ErrorCode::kInternal,
          "rope_write_kv: q_norm and k_norm come together");
  require(!a.k_norm || a.num_heads + a.num_kv_heads <= kMaxHeads, ErrorCode::kUnsupported,
          "q/k norms support up to " + std::to_string(kMaxHeads) + " heads in all, got " +
              std::to_string(a.num_heads + a.num_kv_heads));
  dispatch_dtype(a.dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    rope_kv_kernel<T><<<a.n, kThreads, 0, stream>>>(a);
    CUDA_CHECK_LAUNCH(rope_kv_kernel);
  });
}

}  // namespace radial::kernels
