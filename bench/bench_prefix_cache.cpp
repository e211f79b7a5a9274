// Prefix caching on the CPU backend, in process (no gRPC): rounds of
// `--concurrency` requests whose prompts start with the same `--shared`
// tokens (the rest random per request), run with the prefix cache on and
// off, alternating `--reps` times on fresh engines. Prints each run's wall
// time, prompt tokens per second (prompt tokens over the time to the last
// first token of each round, summed) and the tokens the cache served.
//
//   bench_prefix_cache [--model DIR | --dummy-config CONFIG.json]
//                      [--prompt-len 384] [--shared 320] [--gen 16]
//                      [--concurrency 4] [--rounds 4] [--reps 3] [--threads 0]
//
// Full mode. --shared 0 measures what the cache costs when nothing hits.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "engine/kv_sizing.h"
#include "engine/model_bundle.h"
#include "engine/random.h"
#include "kernels/backend_factory.h"
#include "scheduler/scheduler.h"

using namespace radial;
using radial::bench::for_each_option;
using radial::bench::model_option;
using radial::bench::parse_int;
using radial::bench::resolve_model_source;
using radial::bench::UsageError;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  ModelSource src;
  int prompt_len = 384, shared = 320, gen = 16, conc = 4, rounds = 4, reps = 3, threads = 0;
};

struct Figures {
  double seconds = 0, prefill_seconds = 0;
  long prompt_tokens = 0, cached = 0;
};

Figures run(const ModelBundle& b, const Options& o, bool caching) {
  const ModelConfig& c = b.weights->config;
  auto engine = make_engine(b.weights, nullptr,
                            backend_options_for(c, o.prompt_len, o.gen, o.conc, o.threads));
  SchedulerOptions so;
  so.prefix_caching = caching;
  Scheduler sched(*engine, nullptr, so);
  auto random_id = [&c](Rng& r) { return 3 + static_cast<int>(r.next() % (c.vocab_size - 3)); };
  Rng shared_rng(77), rng(1234);  // the same prompts with the cache on and off
  std::vector<int> shared = {c.bos_token_id};
  while (static_cast<int>(shared.size()) < o.shared) shared.push_back(random_id(shared_rng));
  Figures f;
  const Clock::time_point t0 = Clock::now();
  for (int round = 0; round < o.rounds; ++round) {
    const Clock::time_point r0 = Clock::now();
    Clock::time_point last_first = r0;
    for (int s = 0; s < o.conc; ++s) {
      GenerateRequest r;
      r.prompt = shared;
      if (r.prompt.empty()) r.prompt.push_back(c.bos_token_id);
      while (static_cast<int>(r.prompt.size()) < o.prompt_len) r.prompt.push_back(random_id(rng));
      r.max_tokens = o.gen;
      r.ignore_eos = true;
      r.mode = RouteMode::kFull;
      f.prompt_tokens += o.prompt_len;
      auto first = std::make_shared<bool>(true);
      SequenceCallbacks cb;
      cb.on_token = [&last_first, first](const GeneratedToken&) {
        if (*first) last_first = Clock::now();
        *first = false;
      };
      cb.on_finish = [&f](const SequenceResult& res) {
        f.cached += res.usage.cached_prompt_tokens;
      };
      sched.submit(r, cb);
    }
    sched.run_until_idle();
    f.prefill_seconds += std::chrono::duration<double>(last_first - r0).count();
  }
  f.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return f;
}

const char kUsage[] =
    "usage: bench_prefix_cache [--model DIR | --dummy-config CONFIG.json] [--prompt-len N]\n"
    "                          [--shared N] [--gen N] [--concurrency N] [--rounds N]\n"
    "                          [--reps N] [--threads N]\n"
    "Rounds of concurrent requests sharing a prompt prefix, prefix cache on and off.\n";

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    const bool go =
        for_each_option(argc, argv, kUsage, [&](const std::string& k, const std::string& v) {
          if (model_option(k, v, &o.src)) return;
          if (k == "--prompt-len")
            o.prompt_len = parse_int(k, v, 1, 1 << 20);
          else if (k == "--shared")
            o.shared = parse_int(k, v, 0, 1 << 20);
          else if (k == "--gen")
            o.gen = parse_int(k, v, 1, 1 << 20);
          else if (k == "--concurrency")
            o.conc = parse_int(k, v, 1, 4096);
          else if (k == "--rounds")
            o.rounds = parse_int(k, v, 1, 1 << 20);
          else if (k == "--reps")
            o.reps = parse_int(k, v, 1, 1000);
          else if (k == "--threads")
            o.threads = parse_int(k, v, 0, 1024);
          else
            throw UsageError{"unknown option " + k};
        });
    if (!go) return 0;
    if (o.shared > o.prompt_len) throw UsageError{"--shared must not exceed --prompt-len"};
    resolve_model_source(&o.src);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "bench_prefix_cache: %s\n%s", e.message.c_str(), kUsage);
    return 2;
  }
  try {
    const ModelBundle b = load_bundle(o.src);
    const ModelConfig& c = b.weights->config;
    std::printf(
        "model: %s (%d layers, d %d); %d rounds of %d requests, prompt %d (%d shared), "
        "generate %d, threads %d\n",
        b.description.c_str(), c.num_layers, c.hidden_size, o.rounds, o.conc, o.prompt_len,
        o.shared, o.gen, o.threads);
    std::printf("%-4s %-6s %9s %14s %14s\n", "rep", "cache", "wall s", "prompt tok/s", "cached");
    for (int rep = 0; rep < o.reps; ++rep)
      for (bool caching : {rep % 2 == 0, rep % 2 != 0}) {  // alternate which goes first
        const Figures f = run(b, o, caching);
        std::printf("%-4d %-6s %9.3f %14.1f %7ld/%-6ld\n", rep, caching ? "on" : "off", f.seconds,
                    f.prompt_tokens / f.prefill_seconds, f.cached, f.prompt_tokens);
        std::fflush(stdout);
      }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_prefix_cache: %s\n", e.what());
    return 1;
  }
  return 0;
}
