#ifdef RADIAL_WITH_CLIENT

#include "tools/radial/bench_report.h"

#include <cstdio>
#include <map>
#include <sstream>

#include "tools/radial/latency_stats.h"

namespace radial::cli {

BenchReport bench_report(const BenchConfig& cfg, const client::ModelInfo& model,
                         const std::vector<BenchSample>& samples, const BenchRunInfo& run) {
  std::map<std::string, long> by_status;
  std::map<std::string, std::string> first_error;
  std::vector<double> ttft, itl, e2e;
  long ok = 0;
  long prompt_tokens = 0, output_tokens = 0, cached_tokens = 0;
  double depth_sum = 0, compute_sum = 0;
  for (const BenchSample& s : samples) {
    const std::string code = client::status_code_name(s.code);
    ++by_status[code];
    if (s.code != client::StatusCode::kOk) {
      first_error.emplace(code, s.message);
      continue;
    }
    ++ok;
    prompt_tokens += s.prompt_tokens;
    cached_tokens += s.cached_prompt_tokens;
    output_tokens += s.output_tokens;
    depth_sum += s.depth_sum;
    compute_sum += s.compute_sum;
    if (s.ttft >= 0) ttft.push_back(s.ttft);
    e2e.push_back(s.e2e);
    itl.insert(itl.end(), s.itl.begin(), s.itl.end());
  }
  const long failed = static_cast<long>(samples.size()) - ok;
  const double wall = run.wall_seconds;
  const Stats ttft_s = stats_of(ttft), itl_s = stats_of(itl), e2e_s = stats_of(e2e);
  const double mean_depth = output_tokens > 0 ? depth_sum / static_cast<double>(output_tokens) : 0;
  const double compute = output_tokens > 0 ? compute_sum / static_cast<double>(output_tokens) : 0;
  char load[128];
  if (cfg.open_loop) {
    std::snprintf(load, sizeof load, "open loop, Poisson %g req/s (max in flight %d)", cfg.rate,
                  cfg.max_inflight);
  } else {
    std::snprintf(load, sizeof load, "closed loop, concurrency %d", cfg.concurrency);
  }
  const client::RoutingMode mode =
      cfg.mode != client::RoutingMode::kDefault ? cfg.mode : model.routing_mode;

  nlohmann::json j;
  j["server"] = cfg.channel.target;
  j["api"] = cfg.api;
  j["model"] = model.name;
  j["num_layers"] = model.num_layers;
  j["mode"] = client::routing_mode_name(mode);
  if (cfg.threshold) j["threshold"] = *cfg.threshold;
  if (cfg.open_loop) {
    j["load"] = {{"type", "poisson"}, {"rate", cfg.rate}, {"max_inflight", cfg.max_inflight}};
  } else {
    j["load"] = {{"type", "closed"}, {"concurrency", cfg.concurrency}};
  }
  j["config"] = {
      {"requests", cfg.requests > 0 ? nlohmann::json(cfg.requests) : nlohmann::json(nullptr)},
      {"duration_s", cfg.duration},
      {"prompt_len", {cfg.prompt_len.lo, cfg.prompt_len.hi}},
      {"shared_prefix", cfg.shared_prefix},
      {"max_tokens", {cfg.max_tokens.lo, cfg.max_tokens.hi}},
      {"temperature", cfg.temperature},
      {"seed", cfg.seed},
      {"timeout_s", cfg.timeout.count() / 1000.0}};
  j["interrupted"] = run.interrupted;
  j["requests"] = {{"sent", run.sent}, {"ok", ok}, {"failed", failed}, {"by_status", by_status}};
  j["errors"] = first_error;
  j["duration_s"] = wall;
  j["throughput"] = {
      {"requests_per_s", wall > 0 ? ok / wall : 0.0},
      {"output_tokens_per_s", wall > 0 ? static_cast<double>(output_tokens) / wall : 0.0},
      {"total_tokens_per_s",
       wall > 0 ? static_cast<double>(prompt_tokens + output_tokens) / wall : 0.0}};
  j["tokens"] = {
      {"prompt", prompt_tokens}, {"prompt_cached", cached_tokens}, {"output", output_tokens}};
  j["ttft_ms"] = stats_json_ms(ttft_s);
  j["itl_ms"] = stats_json_ms(itl_s);
  j["e2e_ms"] = stats_json_ms(e2e_s);
  j["mean_depth"] = mean_depth;
  j["compute_fraction"] = compute;

  std::ostringstream rep;
  char buf[512];
  std::snprintf(buf, sizeof buf, "radial bench: %s (%s, %u layers), mode %s, %s%s\n",
                cfg.channel.target.c_str(), model.name.c_str(), model.num_layers,
                client::routing_mode_name(mode), load, run.interrupted ? " (interrupted)" : "");
  rep << buf;
  std::snprintf(buf, sizeof buf, "  requests      %ld ok, %ld failed (%ld sent)\n", ok, failed,
                run.sent);
  rep << buf;
  for (const auto& [code, n] : by_status) {
    if (code == "OK") continue;
    std::snprintf(buf, sizeof buf, "    %-20s %ld  (e.g. \"%s\")\n", code.c_str(), n,
                  first_error[code].substr(0, 200).c_str());
    rep << buf;
  }
  std::snprintf(buf, sizeof buf, "  duration      %.3f s\n", wall);
  rep << buf;
  std::snprintf(
      buf, sizeof buf, "  throughput    %.2f req/s, %.1f output tok/s, %.1f total tok/s\n",
      wall > 0 ? ok / wall : 0.0, wall > 0 ? static_cast<double>(output_tokens) / wall : 0.0,
      wall > 0 ? static_cast<double>(prompt_tokens + output_tokens) / wall : 0.0);
  rep << buf;
  std::snprintf(buf, sizeof buf,
                "  tokens        %ld prompt, %ld output (%.1f / %.1f per request)\n", prompt_tokens,
                output_tokens, ok ? static_cast<double>(prompt_tokens) / ok : 0.0,
                ok ? static_cast<double>(output_tokens) / ok : 0.0);
  rep << buf;
  std::snprintf(
      buf, sizeof buf, "  prefix cache  %ld of the prompt tokens (%.1f%%)\n", cached_tokens,
      prompt_tokens > 0 ? 100.0 * cached_tokens / static_cast<double>(prompt_tokens) : 0.0);
  rep << buf;
  rep << "  latency (ms)       mean       p50       p90       p99\n";
  for (const auto& [name, s] :
       {std::pair<const char*, Stats>{"TTFT", ttft_s}, {"ITL", itl_s}, {"E2E", e2e_s}}) {
    if (s.count == 0) {
      std::snprintf(buf, sizeof buf, "    %-6s  %9s %9s %9s %9s\n", name, "-", "-", "-", "-");
    } else {
      std::snprintf(buf, sizeof buf, "    %-6s  %9.2f %9.2f %9.2f %9.2f\n", name, 1000 * s.mean,
                    1000 * s.p50, 1000 * s.p90, 1000 * s.p99);
    }
    rep << buf;
  }
  std::snprintf(
      buf, sizeof buf,
      "  depth         %.2f of %u layers per output token, compute %.1f%% of full depth\n",
      mean_depth, model.num_layers, 100 * compute);
  rep << buf;

  BenchReport out;
  out.json = std::move(j);
  out.text = rep.str();
  out.ok = ok;
  out.failed = failed;
  return out;
}

}  // namespace radial::cli

#endif  // RADIAL_WITH_CLIENT
