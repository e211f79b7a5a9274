// Gated MLP activation (SwiGLU and its gelu/relu variants):
//   out[i, j] = act(gate_up[i, j]) * gate_up[i, ff + j]   (j < ff)
// gate_up is [n, 2 ff] (the fused gate and up projections), out [n, ff],
// both in `dtype`; computed in fp32.
#pragma once

#include <cuda_runtime_api.h>

#include "engine/model_config.h"
#include "engine/tensor.h"

namespace radial::kernels {

void gated_activation(const void* gate_up, int n, int ff, void* out, DType dtype, Activation act,
                      cudaStream_t stream);

}  // namespace radial::kernels
