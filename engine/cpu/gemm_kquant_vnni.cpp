// The K-quant kernels with AVX512-VNNI (gemm_kquant.h): one zmm register
// holds two consecutive x blocks (the even one in lanes 0..7, the odd one in
// lanes 8..15, as the definition splits them), and dpbusd sums the unsigned
// weight quants times the signed x quants over each lane's 4 positions:
//   Q4_K  the quants are 0..15 (Q5_K: 0..31, the fifth bit from qh), so
//   Q5_K  dpbusd gives the sum of q * qx directly; the mins go to 8 lanes
//         (one per sub-block) of their own accumulator, once per super-block;
//   Q6_K  the quants are 0..63 before the -32, so each lane starts from
//         -32 times the sum of its 4 x quants.
// Tiles of up to 4 x rows by 4 weight rows share each loaded block. Only
// called when q8_vnni_supported().
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "engine/cpu/gemm_kquant.h"
#include "engine/kquant.h"
#include "engine/tensor.h"

// GCC 12 reports the deliberate self-initialisation inside the
// _mm512_undefined_* helpers of the cast intrinsics; it is not a use.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define RADIAL_KQ_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

namespace radial::cpu {
namespace {

RADIAL_KQ_VNNI inline float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// The definition's tree16 of a zmm and tree8 of a ymm.
RADIAL_KQ_VNNI inline float tree8(__m256 s) {
  const __m128 t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  const __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
  return _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, _MM_SHUFFLE(1, 1, 1, 1))));
}
RADIAL_KQ_VNNI inline float tree16(__m512 a) {
  return tree8(_mm256_add_ps(_mm512_castps512_ps256(a),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1))));
}

// Eight unsigned bytes as eight floats.
RADIAL_KQ_VNNI inline __m256 bytes_to_ps(uint64_t v) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(v))));
}

struct Tile {
  const int8_t* qx;  // row 0 of the tile's x quants (row stride kp)
  const float* dx;   // its block scales (row stride nb)
  const float* xs;   // its block sums (Q4_K)
  const uint8_t* w;  // column 0's blocks (column stride row_bytes)
  int64_t kp, nb, row_bytes, nsb;
  const float* bias;  // at column 0, or null
  float* y;           // y[0][0], row stride ldy
  int64_t ldy;
};

