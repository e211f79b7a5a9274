// Element type conversion on the device (weight upload, debug reads):
// dst[i] = src[i] converted from `from` to `to` (round to nearest even).
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "engine/tensor.h"

namespace radial::kernels {

void convert(const void* src, DType from, void* dst, DType to, int64_t n, cudaStream_t stream);

}  // namespace radial::kernels
