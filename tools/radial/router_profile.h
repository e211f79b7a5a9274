// Residual-ratio profiling (`radial profile`): runs the sequential model
// (full mode) and measures, per layer and token, the residual ratio
// r = ||f(x)|| / ||x + f(x)|| of its attention block and of its MLP block
// (design note, section 1).
#pragma once

#include <memory>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "engine/model_weights.h"
#include "tools/radial/router_data.h"

namespace radial::tools {

// Order statistics of one set of ratios (linear interpolation between
// ranks), and the shares of values below 5% and 1%.
struct RatioSummary {
  long count = 0;
  double mean = 0, p10 = 0, p25 = 0, median = 0, p75 = 0, p90 = 0;
  double under_5pct = 0, under_1pct = 0;  // fractions in [0, 1]
};

RatioSummary summarize_ratios(std::vector<float> values);

struct LayerProfile {
  RatioSummary attn, mlp;
};

struct ProfileResult {
  int num_layers = 0;
  long positions = 0;  // tokens measured (every position of every sequence)
  int sequences = 0;
  std::vector<LayerProfile> layers;
};

// Per-token residual ratios of every layer, [layer][token] for attention
// and MLP, tokens in corpus order (sequence by sequence, position order).
struct TokenRatios {
  std::vector<std::vector<float>> attn, mlp;
};

// Runs `corpus` in full mode and records every token's ratios.
TokenRatios measure_ratios(std::shared_ptr<const ModelWeights> weights, const Corpus& corpus,
                           const Compute& compute);

// measure_ratios summarised per layer.
ProfileResult profile_model(std::shared_ptr<const ModelWeights> weights, const Corpus& corpus,
                            const Compute& compute);

// The profile as JSON: {"num_layers", "positions", "sequences", "layers":
// [{"layer", "attn": {count, mean, p10, p25, median, p75, p90, under_5pct,
// under_1pct}, "mlp": {...}}]}.
nlohmann::json to_json(const ProfileResult& p);
// A fixed-width text table, one line per layer.
std::string profile_table(const ProfileResult& p);
// A box plot (p10/p25/median/p75/p90) per layer for attention and MLP.
void plot_profile(const ProfileResult& p, const std::string& png_path, const std::string& title);

}  // namespace radial::tools
