#include "tools/radial/router_eval.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/kv_sizing.h"
#include "engine/model_bundle.h"
#include "engine/sampler.h"
#include "scheduler/scheduler.h"
#include "tools/radial/plot.h"
#include "tools/radial/router_targets.h"

namespace radial::tools {
namespace {

// Running sums of one configuration.
struct Acc {
  long n = 0;
  double depth = 0, compute = 0, nll = 0, kl = 0;
  long agree = 0, revisits = 0, passes_with_revisit = 0;
  long clear = 0, agree_clear = 0;  // positions that are not near ties
  std::vector<long> hist;
};

// Log-probability of the most likely token minus that of the second (the
// gap between the two largest logits, nats).
double top2_gap(const float* logits, int vocab) {
  float a = -INFINITY, b = -INFINITY;  // largest, second largest
  for (int i = 0; i < vocab; ++i) {
    const float x = logits[i];
    if (x > a) {
      b = a;
      a = x;
    } else if (x > b) {
      b = x;
    }
  }
  return static_cast<double>(a) - b;
}

// Layers of `path` that it had visited before.
int revisits(const std::vector<int>& path) {
  std::vector<int> seen;
  int n = 0;
  for (int j : path) {
    if (std::find(seen.begin(), seen.end(), j) != seen.end())
      ++n;
    else
      seen.push_back(j);
  }
  return n;
}

// Teacher-forces sequences [begin, end) of `corpus` through `engine` with
// the given routing; results in corpus order (relative to begin).
std::vector<SequenceResult> teacher_force(Engine& engine, const Corpus& corpus, int begin, int end,
                                          RouteMode mode, float threshold) {
  Scheduler sched(engine, nullptr);
  std::vector<SequenceResult> out(end - begin);
  for (int s = begin; s < end; ++s) {
    GenerateRequest r;
    r.prompt = corpus[s];
    r.max_tokens = 1;
    r.ignore_eos = true;
    r.keep_prompt_logits = true;
    r.mode = mode;
    if (mode != RouteMode::kFull) r.threshold = threshold;
    sched.submit(r, {nullptr, [&out, i = s - begin](const SequenceResult& res) { out[i] = res; }});
  }
  sched.run_until_idle();
  for (const auto& r : out)
    require(r.finish != FinishReason::kError, ErrorCode::kInternal,
            "eval: generation failed: " + r.error);
  return out;
}

void accumulate(Acc& a, const Corpus& corpus, int begin, const std::vector<SequenceResult>& full,
                const std::vector<SequenceResult>& got, int vocab, double tie_margin) {
  for (size_t k = 0; k < got.size(); ++k) {
    const std::vector<int>& seq = corpus[begin + k];
    const SequenceResult& f = full[k];
    const SequenceResult& g = got[k];
    require(g.prompt_logits.size() == seq.size() && g.prompt_depth.size() == seq.size() &&
                g.prompt_path.size() == seq.size(),
            ErrorCode::kInternal, "eval: missing prompt logits");
    for (size_t i = 0; i + 1 < seq.size(); ++i) {
      const float* lg = g.prompt_logits[i].data();
      const float* lf = f.prompt_logits[i].data();
      ++a.n;
      a.depth += g.prompt_depth[i];
      ++a.hist[std::min<size_t>(g.prompt_depth[i], a.hist.size() - 1)];
      const int rv = revisits(g.prompt_path[i]);
      a.revisits += rv;
      a.passes_with_revisit += rv > 0;
      a.compute += g.prompt_compute_fraction[i];
      a.nll -= log_prob(lg, vocab, seq[i + 1]);
      a.kl += kl_logits(lf, lg, vocab);
      const bool agree =
          argmax({lg, static_cast<size_t>(vocab)}) == argmax({lf, static_cast<size_t>(vocab)});
      a.agree += agree;
      if (top2_gap(lf, vocab) >= tie_margin) {
        ++a.clear;
        a.agree_clear += agree;
      }
    }
  }
}

EvalPoint finish(const Acc& a, RouteMode mode, KvPolicy policy, float threshold) {
  EvalPoint p;
  p.mode = mode;
  p.kv_policy = policy;
  p.threshold = threshold;
  p.positions = a.n;
  const double n = std::max<long>(a.n, 1);
  p.mean_depth = a.depth / n;
  for (long h : a.hist) p.depth_hist.push_back(h / n);
  p.compute_fraction = a.compute / n;
  p.perplexity = std::exp(a.nll / n);
  p.kl = a.kl / n;
  p.top1 = a.agree / n;
  p.top1_clear = a.clear > 0 ? static_cast<double>(a.agree_clear) / a.clear : 1.0;
  p.revisit_fraction = a.depth > 0 ? a.revisits / a.depth : 0;
  p.passes_with_revisit = a.passes_with_revisit / n;
  return p;
}

}  // namespace

std::vector<float> parse_thresholds(const std::string& s) {
  std::vector<float> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    require(!item.empty() && *end == '\0' && std::isfinite(v), ErrorCode::kInvalidArgument,
            "--thresholds expects comma-separated numbers, got '" + s + "'");
    require(v >= 0 && v <= 1, ErrorCode::kInvalidArgument,
            "threshold must be in [0, 1], got " + item);
    out.push_back(static_cast<float>(v));
  }
  require(!out.empty(), ErrorCode::kInvalidArgument, "--thresholds is empty");
  return out;
}

