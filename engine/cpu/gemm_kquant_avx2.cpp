// The K-quant integer kernels on AVX2 (gemm_kquant.h), Q4_K, Q5_K and Q6_K.
// The quants are unpacked to unsigned bytes (Q4_K 0..15, Q5_K 0..31, Q6_K
// 0..63) so that maddubs with the signed x quants is exact (at most
// 2 * 63 * 128 per int16), then madd with ones gives the 8 int32 lane sums
// of a 32-value block. Q5_K runs Q4_K's tile, or-ing in the fifth bit. Q6_K
// subtracts 32 * (the pair sums of x), computed once per x block, in int16
// (exact: |difference| <= 24320). Even blocks accumulate in one ymm register
// (lanes 0..7 of the definition), odd blocks in another (lanes 8..15); the
// per-block coefficients (f32(d) * scale, exact) * dx are formed 8 or 16 at a
// time per super-block. Tiles of 4 weight columns share each loaded x block.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "engine/cpu/gemm_kquant.h"
#include "engine/kquant.h"
#include "engine/tensor.h"

// Function-level targets (GCC and clang alike) so the file builds without
// -m flags; only called after gemm_path_supported(kAvx2).
#define RADIAL_KQ_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace radial::cpu {
namespace {

RADIAL_KQ_AVX2 inline float f16_at(const uint8_t* p) {
  return _cvtsh_ss(static_cast<uint16_t>(p[0] | (p[1] << 8)));
}

RADIAL_KQ_AVX2 inline __m256i load32(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// The last three levels of the tree (t = lo + hi, then + 2, + 1 apart).
RADIAL_KQ_AVX2 inline float tree8(__m256 s) {
  const __m128 t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  const __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
  return _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, _MM_SHUFFLE(1, 1, 1, 1))));
}

// Every line of one super-block, for the tile after next.
template <int Bytes>
RADIAL_KQ_AVX2 inline void prefetch_block(const uint8_t* p) {
  for (int o = 0; o < Bytes; o += 64)
    _mm_prefetch(reinterpret_cast<const char*>(p + o), _MM_HINT_T0);
  _mm_prefetch(reinterpret_cast<const char*>(p + Bytes - 1), _MM_HINT_T0);
}

// The 8 int32 lane sums of q * x (q unsigned bytes, x signed).
RADIAL_KQ_AVX2 inline __m256i lane_dot(__m256i q, __m256i x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(q, x), _mm256_set1_epi16(1));
}

RADIAL_KQ_AVX2 inline __m256 bytes_to_ps(uint32_t lo, uint32_t hi) {
  const __m128i v = _mm_set_epi32(0, 0, static_cast<int>(hi), static_cast<int>(lo));
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
}

// Bit t (< 8) of every byte of v, as bit 4 (0x10) of that byte (t is a
// constant once the loops are unrolled; no shift crosses a byte).
RADIAL_KQ_AVX2 inline __m256i bit_as_16(__m256i v, int t) {
  const __m256i u = t == 0   ? _mm256_slli_epi16(v, 4)
                    : t == 1 ? _mm256_slli_epi16(v, 3)
                    : t == 2 ? _mm256_slli_epi16(v, 2)
                    : t == 3 ? _mm256_slli_epi16(v, 1)
                    : t == 4 ? v
                    : t == 5 ? _mm256_srli_epi16(v, 1)
                    : t == 6 ? _mm256_srli_epi16(v, 2)
                             : _mm256_srli_epi16(v, 3);
  return _mm256_and_si256(u, _mm256_set1_epi8(0x10));
}

