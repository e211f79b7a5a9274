// RMSNorm of rows, optionally gathered from the hidden-state buffer:
//   src row i = x[rows ? rows[i] : i]  (fp32, [*, d])
//   out[i]    = weight * src / sqrt(mean(src^2) + eps), in `out_dtype`
//   copy[i]   = src (fp32), when `copy` is not null (the residual rows)
// One block per row; the sum of squares in fp32.
#pragma once

#include <cuda_runtime_api.h>

#include "engine/tensor.h"

namespace radial::kernels {

void rmsnorm_rows(const float* x, const int* rows, int n, int d, const float* weight, float eps,
                  void* out, DType out_dtype, float* copy, cudaStream_t stream);

}  // namespace radial::kernels
