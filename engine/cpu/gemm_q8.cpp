// The Q8_0 GEMM (gemm_q8.h): x quantization, the scalar reference of the
// per-element definition, dispatch and threading.
#include "engine/cpu/gemm_q8.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/cpu/cpu_features.h"
#include "engine/cpu/thread_pool.h"
#include "engine/error.h"
#include "engine/tensor.h"

namespace radial::cpu {

float q8_inverse_scale(float amax) {
  const float d = amax / 127.f;
  const float id = d != 0.f ? 1.f / d : 0.f;
  return std::isfinite(id) ? id : 0.f;  // a block too small for 1 / d: all zero quants
}

void quantize_row_q8_f32scale(const float* x, int64_t k, int8_t* qx, float* dx) {
  if (q8_vnni_supported()) {
    quantize_row_q8_avx512(x, k, qx, dx);
    return;
  }
  quantize_row_q8_scalar(x, k, qx, dx);
}

void quantize_row_q8_scalar(const float* x, int64_t k, int8_t* qx, float* dx) {
  for (int64_t b = 0; b * kQ8Block < k; ++b) {
    const int64_t begin = b * kQ8Block, n = std::min(kQ8Block, k - begin);
    float amax = 0.f;
    for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[begin + i]));
    const float d = amax / 127.f;
    const float id = q8_inverse_scale(amax);
    for (int64_t i = 0; i < kQ8Block; ++i) {
      // roundf(v) for |v| <= 127 without a library call: truncate, then
      // step away from zero when the dropped part is at least a half (v - t
      // is exact); NaN (from a NaN x) gives 0.
      const float v = i < n ? x[begin + i] * id : 0.f;
      const bool finite = v == v;
      const int t = finite ? static_cast<int>(v) : 0;
      const float rest = finite ? v - static_cast<float>(t) : 0.f;
      qx[begin + i] = static_cast<int8_t>(t + (rest >= 0.5f) - (rest <= -0.5f));
    }
    dx[b] = d;
  }
}

namespace {

// The definition, one element at a time.
void q8_cols_scalar(const QuantizedRows& x, const Tensor& w, const float* bias, float* y,
                    int64_t ldy, int64_t n, int64_t m0, int64_t m1) {
  const int64_t kp = x.kp, nb = kp / kQ8Block;
  for (int64_t i = 0; i < n; ++i) {
    const int8_t* qx = x.qx + i * kp;
    const float* dx = x.dx + i * nb;
    for (int64_t j = m0; j < m1; ++j) {
      const int8_t* qw = w.q8_quants() + j * kp;
      const uint16_t* dw = w.q8_scales() + j * nb;
      float acc[16] = {};
      for (int64_t b = 0; b < nb; ++b) {
        const float d = f16_to_f32(dw[b]) * dx[b];
        const int h = 8 * static_cast<int>(b % 2);
        for (int l = 0; l < 8; ++l) {
          int32_t s = 0;
          for (int t = 0; t < 4; ++t) {
            const int64_t p = b * kQ8Block + 4 * l + t;
            s += static_cast<int32_t>(qw[p]) * static_cast<int32_t>(qx[p]);
          }
          acc[h + l] = std::fma(d, static_cast<float>(s), acc[h + l]);
        }
      }
      for (int l = 0; l < 8; ++l) acc[l] = acc[l] + acc[l + 8];
      for (int l = 0; l < 4; ++l) acc[l] = acc[l] + acc[l + 4];
      for (int l = 0; l < 2; ++l) acc[l] = acc[l] + acc[l + 2];
      const float r = acc[0] + acc[1];
      y[i * ldy + j] = bias ? r + bias[j] : r;
    }
  }
}

}  // namespace

bool q8_vnni_supported() {
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx2") && cpu_has_f16c();
  }();
  return ok;
}

void gemm_q8_cols(GemmPath path, const QuantizedRows& x, const Tensor& w, const float* bias,
                  float* y, int64_t ldy, int64_t n, int64_t m0, int64_t m1) {
  if (path == GemmPath::kAvx512 && q8_vnni_supported())
    gemm_q8_rows_vnni(x, w, bias, y, ldy, n, m0, m1);
  else if (path == GemmPath::kAvx512 || path == GemmPath::kAvx2)
    gemm_q8_rows_avx2(x, w, bias, y, ldy, n, m0, m1);
  else
    q8_cols_scalar(x, w, bias, y, ldy, n, m0, m1);
}

QuantizedRows quantize_rows_q8(const float* x, int64_t ldx, int64_t n, int64_t k, bool block_sums) {
  const int64_t kp = q8_row_stride(k), nb = kp / kQ8Block;
  // Reused across calls on this thread.
  thread_local std::vector<int8_t> qx;
  thread_local std::vector<float> dx, xs;
  if (qx.size() < static_cast<size_t>(n * kp)) qx.resize(static_cast<size_t>(n * kp));
  if (dx.size() < static_cast<size_t>(n * nb)) dx.resize(static_cast<size_t>(n * nb));
  for (int64_t i = 0; i < n; ++i)
    quantize_row_q8_f32scale(x + i * ldx, k, qx.data() + i * kp, dx.data() + i * nb);
  if (!block_sums) return QuantizedRows{qx.data(), dx.data(), kp};
  if (xs.size() < static_cast<size_t>(n * nb)) xs.resize(static_cast<size_t>(n * nb));
  for (int64_t b = 0; b < n * nb; ++b) {
    int32_t sum = 0;  // |sum| <= 32 * 127: exact as a float
    for (int64_t t = 0; t < kQ8Block; ++t) sum += qx[static_cast<size_t>(b * kQ8Block + t)];
    xs[static_cast<size_t>(b)] = static_cast<float>(sum);
  }
  return QuantizedRows{qx.data(), dx.data(), kp, xs.data()};
}

void gemm_q8(GemmPath path, const float* x, int64_t ldx, const Tensor& w, const float* bias,
             float* y, int64_t ldy, int64_t n, ThreadPool* pool) {
  require(w.dtype == DType::kQ8_0 && w.shape.size() == 2, ErrorCode::kInternal,
          "gemm_q8: the weights are not a Q8_0 matrix");
  const int64_t m = w.shape[0], k = w.shape[1];
  if (n <= 0 || m <= 0) return;
  const QuantizedRows q = quantize_rows_q8(x, ldx, n, k, false);
  split_gemm_columns(pool, n, m, k, [&](int64_t m0, int64_t m1) {
    gemm_q8_cols(path, q, w, bias, y, ldy, n, m0, m1);
  });
}

}  // namespace radial::cpu
