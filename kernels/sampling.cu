#include <algorithm>
#include <cfloat>
#include <climits>

#include "kernels/common.cuh"
#include "kernels/cuda_check.h"
#include "kernels/sampling.cuh"

namespace radial::kernels {
namespace {

constexpr int kThreads = 1024;
constexpr int kArgmaxThreads = 256;
constexpr int kMaxSplits = 32;      // argmax CTAs per greedy row, at most
constexpr int kMinSplitLen = 4096;  // ids per argmax CTA, at least
constexpr int kTargetCtas = 264;    // argmax CTAs per call to aim for (2 x 132 SMs)

// NaN -> -inf, +inf -> FLT_MAX, and -0 -> +0: sample_token compares
// values, so -0 and +0 are one value and must map to one key below.
__device__ __forceinline__ float sanitize(float v) {
  if (isnan(v)) return -INFINITY;
  if (v == 0.f) return 0.f;
  return v == INFINITY ? FLT_MAX : v;
}

// Order-preserving map of a float to uint32 (larger float, larger key).
__device__ __forceinline__ unsigned key_of(float v) {
  const unsigned b = __float_as_uint(v);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

struct Best {
  int valid;  // not NaN
  float value;
  int id;
};

__device__ __forceinline__ bool better(const Best& a, const Best& b) {
  if (a.valid != b.valid) return a.valid > b.valid;
  if (a.value != b.value) return a.value > b.value;
  return a.id < b.id;
}

// The best of every thread's candidate (blockDim.x a multiple of 32);
// every thread gets it. `better` is a total order, so the result does not
// depend on how the candidates were split.
__device__ Best block_best(Best best) {
  __shared__ Best warp_best[32];
  for (int o = 16; o > 0; o >>= 1) {
    const Best other{__shfl_xor_sync(0xffffffffu, best.valid, o),
                     __shfl_xor_sync(0xffffffffu, best.value, o),
                     __shfl_xor_sync(0xffffffffu, best.id, o)};
    if (better(other, best)) best = other;
  }
  __syncthreads();  // warp_best may still be read by a previous call
  if ((threadIdx.x & 31) == 0) warp_best[threadIdx.x >> 5] = best;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < static_cast<int>(blockDim.x >> 5); ++w)
      if (better(warp_best[w], warp_best[0])) warp_best[0] = warp_best[w];
  }
  __syncthreads();
  return warp_best[0];
}

__device__ __forceinline__ Best no_best() { return Best{0, -INFINITY, INT_MAX}; }  // below all

// Greedy rows, first pass: CTA (s, row) writes the best of ids
// [s * len, (s + 1) * len) to best[row * splits + s]. Rows with a
// temperature are left to sample_kernel.
__global__ void __launch_bounds__(kArgmaxThreads)
    argmax_split_kernel(const float* __restrict__ logits, int vocab, int splits, int len,
                        const int* __restrict__ params, Best* __restrict__ best) {
  const int s = blockIdx.x, row = blockIdx.y;
  if (__int_as_float(params[4 * row]) != 0.f) return;
  const float* l = logits + static_cast<int64_t>(row) * vocab;
  const int lo = s * len, hi = min(vocab, lo + len);
  Best b = no_best();
  for (int i = lo + static_cast<int>(threadIdx.x); i < hi; i += blockDim.x) {
    const float v = l[i];
    const Best c{isnan(v) ? 0 : 1, isnan(v) ? -INFINITY : v, i};
    if (better(c, b)) b = c;
  }
  b = block_best(b);
  if (threadIdx.x == 0) best[static_cast<int64_t>(row) * splits + s] = b;
}

__global__ void __launch_bounds__(kThreads)
    sample_kernel(const float* __restrict__ logits, int vocab, const int* __restrict__ params,
                  int splits, const Best* __restrict__ best, int* __restrict__ tokens) {
  __shared__ float scratch[32];
  __shared__ float prefix[kThreads];
  __shared__ int pick_first, pick_last;
  const int row = blockIdx.x;
  const float* l = logits + static_cast<int64_t>(row) * vocab;
  const float temperature = __int_as_float(params[4 * row]);
  const int top_k = params[4 * row + 1];
  const float top_p = __int_as_float(params[4 * row + 2]);
  const float uniform = __int_as_float(params[4 * row + 3]);
  if (temperature == 0.f) {  // the best of argmax_split_kernel's splits
    const Best b = block_best(static_cast<int>(threadIdx.x) < splits
                                  ? best[static_cast<int64_t>(row) * splits + threadIdx.x]
                                  : no_best());
    if (threadIdx.x == 0) tokens[row] = b.id == INT_MAX ? 0 : b.id;
    return;
  }
  float mx = -INFINITY;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) mx = fmaxf(mx, sanitize(l[i]));
  mx = block_max(mx, scratch);
  if (mx == -INFINITY) {
    if (threadIdx.x == 0) tokens[row] = 0;
    return;
  }
  auto weight = [&](float v) { return expf((v - mx) / temperature); };
  // Top-k: the largest key with at least k logits at or above it.
  unsigned kmin = 0;
  if (top_k > 0 && top_k < vocab) {
    for (int b = 31; b >= 0; --b) {
      const unsigned cand = kmin | (1u << b);
      float cnt = 0.f;
      for (int i = threadIdx.x; i < vocab; i += blockDim.x)
        cnt += key_of(sanitize(l[i])) >= cand ? 1.f : 0.f;
      if (block_sum(cnt, scratch) >= static_cast<float>(top_k)) kmin = cand;
    }
  }
  auto mass_at_or_above = [&](unsigned k) {
    float s = 0.f;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
      const float v = sanitize(l[i]);
      if (key_of(v) >= k) s += weight(v);
    }
    return block_sum(s, scratch);
  };
  // Top-p: the largest key whose mass (within top-k) reaches top_p of it.
  if (top_p < 1.f) {
    const float target = top_p * mass_at_or_above(kmin);
    unsigned pmin = 0;
    for (int b = 31; b >= 0; --b) {
      const unsigned cand = pmin | (1u << b);
      if (mass_at_or_above(max(cand, kmin)) >= target) pmin = cand;
    }
    kmin = max(kmin, pmin);
  }
  const float kept = mass_at_or_above(kmin);
  const float r = uniform * kept;
  // The draw: contiguous id ranges per thread, an exclusive scan of their
  // kept mass, then each thread walks its own range.
  const int per = (vocab + blockDim.x - 1) / blockDim.x;
  const int lo = min(vocab, static_cast<int>(threadIdx.x) * per), hi = min(vocab, lo + per);
  float mine = 0.f;
  for (int i = lo; i < hi; ++i) {
    const float v = sanitize(l[i]);
    if (key_of(v) >= kmin) mine += weight(v);
  }
  prefix[threadIdx.x] = mine;
  if (threadIdx.x == 0) pick_first = INT_MAX, pick_last = -1;
  __syncthreads();
  if (threadIdx.x == 0) {  // serial exclusive scan over 1024 partial sums
    float acc = 0.f;
    for (int t = 0; t < static_cast<int>(blockDim.x); ++t) {
      const float s = prefix[t];
      prefix[t] = acc;
      acc += s;
    }
  }
  __syncthreads();
  float acc = prefix[threadIdx.x];
  int first = INT_MAX, last = -1;
  for (int i = lo; i < hi; ++i) {
    const float v = sanitize(l[i]);
    if (key_of(v) < kmin) continue;
    const float w = weight(v);
    acc += w;
    if (w > 0.f) last = i;
    if (acc > r) {
      first = i;
      break;
    }
  }
  if (first != INT_MAX) atomicMin(&pick_first, first);
  if (last >= 0) atomicMax(&pick_last, last);
  __syncthreads();
  if (threadIdx.x == 0) tokens[row] = pick_first != INT_MAX ? pick_first : max(pick_last, 0);
}

}  // namespace

size_t sample_workspace_bytes(int rows) {
  return sizeof(Best) * static_cast<size_t>(std::max(rows, 1)) * kMaxSplits;
}

void sample_rows(const float* logits, int n, int vocab, const int* params, int* tokens,
                 void* workspace, cudaStream_t stream) {
  if (n == 0) return;
  // Greedy rows: a row's argmax over many CTAs (one CTA scanning a 128k
  // vocabulary took 58 us on an H200), then sample_kernel merges them.
  int splits = std::clamp((kTargetCtas + n - 1) / n, 1, kMaxSplits);
  splits = std::min(splits, std::max(1, (vocab + kMinSplitLen - 1) / kMinSplitLen));
  const int len = (vocab + splits - 1) / splits;
  Best* best = static_cast<Best*>(workspace);
  argmax_split_kernel<<<dim3(splits, n), kArgmaxThreads, 0, stream>>>(logits, vocab, splits, len,
                                                                      params, best);
  CUDA_CHECK_LAUNCH(argmax_split_kernel);
  sample_kernel<<<n, kThreads, 0, stream>>>(logits, vocab, params, splits, best, tokens);
  CUDA_CHECK_LAUNCH(sample_kernel);
}

}  // namespace radial::kernels
