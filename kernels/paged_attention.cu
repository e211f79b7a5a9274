#include "kernels/common.cuh"
#include "kernels/cuda_check.h"
#include "kernels/paged_attention.cuh"
#include "kernels/plan/layer_plan.h"

namespace radial::kernels {
namespace {

constexpr int kChunk = 32;  // entries staged in shared memory at once
constexpr int kWarps = 4;   // per CTA
constexpr int kQueriesPerWarp = 4;
constexpr int kMaxQueries = kWarps * kQueriesPerWarp;  // 16
constexpr int kMaxDimsPerLane = 8;                     // head_dim <= 256

// Shared memory: queries [16][hd] (scaled), K chunk [32][hd + 1] (padded:
// lane e reads row e), V chunk [32][hd].
size_t smem_bytes(int hd) {
  return sizeof(float) * (kMaxQueries * hd + kChunk * (hd + 1) + kChunk * hd);
}

// Stages entries [c0, c0 + cn) of one KV head (columns [col, col + hd) of
// the pool rows) into shared memory as fp32: K with rows padded to hd + 1,
// V dense. 16-byte loads when every row segment is 16-byte aligned.
template <typename T>
__device__ __forceinline__ void stage_chunk(const T* __restrict__ kpool,
                                            const T* __restrict__ vpool,
                                            const int* __restrict__ table, int block_size, int c0,
                                            int cn, int kvd, int col, int hd, float* ks,
                                            float* vs) {
  constexpr int kVec = 16 / sizeof(T);
  if (hd % kVec == 0 && kvd % kVec == 0 && col % kVec == 0) {
    const int vecs = hd / kVec;
    for (int idx = threadIdx.x; idx < cn * vecs; idx += blockDim.x) {
      const int e = idx / vecs, v = idx % vecs, ge = c0 + e;
      const int64_t prow =
          static_cast<int64_t>(table[ge / block_size]) * block_size + ge % block_size;
      const int64_t at = prow * kvd + col + v * kVec;
      const uint4 kraw = *reinterpret_cast<const uint4*>(kpool + at);
      const uint4 vraw = *reinterpret_cast<const uint4*>(vpool + at);
      const T* k8 = reinterpret_cast<const T*>(&kraw);
      const T* v8 = reinterpret_cast<const T*>(&vraw);
#pragma unroll
      for (int j = 0; j < kVec; ++j) {
        ks[e * (hd + 1) + v * kVec + j] = to_f32(k8[j]);
        vs[e * hd + v * kVec + j] = to_f32(v8[j]);
      }
    }
    return;
  }
  for (int idx = threadIdx.x; idx < cn * hd; idx += blockDim.x) {
    const int e = idx / hd, dd = idx % hd, ge = c0 + e;
    const int64_t prow =
        static_cast<int64_t>(table[ge / block_size]) * block_size + ge % block_size;
    const int64_t at = prow * kvd + col + dd;
    ks[e * (hd + 1) + dd] = to_f32(kpool[at]);
    vs[e * hd + dd] = to_f32(vpool[at]);
  }
}

template <typename T>
__global__ void __launch_bounds__(kWarps * 32) attention_partial_kernel(AttentionArgs a) {
  extern __shared__ float smem[];
  const int hd = a.head_dim, group = a.num_heads / a.num_kv_heads;
  const int kvd = a.num_kv_heads * hd;
  float* qs = smem;
  float* ks = qs + kMaxQueries * hd;
  float* vs = ks + kChunk * (hd + 1);
  const int* item = a.items + blockIdx.x * gpu::kItemInts;
  const int row0 = item[0], rows = item[1], e_begin = item[2], e_end = item[3], split = item[4];
  const int kvh = blockIdx.y;
  const int nq = rows * group;
  const T* qsrc = static_cast<const T*>(a.q);
  for (int idx = threadIdx.x; idx < nq * hd; idx += blockDim.x) {
    const int q = idx / hd, dd = idx % hd;
    const int r = row0 + q / group, h = kvh * group + q % group;
    qs[idx] = to_f32(qsrc[static_cast<int64_t>(r) * a.ldq + h * hd + dd]) * a.scale;
  }
  const int toff = a.table_offset[row0];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float m[kQueriesPerWarp], l[kQueriesPerWarp], acc[kQueriesPerWarp][kMaxDimsPerLane];
  int seen[kQueriesPerWarp];  // entries visible to the query's row
#pragma unroll
  for (int s = 0; s < kQueriesPerWarp; ++s) {
    m[s] = -INFINITY;
    l[s] = 0.f;
    const int q = warp + kWarps * s;
    seen[s] = q < nq ? a.entries[row0 + q / group] : 0;
#pragma unroll
    for (int i = 0; i < kMaxDimsPerLane; ++i) acc[s][i] = 0.f;
  }
  const T* kpool = static_cast<const T*>(a.k_pool);
  const T* vpool = static_cast<const T*>(a.v_pool);
  for (int c0 = e_begin; c0 < e_end; c0 += kChunk) {
    const int cn = min(kChunk, e_end - c0);
    __syncthreads();  // previous chunk fully read (and the queries written)
    stage_chunk(kpool, vpool, a.tables + toff, a.block_size, c0, cn, kvd, kvh * hd, hd, ks, vs);
    __syncthreads();
#pragma unroll
    for (int s = 0; s < kQueriesPerWarp; ++s) {
      const int q = warp + kWarps * s;
      if (q >= nq) continue;  // warp-uniform
      const int ge = c0 + lane;
      const bool valid = lane < cn && ge < seen[s];
      float score = -INFINITY;
      if (valid) {
        const float* qv = qs + q * hd;
        const float* kv = ks + lane * (hd + 1);
        float dot = 0.f;
        for (int dd = 0; dd < hd; ++dd) dot += qv[dd] * kv[dd];
        score = dot;
      }
      const float cmax = warp_max(score);
      if (cmax == -INFINITY) continue;  // nothing visible in this chunk (warp-uniform)
      const float m_new = fmaxf(m[s], cmax);
      const float p = valid ? expf(score - m_new) : 0.f;
      const float corr = expf(m[s] - m_new);  // 0 while m is -inf
      l[s] = l[s] * corr + warp_sum(p);
      m[s] = m_new;
#pragma unroll
      for (int i = 0; i < kMaxDimsPerLane; ++i) acc[s][i] *= corr;
      const int last = min(cn, seen[s] - c0);
      for (int e = 0; e < last; ++e) {
        const float pe = __shfl_sync(0xffffffffu, p, e);
        const float* vrow = vs + e * hd;
#pragma unroll
        for (int i = 0; i < kMaxDimsPerLane; ++i) {
          const int dd = lane + 32 * i;
          if (dd < hd) acc[s][i] += pe * vrow[dd];
        }
      }
    }
  }
  // Each query's result: with one split per row (num_partials == nf) the
  // output itself, as the combine kernel would write it (its weights are
  // then exactly 1); otherwise the partial result (empty ones too: l = 0).
  const bool direct = a.num_partials == a.nf;
#pragma unroll
  for (int s = 0; s < kQueriesPerWarp; ++s) {
    const int q = warp + kWarps * s;
    if (q >= nq) continue;
    const int r = row0 + q / group, h = kvh * group + q % group;
    if (direct) {
      const float inv = 1.f / l[s];  // l > 0: a row sees at least its own entry
      T* out = static_cast<T*>(a.out) + static_cast<int64_t>(r) * a.ldo + h * hd;
#pragma unroll
      for (int i = 0; i < kMaxDimsPerLane; ++i) {
        const int dd = lane + 32 * i;
        if (dd < hd) out[dd] = from_f32<T>(acc[s][i] * inv);
      }
      continue;
    }
    const int64_t pi = static_cast<int64_t>(a.partial_base[r] + split) * a.num_heads + h;
#pragma unroll
    for (int i = 0; i < kMaxDimsPerLane; ++i) {
      const int dd = lane + 32 * i;
      if (dd < hd) a.partial_o[pi * hd + dd] = acc[s][i];
    }
    if (lane == 0) {
      a.partial_ml[pi * 2] = m[s];
      a.partial_ml[pi * 2 + 1] = l[s];
    }
  }
}

// One warp per (row, head): merges the row's splits.
template <typename T>
__global__ void attention_combine_kernel(AttentionArgs a) {
  const int r = blockIdx.x, h = blockIdx.y, lane = threadIdx.x, hd = a.head_dim;
  const int base = a.partial_base[r];
  const int splits = (r + 1 < a.nf ? a.partial_base[r + 1] : a.num_partials) - base;
  float mx = -INFINITY;
  for (int s = 0; s < splits; ++s) {
    const int64_t pi = static_cast<int64_t>(base + s) * a.num_heads + h;
    if (a.partial_ml[pi * 2 + 1] > 0.f) mx = fmaxf(mx, a.partial_ml[pi * 2]);
  }
  float total = 0.f;
  float acc[kMaxDimsPerLane];
#pragma unroll
  for (int i = 0; i < kMaxDimsPerLane; ++i) acc[i] = 0.f;
  for (int s = 0; s < splits; ++s) {
    const int64_t pi = static_cast<int64_t>(base + s) * a.num_heads + h;
    const float l = a.partial_ml[pi * 2 + 1];
    if (!(l > 0.f)) continue;
    const float w = expf(a.partial_ml[pi * 2] - mx);
    total += l * w;
#pragma unroll
    for (int i = 0; i < kMaxDimsPerLane; ++i) {
      const int dd = lane + 32 * i;
      if (dd < hd) acc[i] += w * a.partial_o[pi * hd + dd];
    }
  }
  const float inv = 1.f / total;
  T* out = static_cast<T*>(a.out) + static_cast<int64_t>(r) * a.ldo + h * hd;
#pragma unroll
  for (int i = 0; i < kMaxDimsPerLane; ++i) {
    const int dd = lane + 32 * i;
    if (dd < hd) out[dd] = from_f32<T>(acc[i] * inv);
  }
}

}  // namespace

void paged_attention(const AttentionArgs& a, cudaStream_t stream) {
  if (a.nf == 0) return;
  require(a.head_dim % 2 == 0 && a.head_dim <= 32 * kMaxDimsPerLane, ErrorCode::kUnsupported,
          "paged attention supports even head_dim up to 256, got " + std::to_string(a.head_dim));
  require(a.num_heads % a.num_kv_heads == 0 && a.num_heads / a.num_kv_heads <= kMaxQueries,
          ErrorCode::kUnsupported, "paged attention: unsupported head grouping");
  const size_t smem = smem_bytes(a.head_dim);
  dispatch_dtype(a.dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if (smem > 48 * 1024)
      CUDA_CHECK(cudaFuncSetAttribute(attention_partial_kernel<T>,
                                      cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(smem)));
    attention_partial_kernel<T>
        <<<dim3(a.num_items, a.num_kv_heads), kWarps * 32, smem, stream>>>(a);
    CUDA_CHECK_LAUNCH(attention_partial_kernel);
    if (a.num_partials == a.nf) return;  // written directly: one split per row
    attention_combine_kernel<T><<<dim3(a.nf, a.num_heads), 32, 0, stream>>>(a);
    CUDA_CHECK_LAUNCH(attention_combine_kernel);
  });
}

}  // namespace radial::kernels
