// `radial bench-engine`: engine-only throughput and latency (no scheduler,
// no gRPC) on the chosen backend: decode tokens/s at several concurrencies
// and prefill tokens/s, in full mode and forward mode, each beside its
// floor (bytes over the measured memory bandwidth, FLOPs over the measured
// GEMM rate, whichever is larger).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/cpu/gemm.h"
#include "engine/cpu/thread_pool.h"
#include "engine/error.h"
#include "engine/kv_sizing.h"
#include "engine/model_bundle.h"
#include "engine/random.h"
#include "tools/radial/args.h"
#include "tools/radial/backend_choice.h"
#include "tools/radial/commands.h"
#include "tools/radial/common.h"
#include "tools/radial/engine_sweep.h"
#include "tools/radial/latency_stats.h"
#ifdef RADIAL_WITH_CUDA_BACKEND
#include "kernels/cuda_backend.h"
#endif

namespace radial::cli {
namespace {

const char* kUsage =
    "usage: radial bench-engine [--model PATH | --dummy-config CONFIG.json [--dummy-seed N]]\n"
    "                           [--router DIR | --no-router] [--backend cpu|cuda]\n"
    "                           [--dtype auto|f32|bf16|f16|q8_0] [--gpu-memory-fraction F | "
    "--kv-blocks N]\n"
    "                           [--concurrency 1,8,64,256] [--prompt-len 512] [--gen-tokens 256]\n"
    "                           [--prefill-len 2048] [--prefill-seqs 8] [--modes full,forward]\n"
    "                           [--threshold X] [--batch-rows 2048] [--threads N] [--seed S]\n"
    "                           [--json FILE]\n"
    "\n"
    "Drives the engine directly with fixed workloads (ascending sweeps, sampling on the\n"
    "backend, greedy): for each mode and concurrency N, N sequences with random prompts of\n"
    "--prompt-len tokens are prefilled, then generate --gen-tokens tokens each; decode\n"
    "tokens/s and the median time per decode step are reported. Prefill: --prefill-seqs\n"
    "prompts of --prefill-len tokens, as many per sweep as --batch-rows allows. Lengths\n"
    "are clamped to the model's context. Forward mode uses the model's router (a random\n"
    "one, seed --seed, with random weights or none) at --threshold (default: the router's).\n"
    "\n"
    "Each figure has its floor beside it: the bytes the step must read (weights of every\n"
    "layer some pass runs, K/V-only projections, the LM head, the KV entries attention\n"
    "reads) over the measured copy bandwidth, or its FLOPs over the measured GEMM rate,\n"
    "whichever is larger, as a tokens/s ceiling, and the achieved fraction of it.\n"
    "calls: layer calls per step; waits: backend calls per step the host waits for\n"
    "(routing decisions, the head's tokens), each a host round trip on a GPU.\n";

using Clock = std::chrono::steady_clock;

std::vector<int> parse_list(const Args& args, const std::string& name, std::vector<int> fallback) {
  auto v = args.get(name);
  if (!v) return fallback;
  std::vector<int> out;
  std::stringstream ss(*v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const long x = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || x < 1 || x > (1 << 20))
      throw UsageError{"--" + name + " expects comma-separated positive integers"};
    out.push_back(static_cast<int>(x));
  }
  return out;
}

struct Ceilings {
  double bandwidth = 0;  // bytes/s (read + write)
  double flops = 0;      // FLOP/s
};

// The CPU's: a large memcpy, and gemm_xwt on a 256 x 1024 x 1024 product.
Ceilings cpu_ceilings(int threads) {
  Ceilings c;
  std::vector<char> a(256 << 20, 1), b(256 << 20, 2);
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = Clock::now();
    std::memcpy(b.data(), a.data(), a.size());
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  c.bandwidth = 2.0 * a.size() / best;
  const int m = 256, n = 1024, k = 1024;
  std::vector<float> x(static_cast<size_t>(m) * k), w(static_cast<size_t>(n) * k), y(m * n);
  Rng rng(7);
  for (float& v : x) v = static_cast<float>(rng.uniform() - 0.5);
  for (float& v : w) v = static_cast<float>(rng.uniform() - 0.5);
  cpu::ThreadPool pool(threads);
  best = 1e30;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = Clock::now();
    cpu::gemm_xwt(x.data(), k, w.data(), nullptr, y.data(), n, m, n, k, &pool);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  c.flops = 2.0 * m * n * k / best;
  return c;
}

struct Row {
  std::string workload, mode;
  int seqs = 0;
  double depth = 0, tokens_per_s = 0, floor_tokens_per_s = 0, ms_per_step = 0;
  double bytes_per_step = 0, flops_per_step = 0;
  double layer_calls_per_step = 0, host_waits_per_step = 0;  // SweepCost's counts
};

class Bench {
 public:
  Bench(Engine& engine, double weight_es, double kv_es, const Ceilings& ceil, int batch_rows,
        uint64_t seed)
      : engine_(engine),
        driver_(engine, weight_es, kv_es),
        ceil_(ceil),
        rows_(batch_rows),
        rng_(seed) {}

