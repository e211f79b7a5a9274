#include "scheduler/logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace radial {

void token_logprobs(std::span<const float> logits, float temperature, int id, int top_n,
                    float* chosen, std::vector<TokenLogprob>* top) {
  const double t = temperature > 0.f ? temperature : 1.0;
  const double ninf = -std::numeric_limits<double>::infinity();
  // The largest logit (NaN never), over 8 independent lanes: a vocabulary
  // of 128K is one pass at the speed of the loads, not of maxss's latency.
  const size_t V = logits.size();
  float lane[8];
  std::fill(lane, lane + 8, -std::numeric_limits<float>::infinity());
  size_t i = 0;
  for (; i + 8 <= V; i += 8)
    for (int j = 0; j < 8; ++j) lane[j] = logits[i + j] > lane[j] ? logits[i + j] : lane[j];
  for (; i < V; ++i) lane[0] = logits[i] > lane[0] ? logits[i] : lane[0];
  const double mx = *std::max_element(lane, lane + 8);
  // log sum exp((l - max) / t): each term in float (expf: within an ulp),
  // summed in double over 4 lanes.
  double sum = 0;
  if (std::isfinite(mx)) {
    const float mxf = static_cast<float>(mx), tf = static_cast<float>(t);
    double part[4] = {0, 0, 0, 0};
    for (i = 0; i + 4 <= V; i += 4)
      for (int j = 0; j < 4; ++j) part[j] += std::exp((logits[i + j] - mxf) / tf);
    for (; i < V; ++i) part[0] += std::exp((logits[i] - mxf) / tf);
    sum = (part[0] + part[1]) + (part[2] + part[3]);
  }
  const double lse = std::isfinite(mx) ? std::log(sum) : 0;
  auto lp = [&](int i) -> float {
    if (!std::isfinite(mx)) return static_cast<float>(-std::log(double(logits.size())));
    const double l = logits[i];
    return l == ninf ? -std::numeric_limits<float>::infinity()
                     : static_cast<float>((l - mx) / t - lse);
  };
  *chosen = lp(id);
  if (top == nullptr || top_n <= 0) return;
  // The k best in one pass: `best` stays sorted best first (logit desc,
  // then id asc); ids in increasing order, so an equal logit never displaces.
  const int n = static_cast<int>(logits.size());
  const size_t k = static_cast<size_t>(std::min(top_n, n));
  std::vector<int> best;
  best.reserve(k);
  for (int i = 0; i < n; ++i) {
    if (best.size() == k && !(logits[i] > logits[best.back()])) continue;
    if (best.size() == k) best.pop_back();
    auto at = std::upper_bound(best.begin(), best.end(), i, [&](int a, int b) {
      return logits[a] > logits[b];  // (b is earlier: on a tie `a` goes after it)
    });
    best.insert(at, i);
  }
  top->clear();
  for (int i : best) top->push_back(TokenLogprob{i, lp(i)});
}

}  // namespace radial
