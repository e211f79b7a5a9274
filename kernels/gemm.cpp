#include "kernels/gemm.h"

#include "engine/error.h"
#include "kernels/cuda_check.h"

namespace radial::kernels {
namespace {

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::kF32:
      return CUDA_R_32F;
    case DType::kF16:
      return CUDA_R_16F;
    case DType::kBF16:
      return CUDA_R_16BF;
    case DType::kQ8_0:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
      break;
  }
  throw Error(ErrorCode::kInternal, "no cuBLAS type for this dtype");
}

}  // namespace

void gemm_xwt(cublasHandle_t handle, const void* x, int ldx, const void* w, DType in_dtype, void* y,
              int ldy, DType out_dtype, int rows, int n, int k, float beta) {
  if (rows == 0 || n == 0) return;
  const float alpha = 1.f;
  // Column-major view: Y^T [n, rows] = W [n, k] (stored as col-major [k, n],
  // hence op T) x X^T [k, rows] (col-major [k, rows], op N).
  CUBLAS_CHECK(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, n, rows, k, &alpha, w,
                            cuda_type(in_dtype), k, x, cuda_type(in_dtype), ldx, &beta, y,
                            cuda_type(out_dtype), ldy, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace radial::kernels
