#include "scheduler/logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace radial {

void token_logprobs(std::span<const float> logits, float temperature, int id, int top_n,
                    float* chosen, std::vector<TokenLogprob>* top) {
  const double t = temperature > 0.f ? temperature : 1.0;
  const double ninf = -std::numeric_limits<double>::infinity();
  double mx = ninf;
  for (float l : logits) mx = std::max<double>(mx, l);
  // log sum exp((l - max) / t), in double.
  double sum = 0;
  if (std::isfinite(mx))
    for (float l : logits) sum += std::exp((static_cast<double>(l) - mx) / t);
  const double lse = std::isfinite(mx) ? std::log(sum) : 0;
  auto lp = [&](int i) -> float {
    if (!std::isfinite(mx)) return static_cast<float>(-std::log(double(logits.size())));
    const double l = logits[i];
    return l == ninf ? -std::numeric_limits<float>::infinity()
                     : static_cast<float>((l - mx) / t - lse);
  };
  *chosen = lp(id);
  if (top == nullptr || top_n <= 0) return;
  const int n = static_cast<int>(logits.size());
  const int k = std::min(top_n, n);
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  top->clear();
  for (int i = 0; i < k; ++i) top->push_back(TokenLogprob{order[i], lp(order[i])});
}

}  // namespace radial
