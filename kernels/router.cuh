// The router's pieces that are not GEMMs, and its decision on the device.
//
// bias_activation: x[i, j] = act(x[i, j] + bias[j]) on fp32 x [n, width];
// with apply_act false only the bias is added.
//
// route_decide: for each row i of gates [n, L + 1] (fp32) and its query
// (last layer, threshold), the next target as route_next computes it
// (engine/router.h): forward mode, the smallest j > last that is pinned
// (pinned[j] != 0) or has sigmoid(g_j) = 1 / (1 + exp(-g_j)) >= threshold,
// else L; radial mode, the argmax over g_0..g_L excluding `last`, ties to
// the lowest index.
#pragma once

#include <cuda_runtime_api.h>

#include "engine/model_config.h"
#include "engine/router.h"

namespace radial::kernels {

void bias_activation(float* x, const float* bias, int n, int width, bool apply_act, Activation act,
                     cudaStream_t stream);

// queries: device [n, 2] as (last, threshold bits) pairs (int32 and float).
void route_decide(const float* gates, int n, int num_layers, RouteMode mode, const int* pinned,
                  const int* queries, int* targets, cudaStream_t stream);

}  // namespace radial::kernels
