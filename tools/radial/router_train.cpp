#include "tools/radial/router_train.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/error.h"

namespace radial::tools {
namespace {

double act(double z, Activation a) {
  switch (a) {
    case Activation::kSilu:
      return z / (1 + std::exp(-z));
    case Activation::kGelu:
      return 0.5 * z * (1 + std::erf(z / std::numbers::sqrt2));
    case Activation::kRelu:
      return z > 0 ? z : 0;
  }
  return z;
}

double act_grad(double z, Activation a) {
  switch (a) {
    case Activation::kSilu: {
      const double s = 1 / (1 + std::exp(-z));
      return s * (1 + z * (1 - s));
    }
    case Activation::kGelu:
      return 0.5 * (1 + std::erf(z / std::numbers::sqrt2)) +
             z * std::exp(-0.5 * z * z) / std::sqrt(2 * std::numbers::pi);
    case Activation::kRelu:
      return z > 0 ? 1 : 0;
  }
  return 1;
}

// Binary cross-entropy of logit g against target y, and its gradient.
double bce(double g, double y, double* grad) {
  const double p = 1 / (1 + std::exp(-g));
  *grad = p - y;
  // log(1 + e^g) - y g, computed stably.
  return std::max(g, 0.0) + std::log1p(std::exp(-std::abs(g))) - y * g;
}

}  // namespace

void GateDataset::add(const float* h, int last_layer, const float* y) {
  states.insert(states.end(), h, h + hidden);
  last.push_back(last_layer);
  targets.insert(targets.end(), y, y + num_layers);
}

int consulted_end(const RouterConfig& rc, int last) {
  for (int j = last + 1; j < rc.num_layers; ++j)
    if (rc.is_pinned(j)) return j;
  return rc.num_layers;
}

RouterTrainer::RouterTrainer(const RouterConfig& rc, uint64_t seed, const AdamOptions& adam)
    : rc_(rc),
      d_(rc.hidden_size),
      r_(rc.router_hidden),
      g_(rc.num_layers + 1),
      adam_(adam),
      rng_(seed) {
  p_.norm.assign(d_, 1.f);
  p_.w1.resize(static_cast<size_t>(r_) * d_);
  for (float& w : p_.w1) w = rng_.normal() / std::sqrt(static_cast<float>(d_));
  p_.b1.assign(r_, 0.f);
  p_.w2.resize(static_cast<size_t>(g_) * r_);
  for (float& w : p_.w2) w = rng_.normal() * 0.1f / std::sqrt(static_cast<float>(r_));
  p_.b2.assign(g_, 0.f);
  auto zeros = [](const Params& p) {
    return Params{std::vector<float>(p.norm.size()), std::vector<float>(p.w1.size()),
                  std::vector<float>(p.b1.size()), std::vector<float>(p.w2.size()),
                  std::vector<float>(p.b2.size())};
  };
  m_ = zeros(p_);
  v_ = zeros(p_);
}

void RouterTrainer::init_bias(const GateDataset& data) {
  std::vector<double> sum(g_, 0);
  std::vector<long> n(g_, 0);
  for (size_t i = 0; i < data.size(); ++i)
    for (int j = data.last[i] + 1; j < consulted_end(rc_, data.last[i]); ++j) {
      sum[j] += data.targets[i * data.num_layers + j];
      ++n[j];
    }
  for (int j = 0; j < rc_.num_layers; ++j) {
    const double m = std::clamp(n[j] ? sum[j] / n[j] : 0.5, 0.02, 0.98);
    p_.b2[j] = static_cast<float>(std::log(m / (1 - m)));
  }
}

double RouterTrainer::example(const GateDataset& data, size_t i, Params* grad, int* count) const {
  const int last = data.last[i], end = consulted_end(rc_, last);
  *count = end - last - 1;
  if (*count <= 0) return 0;
  const float* h = data.states.data() + i * d_;
  const float* y = data.targets.data() + i * data.num_layers;
  thread_local std::vector<double> xhat, xn, z, a, dz, da, dxn;
  xhat.resize(d_);
  xn.resize(d_);
  z.resize(r_);
  a.resize(r_);
  // rmsnorm: xn = norm * h / rms(h)
  double ss = 0;
  for (int k = 0; k < d_; ++k) ss += static_cast<double>(h[k]) * h[k];
  const double inv = 1 / std::sqrt(ss / d_ + rc_.norm_eps);
  for (int k = 0; k < d_; ++k) {
    xhat[k] = h[k] * inv;
    xn[k] = p_.norm[k] * xhat[k];
  }
  for (int u = 0; u < r_; ++u) {
    const float* w = p_.w1.data() + static_cast<size_t>(u) * d_;
    double s = p_.b1[u];
    for (int k = 0; k < d_; ++k) s += w[k] * xn[k];
    z[u] = s;
    a[u] = act(s, rc_.activation);
  }
  double loss = 0;
  da.assign(r_, 0.0);
  for (int j = last + 1; j < end; ++j) {
    const float* w = p_.w2.data() + static_cast<size_t>(j) * r_;
    double gj = p_.b2[j];
    for (int u = 0; u < r_; ++u) gj += w[u] * a[u];
    double dg;
    loss += bce(gj, y[j], &dg);
    if (!grad) continue;
    grad->b2[j] += static_cast<float>(dg);
    float* gw = grad->w2.data() + static_cast<size_t>(j) * r_;
    for (int u = 0; u < r_; ++u) {
      gw[u] += static_cast<float>(dg * a[u]);
      da[u] += dg * w[u];
    }
  }
  if (!grad) return loss;
  dz.resize(r_);
  for (int u = 0; u < r_; ++u) dz[u] = da[u] * act_grad(z[u], rc_.activation);
  dxn.assign(d_, 0.0);
  for (int u = 0; u < r_; ++u) {
    if (dz[u] == 0) continue;
    const float* w = p_.w1.data() + static_cast<size_t>(u) * d_;
    float* gw = grad->w1.data() + static_cast<size_t>(u) * d_;
    grad->b1[u] += static_cast<float>(dz[u]);
    for (int k = 0; k < d_; ++k) {
      gw[k] += static_cast<float>(dz[u] * xn[k]);
      dxn[k] += dz[u] * w[k];
    }
  }
  for (int k = 0; k < d_; ++k) grad->norm[k] += static_cast<float>(dxn[k] * xhat[k]);
  return loss;
}

void RouterTrainer::adam_step(const Params& grad, double scale) {
  ++step_;
  const double c1 = 1 - std::pow(adam_.beta1, static_cast<double>(step_));
  const double c2 = 1 - std::pow(adam_.beta2, static_cast<double>(step_));
  auto update = [&](std::vector<float>& p, const std::vector<float>& g, std::vector<float>& m,
                    std::vector<float>& v, bool decay) {
    for (size_t i = 0; i < p.size(); ++i) {
      const double gi = g[i] * scale;
      m[i] = static_cast<float>(adam_.beta1 * m[i] + (1 - adam_.beta1) * gi);
      v[i] = static_cast<float>(adam_.beta2 * v[i] + (1 - adam_.beta2) * gi * gi);
      double step = adam_.lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + adam_.eps);
      if (decay) step += adam_.lr * adam_.weight_decay * p[i];
      p[i] = static_cast<float>(p[i] - step);
    }
  };
  update(p_.norm, grad.norm, m_.norm, v_.norm, false);
  update(p_.w1, grad.w1, m_.w1, v_.w1, true);
  update(p_.b1, grad.b1, m_.b1, v_.b1, false);
  update(p_.w2, grad.w2, m_.w2, v_.w2, true);
  update(p_.b2, grad.b2, m_.b2, v_.b2, false);
}

