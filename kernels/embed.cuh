// Embedding gather: hidden[slots[i]] = float(table[tokens[i]]) for i < n
// (table [vocab, d] in `dtype`, hidden fp32 [slots, d]). Token ids are
// checked on the host before the launch.
#pragma once

#include <cuda_runtime_api.h>

#include "engine/tensor.h"

namespace radial::kernels {

void embed_rows(const void* table, DType dtype, const int* tokens, const int* slots, int n, int d,
                float* hidden, cudaStream_t stream);

}  // namespace radial::kernels
