// AVX-512F path of gemm_xwt (see gemm.cpp for the per-element summation
// order every path implements). One zmm register holds the 16 lane partial
// sums of one output element. Compiled with function-level target attributes
// so the file builds without -march flags; only called after the runtime check.
//
// Micro-kernel: a tile of R x-rows by C w-rows (R, C <= 4), accumulated over
// k (in pieces for long k, see gemm_cols_avx512), then the 16 accumulators
// of the tile are reduced together by a
// transposing tree that performs, for every element, exactly the adds of the
// scalar reduction tree in gemm.cpp (dummy zero accumulators fill the tile
// when R * C < 16; their results are discarded).
//
// Weights: f32 rows, or BF16/F16 rows (GemmArgs::format) widened chunk by
// chunk in registers by a loader (LoadHalf), exact, so every format goes
// through the same floating-point operations as f32 rows holding the same
// values. The loaders prefetch the rows of the tile after next: measured on
// one Sapphire Rapids core, batch-1 BF16 reads went from 9.3 to 12.2 GB/s,
// and f32 at 8 rows from 8.3 to 10.7 GB/s.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/cpu/gemm_kernels.h"

#define RADIAL_AVX512 __attribute__((target("avx512f")))

// GCC 12 reports the deliberate self-initialisation inside
// _mm512_undefined_ps() (used by the shuffle/extract intrinsics) as an
// uninitialised use; it is not one.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace radial::cpu {
namespace {

constexpr int kMaxR = 4, kMaxC = 4;

// Reduces 16 element accumulators at once. Lane 4 * c + r of the result
// holds the sum of element e = 4 * r + c, computed as
//   s[l] = a[l] + a[l + 8]  (l < 8);  t[l] = s[l] + s[l + 4]  (l < 4);
//   u[l] = t[l] + t[l + 2]  (l < 2);  sum = u[0] + u[1].
RADIAL_AVX512 inline __m512 reduce16(const __m512 a[16]) {
  __m512 b[8], c[4], d[2];
  for (int p = 0; p < 8; ++p) {  // b[p] = [s_2p lo4, s_2p hi4, s_2p+1 lo4, s_2p+1 hi4]
    const __m512 lo = _mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 hi = _mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2));
    b[p] = _mm512_add_ps(lo, hi);
  }
  for (int p = 0; p < 4; ++p) {  // c[p] = [t_4p, t_4p+1, t_4p+2, t_4p+3]
    const __m512 lo = _mm512_shuffle_f32x4(b[2 * p], b[2 * p + 1], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512 hi = _mm512_shuffle_f32x4(b[2 * p], b[2 * p + 1], _MM_SHUFFLE(3, 1, 3, 1));
    c[p] = _mm512_add_ps(lo, hi);
  }
  for (int p = 0; p < 2; ++p) {  // d[p] quarter q = [u_8p+q (2 lanes), u_8p+4+q (2 lanes)]
    const __m512 lo = _mm512_shuffle_ps(c[2 * p], c[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 hi = _mm512_shuffle_ps(c[2 * p], c[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2));
    d[p] = _mm512_add_ps(lo, hi);
  }
  // Quarter q = [sum_q, sum_4+q, sum_8+q, sum_12+q].
  const __m512 lo = _mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(2, 0, 2, 0));
  const __m512 hi = _mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(3, 1, 3, 1));
  return _mm512_add_ps(lo, hi);
}

// The same tree for a single accumulator.
RADIAL_AVX512 inline float reduce1(__m512 a) {
  const __m256 a_lo = _mm512_castps512_ps256(a);
  const __m256 a_hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1));
  const __m256 s = _mm256_add_ps(a_lo, a_hi);
  const __m128 t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  const __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
  return _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, _MM_SHUFFLE(1, 1, 1, 1))));
}

// Weight loaders: 16 f32 weights of row `row` from position kk (all in
// range: full; the zero-padded last chunk of `rem` < 16: tail). Every format
// yields exact f32 values (BF16 by a shift, F16 by vcvtph2ps), and positions
// >= k read as +0, so the tile computes the same floats whatever the format.
struct LoadF32 {
  static constexpr bool kPrefetch = true;
  static const void* at(const GemmArgs& g, int64_t row, int64_t kk) { return g.w + row * g.k + kk; }
  RADIAL_AVX512 static __m512 full(const GemmArgs& g, int64_t row, int64_t kk) {
    return _mm512_loadu_ps(g.w + row * g.k + kk);
  }
  RADIAL_AVX512 static __m512 tail(const GemmArgs& g, int64_t row, int64_t kk, int rem) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << rem) - 1u), g.w + row * g.k + kk);
  }
};