EvalResult evaluate_router(std::shared_ptr<const ModelWeights> w,
                           std::shared_ptr<const RouterWeights> router, const Corpus& corpus,
                           const EvalOptions& o, const std::function<void(double)>& progress) {
  const ModelConfig& c = w->config;
  const int L = c.num_layers, V = c.vocab_size;
  require(!corpus.empty(), ErrorCode::kInvalidArgument, "eval: no data");
  require(o.tie_margin >= 0 && std::isfinite(o.tie_margin), ErrorCode::kInvalidArgument,
          "tie margin must be a finite number >= 0, got " + std::to_string(o.tie_margin));
  require(router != nullptr, ErrorCode::kInvalidArgument, "eval needs a router (--router DIR)");
  router->config.validate(c);
  router->validate();
  const bool radial = router->config.mode == RouteMode::kRadial;
  for (float t : o.thresholds)
    require(t >= 0.f && t <= 1.f, ErrorCode::kInvalidArgument,
            "threshold must be in [0, 1], got " + std::to_string(t));
  std::vector<float> thresholds = o.thresholds;
  std::sort(thresholds.begin(), thresholds.end());
  // Radial mode: one configuration, the router's own (sparse K/V, no threshold).
  const std::vector<KvPolicy> policies =
      radial ? std::vector<KvPolicy>{KvPolicy::kSparse} : o.policies;
  if (radial) thresholds = {router->config.threshold};
  const RouteMode mode = radial ? RouteMode::kRadial : RouteMode::kForward;

  // Groups of sequences whose prompt logits stay near 64 MB.
  const long budget = std::max<long>(16L << 20, static_cast<long>(c.max_position_embeddings) * V);
  int longest = 1;
  for (const auto& s : corpus) longest = std::max(longest, static_cast<int>(s.size()));
  const int group =
      static_cast<int>(std::clamp<long>(budget / (static_cast<long>(longest) * V), 1, 256));
  std::vector<std::unique_ptr<Engine>> engines;  // one per policy (its router's kv_policy)
  for (KvPolicy pol : policies) {
    auto r = std::make_shared<RouterWeights>(*router);
    r->config.kv_policy = pol;
    engines.push_back(make_engine(
        w, r, backend_options_for(c, longest, 1, group, o.compute.threads), o.compute.backend));
  }
  Acc proto;
  proto.hist.assign((radial ? std::max(L, router->config.max_steps) : L) + 1, 0);
  Acc full_acc = proto;
  full_acc.hist.assign(L + 1, 0);
  std::vector<Acc> accs(policies.size() * thresholds.size(), proto);
  const int n = static_cast<int>(corpus.size());
  for (int begin = 0; begin < n; begin += group) {
    const int end = std::min(n, begin + group);
    const auto full = teacher_force(*engines[0], corpus, begin, end, RouteMode::kFull, 0.f);
    accumulate(full_acc, corpus, begin, full, full, V, o.tie_margin);
    for (size_t pi = 0; pi < policies.size(); ++pi)
      for (size_t ti = 0; ti < thresholds.size(); ++ti) {
        const auto got = teacher_force(*engines[pi], corpus, begin, end, mode, thresholds[ti]);
        accumulate(accs[pi * thresholds.size() + ti], corpus, begin, full, got, V, o.tie_margin);
        if (progress)
          progress((begin + (end - begin) * (pi * thresholds.size() + ti + 1.0) /
                                (policies.size() * thresholds.size())) /
                   n);
      }
  }
  EvalResult res;
  res.num_layers = L;
  res.sequences = n;
  res.positions = full_acc.n;
  res.tie_margin = o.tie_margin;
  res.near_tie_share =
      full_acc.n > 0 ? 1.0 - static_cast<double>(full_acc.clear) / full_acc.n : 0.0;
  res.points.push_back(finish(full_acc, RouteMode::kFull, KvPolicy::kPropagate, 0.f));
  for (size_t pi = 0; pi < policies.size(); ++pi)
    for (size_t ti = 0; ti < thresholds.size(); ++ti)
      res.points.push_back(
          finish(accs[pi * thresholds.size() + ti], mode, policies[pi], thresholds[ti]));
  return res;
}

