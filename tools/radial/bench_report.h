// `radial bench`'s configuration, its per-request samples, and the report
// it prints (text) and writes (JSON) from them.
#pragma once

#ifdef RADIAL_WITH_CLIENT

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/radial/args.h"
#include "tools/radial/remote.h"

namespace radial::cli {

constexpr double kMaxBenchDurationSeconds = 600;

struct BenchConfig {
  client::ChannelOptions channel;
  std::string api = "grpc";  // grpc | openai
  bool open_loop = false;
  int concurrency = 1;     // closed loop
  double rate = 0;         // open loop: requests per second
  int max_inflight = 256;  // open loop
  long requests = 0;       // 0: until the duration ends
  double duration = kMaxBenchDurationSeconds;
  Range prompt_len, max_tokens;
  long shared_prefix = 0;  // tokens every prompt starts with
  client::RoutingMode mode = client::RoutingMode::kDefault;
  std::optional<float> threshold;
  float temperature = 0;
  uint64_t seed = 0;
  std::chrono::milliseconds timeout{60000};
  std::optional<std::string> json_path;
};

// One finished request.
struct BenchSample {
  client::StatusCode code = client::StatusCode::kOk;
  std::string message;
  uint32_t prompt_tokens = 0;
  uint32_t cached_prompt_tokens = 0;  // served from the server's prefix cache
  uint32_t output_tokens = 0;
  double ttft = -1;  // seconds; -1 without tokens
  double e2e = 0;
  std::vector<double> itl;  // gaps between consecutive tokens
  double depth_sum = 0, compute_sum = 0;
};

// What a run produced besides its samples.
struct BenchRunInfo {
  long sent = 0;             // requests sent
  bool interrupted = false;  // Ctrl-C
  double wall_seconds = 0;
};

struct BenchReport {
  nlohmann::json json;  // the --json object
  std::string text;     // the report, lines ending in '\n'
  long ok = 0, failed = 0;
};

// Aggregates the successful samples (latency percentiles, throughput over
// the wall time, mean depth and compute fraction per output token) and the
// failed ones (counted per gRPC status name, the first message of each).
BenchReport bench_report(const BenchConfig& cfg, const client::ModelInfo& model,
                         const std::vector<BenchSample>& samples, const BenchRunInfo& run);

}  // namespace radial::cli

#endif  // RADIAL_WITH_CLIENT
