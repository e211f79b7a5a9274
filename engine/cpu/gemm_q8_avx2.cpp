// The Q8_0 integer kernel on AVX2 (gemm_q8.h): per 4-byte lane group,
// maddubs (|w| as unsigned bytes times x with w's sign, pairs summed in
// int16: at most 2 * 128 * 127, no saturation) then madd with ones (int32).
// Even blocks accumulate in one ymm register (lanes 0..7 of the definition),
// odd blocks in another (lanes 8..15).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "engine/cpu/gemm_q8.h"
#include "engine/tensor.h"

// Function-level targets (GCC and clang alike) so the file builds without
// -m flags; only called after gemm_path_supported(kAvx2).
#define RADIAL_Q8_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace radial::cpu {
namespace {

// The 8 int32 sums of 4 products of one block: |w| * (x * sign(w)).
RADIAL_Q8_AVX2 inline __m256i block_dot(__m256i w, __m256i x) {
  const __m256i aw = _mm256_sign_epi8(w, w);  // -128 reads as 128 unsigned
  const __m256i sx = _mm256_sign_epi8(x, w);
  return _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sx), _mm256_set1_epi16(1));
}

// y[0..C) (+ bias) for one x row against weight rows qw + c * kp (c < C).
template <int C>
RADIAL_Q8_AVX2 void tile(const int8_t* qx, const float* dx, const int8_t* qw, const uint16_t* dw,
                         int64_t kp, int64_t nb, const float* bias, float* y) {
  __m256 acc[C][2];
  for (int c = 0; c < C; ++c) acc[c][0] = acc[c][1] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qx + 32 * b));
    const float dxb = dx[b];
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const int8_t* wp = qw + c * kp + 32 * b;
      _mm_prefetch(reinterpret_cast<const char*>(wp + 2 * C * kp), _MM_HINT_T0);
      const __m256i s = block_dot(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp)), xv);
      const __m256 d = _mm256_set1_ps(_cvtsh_ss(dw[c * nb + b]) * dxb);
      acc[c][b & 1] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc[c][b & 1]);
    }
  }
  for (int c = 0; c < C; ++c) {
    const __m256 s = _mm256_add_ps(acc[c][0], acc[c][1]);  // lane l + lane l + 8
    const __m128 t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    const __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
    const float r = _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, _MM_SHUFFLE(1, 1, 1, 1))));
    y[c] = bias ? r + bias[c] : r;
  }
}

}  // namespace

RADIAL_Q8_AVX2 void gemm_q8_rows_avx2(const QuantizedRows& x, const Tensor& w, const float* bias,
                                      float* y, int64_t ldy, int64_t n, int64_t m0, int64_t m1) {
  const int64_t kp = x.kp, nb = kp / kQ8Block, mb = q8_column_block(kp);
  const int8_t* qw = w.q8_quants();
  const uint16_t* dw = w.q8_scales();
  for (int64_t jb = m0; jb < m1; jb += mb) {  // a block of columns stays in L2 across rows
    const int64_t je = std::min(jb + mb, m1);
    for (int64_t i = 0; i < n; ++i) {
      const int8_t* qxi = x.qx + i * kp;
      const float* dxi = x.dx + i * nb;
      int64_t j = jb;
      for (; j + 4 <= je; j += 4)
        tile<4>(qxi, dxi, qw + j * kp, dw + j * nb, kp, nb, bias ? bias + j : nullptr,
                y + i * ldy + j);
      for (; j < je; ++j)
        tile<1>(qxi, dxi, qw + j * kp, dw + j * nb, kp, nb, bias ? bias + j : nullptr,
                y + i * ldy + j);
    }
  }
}

}  // namespace radial::cpu