nlohmann::json to_json(const EvalResult& r) {
  nlohmann::json pts = nlohmann::json::array();
  for (const auto& p : r.points) {
    nlohmann::json j{{"mode", route_mode_name(p.mode)},
                     {"positions", p.positions},
                     {"mean_depth", p.mean_depth},
                     {"depth_histogram", p.depth_hist},
                     {"compute_fraction", p.compute_fraction},
                     {"compute_saved", 1 - p.compute_fraction},
                     {"perplexity", p.perplexity},
                     {"kl", p.kl},
                     {"top1_agreement", p.top1},
                     {"top1_agreement_clear", p.top1_clear},
                     {"revisit_fraction", p.revisit_fraction},
                     {"passes_with_revisit", p.passes_with_revisit}};
    if (p.mode != RouteMode::kFull) j["kv_policy"] = kv_policy_name(p.kv_policy);
    if (p.mode == RouteMode::kForward) j["threshold"] = p.threshold;
    pts.push_back(j);
  }
  return {{"num_layers", r.num_layers},         {"sequences", r.sequences},
          {"positions", r.positions},           {"tie_margin", r.tie_margin},
          {"near_tie_share", r.near_tie_share}, {"points", pts}};
}

std::string eval_table(const EvalResult& r) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%d sequences, %ld predicted positions, %d layers\n",
                r.sequences, r.positions, r.num_layers);
  out += line;
  std::snprintf(line, sizeof line,
                "near ties: %.1f%% of the positions (full depth's top two tokens within %g in "
                "log-probability); clear: top-1 agreement on the others\n",
                100 * r.near_tie_share, r.tie_margin);
  out += line;
  std::snprintf(line, sizeof line, "%-8s %-10s %5s %6s %8s %7s %9s %8s %7s %7s %7s  %s\n", "mode",
                "kv_policy", "thr", "depth", "compute", "saved", "ppl", "KL", "top-1", "clear",
                "revisit", "depth histogram 0.. (%)");
  out += line;
  for (const auto& p : r.points) {
    std::string hist;
    for (double h : p.depth_hist) {
      char b[16];
      std::snprintf(b, sizeof b, "%s%.0f", hist.empty() ? "" : " ", 100 * h);
      hist += b;
    }
    const bool full = p.mode == RouteMode::kFull;
    char thr[16];
    std::snprintf(thr, sizeof thr, "%.2f", p.threshold);
    std::snprintf(line, sizeof line,
                  "%-8s %-10s %5s %6.2f %7.1f%% %6.1f%% %9.3f %8.4f %6.1f%% %6.1f%% %6.1f%%  %s\n",
                  route_mode_name(p.mode), full ? "-" : kv_policy_name(p.kv_policy),
                  p.mode == RouteMode::kForward ? thr : "-", p.mean_depth, 100 * p.compute_fraction,
                  100 * (1 - p.compute_fraction), p.perplexity, p.kl, 100 * p.top1,
                  100 * p.top1_clear, 100 * p.revisit_fraction, hist.c_str());
    out += line;
  }
  return out;
}

