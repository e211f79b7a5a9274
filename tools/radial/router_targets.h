// Training signal for router distillation, measured on the sequential
// model alone (layers frozen):
//  - the full-depth trajectory of every token: its hidden state after the
//    embedding and after each layer (the router's inputs in full mode);
//  - per token and layer j, how much layer j matters to that token:
//      ablation: KL(full || model with layer j skipped) of the token's
//        next-token distribution, and whether its top-1 changes. "Skipped"
//        is forward-mode skipping under the chosen KV policy (the engine's
//        Pass::force_skip), applied to every stride-th token at once;
//      ratio: the residual ratios of layer j's attention and MLP blocks for
//        the token (one forward pass; a cheaper proxy).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/model_weights.h"
#include "tools/radial/router_data.h"

namespace radial::tools {

enum class TargetKind { kAblation, kRatio };
TargetKind parse_target_kind(const std::string& s);  // "ablation" | "ratio"; throws Error

// Tokens are numbered in corpus order (sequence by sequence, position
// order); `first_token[s]` is sequence s's first token number.
struct Trajectories {
  int num_layers = 0, hidden = 0;
  long tokens = 0;
  std::vector<long> first_token;  // [sequences + 1]
  // states[(t * (L + 1) + (i + 1)) * d ...]: token t's state after layer i
  // (i = -1: after the embedding), i in [-1, L - 1].
  std::vector<float> states;
  // Full-depth top-1 of every token's next-token distribution.
  std::vector<int> top1;
  const float* state(long t, int after) const {
    return states.data() + (t * (num_layers + 1) + after + 1) * static_cast<size_t>(hidden);
  }
  float* state(long t, int after) {
    return states.data() + (t * (num_layers + 1) + after + 1) * static_cast<size_t>(hidden);
  }
};

// importance[t * L + j] >= 0: how much layer j matters to token t (KL in
// nats for ablation; max of the two residual ratios for ratio), and
// flips[t * L + j]: skipping j changes token t's top-1 (ablation only).
struct LayerImportance {
  TargetKind kind = TargetKind::kAblation;
  std::vector<float> importance;
  std::vector<uint8_t> flips;
};

// The full-depth trajectories of `corpus`.
Trajectories full_trajectories(std::shared_ptr<const ModelWeights> w, const Corpus& corpus,
                               const Compute& compute);

// Layer importance of every token of `corpus` (see the file comment).
// Ablation with `stride` s: run (j, r) skips layer j for the positions
// p = r mod s only, so a token's measurement sees the other tokens mostly at
// full depth (s = 1: every token at once; cost s * L + 1 forward passes).
// `progress` (may be null) is called with the fraction done.
LayerImportance layer_importance(std::shared_ptr<const ModelWeights> w, const Corpus& corpus,
                                 TargetKind kind, KvPolicy policy, int stride,
                                 const Compute& compute,
                                 const std::function<void(double)>& progress = nullptr);

// A forward-mode router that ignores h: fc1 = 0 and fc2.bias = +-20, so it
// runs every layer except those with skip[j] (no pinned layers).
RouterWeights skip_router(const ModelConfig& c, const std::vector<bool>& skip, KvPolicy policy);

// KL(p || q) in nats between the softmax distributions of two logit rows.
double kl_logits(const float* p_logits, const float* q_logits, int n);
// Log-probability of `token` under softmax(logits).
double log_prob(const float* logits, int n, int token);

}  // namespace radial::tools
