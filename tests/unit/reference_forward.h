// An independent, deliberately naive double-precision implementation of the
// routed forward pass of the design note (section 2), for tests: no KV pool,
// no batching, positions processed one after another, every K/V kept in a
// plain [layer][position] table. The engine must agree with it.
#pragma once

#include <optional>
#include <vector>

#include "engine/model_weights.h"
#include "engine/router.h"

namespace radial::test {

struct ReferenceResult {
  std::vector<std::vector<double>> logits;  // [position][vocab]
  std::vector<std::vector<int>> paths;      // [position] layers executed fully
  // present[j][p]: position p has a K/V entry at layer j.
  std::vector<std::vector<bool>> present;
};

// Runs `tokens` (positions 0..n-1) through the model with `routing`.
ReferenceResult reference_forward(const ModelWeights& w, const RouterWeights* router,
                                  const RoutingParams& routing, const std::vector<int>& tokens);

// A router whose gates do not depend on h: fc1 = 0, so g = fc2.bias = gates.
RouterWeights constant_router(const ModelConfig& c, const std::vector<float>& gates, RouteMode mode,
                              KvPolicy policy, std::vector<int> pinned, int max_steps);

}  // namespace radial::test
