// The Q8_0 integer kernel on AVX2 (gemm_q8.h): per 4-byte lane group,
// maddubs (|w| as unsigned bytes times x with w's sign, pairs summed in
// int16: at most 2 * 128 * 127, no saturation) then madd with ones (int32).
#pragma GCC target("avx2,fma,f16c")
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "engine/cpu/gemm_q8.h"
#include "engine/tensor.h"

namespace radial::cpu {
namespace {
// aw: |w| as unsigned bytes; sx: x with the sign of w.
inline __m256i q8_dot_avx2(__m256i aw, __m256i sx) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sx), _mm256_set1_epi16(1));
}
}  // namespace
}  // namespace radial::cpu

#define Q8_DOT q8_dot_avx2
#define Q8_KERNEL_NAME gemm_q8_rows_avx2
#define Q8_MAX_ROWS 2
#include "engine/cpu/gemm_q8_kernel.inc"
