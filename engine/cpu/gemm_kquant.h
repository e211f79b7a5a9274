// The K-quant GEMM of the CPU backend: y[n, m] = x[n, k] * W^T (+ bias) for
// a Q4_K, Q5_K or Q6_K weight matrix W [m, k] (GGUF's blocks as the file stores
// them, engine/kquant.h; k a multiple of 256), with integer dot products on
// x quantized on the fly exactly as for Q8_0 (gemm_q8.h: 32-value blocks,
// an f32 scale dx_b and int8 quants qx per block b).
//
// Per element y[i][j], with W row j's super-block s = b / 8 holding x block b
// as its 32-value part t = b % 8, and lane h + l of a 16-lane accumulator
// (h = 8 * (b % 2); l < 8) covering the positions 32b + 4l .. 32b + 4l + 3:
//   Q4_K (q the 4-bit quants, d and dmin the super-block's f16 scales, sc_t
//   and m_t its sub-block t's 6-bit scale and min):
//     1. acc[l] = +0 (l < 16), macc[t] = +0 (t < 8);
//     2. for each block b in order: s = the sum of q * qx over the lane's 4
//        positions (an exact int32); c = (f32(d) * sc_t) * dx_b (the product
//        in parentheses is exact; one rounding); acc[h + l] =
//        fma(c, float(s), acc[h + l]) (float(s) is exact: |s| < 2^13);
//        and once per block, mc = (f32(dmin) * m_t) * dx_b, macc[t] =
//        fma(mc, xs_b, macc[t]) with xs_b the exact sum of qx over block b;
//     3. r = tree16(acc) - tree8(macc), where tree16 is gemm_q8.h's tree
//        (s[l] = acc[l] + acc[l + 8], then + 4, + 2, + 1 apart) and tree8
//        its last three levels on macc; y = r + bias[j] when a bias is given.
//   Q5_K: exactly as Q4_K, with q the 5-bit quants (0..31; |s| < 2^14).
//   Q6_K (q the 6-bit quants, d the f16 scale, sc_u the int8 scale of the
//   16-value sub-block u = 2t + l / 4 that holds the lane's positions):
//     1. acc[l] = +0;
//     2. for each block b in order: s = the sum of (q - 32) * qx over the
//        lane's 4 positions (exact); c = (f32(d) * sc_u) * dx_b (one
//        rounding); acc[h + l] = fma(c, float(s), acc[h + l]) (|s| <= 2^14);
//     3. r = tree16(acc); y = r + bias[j] when a bias is given.
// Every dispatch path (scalar; AVX2 with maddubs; AVX512-VNNI dpbusd, two
// blocks per zmm register) computes exactly this, so results are
// bit-identical across paths and batch-invariant, as for Q8_0.
#pragma once

#include <cstdint>

#include "engine/cpu/gemm_kernels.h"
#include "engine/cpu/gemm_q8.h"

namespace radial {
struct Tensor;
}

namespace radial::cpu {

class ThreadPool;

// Columns per cache block of the kernels: about 256 KiB of weight bytes, a
// multiple of 4.
int64_t kquant_column_block(int64_t row_bytes);

// Columns [m0, m1) of y (all n rows) on `path`; x from quantize_rows_q8 with
// block sums. kAvx512 uses the VNNI kernel when q8_vnni_supported(), else the
// AVX2 one.
void gemm_kquant_cols(GemmPath path, const QuantizedRows& x, const Tensor& w, const float* bias,
                      float* y, int64_t ldy, int64_t n, int64_t m0, int64_t m1);

// The whole GEMM: quantizes x, then splits the columns over `pool`.
void gemm_kquant(GemmPath path, const float* x, int64_t ldx, const Tensor& w, const float* bias,
                 float* y, int64_t ldy, int64_t n, ThreadPool* pool);

// The kernels behind gemm_kquant_cols: the scalar definition
// (gemm_kquant.cpp), AVX2 (gemm_kquant_avx2.cpp) and AVX512-VNNI
// (gemm_kquant_vnni.cpp), each for both types.
void gemm_kquant_rows_scalar(const QuantizedRows& x, const Tensor& w, const float* bias, float* y,
                             int64_t ldy, int64_t n, int64_t m0, int64_t m1);
void gemm_kquant_rows_avx2(const QuantizedRows& x, const Tensor& w, const float* bias, float* y,
                           int64_t ldy, int64_t n, int64_t m0, int64_t m1);
void gemm_kquant_rows_vnni(const QuantizedRows& x, const Tensor& w, const float* bias, float* y,
                           int64_t ldy, int64_t n, int64_t m0, int64_t m1);

// The 16-lane and 8-lane reductions of the definition.
inline float kquant_tree16(const float* a) {
  float s[8], t[4];
  for (int l = 0; l < 8; ++l) s[l] = a[l] + a[l + 8];
  for (int l = 0; l < 4; ++l) t[l] = s[l] + s[l + 4];
  const float u0 = t[0] + t[2], u1 = t[1] + t[3];
  return u0 + u1;
}
inline float kquant_tree8(const float* a) {
  float t[4];
  for (int l = 0; l < 4; ++l) t[l] = a[l] + a[l + 4];
  const float u0 = t[0] + t[2], u1 = t[1] + t[3];
  return u0 + u1;
}

}  // namespace radial::cpu