template <bool kBf16>
struct LoadHalf {
  static constexpr bool kPrefetch = true;
  static const void* at(const GemmArgs& g, int64_t row, int64_t kk) {
    return static_cast<const uint16_t*>(g.wc) + row * g.k + kk;
  }
  RADIAL_AVX512 static __m512 widen(__m256i h) {
    if constexpr (kBf16)
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    return _mm512_cvtph_ps(h);
  }
  RADIAL_AVX512 static __m512 full(const GemmArgs& g, int64_t row, int64_t kk) {
    const auto* p = static_cast<const uint16_t*>(g.wc) + row * g.k + kk;
    return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  RADIAL_AVX512 static __m512 tail(const GemmArgs& g, int64_t row, int64_t kk, int rem) {
    uint16_t buf[16] = {};  // +0 in both formats
    std::memcpy(buf, static_cast<const uint16_t*>(g.wc) + row * g.k + kk, 2 * rem);
    return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(buf)));
  }
};

// Accumulates y[i0 + r][j0 + c] (r < R, c < C) over the k range [k0, k1).
// k0 is a multiple of 16; k1 is a multiple of 16 or k. With part == null
// the range is all of k. Otherwise the lane accumulators continue from
// part[(r * C + c) * 16 + l] when k0 > 0, and are saved there when k1 < k
// (a float store/load is exact, so splitting k changes nothing).
// When k1 == k the accumulators are reduced and y (+ bias) is written.
template <int R, int C, class WL = LoadF32>
RADIAL_AVX512 void tile(const GemmArgs& g, int64_t i0, int64_t j0, int64_t k0, int64_t k1,
                        float* part) {
  const int64_t k = g.k, ldx = g.ldx;
  const float* x = g.x + i0 * ldx;
  __m512 acc[R][C];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c)
      acc[r][c] = k0 > 0 ? _mm512_loadu_ps(part + (r * C + c) * 16) : _mm512_setzero_ps();

  int64_t kk = k0;
  for (; kk + 16 <= k1; kk += 16) {
    __m512 wv[C];
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) wv[c] = WL::full(g, j0 + c, kk);
    // Compact rows are short streams: fetch the next tile's rows (the bytes
    // C rows further on) while this tile works (a hint: never faults).
    if constexpr (WL::kPrefetch) {
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c)
        _mm_prefetch(static_cast<const char*>(WL::at(g, j0 + 2 * C + c, kk)), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m512 xv = _mm512_loadu_ps(x + r * ldx + kk);
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(xv, wv[c], acc[r][c]);
    }
  }
  if (kk < k1) {  // zero-padded tail: lanes >= k - kk see fma(0, 0, acc)
    const __mmask16 mask = static_cast<__mmask16>((1u << (k1 - kk)) - 1u);
    __m512 wv[C];
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) wv[c] = WL::tail(g, j0 + c, kk, static_cast<int>(k1 - kk));
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m512 xv = _mm512_maskz_loadu_ps(mask, x + r * ldx + kk);
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(xv, wv[c], acc[r][c]);
    }
  }
  if (k1 < k) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) _mm512_storeu_ps(part + (r * C + c) * 16, acc[r][c]);
    return;
  }

  float* y = g.y + i0 * g.ldy + j0;
  if constexpr (R == 1 && C == 1) {
    const float v = reduce1(acc[0][0]);
    y[0] = g.bias ? v + g.bias[j0] : v;
  } else {
    __m512 all[16];
    for (int e = 0; e < 16; ++e) all[e] = _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) all[4 * r + c] = acc[r][c];
    const __m512 sums = reduce16(all);
    if constexpr (C == 4) {
      // Transpose to lane 4 * r + c, add the bias row, store one quarter per
      // row (the same single add per element as the scalar path).
      const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
      __m512 v = _mm512_permutexvar_ps(idx, sums);
      if (g.bias) v = _mm512_add_ps(v, _mm512_broadcast_f32x4(_mm_loadu_ps(g.bias + j0)));
      _mm_storeu_ps(y, _mm512_castps512_ps128(v));
      if constexpr (R > 1) _mm_storeu_ps(y + g.ldy, _mm512_extractf32x4_ps(v, 1));
      if constexpr (R > 2) _mm_storeu_ps(y + 2 * g.ldy, _mm512_extractf32x4_ps(v, 2));
      if constexpr (R > 3) _mm_storeu_ps(y + 3 * g.ldy, _mm512_extractf32x4_ps(v, 3));
      return;
    }
    float out[16];
    _mm512_storeu_ps(out, sums);
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < C; ++c) {
        const float v = out[4 * c + r];
        y[r * g.ldy + c] = g.bias ? v + g.bias[j0 + c] : v;
      }
    }
  }
}