std::string eval_csv(const EvalResult& r) {
  std::string out =
      "mode,kv_policy,threshold,positions,mean_depth,compute_fraction,compute_saved,perplexity,kl,"
      "top1_agreement,top1_agreement_clear,revisit_fraction,passes_with_revisit";
  size_t bins = 0;
  for (const auto& p : r.points) bins = std::max(bins, p.depth_hist.size());
  for (size_t d = 0; d < bins; ++d) out += ",depth_" + std::to_string(d);
  out += "\n";
  for (const auto& p : r.points) {
    const bool full = p.mode == RouteMode::kFull;
    char line[512];
    std::snprintf(line, sizeof line, "%s,%s,%s,%ld,%.6f,%.6f,%.6f,%.6f,%.8f,%.6f,%.6f,%.6f,%.6f",
                  route_mode_name(p.mode), full ? "" : kv_policy_name(p.kv_policy),
                  p.mode == RouteMode::kForward ? std::to_string(p.threshold).c_str() : "",
                  p.positions, p.mean_depth, p.compute_fraction, 1 - p.compute_fraction,
                  p.perplexity, p.kl, p.top1, p.top1_clear, p.revisit_fraction,
                  p.passes_with_revisit);
    out += line;
    for (size_t d = 0; d < bins; ++d) {
      char b[32];
      std::snprintf(b, sizeof b, ",%.6f", d < p.depth_hist.size() ? p.depth_hist[d] : 0.0);
      out += b;
    }
    out += "\n";
  }
  return out;
}

void plot_eval(const EvalResult& r, const std::string& png_path, const std::string& title) {
  LinePanel agree{"Top-1 agreement with full depth",
                  "compute fraction (layer FLOPs incl. router)",
                  "top-1 agreement",
                  {},
                  true,
                  true};
  LinePanel kl{"KL(full || routed), nats",
               "compute fraction (layer FLOPs incl. router)",
               "mean KL",
               {},
               true,
               false};
  LinePanel by_depth{"Top-1 agreement against mean depth",
                     "mean depth (layers executed)",
                     "top-1 agreement",
                     {},
                     false,
                     true};
  std::vector<KvPolicy> seen;
  for (const auto& p : r.points)
    if (p.mode != RouteMode::kFull &&
        std::find(seen.begin(), seen.end(), p.kv_policy) == seen.end())
      seen.push_back(p.kv_policy);
  for (KvPolicy pol : seen) {
    RouteMode m = RouteMode::kForward;
    for (const auto& p : r.points)
      if (p.mode != RouteMode::kFull && p.kv_policy == pol) m = p.mode;
    LineSeries a{std::string(route_mode_name(m)) + ", " + kv_policy_name(pol),
                 {},
                 {},
                 {},
                 pol == KvPolicy::kSparse};
    for (const auto& p : r.points) {
      if (p.mode == RouteMode::kFull || p.kv_policy != pol) continue;
      a.x.push_back(p.compute_fraction);
      a.y.push_back(p.top1);
      char b[16];
      std::snprintf(b, sizeof b, "%.2f", p.threshold);
      a.labels.push_back(p.mode == RouteMode::kForward ? b : "");
    }
    LineSeries k = a;
    k.y.clear();
    for (const auto& p : r.points)
      if (p.mode != RouteMode::kFull && p.kv_policy == pol) k.y.push_back(p.kl);
    LineSeries dep = a;
    dep.x.clear();
    for (const auto& p : r.points)
      if (p.mode != RouteMode::kFull && p.kv_policy == pol) dep.x.push_back(p.mean_depth);
    agree.series.push_back(a);
    if (seen.size() == 1) {  // one policy: its agreement on the clear positions, dashed
      LineSeries c = a;
      c.name += ", clear positions";
      c.dashed = true;
      c.labels.clear();
      c.y.clear();
      for (const auto& p : r.points)
        if (p.mode != RouteMode::kFull && p.kv_policy == pol) c.y.push_back(p.top1_clear);
      agree.series.push_back(c);
    }
    kl.series.push_back(k);
    by_depth.series.push_back(dep);
  }
  for (const auto& p : r.points)
    if (p.mode == RouteMode::kFull) {
      agree.series.push_back({"full depth", {p.compute_fraction}, {p.top1}, {}, false});
      kl.series.push_back({"full depth", {p.compute_fraction}, {p.kl}, {}, false});
      by_depth.series.push_back({"full depth", {p.mean_depth}, {p.top1}, {}, false});
    }
  plot_lines(title, {agree, kl, by_depth}, png_path);
}

}  // namespace radial::tools
