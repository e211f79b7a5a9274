#include "tools/radial/router_distill.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/error.h"
#include "engine/sampler.h"
#include "tools/radial/router_train.h"

namespace radial::tools {
namespace {

std::string fmt(const char* f, double a, double b = 0) {
  char buf[96];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

// y[t * L + j] from the layer importance (see DistillOptions).
std::vector<float> make_targets(const LayerImportance& imp, const DistillOptions& o) {
  std::vector<float> y(imp.importance.size());
  for (size_t i = 0; i < y.size(); ++i) {
    const double s = imp.kind == TargetKind::kAblation ? o.kl_scale : o.ratio_scale;
    y[i] = imp.flips[i] ? 1.f : static_cast<float>(1 - std::exp(-imp.importance[i] / s));
  }
  return y;
}

// Phase-1 examples: every full-depth state after layer i in [-1, L - 2]
// whose consulted gates are not empty.
GateDataset full_depth_examples(const Trajectories& tr, const std::vector<float>& y,
                                const RouterConfig& rc) {
  GateDataset ds;
  ds.hidden = tr.hidden;
  ds.num_layers = tr.num_layers;
  for (long t = 0; t < tr.tokens; ++t)
    for (int i = -1; i < tr.num_layers - 1; ++i)
      if (consulted_end(rc, i) > i + 1) ds.add(tr.state(t, i), i, y.data() + t * tr.num_layers);
  return ds;
}

// Mean depth the router implies on full-depth trajectories (an estimate:
// after skipping, the real state differs): tokens [0, n) of `tr`.
double implied_depth(const RouterTrainer& tr_, const Trajectories& tr, const RouterConfig& rc,
                     float thr, long n) {
  const int L = tr.num_layers;
  std::vector<float> g(L + 1);
  long total = 0;
  n = std::min(n, tr.tokens);
  for (long t = 0; t < n; ++t) {
    int last = -1;
    RoutingParams p;
    p.mode = RouteMode::kForward;
    p.threshold = thr;
    while (last < L - 1) {
      tr_.gates(tr.state(t, last), g.data());
      const int next = route_next(rc, p, last, g.data());
      if (next >= L) break;
      ++total;
      last = next;
    }
  }
  return n ? static_cast<double>(total) / n : 0;
}

CalibrationPoint choose(const std::vector<CalibrationPoint>& sweep, const DistillOptions& o) {
  // Thresholds ascend: agreement and depth (roughly) descend.
  if (o.target_depth) {
    for (const auto& p : sweep)
      if (p.mean_depth <= *o.target_depth) return p;
    return sweep.back();
  }
  CalibrationPoint best = sweep.front();
  for (const auto& p : sweep)
    if (p.agreement >= o.target_agreement) best = p;
  return best;
}

}  // namespace

void DistillOptions::validate(const ModelConfig& c) const {
  auto bad = [](const std::string& m) { throw Error(ErrorCode::kInvalidArgument, m); };
  if (router_hidden < 1 || router_hidden > 65536) bad("--router-hidden must be in [1, 65536]");
  for (int p : pinned)
    if (p < 0 || p >= c.num_layers)
      bad("pinned layer " + std::to_string(p) + " is outside [0, " + std::to_string(c.num_layers) +
          ")");
  if (!(kl_scale > 0) || !(ratio_scale > 0)) bad("--kl-scale and --ratio-scale must be > 0");
  if (ablation_stride < 1 || ablation_stride > 64) bad("--ablation-stride must be in [1, 64]");
  if (epochs < 0 || onpolicy_rounds < 0 || onpolicy_epochs < 0)
    bad("epochs and rounds must be >= 0");
  if (batch < 1) bad("--batch must be at least 1");
  if (!(lr > 0) || !std::isfinite(lr)) bad("--lr must be > 0");
  if (!(holdout >= 0 && holdout < 1)) bad("--holdout must be in [0, 1)");
  if (threshold && !(*threshold >= 0.f && *threshold <= 1.f))
    bad("threshold must be in [0, 1], got " + std::to_string(*threshold));
  if (!(target_agreement >= 0 && target_agreement <= 1))
    bad("--target-agreement must be in [0, 1]");
  if (target_depth && !(*target_depth >= 0 && *target_depth <= c.num_layers))
    bad("--target-depth must be in [0, " + std::to_string(c.num_layers) + "]");
  if (!(onpolicy_fix >= 0 && onpolicy_fix <= 1)) bad("--onpolicy-fix must be in [0, 1]");
}

std::vector<CalibrationPoint> sweep_thresholds(std::shared_ptr<const ModelWeights> w,
                                               std::shared_ptr<const RouterWeights> router,
                                               const Corpus& corpus,
                                               const std::vector<int>& full_top1, KvPolicy policy,
                                               const std::vector<float>& thresholds,
                                               const Compute& compute) {
  const ModelConfig& c = w->config;
  const int wave = default_wave_positions(c);
  WaveRunner runner(w, router, wave, default_wave_sequences(wave), compute);
  std::vector<long> first{0};
  for (const auto& s : corpus) first.push_back(first.back() + static_cast<long>(s.size()));
  std::vector<CalibrationPoint> out;
  for (float thr : thresholds) {
    long agree = 0, depth = 0, n = 0;
    WaveVisitor v;
    v.on_logits = [&](int seq, const Pass& p, const float* logits) {
      if (p.position + 1 >= static_cast<int>(corpus[seq].size())) return;  // nothing to predict
      ++n;
      depth += p.depth();
      agree +=
          argmax({logits, static_cast<size_t>(c.vocab_size)}) == full_top1[first[seq] + p.position];
    };
    runner.run_all(corpus, routing_params(RouteMode::kForward, thr, policy, c.num_layers), v);
    out.push_back(
        {thr, n ? static_cast<double>(agree) / n : 0, n ? static_cast<double>(depth) / n : 0});
  }
  return out;
}

RouterWeights distill_router(std::shared_ptr<const ModelWeights> w, const Corpus& corpus,
                             const DistillOptions& o, DistillReport* report,
                             const DistillProgress& progress) {
  const ModelConfig& c = w->config;
  const int L = c.num_layers;
  o.validate(c);
  require(!corpus.empty(), ErrorCode::kInvalidArgument, "distill: no data");
  auto say = [&](const std::string& phase, double f, const std::string& s) {
    if (progress) progress(phase, f, s);
  };
  DistillReport rep;
  Corpus train, held;
  split_corpus(corpus, o.holdout, &train, &held);
  if (held.empty()) held = train;  // a single sequence: calibrate on it
  rep.train_tokens = corpus_positions(train);
  rep.holdout_tokens = corpus_positions(held);

  RouterConfig rc;
  rc.num_layers = L;
  rc.hidden_size = c.hidden_size;
  rc.router_hidden = o.router_hidden;
  rc.activation = o.activation;
  rc.norm_eps = c.rms_norm_eps;
  rc.mode = RouteMode::kForward;
  rc.threshold = 0.5f;
  rc.max_steps = L;
  rc.pinned_layers = o.pinned;
  rc.kv_policy = o.kv_policy;
  rc.validate(c);

  // Targets and full-depth states.
  say("targets", 0, "");
  const Trajectories tr = full_trajectories(w, train, o.compute);
  const LayerImportance imp = layer_importance(w, train, o.targets, o.kv_policy, o.ablation_stride,
                                               o.compute, [&](double f) { say("targets", f, ""); });
  const std::vector<float> y = make_targets(imp, o);
  rep.layer_importance.assign(L, 0);
  rep.layer_flip_rate.assign(L, 0);
  rep.layer_target.assign(L, 0);
  for (long t = 0; t < tr.tokens; ++t)
    for (int j = 0; j < L; ++j) {
      rep.layer_importance[j] += imp.importance[t * L + j] / tr.tokens;
      rep.layer_flip_rate[j] += imp.flips[t * L + j] / static_cast<double>(tr.tokens);
      rep.layer_target[j] += y[t * L + j] / tr.tokens;
    }
  say("targets", 1, "");
  const std::vector<int> held_top1 = full_trajectories(w, held, o.compute).top1;

  RouterTrainer trainer(rc, o.seed, AdamOptions{o.lr, 0.9, 0.999, 1e-8, o.weight_decay});
  GateDataset data = full_depth_examples(tr, y, rc);
  trainer.init_bias(data);
  const long depth_tokens = 4096;
  auto train_epochs = [&](const std::string& phase, int epochs, float thr) {
    double depth = implied_depth(trainer, tr, rc, thr, depth_tokens);
    for (int e = 0; e < epochs; ++e) {
      const std::string ep =
          phase + " epoch " + std::to_string(e + 1) + "/" + std::to_string(epochs);
      rep.loss = trainer.epoch(data, o.batch, [&](double f, double loss) {
        say(ep, f, fmt("loss %.4f  depth~%.2f", loss, depth) + " of " + std::to_string(L));
      });
      depth = implied_depth(trainer, tr, rc, thr, depth_tokens);
      say(ep, 1, fmt("loss %.4f  depth~%.2f", rep.loss, depth) + " of " + std::to_string(L));
    }
  };
  std::vector<float> grid;
  for (int i = 1; i <= 19; ++i) grid.push_back(0.05f * i);
  float thr = o.threshold.value_or(0.5f);
  auto calibrate = [&]() {
    if (o.threshold) return;
    say("calibrate", 0, "");
    auto router = std::make_shared<const RouterWeights>(trainer.weights());
    rep.calibration = sweep_thresholds(w, router, held, held_top1, o.kv_policy, grid, o.compute);
    rep.chosen = choose(rep.calibration, o);
    // Refine in steps of 0.01 towards the neighbour the target lies by.
    std::vector<float> fine;
    for (int k = 1; k < 5; ++k)
      fine.push_back(rep.chosen.threshold + (o.target_depth ? -0.01f : 0.01f) * k);
    std::erase_if(fine, [](float t) { return t < 0.f || t > 1.f; });
    for (const auto& p : sweep_thresholds(w, router, held, held_top1, o.kv_policy, fine, o.compute))
      rep.calibration.push_back(p);
    std::sort(rep.calibration.begin(), rep.calibration.end(),
              [](const CalibrationPoint& a, const CalibrationPoint& b) {
                return a.threshold < b.threshold;
              });
    rep.chosen = choose(rep.calibration, o);
    thr = rep.chosen.threshold;
    say("calibrate", 1,
        fmt("threshold %.2f: top-1 agreement %.3f", thr, rep.chosen.agreement) +
            fmt(", depth %.2f", rep.chosen.mean_depth));
  };

  train_epochs("phase 1", o.epochs, thr);
  calibrate();
  for (int round = 0; round < o.onpolicy_rounds; ++round) {
    // States the router sees in routed passes at the current threshold.
    const std::string phase =
        "on-policy " + std::to_string(round + 1) + "/" + std::to_string(o.onpolicy_rounds);
    say(phase, 0, "collecting routed states");
    auto router = std::make_shared<const RouterWeights>(trainer.weights());
    const int wave = default_wave_positions(c);
    WaveRunner runner(w, router, wave, default_wave_sequences(wave), o.compute);
    struct Seen {
      long token;
      int last;
      size_t offset;  // into states
    };
    std::vector<Seen> seen;
    std::vector<float> states;
    std::vector<uint8_t> bad(tr.tokens, 0);
    std::vector<std::vector<int>> paths(tr.tokens);
    WaveVisitor v;
    v.on_state = [&](int seq, const Pass& p, const float* h) {
      if (p.last >= L - 1 || consulted_end(rc, p.last) <= p.last + 1)
        return;  // router not consulted
      seen.push_back({tr.first_token[seq] + p.position, p.last, states.size()});
      states.insert(states.end(), h, h + c.hidden_size);
    };
    v.on_logits = [&](int seq, const Pass& p, const float* logits) {
      const long t = tr.first_token[seq] + p.position;
      bad[t] = argmax({logits, static_cast<size_t>(c.vocab_size)}) != tr.top1[t];
      paths[t] = p.path;
    };
    runner.run_all(train, routing_params(RouteMode::kForward, thr, o.kv_policy, L), v);
    std::vector<float> yt(L);
    for (const Seen& s : seen) {
      std::copy_n(y.data() + s.token * L, L, yt.data());
      if (bad[s.token])
        for (int j = s.last + 1; j < L; ++j)
          if (std::find(paths[s.token].begin(), paths[s.token].end(), j) == paths[s.token].end())
            yt[j] = std::max(yt[j], static_cast<float>(o.onpolicy_fix));
      data.add(states.data() + s.offset, s.last, yt.data());
    }
    long nbad = 0;
    for (uint8_t b : bad) nbad += b;
    say(phase, 1,
        fmt("%.0f routed states, top-1 disagreement %.3f", static_cast<double>(seen.size()),
            tr.tokens ? static_cast<double>(nbad) / tr.tokens : 0));
    train_epochs(phase, o.onpolicy_epochs, thr);
    calibrate();
  }
  rep.examples = static_cast<long>(data.size());
  RouterWeights out = trainer.weights();
  out.config.threshold = thr;
  if (o.threshold) rep.chosen.threshold = thr;
  if (report) *report = rep;
  return out;
}

}  // namespace radial::tools
