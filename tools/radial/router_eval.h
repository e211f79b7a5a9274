// Quality against compute of a router (`radial eval`). Every sequence is
// teacher-forced: submitted to the Scheduler as a prompt with
// keep_prompt_logits, once at full depth (mode full) and once per
// configuration: a forward-mode router at each KV policy and threshold; a
// radial-mode router in radial mode (its own max_steps, `sparse` K/V; the
// thresholds and policies do not apply). At every position i < n - 1 (the
// positions that predict a token of the sequence):
//  - depth and compute fraction of the position's pass (engine/flops.h
//    semantics: full layers + router evaluations + K/V-only rows);
//  - perplexity of token i + 1 under the configuration's logits;
//  - KL(full || configuration) of the next-token distributions (nats);
//  - top-1 agreement with full depth, in all and on the "clear" positions:
//    those where full depth's top-1 log-probability leads its second's by at
//    least tie_margin nats (the others are near ties, where a small change
//    of the logits flips the argmax; their share is reported once, from
//    full depth);
//  - reuse: the layers of the pass's path that it had run before (radial
//    mode revisits layers; forward and full paths never do).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "engine/model_weights.h"
#include "engine/router.h"
#include "tools/radial/router_data.h"

namespace radial::tools {

struct EvalOptions {
  std::vector<float> thresholds = {0.f, 0.3f, 0.5f, 0.7f};  // each in [0, 1]
  std::vector<KvPolicy> policies = {KvPolicy::kPropagate, KvPolicy::kSparse};
  // A position is a near tie when full depth's two most probable tokens
  // differ in log-probability by less than this (nats, >= 0; 0.1: the first
  // is less than 1.105 times as likely as the second).
  double tie_margin = 0.1;
  Compute compute;
};

struct EvalPoint {
  RouteMode mode = RouteMode::kFull;
  KvPolicy kv_policy = KvPolicy::kPropagate;  // forward mode only
  float threshold = 0;                        // forward mode only
  long positions = 0;
  double mean_depth = 0;
  std::vector<double> depth_hist;  // [L + 1] fractions of positions at each depth
  double compute_fraction = 0;     // mean over positions
  double perplexity = 0, kl = 0, top1 = 0;
  // Top-1 agreement on the positions that are not near ties (1 when none).
  double top1_clear = 0;
  // Share of the executed layers that were revisits (a layer the pass had
  // already run), and share of the passes with at least one revisit.
  double revisit_fraction = 0, passes_with_revisit = 0;
};

struct EvalResult {
  int num_layers = 0;
  int sequences = 0;
  long positions = 0;
  double tie_margin = 0;
  double near_tie_share = 0;  // positions that are near ties at full depth
  // Full first, then per policy, thresholds ascending (forward), or radial.
  std::vector<EvalPoint> points;
};

// Throws Error(kInvalidArgument) for a threshold outside [0, 1], an empty
// corpus or a router that is not a router for `w`.
EvalResult evaluate_router(std::shared_ptr<const ModelWeights> w,
                           std::shared_ptr<const RouterWeights> router, const Corpus& corpus,
                           const EvalOptions& opts,
                           const std::function<void(double)>& progress = nullptr);

nlohmann::json to_json(const EvalResult& r);
std::string eval_table(const EvalResult& r);
std::string eval_csv(const EvalResult& r);
// Top-1 agreement and KL against the compute fraction, and agreement
// against mean depth, one line per policy (with a single policy, also its
// agreement on the clear positions, dashed).
void plot_eval(const EvalResult& r, const std::string& png_path, const std::string& title);

// "0,0.3,0.5" -> {0, 0.3, 0.5}; throws Error(kInvalidArgument) for
// malformed numbers or values outside [0, 1].
std::vector<float> parse_thresholds(const std::string& s);

}  // namespace radial::tools
