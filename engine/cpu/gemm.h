// Batch-invariant single-precision GEMM for the CPU backend:
//   y[n, m] = x[n, k] * w[m, k]^T   (+ bias[m] if given)
// Every output element is the dot product of one x row and one w row,
// accumulated in an order that depends only on k, never on n, m, the
// blocking, the thread count, or the CPU dispatch path taken for the block,
// so row i of y is bit-identical whether x has 1 row or 1000.
#pragma once

#include <cstdint>

namespace radial {
struct Tensor;
}

namespace radial::cpu {

class ThreadPool;

// x: [n, k] row-major with row stride ldx; w: [m, k] row-major (stride k);
// y: [n, m] row-major with row stride ldy. bias may be null. pool may be
// null (single-threaded).
void gemm_xwt(const float* x, int64_t ldx, const float* w, const float* bias, float* y, int64_t ldy,
              int64_t n, int64_t m, int64_t k, ThreadPool* pool);

// The same with a weight matrix w [m, k] of any dtype. F32, BF16, F16: every
// element is computed exactly as gemm_xwt computes it on w's values in f32
// (each of these dtypes is exact in f32), so y is bit-identical to gemm_xwt
// on w.to(F32), with its batch invariance; compact weights are widened in
// registers or in a cached block, so only their compact bytes are read from
// memory. Q8_0, Q4_K, Q6_K: integer dot products on x quantized on the fly
// (gemm_q8.h, gemm_kquant.h), batch-invariant and identical on every path,
// but not equal to the f32 GEMM (x is rounded to 8 bits per 32-value block,
// as llama.cpp does).
void gemm_xwt(const float* x, int64_t ldx, const Tensor& w, const float* bias, float* y,
              int64_t ldy, int64_t n, ThreadPool* pool);

// The same dot product gemm_xwt uses for one element (for tests and for
// small ops that must match it).
float dot(const float* a, const float* b, int64_t k);

}  // namespace radial::cpu
