#include "tools/radial/latency_stats.h"

#include <algorithm>

namespace radial::cli {

// Percentiles with linear interpolation between order statistics.
Stats stats_of(std::vector<double> v) {
  Stats s;
  s.count = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / v.size();
  auto pct = [&](double p) {
    const double pos = p / 100 * (v.size() - 1);
    const size_t k = static_cast<size_t>(pos);
    const double f = pos - k;
    return k + 1 < v.size() ? v[k] * (1 - f) + v[k + 1] * f : v[k];
  };
  s.p50 = pct(50);
  s.p90 = pct(90);
  s.p99 = pct(99);
  return s;
}

nlohmann::json stats_json_ms(const Stats& s) {
  if (s.count == 0)
    return {{"count", 0}, {"mean", nullptr}, {"p50", nullptr}, {"p90", nullptr}, {"p99", nullptr}};
  return {{"count", s.count},
          {"mean", 1000 * s.mean},
          {"p50", 1000 * s.p50},
          {"p90", 1000 * s.p90},
          {"p99", 1000 * s.p99}};
}

}  // namespace radial::cli
