// Scoring texts on the CPU backend, in process (no HTTP): `--requests`
// prompts of `--prompt-len` random tokens, each asking for one token, run
// plain (only the last position runs the head) and scored (prompt_logprobs
// N: the head and a log-softmax at every prompt position, as OpenAI's echo
// with logprobs and lm-evaluation-harness's log-likelihood requests ask),
// alternating `--reps` times on fresh engines. Prints prompt tokens per
// second of each run and the scored/plain ratio.
//
//   bench_scoring [--model DIR | --dummy-config CONFIG.json] [--prompt-len 256]
//                 [--requests 8] [--top 1] [--reps 3] [--threads 0]
//
// Full mode, prefix cache on (a scored request takes nothing from it).
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
  int prompt_len = 256, requests = 8, top = 1, reps = 3, threads = 0;
};

// Seconds to run every request; `top` < 0: plain.
double run(const ModelBundle& b, const Options& o, int top) {
  const ModelConfig& c = b.weights->config;
  auto engine = make_engine(b.weights, nullptr,
                            backend_options_for(c, o.prompt_len, 1, o.requests, o.threads));
  Scheduler sched(*engine, nullptr);
  Rng rng(1234);  // the same prompts in every run
  for (int i = 0; i < o.requests; ++i) {
    GenerateRequest r;
    r.prompt = {c.bos_token_id};
    while (static_cast<int>(r.prompt.size()) < o.prompt_len)
      r.prompt.push_back(3 + static_cast<int>(rng.next() % (c.vocab_size - 3)));
    r.max_tokens = 1;
    r.ignore_eos = true;
    r.mode = RouteMode::kFull;
    r.prompt_logprobs = top;
    sched.submit(r, {});
  }
  const Clock::time_point t0 = Clock::now();
  sched.run_until_idle();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

const char kUsage[] =
    "usage: bench_scoring [--model DIR | --dummy-config CONFIG.json] [--prompt-len N]\n"
    "                     [--requests N] [--top N] [--reps N] [--threads N]\n"
    "Prompt tokens per second, plain and scored (prompt log-probabilities).\n";

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    const bool go =
        for_each_option(argc, argv, kUsage, [&](const std::string& k, const std::string& v) {
          if (model_option(k, v, &o.src)) return;
          if (k == "--prompt-len")
            o.prompt_len = parse_int(k, v, 2, 1 << 20);
          else if (k == "--requests")
            o.requests = parse_int(k, v, 1, 4096);
          else if (k == "--top")
            o.top = parse_int(k, v, 0, 20);
          else if (k == "--reps")
            o.reps = parse_int(k, v, 1, 1000);
          else if (k == "--threads")
            o.threads = parse_int(k, v, 0, 1024);
          else
            throw UsageError{"unknown option " + k};
        });
    if (!go) return 0;
    resolve_model_source(&o.src);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "bench_scoring: %s\n%s", e.message.c_str(), kUsage);
    return 2;
  }
  try {
    const ModelBundle b = load_bundle(o.src);
    const ModelConfig& c = b.weights->config;
    std::printf(
        "model: %s (%d layers, d %d, vocab %d); %d prompts of %d tokens, top %d, "
        "threads %d\n",
        b.description.c_str(), c.num_layers, c.hidden_size, c.vocab_size, o.requests, o.prompt_len,
        o.top, o.threads);
    std::printf("%-4s %-7s %9s %14s\n", "rep", "run", "wall s", "prompt tok/s");
    const double tokens = static_cast<double>(o.requests) * o.prompt_len;
    double plain_sum = 0, scored_sum = 0;
    for (int rep = 0; rep < o.reps; ++rep)
      for (bool scored : {rep % 2 == 0, rep % 2 != 0}) {  // alternate which goes first
        const double s = run(b, o, scored ? o.top : -1);
        (scored ? scored_sum : plain_sum) += s;
        std::printf("%-4d %-7s %9.3f %14.0f\n", rep, scored ? "scored" : "plain", s, tokens / s);
      }
    std::printf("scored / plain prompt throughput: %.3f\n", plain_sum / scored_sum);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_scoring: %s\n", e.what());
    return 1;
  }
  return 0;
}
