// The K-quant GEMM (gemm_kquant.h): the scalar reference of the per-element
// definition, dispatch and threading.
#include "engine/cpu/gemm_kquant.h"

#include <algorithm>
#include <cmath>

#include "engine/cpu/thread_pool.h"
#include "engine/error.h"
#include "engine/kquant.h"
#include "engine/tensor.h"

namespace radial::cpu {
namespace {

// The 4-bit quant of position p (< 256) of a Q4_K block, or the 5-bit one
// of a Q5_K block (qs after qh, the fifth bit in qh).
int q4k_quant(const uint8_t* block, int p) {
  const uint8_t byte = block[16 + 32 * (p / 64) + p % 32];
  return (p % 64) < 32 ? byte & 0xF : byte >> 4;
}
int q5k_quant(const uint8_t* block, int p) {
  const uint8_t byte = block[48 + 32 * (p / 64) + p % 32];
  const int low = (p % 64) < 32 ? byte & 0xF : byte >> 4;
  return low | ((block[16 + p % 32] >> (p / 32)) & 1) << 4;
}

// The 6-bit quant of position p (< 256) of a Q6_K block, minus 32.
int q6k_quant(const uint8_t* block, int p) {
  const int half = p / 128, r = p % 128, l = r % 32, part = r / 32;
  const uint8_t* ql = block + 64 * half;
  const uint8_t* qh = block + 128 + 32 * half;
  const int low = part % 2 == 0 ? ql[l] : ql[l + 32];
  const int nibble = part < 2 ? low & 0xF : low >> 4;
  return (nibble | ((qh[l] >> (2 * part)) & 3) << 4) - 32;
}

// Q4_K, or Q5_K when q5.
float q4k_element(const QuantizedRows& x, int64_t i, const uint8_t* row, int64_t nsb, bool q5) {
  const int64_t nb = x.kp / kQ8Block;
  const int8_t* qx = x.qx + i * x.kp;
  const float* dx = x.dx + i * nb;
  const float* xs = x.xs + i * nb;
  float acc[16] = {}, macc[8] = {};
  for (int64_t s = 0; s < nsb; ++s) {
    const uint8_t* block = row + s * (q5 ? kQ5KBlockBytes : kQ4KBlockBytes);
    const float d = f16_bytes_to_f32(block), dmin = f16_bytes_to_f32(block + 2);
    uint8_t sc[8], m[8];
    kquant_q4k_scales(block + 4, sc, m);
    for (int t = 0; t < 8; ++t) {
      const int64_t b = 8 * s + t;
      const float c = (d * static_cast<float>(sc[t])) * dx[b];
      const int h = 8 * static_cast<int>(b % 2);
      for (int l = 0; l < 8; ++l) {
        int32_t sum = 0;
        for (int e = 0; e < 4; ++e) {
          const int p = 32 * t + 4 * l + e;
          const int q = q5 ? q5k_quant(block, p) : q4k_quant(block, p);
          sum += q * static_cast<int32_t>(qx[b * kQ8Block + 4 * l + e]);
        }
        acc[h + l] = std::fma(c, static_cast<float>(sum), acc[h + l]);
      }
      const float mc = (dmin * static_cast<float>(m[t])) * dx[b];
      macc[t] = std::fma(mc, xs[b], macc[t]);
    }
  }
  return kquant_tree16(acc) - kquant_tree8(macc);
}

float q6k_element(const QuantizedRows& x, int64_t i, const uint8_t* row, int64_t nsb) {
  const int64_t nb = x.kp / kQ8Block;
  const int8_t* qx = x.qx + i * x.kp;
  const float* dx = x.dx + i * nb;
  float acc[16] = {};
  for (int64_t s = 0; s < nsb; ++s) {
    const uint8_t* block = row + s * kQ6KBlockBytes;
    const auto* sc = reinterpret_cast<const int8_t*>(block + 192);
    const float d = f16_bytes_to_f32(block + 208);
    for (int t = 0; t < 8; ++t) {
      const int64_t b = 8 * s + t;
      const int h = 8 * static_cast<int>(b % 2);
      for (int l = 0; l < 8; ++l) {
        const float c = (d * static_cast<float>(sc[2 * t + l / 4])) * dx[b];
        int32_t sum = 0;
        for (int e = 0; e < 4; ++e) {
          const int p = 32 * t + 4 * l + e;
          sum += q6k_quant(block, p) * static_cast<int32_t>(qx[b * kQ8Block + 4 * l + e]);
        }
        acc[h + l] = std::fma(c, static_cast<float>(sum), acc[h + l]);
      }
    }
  }
  return kquant_tree16(acc);
}

}  // namespace

int64_t kquant_column_block(int64_t row_bytes) {
  int64_t mb = (int64_t{256} << 10) / (row_bytes > 0 ? row_bytes : 1);
  mb -= mb % 4;
  return mb < 4 ? 4 : mb;
}

void gemm_kquant_rows_scalar(const QuantizedRows& x, const Tensor& w, const float* bias, float* y,
                             int64_t ldy, int64_t n, int64_t m0, int64_t m1) {
  const int64_t nsb = w.cols() / kKQuantBlock;
  const bool q6 = w.dtype == DType::kQ6_K, q5 = w.dtype == DType::kQ5_K;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = m0; j < m1; ++j) {
      const float r = q6 ? q6k_element(x, i, w.kquant_row(j), nsb)
                         : q4k_element(x, i, w.kquant_row(j), nsb, q5);
      y[i * ldy + j] = bias ? r + bias[j] : r;
    }
}

void gemm_kquant_cols(GemmPath path, const QuantizedRows& x, const Tensor& w, const float* bias,
                      float* y, int64_t ldy, int64_t n, int64_t m0, int64_t m1) {
  if (path == GemmPath::kAvx512 && q8_vnni_supported())
    gemm_kquant_rows_vnni(x, w, bias, y, ldy, n, m0, m1);
  else if (path == GemmPath::kAvx512 || path == GemmPath::kAvx2)
    gemm_kquant_rows_avx2(x, w, bias, y, ldy, n, m0, m1);
  else
    gemm_kquant_rows_scalar(x, w, bias, y, ldy, n, m0, m1);
}

void gemm_kquant(GemmPath path, const float* x, int64_t ldx, const Tensor& w, const float* bias,
                 float* y, int64_t ldy, int64_t n, ThreadPool* pool) {
  require(kquant_block_bytes(w.dtype) > 0 && w.shape.size() == 2 && w.cols() % kKQuantBlock == 0,
          ErrorCode::kInternal, "gemm_kquant: the weights are not a K-quant matrix");
  const int64_t m = w.shape[0], k = w.shape[1];
  if (n <= 0 || m <= 0) return;
  const QuantizedRows q = quantize_rows_q8(x, ldx, n, k, w.dtype != DType::kQ6_K);
  split_gemm_columns(pool, n, m, k, [&](int64_t m0, int64_t m1) {
    gemm_kquant_cols(path, q, w, bias, y, ldy, n, m0, m1);
  });
}

}  // namespace radial::cpu