  // N sequences: prefill, then gen - 1 timed decode sweeps.
  Row decode(const RoutingParams& routing, int seqs, int prompt_len, int gen) {
    std::vector<std::unique_ptr<SequenceKv>> ids(seqs);
    std::vector<int> last(seqs);
    for (auto& s : ids) s = engine_.open_sequence();
    const int per_sweep = std::max(1, rows_ / prompt_len);
    for (int s0 = 0; s0 < seqs; s0 += per_sweep) {
      std::vector<SequenceKv*> group;
      for (int s = s0; s < std::min(seqs, s0 + per_sweep); ++s) group.push_back(ids[s].get());
      std::vector<int> first = prefill(routing, group, prompt_len);
      std::copy(first.begin(), first.end(), last.begin() + s0);
    }
    Row row;
    row.workload = "decode " + std::to_string(prompt_len) + "+" + std::to_string(gen);
    row.mode = route_mode_name(routing.mode);
    row.seqs = seqs;
    std::vector<double> step_s;
    double floor_s = 0, depth_sum = 0;
    SweepCost total;
    std::vector<Pass> passes(seqs);
    std::vector<int> out;
    for (int t = 1; t < gen; ++t) {
      for (int i = 0; i < seqs; ++i) {
        Pass& p = passes[i];
        p = Pass{};
        p.kv_seq = ids[i]->id();
        p.slot = ids[i]->acquire_slot();
        p.position = prompt_len + t - 1;
        p.token = last[i];
        p.routing = routing;
        p.wants_logits = true;
      }
      driver_.reset_cost();
      out.clear();
      const auto t0 = Clock::now();
      driver_.sweep(passes, TokenSampling{}, out);
      step_s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      for (int i = 0; i < seqs; ++i) {
        last[i] = out[i];
        depth_sum += passes[i].steps;
        ids[i]->release_slot(passes[i].slot);
      }
      floor_s += floor_seconds(driver_.cost());
      total.add(driver_.cost());
    }
    ids.clear();  // their KV blocks back to the pool
    const int steps = gen - 1;
    double secs = 0;
    for (double s : step_s) secs += s;
    row.depth = steps > 0 ? depth_sum / (static_cast<double>(steps) * seqs) : 0;
    row.tokens_per_s = secs > 0 ? steps * static_cast<double>(seqs) / secs : 0;
    row.floor_tokens_per_s = floor_s > 0 ? steps * static_cast<double>(seqs) / floor_s : 0;
    row.ms_per_step = 1000 * stats_of(step_s).p50;
    row.bytes_per_step = steps ? (total.weight_bytes + total.kv_bytes) / steps : 0;
    row.flops_per_step = steps ? total.flops / steps : 0;
    row.layer_calls_per_step = steps ? total.layer_calls / steps : 0;
    row.host_waits_per_step = steps ? total.host_waits / steps : 0;
    return row;
  }

