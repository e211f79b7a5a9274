// The Q8_0 integer kernel with AVX512-VNNI (gemm_q8.h): one zmm register
// holds two consecutive blocks (the even one in lanes 0..7, the odd one in
// lanes 8..15, as the definition splits them); dpbusd sums x + 128 (unsigned
// bytes) times w over each 4-byte group into int32 lanes, from a start of
// -128 times the sum of w, which leaves the exact sum of x * w.
// Tiles of up to 4 x rows by 4 weight rows share each loaded block. Only
// called when q8_vnni_supported().
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "engine/cpu/gemm_q8.h"
#include "engine/tensor.h"

// GCC 12 reports the deliberate self-initialisation inside the
// _mm512_undefined_* helpers of the cast intrinsics; it is not a use.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// Function-level targets (GCC and clang alike) so the file builds without
// -m flags.
#define RADIAL_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

namespace radial::cpu {
namespace {

// y[r * ldy + c] (+ bias) for the R x rows at qx (row stride kp) against the
// weight rows at qw (row stride kp), c < C.
template <int R, int C>
RADIAL_VNNI void tile(const int8_t* qx, const float* dx, const int8_t* qw, const uint16_t* dw,
                      int64_t kp, int64_t nb, const float* bias, float* y, int64_t ldy) {
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  // The scales d = f32(dw) * dx of 8 blocks, then spread two at a time over
  // the halves of a zmm register (idx[p]: blocks 2p and 2p + 1 of the 8).
  alignas(32) float dd[R][C][8];
  __m512i idx[4];
  for (int p = 0; p < 4; ++p)
    idx[p] = _mm512_inserti64x4(_mm512_set1_epi32(2 * p), _mm256_set1_epi32(2 * p + 1), 1);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));  // 128 as an unsigned byte
  for (int64_t g = 0; g < nb; g += 8) {
    const int64_t gn = std::min<int64_t>(8, nb - g);
    if (gn == 8) {
      for (int r = 0; r < R; ++r) {
        const __m256 dxv = _mm256_loadu_ps(dx + r * nb + g);
        for (int c = 0; c < C; ++c) {
          const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(dw + c * nb + g));
          _mm256_store_ps(dd[r][c], _mm256_mul_ps(_mm256_cvtph_ps(h), dxv));
        }
      }
    } else {
      for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c)
          for (int64_t t = 0; t < 8; ++t)
            dd[r][c][t] = t < gn ? _cvtsh_ss(dw[c * nb + g + t]) * dx[r * nb + g + t] : 0.f;
    }
    for (int64_t t = 0; t < gn; t += 2) {
      const int64_t b = g + t;  // even
      const bool pair = t + 1 < gn;
      const __mmask16 lanes = pair ? 0xFFFF : 0x00FF;
      // x as unsigned bytes qx + 128 (the sign bit flipped): dpbusd then
      // sums (qx + 128) * w, and starting it from -128 * (the sum of w) over
      // each lane's 4 bytes leaves exactly the sum of qx * w.
      __m512i xu[R];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const int8_t* xp = qx + r * kp + 32 * b;
        const __m512i v =
            pair ? _mm512_loadu_si512(xp)
                 : _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xp)));
        xu[r] = _mm512_xor_si512(v, flip);
      }
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        const int8_t* wp = qw + c * kp + 32 * b;
        // The rows of the tile after next (a hint: never faults).
        _mm_prefetch(reinterpret_cast<const char*>(wp + 2 * C * kp), _MM_HINT_T0);
        const __m512i wv =
            pair ? _mm512_loadu_si512(wp)
                 : _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp)));
        const __m512i bias128 = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, flip, wv));
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const __m512i s = _mm512_dpbusd_epi32(bias128, xu[r], wv);  // sum of qx * w
          const __m512 d =
              _mm512_permutexvar_ps(idx[t / 2], _mm512_castps256_ps512(_mm256_load_ps(dd[r][c])));
          acc[r][c] = _mm512_mask3_fmadd_ps(d, _mm512_cvtepi32_ps(s), acc[r][c], lanes);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      const __m512 a = acc[r][c];
      const __m256 s =
          _mm256_add_ps(_mm512_castps512_ps256(a),
                        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
      const __m128 t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
      const __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
      const float v = _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, _MM_SHUFFLE(1, 1, 1, 1))));
      y[r * ldy + c] = bias ? v + bias[c] : v;
    }
  }
}

