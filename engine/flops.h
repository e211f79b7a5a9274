// FLOP counts used by the compute-fraction figures (design note, section 2:
// compute fraction of a pass = (FLOPs of the layers it executed + its router
// evaluations + its K/V-only rows) / (FLOPs of all L layers), attention
// counted at the pass's context length). A multiply-add counts as 2 FLOPs.
#pragma once

#include "engine/model_config.h"
#include "engine/pass.h"

namespace radial {

// One layer for one token attending over `context` entries.
double layer_flops(const ModelConfig& c, int context);
// The K/V-only row of one token at one layer (norm, K/V projections, RoPE).
double kv_only_flops(const ModelConfig& c);
// One router evaluation (router_hidden r).
double router_flops(const ModelConfig& c, int router_hidden);
// The compute fraction of a finished pass.
double pass_compute_fraction(const ModelConfig& c, const Pass& p, int router_hidden);

}  // namespace radial
