#include "reference_forward.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace radial::test {
namespace {

using Vec = std::vector<double>;

Vec to_vec(const float* p, int n) { return Vec(p, p + n); }

Vec rmsnorm(const Vec& x, const Tensor& w, double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double inv = 1.0 / std::sqrt(ss / x.size() + eps);
  Vec out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = w.f32()[i] * x[i] * inv;
  return out;
}

// y = W x (+ b), W [out, in] row-major.
Vec matvec(const Tensor& w, const Vec& x, const Tensor* b = nullptr) {
  const int64_t out = w.shape[0], in = w.shape[1];
  Vec y(out);
  for (int64_t o = 0; o < out; ++o) {
    double s = 0;
    for (int64_t i = 0; i < in; ++i) s += static_cast<double>(w.f32()[o * in + i]) * x[i];
    y[o] = s + (b && !b->empty() ? b->f32()[o] : 0.0);
  }
  return y;
}

double act(double v, Activation a) {
  switch (a) {
    case Activation::kSilu:
      return v / (1 + std::exp(-v));
    case Activation::kGelu:
      return 0.5 * v * (1 + std::erf(v / std::numbers::sqrt2));
    case Activation::kRelu:
      return v > 0 ? v : 0;
  }
  return v;
}

// RoPE at `pos` on `heads` heads (plain theta, no scaling: the test models use none).
void rope(Vec& x, int heads, int hd, int pos, const ModelConfig& c) {
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < hd / 2; ++i) {
      const double a = pos * std::pow(static_cast<double>(c.rope_theta), -2.0 * i / hd);
      const int i0 = c.rope_layout == RopeLayout::kHalfSplit ? i : 2 * i;
      const int i1 = c.rope_layout == RopeLayout::kHalfSplit ? i + hd / 2 : 2 * i + 1;
      const double x0 = x[h * hd + i0], x1 = x[h * hd + i1];
      x[h * hd + i0] = x0 * std::cos(a) - x1 * std::sin(a);
      x[h * hd + i1] = x0 * std::sin(a) + x1 * std::cos(a);
    }
}

// Qwen3's qk_norm: each head of x through RMSNorm with weights w [hd].
void norm_heads(Vec& x, int heads, int hd, const Tensor& w, double eps) {
  for (int h = 0; h < heads; ++h) {
    const Vec head(x.begin() + h * hd, x.begin() + (h + 1) * hd);
    const Vec n = rmsnorm(head, w, eps);
    std::copy(n.begin(), n.end(), x.begin() + h * hd);
  }
}

struct Model {
  const ModelWeights& w;
  const ModelConfig& c;
  // K/V tables [layer][position] (empty vector: no entry).
  std::vector<std::vector<Vec>> K, V;

  void write_kv(int j, int p, const Vec& h) {
    const LayerWeights& lw = w.layers[j];
    Vec x = rmsnorm(h, lw.attn_norm, c.rms_norm_eps);
    Vec k = matvec(lw.wk, x, &lw.bk);
    if (c.qk_norm) norm_heads(k, c.num_kv_heads, c.head_dim, lw.k_norm, c.rms_norm_eps);
    rope(k, c.num_kv_heads, c.head_dim, p, c);
    K[j][p] = k;
    V[j][p] = matvec(lw.wv, x, &lw.bv);
  }

  // Full layer j for position p: writes its K/V, attends over present entries <= p.
  void layer(int j, int p, Vec& h) {
    const LayerWeights& lw = w.layers[j];
    write_kv(j, p, h);
    Vec x = rmsnorm(h, lw.attn_norm, c.rms_norm_eps);
    Vec q = matvec(lw.wq, x, &lw.bq);
    if (c.qk_norm) norm_heads(q, c.num_heads, c.head_dim, lw.q_norm, c.rms_norm_eps);
    rope(q, c.num_heads, c.head_dim, p, c);
    const int hd = c.head_dim, group = c.num_heads / c.num_kv_heads;
    Vec att(c.q_dim(), 0.0);
    for (int head = 0; head < c.num_heads; ++head) {
      const int kh = head / group;
      std::vector<double> s;
      std::vector<int> who;
      for (int e = 0; e <= p; ++e) {
        if (K[j][e].empty()) continue;
        double dot = 0;
        for (int i = 0; i < hd; ++i) dot += q[head * hd + i] * K[j][e][kh * hd + i];
        s.push_back(dot / std::sqrt(static_cast<double>(hd)));
        who.push_back(e);
      }
      double mx = -1e300, sum = 0;
      for (double v : s) mx = std::max(mx, v);
      for (double& v : s) sum += (v = std::exp(v - mx));
      for (size_t n = 0; n < s.size(); ++n)
        for (int i = 0; i < hd; ++i) att[head * hd + i] += s[n] / sum * V[j][who[n]][kh * hd + i];
    }
    Vec o = matvec(lw.wo, att);
    for (size_t i = 0; i < h.size(); ++i) h[i] += o[i];
    Vec x2 = rmsnorm(h, lw.mlp_norm, c.rms_norm_eps);
    Vec g = matvec(lw.w_gate, x2), u = matvec(lw.w_up, x2);
    for (size_t i = 0; i < g.size(); ++i) g[i] = act(g[i], c.hidden_act) * u[i];
    Vec dn = matvec(lw.w_down, g);
    for (size_t i = 0; i < h.size(); ++i) h[i] += dn[i];
  }
};