  Row prefill_only(const RoutingParams& routing, int seqs, int prompt_len) {
    const int per_sweep = std::max(1, rows_ / prompt_len);
    double secs = 0, floor_s = 0, depth_sum = 0;
    std::vector<double> step_s;
    SweepCost total;
    for (int s0 = 0; s0 < seqs; s0 += per_sweep) {
      std::vector<std::unique_ptr<SequenceKv>> owned;
      std::vector<SequenceKv*> group;
      for (int s = s0; s < std::min(seqs, s0 + per_sweep); ++s) {
        owned.push_back(engine_.open_sequence());
        group.push_back(owned.back().get());
      }
      driver_.reset_cost();
      const auto t0 = Clock::now();
      prefill(routing, group, prompt_len, &depth_sum);
      step_s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      secs += step_s.back();
      floor_s += floor_seconds(driver_.cost());
      total.add(driver_.cost());
    }
    Row row;
    row.workload = "prefill " + std::to_string(prompt_len);
    row.mode = route_mode_name(routing.mode);
    row.seqs = seqs;
    const double tokens = static_cast<double>(seqs) * prompt_len;
    row.depth = depth_sum / tokens;
    row.tokens_per_s = secs > 0 ? tokens / secs : 0;
    row.floor_tokens_per_s = floor_s > 0 ? tokens / floor_s : 0;
    row.ms_per_step = 1000 * stats_of(step_s).p50;
    row.bytes_per_step = (total.weight_bytes + total.kv_bytes) / step_s.size();
    row.flops_per_step = total.flops / step_s.size();
    row.layer_calls_per_step = total.layer_calls / step_s.size();
    row.host_waits_per_step = total.host_waits / step_s.size();
    return row;
  }

 private:
  // One sweep over the prompts of `group` (random ids); returns each
  // sequence's first generated token.
  std::vector<int> prefill(const RoutingParams& routing, const std::vector<SequenceKv*>& group,
                           int prompt_len, double* depth_sum = nullptr) {
    const int vocab = engine_.config().vocab_size;
    std::vector<Pass> passes;
    std::vector<SequenceKv*> owner;
    passes.reserve(group.size() * prompt_len);
    for (SequenceKv* seq : group) {
      for (int pos = 0; pos < prompt_len; ++pos) {
        Pass p;
        p.kv_seq = seq->id();
        p.slot = seq->acquire_slot();
        owner.push_back(seq);
        p.position = pos;
        p.token = static_cast<int>(rng_.next() % static_cast<uint64_t>(vocab));
        p.routing = routing;
        p.wants_logits = pos == prompt_len - 1;
        passes.push_back(std::move(p));
      }
    }
    std::vector<int> first;
    driver_.sweep(passes, TokenSampling{}, first);
    for (size_t i = 0; i < passes.size(); ++i) {
      if (depth_sum) *depth_sum += passes[i].steps;
      owner[i]->release_slot(passes[i].slot);
    }
    return first;
  }

  double floor_seconds(const SweepCost& c) const {
    return std::max((c.weight_bytes + c.kv_bytes) / ceil_.bandwidth, c.flops / ceil_.flops);
  }

  Engine& engine_;
  SweepDriver driver_;
  Ceilings ceil_;
  int rows_;
  Rng rng_;
};

}  // namespace

