// AVX2+FMA path of gemm_xwt (see gemm.cpp for the per-element summation
// order every path implements). The 16 lane partial sums of one output
// element live in two ymm registers: lanes 0..7 and lanes 8..15. Compiled
// with function-level target attributes so the file builds without -march
// flags; only called after the runtime check.
//
// Micro-kernel: a tile of R x-rows by C w-rows with R * C <= 6 elements
// (12 accumulator registers of the 16), accumulated over k (in pieces for
// long k, see gemm_cols_avx2), then the tile's accumulators are reduced
// together by a transposing tree that performs, for every element, exactly
// the adds of the scalar tree in gemm.cpp (dummy zero accumulators pad the
// tile to 8 elements).
#include <immintrin.h>

#include <cstdint>
#include <vector>

#include "engine/cpu/gemm_kernels.h"

#define RADIAL_AVX2 __attribute__((target("avx2,fma")))

namespace radial::cpu {
namespace {

constexpr int kMaxR = 3;
// Widest tile for a given number of rows (R * C <= 6).
constexpr int max_cols(int rows) { return rows == 1 ? 4 : rows == 2 ? 3 : 2; }

// s[e] holds s_e[l] = a_e[l] + a_e[l + 8] (l < 8) of element e. Reduces 8
// elements at once; on return out[4 * (e % 2) + e / 2] holds the sum of e:
//   t[l] = s[l] + s[l + 4]  (l < 4);  u[l] = t[l] + t[l + 2]  (l < 2);
//   sum = u[0] + u[1].
RADIAL_AVX2 inline void reduce8(const __m256 s[8], float out[8]) {
  __m256 c[4], d[2];
  for (int p = 0; p < 4; ++p) {  // c[p] = [t_2p, t_2p+1]
    const __m256 lo = _mm256_permute2f128_ps(s[2 * p], s[2 * p + 1], 0x20);
    const __m256 hi = _mm256_permute2f128_ps(s[2 * p], s[2 * p + 1], 0x31);
    c[p] = _mm256_add_ps(lo, hi);
  }
  for (int p = 0; p < 2; ++p) {  // d[p] half h = [u_4p+h (2 lanes), u_4p+2+h (2 lanes)]
    const __m256 lo = _mm256_shuffle_ps(c[2 * p], c[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 hi = _mm256_shuffle_ps(c[2 * p], c[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2));
    d[p] = _mm256_add_ps(lo, hi);
  }
  // Half h = [sum_h, sum_2+h, sum_4+h, sum_6+h].
  const __m256 lo = _mm256_shuffle_ps(d[0], d[1], _MM_SHUFFLE(2, 0, 2, 0));
  const __m256 hi = _mm256_shuffle_ps(d[0], d[1], _MM_SHUFFLE(3, 1, 3, 1));
  _mm256_storeu_ps(out, _mm256_add_ps(lo, hi));
}

// The same tree for a single element (s as above).
RADIAL_AVX2 inline float reduce1(__m256 s) {
  const __m128 t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  const __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
  return _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, _MM_SHUFFLE(1, 1, 1, 1))));
}

// Accumulates y[i0 + r][j0 + c] (r < R, c < C) over the k range [k0, k1).
// k0 is a multiple of 16; k1 is a multiple of 16 or k. With part == null
// the range is all of k. Otherwise the lane accumulators continue from
// part[(r * C + c) * 16 + l] when k0 > 0, and are saved there when k1 < k
// (a float store/load is exact, so splitting k changes nothing).
// When k1 == k the accumulators are reduced and y (+ bias) is written.
template <int R, int C>
RADIAL_AVX2 void tile(const GemmArgs& g, int64_t i0, int64_t j0, int64_t k0, int64_t k1,
                      float* part) {
  static_assert(R * C <= 6);
  const int64_t k = g.k, ldx = g.ldx;
  const float* x = g.x + i0 * ldx;
  const float* w = g.w + j0 * k;
  __m256 acc[R][C][2];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      if (k0 > 0) {
        acc[r][c][0] = _mm256_loadu_ps(part + (r * C + c) * 16);
        acc[r][c][1] = _mm256_loadu_ps(part + (r * C + c) * 16 + 8);
      } else {
        acc[r][c][0] = acc[r][c][1] = _mm256_setzero_ps();
      }
    }
  }

  int64_t kk = k0;
  for (; kk + 16 <= k1; kk += 16) {
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      __m256 wv[C];
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) wv[c] = _mm256_loadu_ps(w + c * k + kk + 8 * h);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const __m256 xv = _mm256_loadu_ps(x + r * ldx + kk + 8 * h);
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) acc[r][c][h] = _mm256_fmadd_ps(xv, wv[c], acc[r][c][h]);
      }
    }
  }
  if (kk < k1) {  // zero-padded tail: lanes >= k - kk see fma(0, 0, acc)
    const int rem = static_cast<int>(k1 - kk);
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask[2] = {_mm256_cmpgt_epi32(_mm256_set1_epi32(rem), iota),
                             _mm256_cmpgt_epi32(_mm256_set1_epi32(rem - 8), iota)};
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      __m256 wv[C];
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) wv[c] = _mm256_maskload_ps(w + c * k + kk + 8 * h, mask[h]);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const __m256 xv = _mm256_maskload_ps(x + r * ldx + kk + 8 * h, mask[h]);
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) acc[r][c][h] = _mm256_fmadd_ps(xv, wv[c], acc[r][c][h]);
      }
    }
  }
  if (k1 < k) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        _mm256_storeu_ps(part + (r * C + c) * 16, acc[r][c][0]);
        _mm256_storeu_ps(part + (r * C + c) * 16 + 8, acc[r][c][1]);
      }
    }
    return;
  }

  float* y = g.y + i0 * g.ldy + j0;
  if constexpr (R == 1 && C == 1) {
    const float v = reduce1(_mm256_add_ps(acc[0][0][0], acc[0][0][1]));
    y[0] = g.bias ? v + g.bias[j0] : v;
  } else {
    __m256 s[8];  // element e = r * C + c; s_e[l] = a_e[l] + a_e[l + 8]
    for (int e = 0; e < 8; ++e) s[e] = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) s[r * C + c] = _mm256_add_ps(acc[r][c][0], acc[r][c][1]);
    float out[8];
    reduce8(s, out);
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < C; ++c) {
        const int e = r * C + c;
        const float v = out[4 * (e % 2) + e / 2];
        y[r * g.ldy + c] = g.bias ? v + g.bias[j0 + c] : v;
      }
    }
  }
}

