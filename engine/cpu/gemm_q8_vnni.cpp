// The Q8_0 integer kernel with AVX512-VNNI on 256-bit registers (gemm_q8.h):
// dpbusd sums |w| (unsigned bytes) times x with w's sign over each 4-byte
// group straight into int32 lanes. Only called when q8_vnni_supported().
#pragma GCC target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni")
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "engine/cpu/gemm_q8.h"
#include "engine/tensor.h"

namespace radial::cpu {
namespace {
// aw: |w| as unsigned bytes; sx: x with the sign of w.
inline __m256i q8_dot_vnni(__m256i aw, __m256i sx) {
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), aw, sx);
}
}  // namespace
}  // namespace radial::cpu

#define Q8_DOT q8_dot_vnni
#define Q8_KERNEL_NAME gemm_q8_rows_vnni
#define Q8_MAX_ROWS 4
#include "engine/cpu/gemm_q8_kernel.inc"