int cmd_bench_engine(int argc, char** argv) {
  try {
    Args args(argc, argv,
              with_backend_options(with_model_options(
                  {"concurrency", "prompt-len", "gen-tokens", "prefill-len", "prefill-seqs",
                   "modes", "threshold", "batch-rows", "threads", "seed", "json"})),
              {"no-router", "help"});
    if (args.flag("help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    const BackendChoice choice = backend_choice(args);
    const std::vector<int> conc = parse_list(args, "concurrency", {1, 8, 64, 256});
    int prompt_len = static_cast<int>(args.integer("prompt-len").value_or(512));
    int gen = static_cast<int>(args.integer("gen-tokens").value_or(256));
    int prefill_len = static_cast<int>(args.integer("prefill-len").value_or(2048));
    const int prefill_seqs = static_cast<int>(args.integer("prefill-seqs").value_or(8));
    const int batch_rows = static_cast<int>(args.integer("batch-rows").value_or(2048));
    const int threads = static_cast<int>(args.integer("threads").value_or(0));
    const uint64_t seed = static_cast<uint64_t>(args.integer("seed").value_or(0));
    if (prompt_len < 1 || gen < 2 || prefill_len < 1 || prefill_seqs < 0 || batch_rows < 1)
      throw UsageError{"--prompt-len, --prefill-len, --batch-rows >= 1, --gen-tokens >= 2"};
    std::vector<RouteMode> modes;
    {
      std::stringstream ss(args.str("modes", "full,forward"));
      std::string m;
      while (std::getline(ss, m, ',')) {
        modes.push_back(parse_route_mode(m));
        if (modes.back() == RouteMode::kRadial)
          throw UsageError{"--modes: bench-engine runs full and forward mode"};
      }
    }

    ModelBundle bundle = load_bundle(model_source(args));
    const ModelConfig& c = bundle.weights->config;
    std::string router_note;
    if (!bundle.router && !args.flag("no-router") &&
        std::count(modes.begin(), modes.end(), RouteMode::kForward)) {
      bundle.router = std::make_shared<RouterWeights>(make_random_router(c, seed));
      router_note = " + random router (seed " + std::to_string(seed) + ")";
    }
    // Lengths within the context.
    const int ctx = c.max_position_embeddings;
    if (prompt_len + gen > ctx) {
      gen = std::min(gen, std::max(2, ctx / 2));
      prompt_len = std::max(1, ctx - gen);
    }
    prefill_len = std::min(prefill_len, ctx);
    const int max_conc = *std::max_element(conc.begin(), conc.end());
    BackendOptions opts = backend_options_for(c, prompt_len, gen, max_conc, threads);
    const int rows = std::max({batch_rows, max_conc, std::min(prefill_len, batch_rows)});
    opts.max_slots = std::max(rows, std::max(prompt_len, prefill_len));
    opts.max_batch_rows = opts.max_slots;
    opts.kv_blocks = std::max(
        opts.kv_blocks, (prefill_len + 15) / 16 * c.num_layers * std::max(1, rows / prefill_len));
    if (choice.kind == "cuda" && choice.kv_blocks == 0) opts.kv_blocks = 0;  // the memory budget
    auto engine = make_engine(bundle.weights, bundle.router, opts, choice);

    Ceilings ceil;
    std::string device = engine->backend().name();
    if (choice.kind == "cpu") {
      ceil = cpu_ceilings(threads);
    } else {
#ifdef RADIAL_WITH_CUDA_BACKEND
      const CudaDeviceInfo info = cuda_device_info();
      device += " on " + info.name;
      ceil.bandwidth = measure_copy_bandwidth();
      ceil.flops = measure_gemm_rate(choice.resolved_dtype(), 8192, 8192, 8192);
#endif
    }
    // Bytes per element: on the CPU, the weight matrices as loaded (their
    // mean over the model: F32 4, BF16/F16 2, Q8_0 34/32) and f32 KV; on
    // cuda, the compute dtype for both.
    double weight_es = 4, kv_es = 4;
    if (choice.kind != "cpu") {
      weight_es = kv_es = static_cast<double>(dtype_size(choice.resolved_dtype()));
    } else {
      double bytes = 0, elements = 0;
      for (const Tensor* t : bundle.weights->matrices()) {
        bytes += static_cast<double>(t->nbytes);
        elements += static_cast<double>(t->numel());
      }
      weight_es = bytes / elements;
      kv_es = 4;
    }
    std::printf("radial bench-engine: %s%s\n", bundle.description.c_str(), router_note.c_str());
    std::printf("  model: %d layers, d %d, %d heads (%d KV), MLP %d, vocab %d%s\n", c.num_layers,
                c.hidden_size, c.num_heads, c.num_kv_heads, c.intermediate_size, c.vocab_size,
                c.tie_word_embeddings ? ", tied" : "");
    std::printf("  backend: %s; measured ceilings: %.1f GB/s copy, %.2f TFLOP/s GEMM\n",
                device.c_str(), ceil.bandwidth / 1e9, ceil.flops / 1e12);
    std::fflush(stdout);

    Bench bench(*engine, weight_es, kv_es, ceil, rows, seed);
    std::vector<Row> table;
    for (RouteMode m : modes) {
      const RoutingParams routing = engine->resolve_routing(
          m, args.number("threshold") ? std::optional<float>(*args.number("threshold"))
                                      : std::nullopt);
      for (int n : conc) {
        table.push_back(bench.decode(routing, n, prompt_len, gen));
        std::fprintf(stderr, "radial bench-engine: %s %s x%d done\n", table.back().workload.c_str(),
                     table.back().mode.c_str(), n);
      }
      if (prefill_seqs > 0) table.push_back(bench.prefill_only(routing, prefill_seqs, prefill_len));
    }

    std::printf("  %-16s %-8s %5s %6s %12s %12s %8s %10s %6s %6s\n", "workload", "mode", "seqs",
                "depth", "tok/s", "floor tok/s", "of floor", "ms/step", "calls", "waits");
    nlohmann::json rows_json = nlohmann::json::array();
    for (const Row& r : table) {
      std::printf("  %-16s %-8s %5d %6.2f %12.1f %12.1f %7.1f%% %10.3f %6.1f %6.1f\n",
                  r.workload.c_str(), r.mode.c_str(), r.seqs, r.depth, r.tokens_per_s,
                  r.floor_tokens_per_s,
                  r.floor_tokens_per_s > 0 ? 100 * r.tokens_per_s / r.floor_tokens_per_s : 0.0,
                  r.ms_per_step, r.layer_calls_per_step, r.host_waits_per_step);
      rows_json.push_back({{"workload", r.workload},
                           {"mode", r.mode},
                           {"seqs", r.seqs},
                           {"depth", r.depth},
                           {"tokens_per_s", r.tokens_per_s},
                           {"floor_tokens_per_s", r.floor_tokens_per_s},
                           {"ms_per_step", r.ms_per_step},
                           {"bytes_per_step", r.bytes_per_step},
                           {"flops_per_step", r.flops_per_step},
                           {"layer_calls_per_step", r.layer_calls_per_step},
                           {"host_waits_per_step", r.host_waits_per_step}});
    }
    if (auto path = args.get("json")) {
      nlohmann::json j;
      j["model"] = bundle.description + router_note;
      j["backend"] = device;
      j["num_layers"] = c.num_layers;
      j["bandwidth_bytes_per_s"] = ceil.bandwidth;
      j["gemm_flops_per_s"] = ceil.flops;
      j["prompt_len"] = prompt_len;
      j["gen_tokens"] = gen;
      j["prefill_len"] = prefill_len;
      j["rows"] = rows_json;
      std::ofstream f(*path);
      f << j.dump(2) << "\n";
      if (!f) throw Error(ErrorCode::kInvalidArgument, "cannot write " + *path);
    }
    return 0;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "radial bench-engine: %s\n%s", e.message.c_str(), kUsage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "radial bench-engine: %s\n", e.what());
    return 1;
  }
}

}  // namespace radial::cli