Vec router_gates(const RouterWeights& r, const Vec& h) {
  Vec x = rmsnorm(h, r.norm, r.config.norm_eps);
  Vec hid = matvec(r.fc1_w, x, &r.fc1_b);
  for (double& v : hid) v = act(v, r.config.activation);
  return matvec(r.fc2_w, hid, &r.fc2_b);
}

}  // namespace

ReferenceResult reference_forward(const ModelWeights& w, const RouterWeights* router,
                                  const RoutingParams& rp, const std::vector<int>& tokens) {
  const ModelConfig& c = w.config;
  const int L = c.num_layers, n = static_cast<int>(tokens.size());
  Model m{w, c, std::vector<std::vector<Vec>>(L, std::vector<Vec>(n)),
          std::vector<std::vector<Vec>>(L, std::vector<Vec>(n))};
  ReferenceResult res;
  for (int p = 0; p < n; ++p) {
    Vec h = to_vec(w.embed.f32() + static_cast<int64_t>(tokens[p]) * c.hidden_size, c.hidden_size);
    std::vector<int> path;
    if (rp.mode == RouteMode::kFull) {
      for (int j = 0; j < L; ++j) {
        m.layer(j, p, h);
        path.push_back(j);
      }
    } else if (rp.mode == RouteMode::kForward) {
      auto next = [&](int last) {
        Vec g = router_gates(*router, h);
        for (int j = last + 1; j < L; ++j)
          if (router->config.is_pinned(j) || 1.0 / (1.0 + std::exp(-g[j])) >= rp.threshold)
            return j;
        return L;
      };
      int target = next(-1);
      for (int j = 0; j < L; ++j) {
        if (j == target) {
          m.layer(j, p, h);
          path.push_back(j);
          target = j + 1 < L ? next(j) : L;
        } else if (rp.kv_policy == KvPolicy::kPropagate) {
          m.write_kv(j, p, h);
        }
      }
    } else {  // radial
      int last = -1;
      while (static_cast<int>(path.size()) < rp.max_steps) {
        Vec g = router_gates(*router, h);
        int best = -1;
        for (int j = 0; j <= L; ++j)
          if (j != last && (best < 0 || g[j] > g[best])) best = j;
        if (best == L) break;
        m.layer(best, p, h);
        path.push_back(best);
        last = best;
      }
    }
    Vec x = rmsnorm(h, w.final_norm, c.rms_norm_eps);
    res.logits.push_back(matvec(w.lm_head, x));
    res.paths.push_back(path);
  }
  res.present.assign(L, std::vector<bool>(n));
  for (int j = 0; j < L; ++j)
    for (int p = 0; p < n; ++p) res.present[j][p] = !m.K[j][p].empty();
  return res;
}

RouterWeights constant_router(const ModelConfig& c, const std::vector<float>& gates, RouteMode mode,
                              KvPolicy policy, std::vector<int> pinned, int max_steps) {
  RouterWeights r;
  RouterConfig& rc = r.config;
  rc.num_layers = c.num_layers;
  rc.hidden_size = c.hidden_size;
  rc.router_hidden = 4;
  rc.mode = mode;
  rc.kv_policy = policy;
  rc.pinned_layers = std::move(pinned);
  rc.max_steps = max_steps;
  rc.threshold = 0.5f;
  r.norm = Tensor::zeros(DType::kF32, {c.hidden_size});
  for (int i = 0; i < c.hidden_size; ++i) r.norm.f32()[i] = 1.f;
  r.fc1_w = Tensor::zeros(DType::kF32, {4, c.hidden_size});
  r.fc1_b = Tensor::zeros(DType::kF32, {4});
  r.fc2_w = Tensor::zeros(DType::kF32, {c.num_layers + 1, 4});
  r.fc2_b = Tensor::zeros(DType::kF32, {c.num_layers + 1});
  for (int j = 0; j <= c.num_layers; ++j) r.fc2_b.f32()[j] = gates.at(j);
  rc.validate(c);
  return r;
}

}  // namespace radial::test
