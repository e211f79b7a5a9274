// Post-training router distillation (`radial distill`): trains the router of
// design note section 2 (forward mode) for a sequential model whose layers
// stay frozen. The recipe (docs/distill.md):
//  1. targets: for every token t and layer j, y[t][j] in [0, 1] (1: run j),
//     from the model's own behaviour (router_targets.h): by default
//     ablation, y = 1 if skipping j flips t's top-1, else 1 - exp(-KL/s);
//  2. phase 1: fit the gates on full-depth states (the state after every
//     layer i, gates j > i up to the next pinned layer);
//  3. calibration: pick the threshold on a held-out split by running the
//     engine in forward mode (target top-1 agreement or target depth);
//  4. on-policy rounds (DAgger-like): run the engine with the current
//     router at that threshold, collect the states the router really sees
//     (after the last executed layer of a routed pass), label them with the
//     same targets, raised to 1 for the layers a pass skipped when its
//     top-1 disagreed with full depth, retrain on all data, recalibrate.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/model_weights.h"
#include "engine/router.h"
#include "tools/radial/router_data.h"
#include "tools/radial/router_targets.h"

namespace radial::tools {

struct DistillOptions {
  int router_hidden = 64;
  Activation activation = Activation::kSilu;
  std::vector<int> pinned = {0};
  KvPolicy kv_policy = KvPolicy::kPropagate;
  TargetKind targets = TargetKind::kAblation;
  int ablation_stride = 4;   // ablation: every stride-th token skips a layer at once
  double kl_scale = 0.25;    // ablation: y = 1 - exp(-KL / kl_scale) (flips: y = 1)
  double ratio_scale = 0.1;  // ratio: y = 1 - exp(-ratio / ratio_scale)
  int epochs = 8;            // phase 1
  int onpolicy_rounds = 2;
  int onpolicy_epochs = 4;    // per round
  double onpolicy_fix = 1.0;  // target for layers skipped by passes whose top-1 disagreed
  int batch = 256;
  double lr = 3e-3;
  double weight_decay = 0;
  uint64_t seed = 0;
  double holdout = 0.2;            // fraction of sequences kept for calibration
  std::optional<float> threshold;  // fixed threshold: no calibration
  double target_agreement = 0.9;   // calibration: highest threshold reaching this top-1 agreement
  std::optional<double> target_depth;  // or: lowest threshold whose mean depth is at most this
  Compute compute;

  // Throws Error(kInvalidArgument) naming the bad option.
  void validate(const ModelConfig& c) const;
};

// Forward-mode quality on a held-out split at one threshold: top-1
// agreement with full depth and mean depth over positions 0..n-2 of every
// sequence.
struct CalibrationPoint {
  float threshold = 0;
  double agreement = 0, mean_depth = 0;
};

struct DistillReport {
  long train_tokens = 0, holdout_tokens = 0;
  long examples = 0;  // gate examples in the last training set
  double loss = 0;    // final training loss
  // Per layer over the training tokens: mean importance (ablation: KL in
  // nats; ratio: residual ratio), top-1 flip rate (ablation), mean target.
  std::vector<double> layer_importance, layer_flip_rate, layer_target;
  std::vector<CalibrationPoint> calibration;  // the last sweep
  CalibrationPoint chosen;
};

// Progress: phase name, fraction of the phase done, and a status line.
using DistillProgress = std::function<void(const std::string&, double, const std::string&)>;

// Distils a forward-mode router for `w` from `corpus`. Deterministic for
// o.seed (on the CPU backend, with any thread count).
RouterWeights distill_router(std::shared_ptr<const ModelWeights> w, const Corpus& corpus,
                             const DistillOptions& o, DistillReport* report,
                             const DistillProgress& progress = nullptr);

// Forward-mode agreement and depth of `router` on `corpus` at each
// threshold, against `full_top1` (per token, corpus order).
std::vector<CalibrationPoint> sweep_thresholds(std::shared_ptr<const ModelWeights> w,
                                               std::shared_ptr<const RouterWeights> router,
                                               const Corpus& corpus,
                                               const std::vector<int>& full_top1, KvPolicy policy,
                                               const std::vector<float>& thresholds,
                                               const Compute& compute);

}  // namespace radial::tools
