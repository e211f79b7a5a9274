// Default implementations of the Backend calls a backend may override.
#include "engine/backend.h"

#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/token_sampling.h"

namespace radial {

void Backend::set_block_probe(BlockProbe* probe) {
  require(probe == nullptr, ErrorCode::kUnsupported,
          "backend " + name() + " cannot report block norms");
}

void Backend::head_sample(std::span<const int> slots, std::span<const TokenSampling> params,
                          int* tokens) {
  require(slots.size() == params.size(), ErrorCode::kInternal, "head_sample: size mismatch");
  const size_t vocab = static_cast<size_t>(model_config().vocab_size);
  std::vector<float> logits(slots.size() * vocab);
  head_logits(slots, logits.data());
  for (size_t i = 0; i < slots.size(); ++i)
    tokens[i] = sample_token(std::span<const float>(logits.data() + i * vocab, vocab), params[i]);
}

void Backend::route(std::span<const int> slots, std::span<const RouteQuery> queries, int* targets) {
  require(slots.size() == queries.size(), ErrorCode::kInternal, "route: size mismatch");
  const RouterWeights* r = router();
  require(r != nullptr, ErrorCode::kInternal, "route without a router");
  const int g = r->config.num_layers + 1;
  std::vector<float> gates(slots.size() * g);
  router_logits(slots, gates.data());
  RoutingParams p;
  p.mode = r->config.mode;
  for (size_t i = 0; i < slots.size(); ++i) {
    p.threshold = queries[i].threshold;
    targets[i] = route_next(r->config, p, queries[i].last, gates.data() + i * g);
  }
}

}  // namespace radial
