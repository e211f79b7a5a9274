// The router of a Radial Network (design note, section 2):
//   g = W2 * act(W1 * rmsnorm(h) + b1) + b2,  g in R^{L+1}
// g_0..g_{L-1} are the layers' gates, g_L is the exit logit. Files:
// radial.json (schema "radial-router/1") and router.safetensors.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "engine/model_config.h"
#include "engine/tensor.h"

namespace radial {

enum class RouteMode {
  kFull,     // every layer in order; needs no router
  kForward,  // next = smallest j > last pinned or sigmoid(g_j) >= threshold; else exit
  kRadial,   // argmax over gates + exit, no immediate repeat; exit at max_steps
};

enum class KvPolicy {
  kPropagate,  // skipped layers still get K/V written from the pass's hidden state
  kSparse,     // skipped layers get nothing
};

const char* route_mode_name(RouteMode m);
const char* kv_policy_name(KvPolicy p);
// Throws Error(kInvalidArgument) for an unknown name.
RouteMode parse_route_mode(const std::string& s);
KvPolicy parse_kv_policy(const std::string& s);

struct RouterConfig {
  int num_layers = 0;     // L
  int hidden_size = 0;    // d
  int router_hidden = 0;  // r
  Activation activation = Activation::kSilu;
  float norm_eps = 1e-5f;
  RouteMode mode = RouteMode::kForward;  // kForward or kRadial (never kFull)
  float threshold = 0.5f;                // [0, 1]
  int max_steps = 0;                     // radial mode: [1, 8 L]
  std::vector<int> pinned_layers;        // forward mode: always visited
  KvPolicy kv_policy = KvPolicy::kPropagate;

  // Throws Error(kInvalidArgument) naming the bad field; checks it against
  // the model (num_layers, hidden_size).
  void validate(const ModelConfig& model) const;
  bool is_pinned(int layer) const;
};

// Parses radial.json strictly: unknown keys, missing keys, wrong types and
// out-of-range values are errors naming the key.
RouterConfig parse_router_config(const nlohmann::json& j, const ModelConfig& model);
nlohmann::json to_json(const RouterConfig& c);

struct RouterWeights {
  RouterConfig config;
  Tensor norm;   // [d]
  Tensor fc1_w;  // [r, d]
  Tensor fc1_b;  // [r]
  Tensor fc2_w;  // [L + 1, r]
  Tensor fc2_b;  // [L + 1]

  void validate() const;  // shapes vs config; throws Error(kCorrupt)
};

// Loads radial.json + router.safetensors from `dir`; tensors converted to
// `dtype`. Throws Error naming the file and problem.
RouterWeights load_router(const std::string& dir, const ModelConfig& model,
                          DType dtype = DType::kF32);
// True when `dir` holds a radial.json.
bool has_router(const std::string& dir);
// Writes radial.json + router.safetensors (F32).
void save_router(const RouterWeights& r, const std::string& dir);

// How one request is routed: the file's settings with per-request overrides.
struct RoutingParams {
  RouteMode mode = RouteMode::kFull;
  float threshold = 0.5f;
  KvPolicy kv_policy = KvPolicy::kPropagate;
  int max_steps = 0;
};

// Decision after a router evaluation. `gates` holds the L + 1 logits;
// `last` is the last layer executed (-1 after the embedding); `steps` the
// layers executed so far. Returns the next layer to execute fully, or
// num_layers to exit. (Radial mode: the caller exits at max_steps without
// evaluating the router.)
int route_next(const RouterConfig& rc, const RoutingParams& p, int last, const float* gates);

float sigmoid(float x);

}  // namespace radial
