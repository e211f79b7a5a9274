// Widening of compact weight rows (BF16, F16, Q8_0) to f32 for the tensor
// GEMM (gemm_weights.cpp) and embedding lookups. Every value of these formats
// is exact in f32, so all paths produce the same floats as Tensor::rows_f32;
// the SIMD versions are only faster. K-quant rows (only ever looked up: their
// GEMM is gemm_kquant.h) take Tensor::rows_f32 on every path. Compiled with function-level target
// attributes; only called after the runtime check (gemm_path_supported).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "engine/cpu/gemm_kernels.h"
#include "engine/tensor.h"

#define RADIAL_AVX512 __attribute__((target("avx512f")))
#define RADIAL_AVX2 __attribute__((target("avx2,fma,f16c")))

#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace radial::cpu {
namespace {

// The 16-bit element at p[i] widened (scalar tail of the SIMD loops).
inline float half_to_f32(const uint16_t* p, int64_t i, bool bf16) {
  return bf16 ? bf16_to_f32(p[i]) : f16_to_f32(p[i]);
}

RADIAL_AVX512 void widen16_avx512(const uint16_t* src, int64_t n, bool bf16, float* out) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m512 v = bf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))
                          : _mm512_cvtph_ps(h);
    _mm512_storeu_ps(out + i, v);
  }
  for (; i < n; ++i) out[i] = half_to_f32(src, i, bf16);
}

RADIAL_AVX2 void widen16_avx2(const uint16_t* src, int64_t n, bool bf16, float* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m256 v = bf16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))
                          : _mm256_cvtph_ps(h);
    _mm256_storeu_ps(out + i, v);
  }
  for (; i < n; ++i) out[i] = half_to_f32(src, i, bf16);
}

// One Q8_0 row: k values from quants q[kp] and scales sc[kp / 32].
RADIAL_AVX512 void widen_q8_row_avx512(const int8_t* q, const uint16_t* sc, int64_t k, float* out) {
  int64_t i = 0;
  for (; i + kQ8Block <= k; i += kQ8Block) {
    const __m512 d = _mm512_cvtph_ps(_mm256_set1_epi16(static_cast<int16_t>(sc[i / kQ8Block])));
    for (int h = 0; h < 2; ++h) {
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i + 16 * h));
      _mm512_storeu_ps(out + i + 16 * h,
                       _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)), d));
    }
  }
  for (; i < k; ++i) out[i] = f16_to_f32(sc[i / kQ8Block]) * static_cast<float>(q[i]);
}

RADIAL_AVX2 void widen_q8_row_avx2(const int8_t* q, const uint16_t* sc, int64_t k, float* out) {
  int64_t i = 0;
  for (; i + kQ8Block <= k; i += kQ8Block) {
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(sc[i / kQ8Block]));
    for (int h = 0; h < 4; ++h) {
      const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i + 8 * h));
      _mm256_storeu_ps(out + i + 8 * h,
                       _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), d));
    }
  }
  for (; i < k; ++i) out[i] = f16_to_f32(sc[i / kQ8Block]) * static_cast<float>(q[i]);
}

}  // namespace

void widen_rows_on(GemmPath path, const Tensor& w, int64_t row0, int64_t n, float* out) {
  const int64_t k = w.cols();
  if (path == GemmPath::kScalar || w.dtype == DType::kF32 || kquant_block_bytes(w.dtype) > 0) {
    w.rows_f32(row0, n, out);
    return;
  }
  const bool avx512 = path == GemmPath::kAvx512;
  if (w.dtype == DType::kQ8_0) {
    const int64_t kp = q8_row_stride(k);
    for (int64_t r = row0; r < row0 + n; ++r) {
      const int8_t* q = w.q8_quants() + r * kp;
      const uint16_t* sc = w.q8_scales() + r * (kp / kQ8Block);
      float* o = out + (r - row0) * k;
      avx512 ? widen_q8_row_avx512(q, sc, k, o) : widen_q8_row_avx2(q, sc, k, o);
    }
    return;
  }
  const auto* src = reinterpret_cast<const uint16_t*>(w.data()) + row0 * k;
  const bool bf16 = w.dtype == DType::kBF16;
  avx512 ? widen16_avx512(src, n * k, bf16, out) : widen16_avx2(src, n * k, bf16, out);
}

}  // namespace radial::cpu