// Q4_K, or Q5_K when Q5.
template <int R, int C, bool Q5>
RADIAL_KQ_VNNI void q4k_tile(const Tile& a) {
  constexpr int64_t kBytes = Q5 ? kQ5KBlockBytes : kQ4KBlockBytes;
  constexpr int64_t kQs = Q5 ? 48 : 16;  // where the nibbles start
  __m512 acc[R][C];
  alignas(32) float macc[R][C][8];
  alignas(32) float coef[R][C][8];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      acc[r][c] = _mm512_setzero_ps();
      _mm256_store_ps(macc[r][c], _mm256_setzero_ps());
    }
  __m512i idx[4];  // blocks 2p and 2p + 1 of the 8 spread over the two halves
  for (int p = 0; p < 4; ++p)
    idx[p] = _mm512_inserti64x4(_mm512_set1_epi32(2 * p), _mm256_set1_epi32(2 * p + 1), 1);
  const __m512i nibble = _mm512_set1_epi8(0x0F), sixteen = _mm512_set1_epi8(16);
  const __m512i nibble_shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
  __m512i fifth_bit[4];  // bit 2p of qh's bytes in the low half, 2p + 1 in the high
  for (int p = 0; p < 4; ++p)
    fifth_bit[p] = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * p))),
                                      _mm256_set1_epi8(static_cast<char>(2 << (2 * p))), 1);
  const __m512i zero = _mm512_setzero_si512();
  for (int64_t s = 0; s < a.nsb; ++s) {
    for (int c = 0; c < C; ++c) {
      const uint8_t* blk = a.w + c * a.row_bytes + s * kBytes;
      uint32_t q[3];
      std::memcpy(q, blk + 4, 12);
      const uint64_t sc = (q[0] & 0x3f3f3f3fu) |
                          uint64_t{(q[2] & 0x0f0f0f0fu) | ((q[0] >> 6) & 0x03030303u) << 4} << 32;
      const uint64_t mn = (q[1] & 0x3f3f3f3fu) |
                          uint64_t{((q[2] >> 4) & 0x0f0f0f0fu) | ((q[1] >> 6) & 0x03030303u) << 4}
                              << 32;
      const __m256 dsc = _mm256_mul_ps(_mm256_set1_ps(f16_at(blk)), bytes_to_ps(sc));
      const __m256 dmn = _mm256_mul_ps(_mm256_set1_ps(f16_at(blk + 2)), bytes_to_ps(mn));
      for (int r = 0; r < R; ++r) {
        const __m256 dxv = _mm256_loadu_ps(a.dx + r * a.nb + 8 * s);
        _mm256_store_ps(coef[r][c], _mm256_mul_ps(dsc, dxv));
        const __m256 xsv = _mm256_loadu_ps(a.xs + r * a.nb + 8 * s);
        _mm256_store_ps(macc[r][c],
                        _mm256_fmadd_ps(_mm256_mul_ps(dmn, dxv), xsv, _mm256_load_ps(macc[r][c])));
      }
    }
    for (int p = 0; p < 4; ++p) {
      __m512i xv[R];
      for (int r = 0; r < R; ++r) xv[r] = _mm512_loadu_si512(a.qx + r * a.kp + 256 * s + 64 * p);
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        const uint8_t* blk = a.w + c * a.row_bytes + s * kBytes;
        const uint8_t* qs = blk + kQs + 32 * p;
        // The same block of the tile after next, one point per pair, less
        // than 64 bytes apart from its first byte to its last: every cache
        // line of the block.
        _mm_prefetch(
            reinterpret_cast<const char*>(blk + p * (kBytes - 1) / 3 + 2 * C * a.row_bytes),
            _MM_HINT_T0);
        // The 32 bytes in both halves, shifted by 0 and 4: the low nibbles
        // (sub-block 2p) in the low half, the high ones (2p + 1) in the high.
        const __m512i v =
            _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs)));
        __m512i wv = _mm512_and_si512(_mm512_srlv_epi16(v, nibble_shift), nibble);
        if constexpr (Q5) {  // + 16 where qh holds the fifth bit of the sub-block
          const __m512i qh = _mm512_broadcast_i64x4(
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16)));
          wv = _mm512_mask_add_epi8(wv, _mm512_test_epi8_mask(qh, fifth_bit[p]), wv, sixteen);
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const __m512i sum = _mm512_dpbusd_epi32(zero, wv, xv[r]);
          const __m512 cv =
              _mm512_permutexvar_ps(idx[p], _mm512_castps256_ps512(_mm256_load_ps(coef[r][c])));
          acc[r][c] = _mm512_fmadd_ps(cv, _mm512_cvtepi32_ps(sum), acc[r][c]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      const float v = tree16(acc[r][c]) - tree8(_mm256_load_ps(macc[r][c]));
      a.y[r * a.ldy + c] = a.bias ? v + a.bias[c] : v;
    }
}

