// Engine throughput on the CPU backend, without gRPC: prefill and decode
// tokens/s at a few concurrencies, in full mode and in forward mode.
//
//   bench_generate [--model DIR | --dummy-config CONFIG.json] [--router DIR]
//                  [--prompt-len 128] [--gen 128] [--concurrency 1,8]
//                  [--thresholds full,0.5] [--threads 0]
//
// Prompts are random token ids (seeded). Decode tokens/s counts generated
// tokens after every sequence's first token over the time since then; prefill
// tokens/s counts prompt tokens over the time to the last sequence's first
// token. Without a shipped router, --dummy-config brings a random one whose
// gates pass threshold 0.5 about half the time (layer 0 pinned): the speed of
// a path does not depend on how the router chose it.
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "engine/kv_sizing.h"
#include "engine/model_bundle.h"
#include "engine/random.h"
#include "kernels/backend_factory.h"
#include "scheduler/scheduler.h"

using namespace radial;
using Clock = std::chrono::steady_clock;

using radial::bench::for_each_option;
using radial::bench::model_option;
using radial::bench::parse_int;
using radial::bench::resolve_model_source;
using radial::bench::UsageError;

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

struct Figures {
  double prefill_tps = 0, decode_tps = 0, mean_depth = 0, compute = 0;
};

Figures run(const ModelBundle& b, int prompt_len, int gen, int conc, const std::string& thr,
            int threads) {
  const ModelConfig& c = b.weights->config;
  auto engine = make_engine(b.weights, thr == "full" ? nullptr : b.router,
                            backend_options_for(c, prompt_len, gen, conc, threads));
  Scheduler sched(*engine, nullptr);
  Rng rng(1234);
  int generated = 0, with_first = 0;
  double depth = 0, compute = 0;
  std::vector<bool> has_first(conc, false);
  const Clock::time_point t0 = Clock::now();
  Clock::time_point t_first = t0;
  int gen_at_first = 0;
  for (int s = 0; s < conc; ++s) {
    GenerateRequest r;
    r.prompt.push_back(c.bos_token_id);
    for (int i = 1; i < prompt_len; ++i)
      r.prompt.push_back(3 + static_cast<int>(rng.next() % (c.vocab_size - 3)));
    r.max_tokens = gen;
    r.ignore_eos = true;
    if (thr != "full") r.threshold = std::stof(thr);
    SequenceCallbacks cb;
    cb.on_token = [&, s](const GeneratedToken& t) {
      ++generated;
      depth += t.depth;
      compute += t.compute_fraction;
      if (!has_first[s]) {
        has_first[s] = true;
        if (++with_first == conc) {  // prefill of every sequence done
          t_first = Clock::now();
          gen_at_first = generated;
        }
      }
    };
    sched.submit(r, cb);
  }
  sched.run_until_idle();
  const Clock::time_point t_end = Clock::now();
  Figures f;
  f.prefill_tps =
      static_cast<double>(prompt_len) * conc / std::chrono::duration<double>(t_first - t0).count();
  f.decode_tps =
      (generated - gen_at_first) / std::chrono::duration<double>(t_end - t_first).count();
  f.mean_depth = depth / generated;
  f.compute = compute / generated;
  return f;
}

const char kUsage[] =
    "usage: bench_generate [--model DIR | --dummy-config CONFIG.json] [--router DIR]\n"
    "                      [--prompt-len N] [--gen N] [--concurrency N,N,...]\n"
    "                      [--thresholds full,0.5,...] [--threads N]\n"
    "                      [--dtype auto|f32|bf16|f16|q8_0]\n"
    "Prints prefill and decode tokens/s of the CPU backend per mode and concurrency\n"
    "(--dtype: the weight matrices in memory; default auto, the file's own type).\n";

}  // namespace

int main(int argc, char** argv) {
  ModelSource src;
  src.matrix_dtype.reset();  // auto: each matrix in its file's type
  int prompt_len = 128, gen = 128, threads = 0;
  std::string conc_list = "1,8", thr_list = "full,0.5";
  try {
    const bool go =
        for_each_option(argc, argv, kUsage, [&](const std::string& k, const std::string& v) {
          if (model_option(k, v, &src)) return;
          if (k == "--router")
            src.router = v;
          else if (k == "--prompt-len")
            prompt_len = parse_int(k, v, 1, 1 << 20);
          else if (k == "--gen")
            gen = parse_int(k, v, 1, 1 << 20);
          else if (k == "--concurrency")
            conc_list = v;
          else if (k == "--thresholds")
            thr_list = v;
          else if (k == "--threads")
            threads = parse_int(k, v, 0, 1024);
          else if (k == "--dtype") {
            src.matrix_dtype = parse_dtype(v);
            if (v != "auto" && !src.matrix_dtype)
              throw UsageError{"--dtype expects auto, f32, bf16, f16 or q8_0, got '" + v + "'"};
          } else
            throw UsageError{"unknown option " + k};
        });
    if (!go) return 0;
    for (const std::string& c : split(conc_list)) parse_int("--concurrency", c, 1, 4096);
    for (const std::string& t : split(thr_list)) {
      if (t == "full") continue;
      char* end = nullptr;
      const double x = std::strtod(t.c_str(), &end);
      if (t.empty() || *end != '\0' || !(x >= 0 && x <= 1))
        throw UsageError{"--thresholds expects full or numbers in [0, 1], got '" + t + "'"};
    }
    resolve_model_source(&src);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "bench_generate: %s\n%s", e.message.c_str(), kUsage);
    return 2;
  }
  try {
    ModelBundle b = load_bundle(src);
    if (!b.router)
      b.router = std::make_shared<RouterWeights>(make_random_router(b.weights->config, 1));
    const ModelConfig& c = b.weights->config;
    std::printf("model: %s (%d layers, d %d, vocab %d), prompt %d, generate %d, threads %d\n",
                b.description.c_str(), c.num_layers, c.hidden_size, c.vocab_size, prompt_len, gen,
                threads);
    std::printf("%-8s %5s %12s %12s %11s %9s\n", "mode", "conc", "prefill t/s", "decode t/s",
                "mean depth", "compute");
    for (const std::string& thr : split(thr_list))
      for (const std::string& cs : split(conc_list)) {
        Figures f = run(b, prompt_len, gen, std::stoi(cs), thr, threads);
        std::string mode = thr == "full" ? "full" : "fwd@" + thr;
        std::printf("%-8s %5s %12.1f %12.1f %11.2f %8.0f%%\n", mode.c_str(), cs.c_str(),
                    f.prefill_tps, f.decode_tps, f.mean_depth, 100 * f.compute);
        std::fflush(stdout);
      }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_generate: %s\n", e.what());
    return 1;
  }
  return 0;
}
