// Quality of compact weight matrices on the CPU backend, measured against
// f32: for each dtype (bf16, f16, q8_0) and each prompt, the f32 model's
// greedy continuation is fed back (teacher forcing) to both models, and
// every position's logits are compared (max and mean |difference|, top-1
// agreement); then each model generates greedily on its own, and the
// generated tokens are compared position by position (agreement, and the
// first position where they part).
//
// Usage: bench_dtype_quality [--model PATH | --dummy-config CONFIG.json]
//                            [--prompts N] [--gen N] [--dtypes bf16,f16,q8_0]
//                            [--threads N]
// Prints one line per dtype. Figures, never a pass/fail test.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "engine/error.h"
#include "engine/kv_sizing.h"
#include "engine/model_bundle.h"
#include "engine/model_loader.h"
#include "kernels/backend_factory.h"
#include "scheduler/scheduler.h"

using namespace radial;

using radial::bench::for_each_option;
using radial::bench::model_option;
using radial::bench::parse_int;
using radial::bench::resolve_model_source;
using radial::bench::UsageError;

namespace {

const char* kUsage =
    "usage: bench_dtype_quality [--model PATH | --dummy-config CONFIG.json] [--prompts N]\n"
    "                           [--gen N] [--dtypes bf16,f16,q8_0] [--threads N]\n"
    "Compares the CPU backend's logits and greedy tokens with compact weight matrices\n"
    "against f32 (default model: models/stories260K; 16 prompts, 64 tokens).\n";

std::vector<SequenceResult> run(std::shared_ptr<const ModelWeights> w,
                                const std::vector<GenerateRequest>& reqs, int threads) {
  int longest = 1, max_new = 1;
  for (const auto& q : reqs) {
    longest = std::max<int>(longest, static_cast<int>(q.prompt.size()));
    max_new = std::max(max_new, q.max_tokens);
  }
  auto engine = make_engine(
      w, nullptr,
      backend_options_for(w->config, longest, max_new, static_cast<int>(reqs.size()), threads));
  SchedulerOptions so;
  Scheduler s(*engine, nullptr, so);
  std::vector<SequenceResult> out(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i)
    s.submit(reqs[i],
             SequenceCallbacks{nullptr, [&out, i](const SequenceResult& r) { out[i] = r; }});
  s.run_until_idle();
  for (const auto& r : out)
    if (r.finish == FinishReason::kError) throw Error(ErrorCode::kInternal, r.error);
  return out;
}

std::vector<int> ids(const SequenceResult& r) {
  std::vector<int> v;
  for (const auto& t : r.tokens) v.push_back(t.token);
  return v;
}

int argmax(const std::vector<float>& v) {
  return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace

int main(int argc, char** argv) {
  ModelSource src;
  int prompts = 16, gen = 64, threads = 1;
  std::string dtypes = "bf16,f16,q8_0";
  try {
    const bool go =
        for_each_option(argc, argv, kUsage, [&](const std::string& k, const std::string& v) {
          if (model_option(k, v, &src)) return;
          if (k == "--prompts")
            prompts = parse_int(k, v, 1, 4096);
          else if (k == "--gen")
            gen = parse_int(k, v, 1, 1 << 16);
          else if (k == "--dtypes")
            dtypes = v;
          else if (k == "--threads")
            threads = parse_int(k, v, 0, 1024);
          else
            throw UsageError{"unknown option " + k};
        });
    if (!go) return 0;
    resolve_model_source(&src);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "bench_dtype_quality: %s\n%s", e.message.c_str(), kUsage);
    return 2;
  }
  try {
    src.no_router = true;
    src.matrix_dtype = DType::kF32;
    const ModelBundle ref = load_bundle(src);
    const ModelConfig& c = ref.weights->config;
    // Prompts: BOS and 1-8 random tokens (seeded), the same for every dtype.
    std::mt19937 rng(7);
    std::vector<GenerateRequest> free_run;
    for (int p = 0; p < prompts; ++p) {
      GenerateRequest r;
      r.prompt = {c.bos_token_id >= 0 ? c.bos_token_id : 1};
      const int n = 1 + static_cast<int>(rng() % 8);
      for (int i = 0; i < n; ++i)
        r.prompt.push_back(3 + static_cast<int>(rng() % (c.vocab_size - 3)));
      r.max_tokens = std::min(gen, c.max_position_embeddings - static_cast<int>(r.prompt.size()));
      r.ignore_eos = true;
      free_run.push_back(r);
    }
    const auto ref_free = run(ref.weights, free_run, threads);
    // Teacher forcing: prompt + the f32 continuation, logits at every position.
    std::vector<GenerateRequest> forced;
    for (size_t p = 0; p < free_run.size(); ++p) {
      GenerateRequest r;
      r.prompt = free_run[p].prompt;
      const auto cont = ids(ref_free[p]);
      r.prompt.insert(r.prompt.end(), cont.begin(), cont.end() - 1);
      r.max_tokens = 1;
      r.keep_prompt_logits = true;
      forced.push_back(r);
    }
    const auto ref_forced = run(ref.weights, forced, threads);
    std::printf("model: %s (%d layers, d %d, vocab %d); %d prompts, %d tokens, f32 reference\n",
                ref.description.c_str(), c.num_layers, c.hidden_size, c.vocab_size, prompts, gen);
    std::printf("%-6s %10s %12s %12s %12s %14s %16s\n", "dtype", "weights MB", "max |dlogit|",
                "mean |dl|", "top-1 agree", "greedy agree", "first split (med)");
    std::stringstream ss(dtypes);
    for (std::string name; std::getline(ss, name, ',');) {
      const std::optional<DType> dt = parse_dtype(name);
      if (!dt) throw Error(ErrorCode::kInvalidArgument, "unknown dtype '" + name + "'");
      ModelSource s2 = src;
      s2.matrix_dtype = *dt;
      const ModelBundle b = load_bundle(s2);
      const auto got = run(b.weights, forced, threads);
      double max_d = 0, sum_d = 0, n_d = 0, agree = 0, positions = 0;
      for (size_t p = 0; p < forced.size(); ++p) {
        const auto& A = ref_forced[p].prompt_logits;
        const auto& B = got[p].prompt_logits;
        for (size_t t = 0; t < A.size() && t < B.size(); ++t) {
          for (size_t j = 0; j < A[t].size(); ++j) {
            const double d = std::fabs(static_cast<double>(A[t][j]) - B[t][j]);
            max_d = std::max(max_d, d);
            sum_d += d;
            n_d += 1;
          }
          agree += argmax(A[t]) == argmax(B[t]);
          positions += 1;
        }
      }
      const auto free = run(b.weights, free_run, threads);
      double same = 0, total = 0;
      std::vector<int> splits;
      for (size_t p = 0; p < free.size(); ++p) {
        const auto a = ids(ref_free[p]), g = ids(free[p]);
        int split = static_cast<int>(a.size());
        for (size_t t = 0; t < a.size() && t < g.size(); ++t) {
          same += a[t] == g[t];
          if (a[t] != g[t] && split == static_cast<int>(a.size())) split = static_cast<int>(t);
        }
        total += static_cast<double>(a.size());
        splits.push_back(split);
      }
      std::sort(splits.begin(), splits.end());
      std::printf("%-6s %10.1f %12.4g %12.4g %11.2f%% %13.2f%% %16d\n", name.c_str(),
                  static_cast<double>(b.weights->weight_bytes()) / 1e6, max_d, sum_d / n_d,
                  100 * agree / positions, 100 * same / total, splits[splits.size() / 2]);
    }
    std::printf("f32    %10.1f\n", static_cast<double>(ref.weights->weight_bytes()) / 1e6);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_dtype_quality: %s\n", e.what());
    return 1;
  }
  return 0;
}