template <int R, int C>
RADIAL_KQ_VNNI void q6k_tile(const Tile& a) {
  __m512 acc[R][C];
  alignas(64) float dsc[C][16];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  // Lane L of pair p: scale 4p + L / 4 of the 16, x block 2p + L / 8 of the 8.
  __m512i scale_idx[4], block_idx[4];
  for (int p = 0; p < 4; ++p) {
    scale_idx[p] = _mm512_setr_epi32(4 * p, 4 * p, 4 * p, 4 * p, 4 * p + 1, 4 * p + 1, 4 * p + 1,
                                     4 * p + 1, 4 * p + 2, 4 * p + 2, 4 * p + 2, 4 * p + 2,
                                     4 * p + 3, 4 * p + 3, 4 * p + 3, 4 * p + 3);
    block_idx[p] = _mm512_inserti64x4(_mm512_set1_epi32(2 * p), _mm256_set1_epi32(2 * p + 1), 1);
  }
  const __m512i low4 = _mm512_set1_epi8(0x0F), low2 = _mm512_set1_epi8(0x03);
  const __m512i thirty_two = _mm512_set1_epi8(32);
  const __m512i zero = _mm512_setzero_si512();
  for (int64_t s = 0; s < a.nsb; ++s) {
    for (int c = 0; c < C; ++c) {
      const uint8_t* blk = a.w + c * a.row_bytes + s * kQ6KBlockBytes;
      _mm_prefetch(reinterpret_cast<const char*>(blk + kQ6KBlockBytes - 1 + 2 * C * a.row_bytes),
                   _MM_HINT_T0);
      const __m512 sc = _mm512_cvtepi32_ps(
          _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192))));
      _mm512_store_ps(dsc[c], _mm512_mul_ps(_mm512_set1_ps(f16_at(blk + 208)), sc));
    }
    for (int p = 0; p < 4; ++p) {
      const int half = p / 2;
      __m512i xv[R], start[R];
      __m512 dxp[R];
      for (int r = 0; r < R; ++r) {
        xv[r] = _mm512_loadu_si512(a.qx + r * a.kp + 256 * s + 64 * p);
        start[r] = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, thirty_two, xv[r]));
        dxp[r] = _mm512_permutexvar_ps(
            block_idx[p], _mm512_castps256_ps512(_mm256_loadu_ps(a.dx + r * a.nb + 8 * s)));
      }
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        const uint8_t* blk = a.w + c * a.row_bytes + s * kQ6KBlockBytes;
        // The same block of the tile after next, 64 bytes apart (0, 64, 128,
        // 192; its last byte once a block, below): every line of its 210
        // bytes, qh and the scales too.
        _mm_prefetch(reinterpret_cast<const char*>(blk + 64 * p + 2 * C * a.row_bytes),
                     _MM_HINT_T0);
        // Blocks 4h, 4h + 1 (p even) or 4h + 2, 4h + 3 (p odd) of half h:
        // the nibbles of ql[64h .. 64h + 63] and 2 bits of qh[32h .. 32h + 31].
        const __m512i ql = _mm512_loadu_si512(blk + 64 * half);
        const __m256i qh =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * half));
        const __m512i qh2 =
            _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
        const int shift = p % 2 == 0 ? 0 : 4;
        const __m512i lo = _mm512_and_si512(_mm512_srli_epi16(ql, shift), low4);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(qh2, shift), low2);
        const __m512i wv = _mm512_or_si512(lo, _mm512_slli_epi16(hi, 4));
        const __m512 scp = _mm512_permutexvar_ps(scale_idx[p], _mm512_load_ps(dsc[c]));
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const __m512i sum = _mm512_dpbusd_epi32(start[r], wv, xv[r]);
          acc[r][c] =
              _mm512_fmadd_ps(_mm512_mul_ps(scp, dxp[r]), _mm512_cvtepi32_ps(sum), acc[r][c]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      const float v = tree16(acc[r][c]);
      a.y[r * a.ldy + c] = a.bias ? v + a.bias[c] : v;
    }
}

// The tiles of one dtype.
template <int R, int C>
RADIAL_KQ_VNNI void tile_of(DType dt, const Tile& a) {
  if (dt == DType::kQ4_K)
    q4k_tile<R, C, false>(a);
  else if (dt == DType::kQ5_K)
    q4k_tile<R, C, true>(a);
  else
    q6k_tile<R, C>(a);
}

template <int R>
RADIAL_KQ_VNNI void panel(DType dt, Tile a, int64_t jb, int64_t je) {
  int64_t j = jb;
  const Tile base = a;
  for (; j + 4 <= je; j += 4) {
    a.w = base.w + j * a.row_bytes;
    a.bias = base.bias ? base.bias + j : nullptr;
    a.y = base.y + j;
    tile_of<R, 4>(dt, a);
  }
  for (; j < je; ++j) {
    a.w = base.w + j * a.row_bytes;
    a.bias = base.bias ? base.bias + j : nullptr;
    a.y = base.y + j;
    tile_of<R, 1>(dt, a);
  }
}

}  // namespace

RADIAL_KQ_VNNI void gemm_kquant_rows_vnni(const QuantizedRows& x, const Tensor& w,
                                          const float* bias, float* y, int64_t ldy, int64_t n,
                                          int64_t m0, int64_t m1) {
  const int64_t nsb = w.cols() / kKQuantBlock, nb = x.kp / kQ8Block;
  const int64_t row_bytes = nsb * kquant_block_bytes(w.dtype);
  const int64_t mb = kquant_column_block(row_bytes);
  for (int64_t jb = m0; jb < m1; jb += mb) {  // a block of columns stays in L2 across rows
    const int64_t je = std::min(jb + mb, m1);
    for (int64_t i = 0; i < n;) {
      const int64_t rows = n - i >= 4 ? 4 : n - i >= 2 ? 2 : 1;
      const Tile a{x.qx + i * x.kp,
                   x.dx + i * nb,
                   x.xs ? x.xs + i * nb : nullptr,
                   w.kquant_row(0),
                   x.kp,
                   nb,
                   row_bytes,
                   nsb,
                   bias,
                   y + i * ldy,
                   ldy};
      if (rows == 4)
        panel<4>(w.dtype, a, jb, je);
      else if (rows == 2)
        panel<2>(w.dtype, a, jb, je);
      else
        panel<1>(w.dtype, a, jb, je);
      i += rows;
    }
  }
}

}  // namespace radial::cpu
