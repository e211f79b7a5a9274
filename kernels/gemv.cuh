// Projections of a few rows (decode at small batch), without cuBLAS:
//   y[i, :] = beta * y[i, :] + x[i, :] . W^T   for i < rows <= kGemvMaxRows
// x [rows, k] with leading dimension ldx, W [n, k] row-major (nn.Linear
// layout), y [rows, n] with leading dimension ldy; x and W in `in_dtype`
// (f32, f16, bf16), y in `out_dtype` (fp32 or in_dtype); fp32
// accumulation. With beta == 0, y is not read.
//
// At one row a projection only streams W: one warp per output column reads
// its row of W with 16-byte loads, and every row of x (shared by all warps,
// from L1/L2) is multiplied with it, so W is read once for all rows. A
// row's result does not depend on how many rows the call has (each is one
// fixed-order warp sum), so a sequence decodes the same alone or batched.
#pragma once

#include <cuda_runtime_api.h>

#include "engine/tensor.h"

namespace radial::kernels {

inline constexpr int kGemvMaxRows = 8;

// Whether gemv_xwt takes these operands: rows in [1, kGemvMaxRows], an
// elementwise dtype, k and both leading dimensions whole 16-byte vectors,
// x and W 16-byte aligned.
bool gemv_supported(const void* x, int ldx, const void* w, DType in_dtype, int rows, int k);

// Throws Error(kInternal) when !gemv_supported(...).
void gemv_xwt(const void* x, int ldx, const void* w, DType in_dtype, void* y, int ldy,
              DType out_dtype, int rows, int n, int k, float beta, cudaStream_t stream);

}  // namespace radial::kernels
