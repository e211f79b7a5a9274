// Moving token rows between the hidden-state buffer (fp32 [slots, d]) and
// a layer's contiguous batch (fp32 [n, d]):
//   gather_rows:  batch[i] = hidden[slots[i]]
//   scatter_rows: hidden[slots[i]] = batch[i]
// (Slots within one call are distinct.)
#pragma once

#include <cuda_runtime_api.h>

namespace radial::kernels {

void gather_rows(const float* hidden, const int* slots, int n, int d, float* batch,
                 cudaStream_t stream);
void scatter_rows(const float* batch, const int* slots, int n, int d, float* hidden,
                  cudaStream_t stream);

}  // namespace radial::kernels
