// The Q8_0 GEMM of the CPU backend: y[n, m] = x[n, k] * W^T (+ bias) for a
// Q8_0 weight matrix W [m, k] (engine/tensor.h), with integer dot products,
// as llama.cpp computes Q8_0 x Q8_0: each x row is quantized on the fly to
// 32-value blocks (f32 scale dx = max|x| / 127, int8 qx, the rule of
// quantize_q8_0_block but the scale kept in f32), and per element
//   1. acc[l] = +0 for l in [0, 16);
//   2. for each block b in order, with h = 8 * (b % 2) (even blocks in lanes
//      0..7, odd ones in 8..15) and lane h + l covering the 4 positions
//      32b + 4l .. 32b + 4l + 3 (l < 8):  s = sum of qw * qx over them (an
//      exact int32), d = f32(dw_b) * dx_b (one f32 rounding), and
//      acc[h + l] = fma(d, float(s), acc[h + l])  (float(s) is exact: |s| < 2^16);
//   3. the tree of the f32 GEMM: s[l] = acc[l] + acc[l + 8] (l < 8);
//      t[l] = s[l] + s[l + 4] (l < 4); u[l] = t[l] + t[l + 2] (l < 2);
//      r = u[0] + u[1]; y = r + bias[j] when a bias is given.
// Rows of k not a multiple of 32 are padded with zero quants on both sides.
// Every dispatch path (scalar; AVX2 with maddubs; AVX512-VNNI dpbusd, two
// blocks per zmm register) computes exactly this, so results are
// bit-identical across paths, and a row's result depends only on its own x
// row and W: batch-invariant.
#pragma once

#include <cstdint>

#include "engine/cpu/gemm_kernels.h"

namespace radial {
struct Tensor;
}

namespace radial::cpu {

class ThreadPool;

// Columns per cache block of the kernels: about 256 KiB of quants, a multiple
// of 4, so a block stays in L2 while every x row passes it.
inline int64_t q8_column_block(int64_t kp) {
  int64_t mb = (int64_t{256} << 10) / (kp > 0 ? kp : 1);
  mb -= mb % 4;
  return mb < 4 ? 4 : mb;
}

// x rows quantized to Q8 blocks: qx[n][kp] int8 and dx[n][kp / 32] f32.
struct QuantizedRows {
  const int8_t* qx;
  const float* dx;
  int64_t kp;                 // k rounded up to 32
  const float* xs = nullptr;  // [n][kp / 32] block sums of qx, when asked for
};

// x's n rows quantized by quantize_row_q8_f32scale into buffers owned by the
// calling thread (valid until its next call); with block_sums, also xs: the
// exact sum of each block's quants (the K-quant GEMM's Q4_K mins use them).
QuantizedRows quantize_rows_q8(const float* x, int64_t ldx, int64_t n, int64_t k, bool block_sums);

// The quantization of one x row (k floats) into qx[kp] and dx[kp / 32]:
// per block, amax = max |x| over its non-NaN values, dx = amax / 127,
// id = q8_inverse_scale(amax), qx = round-half-away(x * id) (0 for NaN).
// quantize_row_q8_f32scale uses the AVX-512 version when the CPU has it;
// both give the same bytes.
void quantize_row_q8_f32scale(const float* x, int64_t k, int8_t* qx, float* dx);
void quantize_row_q8_scalar(const float* x, int64_t k, int8_t* qx, float* dx);
void quantize_row_q8_avx512(const float* x, int64_t k, int8_t* qx, float* dx);
// 1 / (amax / 127), or 0 when that is 0 or not finite (a block of zeros, or
// one so small that 1 / d overflows: it quantizes to zeros).
float q8_inverse_scale(float amax);

// Columns [m0, m1) of y (all n rows) on `path` (kAvx512 uses the VNNI
// kernel when the CPU has AVX512-VNNI and AVX512-VL, else the AVX2 one).
void gemm_q8_cols(GemmPath path, const QuantizedRows& x, const Tensor& w, const float* bias,
                  float* y, int64_t ldy, int64_t n, int64_t m0, int64_t m1);

// The whole GEMM: quantizes x, then splits the columns over `pool` like
// gemm_xwt.
void gemm_q8(GemmPath path, const float* x, int64_t ldx, const Tensor& w, const float* bias,
             float* y, int64_t ldy, int64_t n, ThreadPool* pool);

// The SIMD kernels behind gemm_q8_cols (gemm_q8_avx2.cpp, gemm_q8_vnni.cpp),
// and whether this CPU can run the VNNI one (AVX512 F/BW/VL/VNNI).
void gemm_q8_rows_avx2(const QuantizedRows& x, const Tensor& w, const float* bias, float* y,
                       int64_t ldy, int64_t n, int64_t m0, int64_t m1);
void gemm_q8_rows_vnni(const QuantizedRows& x, const Tensor& w, const float* bias, float* y,
                       int64_t ldy, int64_t n, int64_t m0, int64_t m1);
bool q8_vnni_supported();

}  // namespace radial::cpu