double RouterTrainer::epoch(const GateDataset& data, int batch_size,
                            const std::function<void(double, double)>& on_batch) {
  require(data.hidden == d_ && data.num_layers == rc_.num_layers, ErrorCode::kInternal,
          "gate dataset does not match the router");
  require(batch_size >= 1, ErrorCode::kInvalidArgument, "batch size must be at least 1");
  const size_t n = data.size();
  order_.resize(n);
  for (size_t i = 0; i < n; ++i) order_[i] = i;
  for (size_t i = n; i > 1; --i) std::swap(order_[i - 1], order_[rng_.next() % i]);  // Fisher-Yates
  Params grad{std::vector<float>(p_.norm.size()), std::vector<float>(p_.w1.size()),
              std::vector<float>(p_.b1.size()), std::vector<float>(p_.w2.size()),
              std::vector<float>(p_.b2.size())};
  double total = 0;
  long total_count = 0;
  for (size_t b = 0; b < n; b += batch_size) {
    for (auto* v : {&grad.norm, &grad.w1, &grad.b1, &grad.w2, &grad.b2})
      std::fill(v->begin(), v->end(), 0.f);
    long count = 0;
    for (size_t i = b; i < std::min(n, b + batch_size); ++i) {
      int c = 0;
      total += example(data, order_[i], &grad, &c);
      count += c;
    }
    total_count += count;
    if (count > 0) adam_step(grad, 1.0 / count);
    if (on_batch)
      on_batch(static_cast<double>(std::min(n, b + batch_size)) / n,
               total_count ? total / total_count : 0);
  }
  return total_count ? total / total_count : 0;
}

double RouterTrainer::loss(const GateDataset& data) const {
  double total = 0;
  long count = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    int c = 0;
    total += example(data, i, nullptr, &c);
    count += c;
  }
  return count ? total / count : 0;
}

void RouterTrainer::gates(const float* h, float* g) const {
  double ss = 0;
  for (int k = 0; k < d_; ++k) ss += static_cast<double>(h[k]) * h[k];
  const double inv = 1 / std::sqrt(ss / d_ + rc_.norm_eps);
  thread_local std::vector<double> xn, a;
  xn.resize(d_);
  a.resize(r_);
  for (int k = 0; k < d_; ++k) xn[k] = p_.norm[k] * h[k] * inv;
  for (int u = 0; u < r_; ++u) {
    double s = p_.b1[u];
    for (int k = 0; k < d_; ++k) s += p_.w1[static_cast<size_t>(u) * d_ + k] * xn[k];
    a[u] = act(s, rc_.activation);
  }
  for (int j = 0; j < g_; ++j) {
    double s = p_.b2[j];
    for (int u = 0; u < r_; ++u) s += p_.w2[static_cast<size_t>(j) * r_ + u] * a[u];
    g[j] = static_cast<float>(s);
  }
}

RouterWeights RouterTrainer::weights() const {
  RouterWeights w;
  w.config = rc_;
  auto tensor = [](const std::vector<float>& v, std::vector<int64_t> shape) {
    Tensor t = Tensor::zeros(DType::kF32, std::move(shape));
    std::copy(v.begin(), v.end(), t.f32());
    return t;
  };
  w.norm = tensor(p_.norm, {d_});
  w.fc1_w = tensor(p_.w1, {r_, d_});
  w.fc1_b = tensor(p_.b1, {r_});
  w.fc2_w = tensor(p_.w2, {g_, r_});
  w.fc2_b = tensor(p_.b2, {g_});
  w.validate();
  return w;
}

}  // namespace radial::tools