// Rows [i, i + R) against the columns [jb, je).
template <int R>
RADIAL_VNNI void panel(const QuantizedRows& x, int64_t i, const int8_t* qw, const uint16_t* dw,
                       const float* bias, float* y, int64_t ldy, int64_t jb, int64_t je) {
  const int64_t kp = x.kp, nb = kp / kQ8Block;
  const int8_t* qx = x.qx + i * kp;
  const float* dx = x.dx + i * nb;
  int64_t j = jb;
  for (; j + 4 <= je; j += 4)
    tile<R, 4>(qx, dx, qw + j * kp, dw + j * nb, kp, nb, bias ? bias + j : nullptr, y + i * ldy + j,
               ldy);
  for (; j < je; ++j)
    tile<R, 1>(qx, dx, qw + j * kp, dw + j * nb, kp, nb, bias ? bias + j : nullptr, y + i * ldy + j,
               ldy);
}

}  // namespace

RADIAL_VNNI void quantize_row_q8_avx512(const float* x, int64_t k, int8_t* qx, float* dx) {
  for (int64_t b = 0; b * kQ8Block < k; ++b) {
    const int64_t begin = b * kQ8Block;
    const int n = static_cast<int>(std::min(kQ8Block, k - begin));
    const __mmask16 m0 = static_cast<__mmask16>(n >= 16 ? 0xFFFF : (1u << n) - 1u);
    const __mmask16 m1 = static_cast<__mmask16>(n >= 32   ? 0xFFFF
                                                : n <= 16 ? 0
                                                          : (1u << (n - 16)) - 1u);
    const __m512 v0 = _mm512_maskz_loadu_ps(m0, x + begin);
    const __m512 v1 = _mm512_maskz_loadu_ps(m1, x + begin + 16);
    // max |x| over the non-NaN values (exact in any order), as the scalar
    // loop's std::max(amax, fabs(x)) skips NaNs.
    const __m512 a0 = _mm512_abs_ps(v0), a1 = _mm512_abs_ps(v1);
    const float amax = _mm512_reduce_max_ps(
        _mm512_max_ps(_mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a0, a0, _CMP_EQ_OQ), a0),
                      _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a1, a1, _CMP_EQ_OQ), a1)));
    const float id = q8_inverse_scale(amax);
    const float d = amax / 127.f;
    const __m512 idv = _mm512_set1_ps(id);
    for (int h = 0; h < 2; ++h) {
      const __m512 v = _mm512_mul_ps(h ? v1 : v0, idv);
      const __mmask16 finite = _mm512_cmp_ps_mask(v, v, _CMP_EQ_OQ);
      const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      const __m512 rest = _mm512_sub_ps(v, t);
      __m512i q = _mm512_cvttps_epi32(t);
      q = _mm512_mask_add_epi32(q, _mm512_cmp_ps_mask(rest, _mm512_set1_ps(0.5f), _CMP_GE_OQ), q,
                                _mm512_set1_epi32(1));
      q = _mm512_mask_sub_epi32(q, _mm512_cmp_ps_mask(rest, _mm512_set1_ps(-0.5f), _CMP_LE_OQ), q,
                                _mm512_set1_epi32(1));
      q = _mm512_maskz_mov_epi32(finite, q);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qx + begin + 16 * h), _mm512_cvtepi32_epi8(q));
    }
    dx[b] = d;
  }
}

RADIAL_VNNI void gemm_q8_rows_vnni(const QuantizedRows& x, const Tensor& w, const float* bias,
                                   float* y, int64_t ldy, int64_t n, int64_t m0, int64_t m1) {
  const int64_t kp = x.kp, mb = q8_column_block(kp);
  const int8_t* qw = w.q8_quants();
  const uint16_t* dw = w.q8_scales();
  for (int64_t jb = m0; jb < m1; jb += mb) {  // a block of columns stays in L2 across rows
    const int64_t je = std::min(jb + mb, m1);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) panel<4>(x, i, qw, dw, bias, y, ldy, jb, je);
    for (; i + 2 <= n; i += 2) panel<2>(x, i, qw, dw, bias, y, ldy, jb, je);
    if (i < n) panel<1>(x, i, qw, dw, bias, y, ldy, jb, je);
  }
}

}  // namespace radial::cpu
