// Runs generation requests through a real Engine + Scheduler for tests.
#pragma once

#include <memory>
#include <vector>

#include "engine/engine.h"
#include "engine/kv_sizing.h"
#include "engine/model_bundle.h"
#include "engine/model_loader.h"
#include "kernels/backend_factory.h"
#include "scheduler/scheduler.h"
#include "test_util.h"

namespace radial::test {

// The default model (stories260K, F32), loaded once per test process.
inline std::shared_ptr<const ModelWeights> default_model_weights() {
  static auto w = std::make_shared<const ModelWeights>(load_hf_model(default_model_dir()));
  return w;
}

// Submits all requests at once (so they share batches) to a scheduler on
// `engine` and runs to idle.
inline std::vector<SequenceResult> run_requests_on(Engine& engine,
                                                   const std::vector<GenerateRequest>& reqs,
                                                   const Tokenizer* tok = nullptr,
                                                   int max_batch = 4096) {
  SchedulerOptions so;
  so.max_batch_tokens = max_batch;
  Scheduler s(engine, tok, so);
  std::vector<SequenceResult> out(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i)
    s.submit(reqs[i],
             SequenceCallbacks{nullptr, [&out, i](const SequenceResult& res) { out[i] = res; }});
  s.run_until_idle();
  return out;
}

// The CPU backend's options sized for `reqs`.
inline BackendOptions options_for(const ModelConfig& c, const std::vector<GenerateRequest>& reqs,
                                  int threads = 1) {
  int longest = 1, max_new = 1;
  for (const auto& q : reqs) {
    longest = std::max<int>(longest, static_cast<int>(q.prompt.size()));
    max_new = std::max(max_new, q.max_tokens);
  }
  return backend_options_for(c, longest, max_new, static_cast<int>(reqs.size()), threads);
}

// run_requests_on a fresh CPU engine for `w` and `r`.
inline std::vector<SequenceResult> run_requests(std::shared_ptr<const ModelWeights> w,
                                                std::shared_ptr<const RouterWeights> r,
                                                const std::vector<GenerateRequest>& reqs,
                                                const Tokenizer* tok = nullptr,
                                                int max_batch = 4096, int threads = 1) {
  auto engine_owner = make_engine(w, r, options_for(w->config, reqs, threads));
  Engine& engine = *engine_owner;
  return run_requests_on(engine, reqs, tok, max_batch);
}

inline std::vector<int> token_ids(const SequenceResult& r) {
  std::vector<int> ids;
  for (const auto& t : r.tokens) ids.push_back(t.token);
  return ids;
}

}  // namespace radial::test