// y[0..C) (+ bias) for one x row against the Q4_K rows (Q5_K when Q5)
// w + c * rb (c < C).
template <int C, bool Q5>
RADIAL_KQ_AVX2 void tile_q4k(const int8_t* qx, const float* dx, const float* xs, const uint8_t* w,
                             int64_t rb, int64_t nsb, const float* bias, float* y) {
  __m256 acc[C][2], macc[C];
  for (int c = 0; c < C; ++c) acc[c][0] = acc[c][1] = macc[c] = _mm256_setzero_ps();
  const __m256i low = _mm256_set1_epi8(0x0F);
  constexpr int64_t kBytes = Q5 ? kQ5KBlockBytes : kQ4KBlockBytes, kQs = Q5 ? 48 : 16;
  for (int64_t s = 0; s < nsb; ++s) {
    const __m256 dx8 = _mm256_loadu_ps(dx + 8 * s), xs8 = _mm256_loadu_ps(xs + 8 * s);
    alignas(32) float cs[C][8];  // (d * sc_t) * dx_b, t < 8
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const uint8_t* blk = w + c * rb + s * kBytes;
      prefetch_block<kBytes>(blk + 2 * C * rb);
      uint32_t q[3];
      std::memcpy(q, blk + 4, 12);  // kquant_q4k_scales, four bytes at a time
      const uint32_t sc_hi = (q[2] & 0x0F0F0F0F) | ((q[0] >> 6) & 0x03030303) << 4;
      const uint32_t m_hi = ((q[2] >> 4) & 0x0F0F0F0F) | ((q[1] >> 6) & 0x03030303) << 4;
      const __m256 sc = bytes_to_ps(q[0] & 0x3F3F3F3F, sc_hi);
      const __m256 mn = bytes_to_ps(q[1] & 0x3F3F3F3F, m_hi);
      const __m256 dsc = _mm256_mul_ps(_mm256_set1_ps(f16_at(blk)), sc);      // exact
      const __m256 dmn = _mm256_mul_ps(_mm256_set1_ps(f16_at(blk + 2)), mn);  // exact
      _mm256_store_ps(cs[c], _mm256_mul_ps(dsc, dx8));
      macc[c] = _mm256_fmadd_ps(_mm256_mul_ps(dmn, dx8), xs8, macc[c]);
    }
    const int8_t* xb = qx + s * kKQuantBlock;
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p) {  // blocks 2p (low nibbles) and 2p + 1 (high)
      const __m256i x0 = load32(xb + 64 * p), x1 = load32(xb + 64 * p + 32);
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        const uint8_t* blk = w + c * rb + s * kBytes;
        const __m256i q = load32(blk + kQs + 32 * p);
        __m256i q0 = _mm256_and_si256(q, low), q1 = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
        if constexpr (Q5) {
          const __m256i qh = load32(blk + 16);
          q0 = _mm256_or_si256(q0, bit_as_16(qh, 2 * p));
          q1 = _mm256_or_si256(q1, bit_as_16(qh, 2 * p + 1));
        }
        const __m256i s0 = lane_dot(q0, x0), s1 = lane_dot(q1, x1);
        acc[c][0] =
            _mm256_fmadd_ps(_mm256_broadcast_ss(&cs[c][2 * p]), _mm256_cvtepi32_ps(s0), acc[c][0]);
        acc[c][1] = _mm256_fmadd_ps(_mm256_broadcast_ss(&cs[c][2 * p + 1]), _mm256_cvtepi32_ps(s1),
                                    acc[c][1]);
      }
    }
  }
  for (int c = 0; c < C; ++c) {
    const float r = tree8(_mm256_add_ps(acc[c][0], acc[c][1])) - tree8(macc[c]);
    y[c] = bias ? r + bias[c] : r;
  }
}

