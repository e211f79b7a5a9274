// Projections through cuBLAS (cublasGemmEx, fp32 accumulation):
//   y[i, :] = beta * y[i, :] + x[i, :] . W^T   for i < rows
// x [rows, k] with leading dimension ldx, W [n, k] row-major (nn.Linear
// layout, leading dimension k), y [rows, n] with leading dimension ldy.
// x and W share `in_dtype`; y is `out_dtype` (fp32 or in_dtype). fp32
// inputs compute in true fp32 (no TF32), so fp32 runs are exact up to
// summation order; bf16/fp16 inputs use the tensor cores.
#pragma once

#include <cublas_v2.h>

#include "engine/tensor.h"

namespace radial::kernels {

void gemm_xwt(cublasHandle_t handle, const void* x, int ldx, const void* w, DType in_dtype, void* y,
              int ldy, DType out_dtype, int rows, int n, int k, float beta);

}  // namespace radial::kernels