using TileFn = void (*)(const GemmArgs&, int64_t, int64_t, int64_t, int64_t, float*);

TileFn tile_fn(int rows, int cols) {
  static constexpr TileFn kTable[kMaxR][4] = {
      {&tile<1, 1>, &tile<1, 2>, &tile<1, 3>, &tile<1, 4>},
      {&tile<2, 1>, &tile<2, 2>, &tile<2, 3>, nullptr},
      {&tile<3, 1>, &tile<3, 2>, nullptr, nullptr},
  };
  return kTable[rows - 1][cols - 1];
}

// Cache blocking as in gemm_avx512.cpp: a block of w rows (~kBlockBytes, a
// multiple of 12 rows, which every tile width divides) stays in L2 while the
// x rows stream past it, and a long k is split into kKBlock pieces when
// several x panels reuse the block.
constexpr int64_t kBlockBytes = 512 * 1024;
constexpr int64_t kKBlock = 512;  // a multiple of 16

int64_t block_cols(int64_t k) {
  int64_t cols = kBlockBytes / (static_cast<int64_t>(sizeof(float)) * (k > 0 ? k : 1));
  cols -= cols % 12;
  return cols < 12 ? 12 : cols;
}

}  // namespace

void gemm_cols_avx2(const GemmArgs& g, int64_t m0, int64_t m1) {
  const int64_t mb = block_cols(g.k);
  const bool split_k = g.k > 2 * kKBlock && g.n > kMaxR;
  const int64_t kc = split_k ? kKBlock : (g.k > 0 ? g.k : 1);
  // Partial sums of one x panel against the tiles of one block: 16 lanes of
  // at most 6 elements per tile, at most mb tiles; 64-byte aligned.
  std::vector<float> part_buf(split_k ? static_cast<size_t>(mb * 96 + 16) : 0);
  float* part = part_buf.empty()
                    ? nullptr
                    : reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(part_buf.data()) + 63) &
                                               ~uintptr_t{63});
  for (int64_t jb = m0; jb < m1; jb += mb) {
    const int64_t je = jb + mb < m1 ? jb + mb : m1;
    for (int64_t i = 0; i < g.n; i += kMaxR) {
      const int rows = static_cast<int>(g.n - i < kMaxR ? g.n - i : kMaxR);
      const int width = max_cols(rows);
      const TileFn full = tile_fn(rows, width);
      const int edge_cols = static_cast<int>((je - jb) % width);
      const TileFn edge = edge_cols > 0 ? tile_fn(rows, edge_cols) : nullptr;
      int64_t k0 = 0;
      do {  // k pieces [k0, k1); a single piece [0, k) unless split_k
        const int64_t k1 = k0 + kc < g.k ? k0 + kc : g.k;
        float* p = part;
        int64_t j = jb;
        for (; j + width <= je; j += width, p = p ? p + 16 * 6 : p) full(g, i, j, k0, k1, p);
        if (j < je) edge(g, i, j, k0, k1, p);
        k0 = k1;
      } while (k0 < g.k);
    }
  }
}

float dot_avx2(const float* a, const float* b, int64_t k) {
  float y = 0.0f;
  const GemmArgs g{a, k, b, nullptr, &y, 1, 1, k};
  tile<1, 1>(g, 0, 0, 0, k, nullptr);
  return y;
}

}  // namespace radial::cpu
