// gemm_xwt for a weight matrix of any dtype (gemm.h): F32 goes straight to
// the f32 GEMM; Q8_0 and the K-quants to the integer GEMMs (gemm_q8.h,
// gemm_kquant.h). BF16 and F16: the
// AVX-512 micro-kernel reads them directly and widens each 16-weight chunk in
// registers (gemm_avx512.cpp); the other paths widen a block of rows at a
// time into a per-thread f32 buffer (widen_rows.cpp) and run their f32
// micro-kernels on it. Widening is exact and the per-element order of
// gemm.cpp is untouched, so the result is that of the f32 GEMM on the
// widened matrix, bit for bit, whatever the path, batch, blocking or thread
// count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/cpu/gemm.h"
#include "engine/cpu/gemm_kernels.h"
#include "engine/cpu/gemm_kquant.h"
#include "engine/cpu/gemm_q8.h"
#include "engine/cpu/thread_pool.h"
#include "engine/error.h"
#include "engine/tensor.h"

namespace radial::cpu {
namespace {

// Widened block sizes: with few x rows each widened weight is used once or a
// few times, so the block stays in L1 (48 KiB per core on current x86);
// with many rows, the f32 kernel's own L2 block size.
constexpr int64_t kSmallBatchRows = 4;
constexpr int64_t kSmallBlockBytes = 24 * 1024;
constexpr int64_t kLargeBlockBytes = 512 * 1024;

int64_t block_rows(int64_t n, int64_t k) {
  const int64_t bytes = n <= kSmallBatchRows ? kSmallBlockBytes : kLargeBlockBytes;
  const int64_t rows = bytes / (4 * std::max<int64_t>(k, 1));
  return std::max<int64_t>(4, rows - rows % 4);
}

// Columns [m0, m1) of y for BF16/F16 weights: read in place by the AVX-512
// kernel, else through widened blocks of w rows.
void compact_cols(GemmPath path, const float* x, int64_t ldx, const Tensor& w, const float* bias,
                  float* y, int64_t ldy, int64_t n, int64_t m0, int64_t m1) {
  if (path == GemmPath::kAvx512) {
    GemmArgs g{x, ldx, nullptr, bias, y, ldy, n, w.cols()};
    g.format = w.dtype == DType::kBF16 ? WeightFormat::kBF16 : WeightFormat::kF16;
    g.wc = w.data();
    gemm_cols_avx512(g, m0, m1);
    return;
  }
  const int64_t k = w.cols(), rows = block_rows(n, k);
  thread_local std::vector<float> buf;
  if (buf.size() < static_cast<size_t>(rows * k)) buf.resize(static_cast<size_t>(rows * k));
  for (int64_t j = m0; j < m1; j += rows) {
    const int64_t cnt = std::min(rows, m1 - j);
    widen_rows_on(path, w, j, cnt, buf.data());
    gemm_xwt_on(path, x, ldx, buf.data(), bias ? bias + j : nullptr, y + j, ldy, n, cnt, k,
                nullptr);
  }
}

}  // namespace

void gemm_xwt_on(GemmPath path, const float* x, int64_t ldx, const Tensor& w, const float* bias,
                 float* y, int64_t ldy, int64_t n, ThreadPool* pool) {
  require(w.shape.size() == 2, ErrorCode::kInternal, "gemm_xwt: the weights are not a matrix");
  const int64_t m = w.shape[0], k = w.shape[1];
  if (w.dtype == DType::kF32) {
    gemm_xwt_on(path, x, ldx, reinterpret_cast<const float*>(w.data()), bias, y, ldy, n, m, k,
                pool);
    return;
  }
  if (w.dtype == DType::kQ8_0) {  // integer dot products: gemm_q8.h
    gemm_q8(path, x, ldx, w, bias, y, ldy, n, pool);
    return;
  }
  if (kquant_block_bytes(w.dtype) > 0) {  // gemm_kquant.h
    gemm_kquant(path, x, ldx, w, bias, y, ldy, n, pool);
    return;
  }
  split_gemm_columns(pool, n, m, k, [&](int64_t m0, int64_t m1) {
    compact_cols(path, x, ldx, w, bias, y, ldy, n, m0, m1);
  });
}

void gemm_xwt(const float* x, int64_t ldx, const Tensor& w, const float* bias, float* y,
              int64_t ldy, int64_t n, ThreadPool* pool) {
  gemm_xwt_on(gemm_path(), x, ldx, w, bias, y, ldy, n, pool);
}

}  // namespace radial::cpu