using TileFn = void (*)(const GemmArgs&, int64_t, int64_t, int64_t, int64_t, float*);

template <class WL>
TileFn tile_fn(int rows, int cols) {
  static constexpr TileFn kTable[kMaxR][kMaxC] = {
      {&tile<1, 1, WL>, &tile<1, 2, WL>, &tile<1, 3, WL>, &tile<1, 4, WL>},
      {&tile<2, 1, WL>, &tile<2, 2, WL>, &tile<2, 3, WL>, &tile<2, 4, WL>},
      {&tile<3, 1, WL>, &tile<3, 2, WL>, &tile<3, 3, WL>, &tile<3, 4, WL>},
      {&tile<4, 1, WL>, &tile<4, 2, WL>, &tile<4, 3, WL>, &tile<4, 4, WL>},
  };
  return kTable[rows - 1][cols - 1];
}

// Cache blocking. A block of w rows (about kBlockBytes) stays in L2 while
// every x row streams past it. When k is long and several x panels will
// reuse the block, k is also split into kKBlock pieces so that the current
// x panel piece stays in L1 while the tiles of the block sweep past it; the
// partial lane sums wait in a small buffer between pieces.
constexpr int64_t kBlockBytes = 512 * 1024;
constexpr int64_t kKBlock = 512;  // a multiple of 16

int64_t block_cols(int64_t k) {
  int64_t cols = kBlockBytes / (static_cast<int64_t>(sizeof(float)) * (k > 0 ? k : 1));
  cols -= cols % kMaxC;
  return cols < kMaxC ? kMaxC : cols;
}

template <class WL>
void cols_with(const GemmArgs& g, int64_t m0, int64_t m1) {
  const int64_t mb = block_cols(g.k);
  const bool split_k = g.k > 2 * kKBlock && g.n > kMaxR;
  const int64_t kc = split_k ? kKBlock : (g.k > 0 ? g.k : 1);
  // Partial sums of one x panel against the tiles of one block: 16 lanes of
  // 16 elements per tile, mb / 4 tiles; 64-byte aligned.
  std::vector<float> part_buf(split_k ? static_cast<size_t>(mb * 64 + 16) : 0);
  float* part = part_buf.empty()
                    ? nullptr
                    : reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(part_buf.data()) + 63) &
                                               ~uintptr_t{63});
  for (int64_t jb = m0; jb < m1; jb += mb) {
    const int64_t je = jb + mb < m1 ? jb + mb : m1;
    for (int64_t i = 0; i < g.n; i += kMaxR) {
      const int rows = static_cast<int>(g.n - i < kMaxR ? g.n - i : kMaxR);
      const TileFn full = tile_fn<WL>(rows, kMaxC);
      const int edge_cols = static_cast<int>((je - jb) % kMaxC);
      const TileFn edge = edge_cols > 0 ? tile_fn<WL>(rows, edge_cols) : nullptr;
      int64_t k0 = 0;
      do {  // k pieces [k0, k1); a single piece [0, k) unless split_k
        const int64_t k1 = k0 + kc < g.k ? k0 + kc : g.k;
        float* p = part;
        int64_t j = jb;
        for (; j + kMaxC <= je; j += kMaxC, p = p ? p + 16 * kMaxR * kMaxC : p)
          full(g, i, j, k0, k1, p);
        if (j < je) edge(g, i, j, k0, k1, p);
        k0 = k1;
      } while (k0 < g.k);
    }
  }
}

}  // namespace

void gemm_cols_avx512(const GemmArgs& g, int64_t m0, int64_t m1) {
  switch (g.format) {
    case WeightFormat::kF32:
      return cols_with<LoadF32>(g, m0, m1);
    case WeightFormat::kBF16:
      return cols_with<LoadHalf<true>>(g, m0, m1);
    case WeightFormat::kF16:
      return cols_with<LoadHalf<false>>(g, m0, m1);
  }
}

float dot_avx512(const float* a, const float* b, int64_t k) {
  float y = 0.0f;
  const GemmArgs g{a, k, b, nullptr, &y, 1, 1, k};
  tile<1, 1>(g, 0, 0, 0, k, nullptr);
  return y;
}

}  // namespace radial::cpu
