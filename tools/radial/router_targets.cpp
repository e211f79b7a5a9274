#include "tools/radial/router_targets.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/error.h"
#include "engine/sampler.h"
#include "tools/radial/router_profile.h"

namespace radial::tools {

TargetKind parse_target_kind(const std::string& s) {
  if (s == "ablation") return TargetKind::kAblation;
  if (s == "ratio") return TargetKind::kRatio;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown target kind '" + s + "' (expected ablation or ratio)");
}

double kl_logits(const float* p, const float* q, int n) {
  double mp = p[0], mq = q[0];
  for (int i = 1; i < n; ++i) {
    mp = std::max<double>(mp, p[i]);
    mq = std::max<double>(mq, q[i]);
  }
  double zp = 0, zq = 0;
  for (int i = 0; i < n; ++i) {
    zp += std::exp(p[i] - mp);
    zq += std::exp(q[i] - mq);
  }
  const double lzp = std::log(zp) + mp, lzq = std::log(zq) + mq;
  double kl = 0;
  for (int i = 0; i < n; ++i) {
    const double lp = p[i] - lzp, lq = q[i] - lzq;
    kl += std::exp(lp) * (lp - lq);
  }
  return std::max(0.0, kl);
}

double log_prob(const float* logits, int n, int token) {
  double m = logits[0];
  for (int i = 1; i < n; ++i) m = std::max<double>(m, logits[i]);
  double z = 0;
  for (int i = 0; i < n; ++i) z += std::exp(logits[i] - m);
  return logits[token] - m - std::log(z);
}

RouterWeights skip_router(const ModelConfig& c, const std::vector<bool>& skip, KvPolicy policy) {
  RouterWeights r;
  RouterConfig& rc = r.config;
  rc.num_layers = c.num_layers;
  rc.hidden_size = c.hidden_size;
  rc.router_hidden = 1;
  rc.norm_eps = c.rms_norm_eps;
  rc.mode = RouteMode::kForward;
  rc.threshold = 0.5f;
  rc.max_steps = c.num_layers;
  rc.kv_policy = policy;
  r.norm = Tensor::zeros(DType::kF32, {c.hidden_size});
  r.fc1_w = Tensor::zeros(DType::kF32, {1, c.hidden_size});
  r.fc1_b = Tensor::zeros(DType::kF32, {1});
  r.fc2_w = Tensor::zeros(DType::kF32, {c.num_layers + 1, 1});
  r.fc2_b = Tensor::zeros(DType::kF32, {c.num_layers + 1});
  for (int j = 0; j <= c.num_layers; ++j)
    r.fc2_b.f32()[j] = j < c.num_layers && skip[j] ? -20.f : 20.f;
  r.validate();
  return r;
}

namespace {

std::vector<long> first_tokens(const Corpus& corpus) {
  std::vector<long> first{0};
  for (const auto& s : corpus) first.push_back(first.back() + static_cast<long>(s.size()));
  return first;
}

}  // namespace

Trajectories full_trajectories(std::shared_ptr<const ModelWeights> w, const Corpus& corpus,
                               const Compute& compute) {
  const ModelConfig& c = w->config;
  Trajectories tr;
  tr.num_layers = c.num_layers;
  tr.hidden = c.hidden_size;
  tr.first_token = first_tokens(corpus);
  tr.tokens = tr.first_token.back();
  tr.states.resize(static_cast<size_t>(tr.tokens) * (c.num_layers + 1) * c.hidden_size);
  tr.top1.resize(tr.tokens);
  const int wave = default_wave_positions(c);
  WaveRunner runner(w, nullptr, wave, default_wave_sequences(wave), compute);
  WaveVisitor v;
  v.on_state = [&](int seq, const Pass& p, const float* h) {
    const long t = tr.first_token[seq] + p.position;
    std::memcpy(tr.state(t, p.last), h, c.hidden_size * sizeof(float));
  };
  v.on_logits = [&](int seq, const Pass& p, const float* logits) {
    tr.top1[tr.first_token[seq] + p.position] = argmax({logits, static_cast<size_t>(c.vocab_size)});
  };
  runner.run_all(corpus, RoutingParams{}, v);
  return tr;
}

LayerImportance layer_importance(std::shared_ptr<const ModelWeights> w, const Corpus& corpus,
                                 TargetKind kind, KvPolicy policy, int stride,
                                 const Compute& compute,
                                 const std::function<void(double)>& progress) {
  const ModelConfig& c = w->config;
  const int L = c.num_layers, V = c.vocab_size;
  require(stride >= 1, ErrorCode::kInvalidArgument, "ablation stride must be at least 1");
  const std::vector<long> first = first_tokens(corpus);
  const long tokens = first.back();
  LayerImportance out;
  out.kind = kind;
  out.importance.assign(static_cast<size_t>(tokens) * L, 0.f);
  out.flips.assign(static_cast<size_t>(tokens) * L, 0);
  if (kind == TargetKind::kRatio) {
    TokenRatios r = measure_ratios(w, corpus, compute);
    for (long t = 0; t < tokens; ++t)
      for (int j = 0; j < L; ++j) out.importance[t * L + j] = std::max(r.attn[j][t], r.mlp[j][t]);
    if (progress) progress(1.0);
    return out;
  }
  // Ablation: per wave, the full run's logits, then one run per (skipped
  // layer, residue), on an engine whose router runs every layer unless the
  // pass's force_skip says otherwise.
  const int wave = default_wave_positions(c);
  const int wave_seqs = default_wave_sequences(wave);
  const auto waves = plan_waves(corpus, wave, wave_seqs);
  auto all =
      std::make_shared<const RouterWeights>(skip_router(c, std::vector<bool>(L, false), policy));
  WaveRunner runner(w, all, wave, wave_seqs, compute);
  std::vector<float> ref;  // full logits of the wave, [token - wave's first][V]
  const double runs = static_cast<double>(L) * stride;
  for (size_t wi = 0; wi < waves.size(); ++wi) {
    const auto [begin, end] = waves[wi];
    const long base = first[begin];
    ref.assign(static_cast<size_t>(first[end] - base) * V, 0.f);
    WaveVisitor keep;
    keep.on_logits = [&](int seq, const Pass& p, const float* logits) {
      std::memcpy(ref.data() + (first[seq] + p.position - base) * V, logits, V * sizeof(float));
    };
    runner.run(corpus, begin, end, RoutingParams{}, keep);
    for (int j = 0; j < L; ++j)
      for (int r = 0; r < stride; ++r) {
        WaveVisitor cmp;
        cmp.on_start = [&](int, Pass& p) {
          p.force_skip.assign(L, false);
          p.force_skip[j] = p.position % stride == r;
        };
        cmp.on_logits = [&](int seq, const Pass& p, const float* logits) {
          if (p.position % stride != r) return;
          const long t = first[seq] + p.position;
          const float* f = ref.data() + (t - base) * V;
          out.importance[t * L + j] = static_cast<float>(kl_logits(f, logits, V));
          out.flips[t * L + j] =
              argmax({f, static_cast<size_t>(V)}) != argmax({logits, static_cast<size_t>(V)});
        };
        runner.run(corpus, begin, end, routing_params(RouteMode::kForward, 0.5f, policy, L), cmp);
        if (progress) progress((wi + (j * stride + r + 1) / runs) / waves.size());
      }
  }
  return out;
}

}  // namespace radial::tools
