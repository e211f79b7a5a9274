#include "tools/radial/router_profile.h"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "tools/radial/plot.h"

namespace radial::tools {
namespace {

// Records the ratios of every full row, addressed by the row's slot.
class RatioProbe final : public BlockProbe {
 public:
  RatioProbe(int layers, int slots) : attn_(layers, std::vector<float>(slots)), mlp_(attn_) {}
  void on_block(int layer, const LayerRow& row, const BlockNorms& n) override {
    attn_[layer][row.slot] = n.after_attn > 0 ? n.attn_out / n.after_attn : 0.f;
    mlp_[layer][row.slot] = n.after_mlp > 0 ? n.mlp_out / n.after_mlp : 0.f;
  }
  std::vector<std::vector<float>> attn_, mlp_;  // [layer][slot]
};

double quantile(const std::vector<float>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q * (sorted.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

nlohmann::json summary_json(const RatioSummary& s) {
  return {
      {"count", s.count},          {"mean", s.mean}, {"p10", s.p10}, {"p25", s.p25},
      {"median", s.median},        {"p75", s.p75},   {"p90", s.p90}, {"under_5pct", s.under_5pct},
      {"under_1pct", s.under_1pct}};
}

}  // namespace

RatioSummary summarize_ratios(std::vector<float> v) {
  RatioSummary s;
  s.count = static_cast<long>(v.size());
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  double sum = 0;
  long u5 = 0, u1 = 0;
  for (float x : v) {
    sum += x;
    u5 += x < 0.05f;
    u1 += x < 0.01f;
  }
  s.mean = sum / v.size();
  s.p10 = quantile(v, 0.10);
  s.p25 = quantile(v, 0.25);
  s.median = quantile(v, 0.50);
  s.p75 = quantile(v, 0.75);
  s.p90 = quantile(v, 0.90);
  s.under_5pct = static_cast<double>(u5) / v.size();
  s.under_1pct = static_cast<double>(u1) / v.size();
  return s;
}

TokenRatios measure_ratios(std::shared_ptr<const ModelWeights> weights, const Corpus& corpus,
                           const Compute& compute) {
  const ModelConfig& c = weights->config;
  const int L = c.num_layers;
  const int wave = default_wave_positions(c);
  WaveRunner runner(weights, nullptr, wave, default_wave_sequences(wave), compute);
  RatioProbe probe(L, wave);
  TokenRatios out;
  out.attn.assign(L, {});
  out.mlp.assign(L, {});
  for (int l = 0; l < L; ++l) {
    out.attn[l].reserve(corpus_positions(corpus));
    out.mlp[l].reserve(corpus_positions(corpus));
  }
  // The probe records by slot; at the head, each pass copies its slot's
  // ratios out (passes reach the head in corpus order within a wave).
  WaveVisitor v;
  v.on_logits = [&](int, const Pass& p, const float*) {
    for (int l = 0; l < L; ++l) {
      out.attn[l].push_back(probe.attn_[l][p.slot]);
      out.mlp[l].push_back(probe.mlp_[l][p.slot]);
    }
  };
  runner.engine().set_block_probe(&probe);
  try {
    runner.run_all(corpus, routing_params(RouteMode::kFull, 0.f, KvPolicy::kPropagate, L), v);
  } catch (...) {
    runner.engine().set_block_probe(nullptr);
    throw;
  }
  runner.engine().set_block_probe(nullptr);
  return out;
}

ProfileResult profile_model(std::shared_ptr<const ModelWeights> weights, const Corpus& corpus,
                            const Compute& compute) {
  TokenRatios r = measure_ratios(weights, corpus, compute);
  ProfileResult p;
  p.num_layers = weights->config.num_layers;
  p.sequences = static_cast<int>(corpus.size());
  p.positions = corpus_positions(corpus);
  for (int l = 0; l < p.num_layers; ++l)
    p.layers.push_back(
        {summarize_ratios(std::move(r.attn[l])), summarize_ratios(std::move(r.mlp[l]))});
  return p;
}

nlohmann::json to_json(const ProfileResult& p) {
  nlohmann::json layers = nlohmann::json::array();
  for (int l = 0; l < p.num_layers; ++l)
    layers.push_back({{"layer", l},
                      {"attn", summary_json(p.layers[l].attn)},
                      {"mlp", summary_json(p.layers[l].mlp)}});
  return {{"num_layers", p.num_layers},
          {"positions", p.positions},
          {"sequences", p.sequences},
          {"layers", layers}};
}

std::string profile_table(const ProfileResult& p) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line,
                "residual ratio ||f(x)|| / ||x + f(x)|| over %ld tokens (%d sequences)\n",
                p.positions, p.sequences);
  out += line;
  std::snprintf(line, sizeof line, "%-6s | %-7s %-7s %-7s %-6s %-6s | %-7s %-7s %-7s %-6s %-6s\n",
                "layer", "attn", "p10", "p90", "<5%", "<1%", "mlp", "p10", "p90", "<5%", "<1%");
  out += line;
  std::snprintf(line, sizeof line, "%-6s | %-7s %-7s %-7s %-6s %-6s | %-7s %-7s %-7s %-6s %-6s\n",
                "", "median", "", "", "", "", "median", "", "", "", "");
  out += line;
  for (int l = 0; l < p.num_layers; ++l) {
    const RatioSummary &a = p.layers[l].attn, &m = p.layers[l].mlp;
    std::snprintf(
        line, sizeof line,
        "%-6d | %-7.4f %-7.4f %-7.4f %5.1f%% %5.1f%% | %-7.4f %-7.4f %-7.4f %5.1f%% %5.1f%%\n", l,
        a.median, a.p10, a.p90, 100 * a.under_5pct, 100 * a.under_1pct, m.median, m.p10, m.p90,
        100 * m.under_5pct, 100 * m.under_1pct);
    out += line;
  }
  return out;
}

void plot_profile(const ProfileResult& p, const std::string& png_path, const std::string& title) {
  std::vector<std::string> cats;
  BoxSeries attn{"attention", {}}, mlp{"MLP", {}};
  for (int l = 0; l < p.num_layers; ++l) {
    cats.push_back(std::to_string(l));
    const RatioSummary &a = p.layers[l].attn, &m = p.layers[l].mlp;
    attn.boxes.push_back({a.p10, a.p25, a.median, a.p75, a.p90});
    mlp.boxes.push_back({m.p10, m.p25, m.median, m.p75, m.p90});
  }
  BoxChart chart;
  chart.title = title;
  chart.x_label = "layer";
  chart.y_label = "residual ratio ||f(x)|| / ||x + f(x)||";
  chart.note = "box: p25-p75, line: median, whiskers: p10-p90";
  chart.categories = cats;
  chart.series = {attn, mlp};
  plot_boxes(chart, png_path);
}

}  // namespace radial::tools