// The same for Q6_K rows.
template <int C>
RADIAL_KQ_AVX2 void tile_q6k(const int8_t* qx, const float* dx, const uint8_t* w, int64_t rb,
                             int64_t nsb, const float* bias, float* y) {
  __m256 acc[C][2];
  for (int c = 0; c < C; ++c) acc[c][0] = acc[c][1] = _mm256_setzero_ps();
  const __m256i low = _mm256_set1_epi8(0x0F), high = _mm256_set1_epi8(0x30);
  const __m256i k32 = _mm256_set1_epi8(32), ones = _mm256_set1_epi16(1);
  const __m256i pairs = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
  const __m256i dlo = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
  const __m256i dhi = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
  for (int64_t s = 0; s < nsb; ++s) {
    const __m256 dx8 = _mm256_loadu_ps(dx + 8 * s);
    const __m256 dx_lo = _mm256_permutevar8x32_ps(dx8, dlo);  // dx of sub-block u / 2
    const __m256 dx_hi = _mm256_permutevar8x32_ps(dx8, dhi);
    alignas(32) float cs[C][16];  // (d * sc_u) * dx_{u / 2}, u < 16
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const uint8_t* blk = w + c * rb + s * kQ6KBlockBytes;
      prefetch_block<kQ6KBlockBytes>(blk + 2 * C * rb);
      const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192));
      const __m256 d = _mm256_set1_ps(f16_at(blk + 208));
      const __m256 lo = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc)));  // exact
      const __m256 hi =
          _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc, 8))));
      _mm256_store_ps(cs[c], _mm256_mul_ps(lo, dx_lo));
      _mm256_store_ps(cs[c] + 8, _mm256_mul_ps(hi, dx_hi));
    }
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) {  // block 8s + t: half t / 4, part t % 4
      const int h = t / 4, part = t % 4;
      const __m256i xv = load32(qx + s * kKQuantBlock + 32 * t);
      const __m256i bs = _mm256_maddubs_epi16(k32, xv);  // 32 * (x pair sums)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        const uint8_t* blk = w + c * rb + s * kQ6KBlockBytes;
        const __m256i ql = load32(blk + 64 * h + 32 * (part & 1));
        const __m256i qh = load32(blk + 128 + 32 * h);
        const __m256i nib = _mm256_and_si256(part < 2 ? ql : _mm256_srli_epi16(ql, 4), low);
        const __m256i top = part == 0   ? _mm256_slli_epi16(qh, 4)
                            : part == 1 ? _mm256_slli_epi16(qh, 2)
                            : part == 2 ? qh
                                        : _mm256_srli_epi16(qh, 2);
        const __m256i q6 = _mm256_or_si256(nib, _mm256_and_si256(top, high));
        const __m256i d16 = _mm256_sub_epi16(_mm256_maddubs_epi16(q6, xv), bs);
        const __m256i sum = _mm256_madd_epi16(d16, ones);
        const __m256 pc = _mm256_castsi256_ps(_mm256_castsi128_si256(
            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(cs[c] + 2 * t))));
        const __m256 coef = _mm256_permutevar8x32_ps(pc, pairs);  // sc_2t x4, sc_2t+1 x4
        acc[c][t & 1] = _mm256_fmadd_ps(coef, _mm256_cvtepi32_ps(sum), acc[c][t & 1]);
      }
    }
  }
  for (int c = 0; c < C; ++c) {
    const float r = tree8(_mm256_add_ps(acc[c][0], acc[c][1]));
    y[c] = bias ? r + bias[c] : r;
  }
}

// The tile for the type of w.
template <int C>
RADIAL_KQ_AVX2 inline void tile(DType dt, const int8_t* qx, const float* dx, const float* xs,
                                const uint8_t* w, int64_t rb, int64_t nsb, const float* bias,
                                float* y) {
  if (dt == DType::kQ6_K)
    tile_q6k<C>(qx, dx, w, rb, nsb, bias, y);
  else if (dt == DType::kQ5_K)
    tile_q4k<C, true>(qx, dx, xs, w, rb, nsb, bias, y);
  else
    tile_q4k<C, false>(qx, dx, xs, w, rb, nsb, bias, y);
}

}  // namespace

RADIAL_KQ_AVX2 void gemm_kquant_rows_avx2(const QuantizedRows& x, const Tensor& w,
                                          const float* bias, float* y, int64_t ldy, int64_t n,
                                          int64_t m0, int64_t m1) {
  if (m0 >= m1 || n <= 0) return;
  const DType dt = w.dtype;
  const int64_t nsb = w.cols() / kKQuantBlock, nb = x.kp / kQ8Block;
  const int64_t rb = nsb * kquant_block_bytes(dt);
  const int64_t mb = kquant_column_block(rb);
  const uint8_t* w0 = w.kquant_row(0);
  for (int64_t jb = m0; jb < m1; jb += mb) {  // a block of columns stays in L2 across rows
    const int64_t je = std::min(jb + mb, m1);
    for (int64_t i = 0; i < n; ++i) {
      const int8_t* qxi = x.qx + i * x.kp;
      const float* dxi = x.dx + i * nb;
      const float* xsi = dt != DType::kQ6_K ? x.xs + i * nb : nullptr;
      float* yi = y + i * ldy;
      int64_t j = jb;
      for (; j + 4 <= je; j += 4)
        tile<4>(dt, qxi, dxi, xsi, w0 + j * rb, rb, nsb, bias ? bias + j : nullptr, yi + j);
      for (; j < je; ++j)
        tile<1>(dt, qxi, dxi, xsi, w0 + j * rb, rb, nsb, bias ? bias + j : nullptr, yi + j);
    }
  }
}

}  // namespace radial::cpu
