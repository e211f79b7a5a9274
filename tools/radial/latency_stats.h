// Summary statistics of latency samples (seconds) for the benchmarks:
// count, mean and percentiles with linear interpolation between order
// statistics.
#pragma once

#include <cstddef>
#include <vector>

#include <nlohmann/json.hpp>

namespace radial::cli {

struct Stats {
  size_t count = 0;
  double mean = 0, p50 = 0, p90 = 0, p99 = 0;
};

Stats stats_of(std::vector<double> v);

// {count, mean, p50, p90, p99} in milliseconds (nulls when empty).
nlohmann::json stats_json_ms(const Stats& s);

}  // namespace radial::cli
