// Helpers of the model-level cuda tests: where the test data is, engines on
// the CPU or the CUDA backend for the same weights, running requests
// through a Scheduler, and random-weight models of chosen attention shapes.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/kv_sizing.h"
#include "engine/model_bundle.h"
#include "engine/model_loader.h"
#include "kernels/cuda_backend.h"
#include "scheduler/scheduler.h"

namespace radial::test {

// The source tree: $RADIAL_SOURCE_DIR when set (the GPU machine runs a copy
// of it elsewhere), else where it was at build time.
inline std::string source_path(const std::string& built_in, const std::string& rel) {
  const char* env = std::getenv("RADIAL_SOURCE_DIR");
  return env ? std::string(env) + "/" + rel : built_in;
}
inline std::string test_data(const std::string& rel) {
  return source_path(std::string(RADIAL_TEST_DATA) + "/" + rel, "tests/data/" + rel);
}
inline std::string default_model_dir() {
  return source_path(std::string(RADIAL_MODELS_DIR) + "/stories260K", "models/stories260K");
}

// RADIAL_CUDA_TESTS_DRY_RUN=1: a check of the tests themselves on a machine
// without a GPU. The model-level tests ([model], [layers], [generation])
// then run their host logic (request sets, block tables, comparisons) with
// the CPU backend in place of the CUDA one, so they compare the CPU with
// itself and prove nothing about the GPU; kernel tests cannot run. main()
// lets the binary start without a GPU in this mode.
inline bool dry_run() {
  const char* v = std::getenv("RADIAL_CUDA_TESTS_DRY_RUN");
  return v != nullptr && std::string(v) == "1";
}

// The backend under test: CUDA in `dtype`, or the CPU one in a dry run.
inline std::unique_ptr<Backend> make_test_backend(const ModelWeights& w, const RouterWeights* r,
                                                  BackendOptions& o, DType dtype) {
  if (dry_run()) return make_cpu_backend(w, r, o);
  CudaOptions co;
  co.dtype = dtype;
  return make_cuda_backend(w, r, o, co);
}

// An engine over `w` with options `o`: on the CPU backend (f32) when `cpu`,
// else on the CUDA backend in `dtype`.
inline std::unique_ptr<Engine> make_engine(std::shared_ptr<const ModelWeights> w,
                                           std::shared_ptr<const RouterWeights> r, BackendOptions o,
                                           bool cpu, DType dtype = DType::kF32) {
  auto b = cpu ? make_cpu_backend(*w, r.get(), o) : make_test_backend(*w, r.get(), o, dtype);
  return std::make_unique<Engine>(w, r, o, std::move(b));
}

// Runs every request to the end on one scheduler; results in request order.
inline std::vector<SequenceResult> run_requests(Engine& engine,
                                                const std::vector<GenerateRequest>& reqs,
                                                const SchedulerOptions& so = {}) {
  Scheduler s(engine, nullptr, so);
  std::vector<SequenceResult> out(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i)
    s.submit(reqs[i],
             SequenceCallbacks{nullptr, [&out, i](const SequenceResult& r) { out[i] = r; }});
  s.run_until_idle();
  return out;
}

inline std::vector<int> token_ids(const SequenceResult& r) {
  std::vector<int> v;
  for (const auto& t : r.tokens) v.push_back(t.token);
  return v;
}

// The routed variants the model-level tests run: forward mode under both KV
// policies and radial mode (sparse), each from the model's own router.
struct RoutedVariant {
  RouteMode mode;
  KvPolicy policy;
  const char* name;
};
inline constexpr RoutedVariant kRoutedVariants[] = {
    {RouteMode::kForward, KvPolicy::kPropagate, "forward/propagate"},
    {RouteMode::kForward, KvPolicy::kSparse, "forward/sparse"},
    {RouteMode::kRadial, KvPolicy::kSparse, "radial/sparse"}};

// `base` switched to `v`'s mode and policy, with max_steps 2 L (radial mode
// has no pinned layers).
inline std::shared_ptr<RouterWeights> router_variant(const RouterWeights& base,
                                                     const RoutedVariant& v, int num_layers) {
  auto r = std::make_shared<RouterWeights>(base);
  r->config.mode = v.mode;
  r->config.kv_policy = v.policy;
  r->config.max_steps = 2 * num_layers;
  if (v.mode == RouteMode::kRadial) r->config.pinned_layers.clear();
  return r;
}

// A Llama config of the given attention shape (d = heads x head_dim).
inline ModelConfig attention_config(int heads, int kv_heads, int head_dim, int ff, int vocab,
                                    int context, int layers = 2, bool bias = false) {
  ModelConfig c;
  c.hidden_size = heads * head_dim;
  c.intermediate_size = ff;
  c.num_layers = layers;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = head_dim;
  c.vocab_size = vocab;
  c.max_position_embeddings = context;
  c.attention_bias = bias;
  c.tie_word_embeddings = true;
  c.eos_token_ids = {2};
  c.validate();
  return c;
}

// Random weights (make_random_model: N(0, 0.02)) with Q and K scaled by
// `qk_scale`, so attention scores have a spread of a few units and softmax
// is far from uniform: attention to a wrong entry, head or position then
// changes the output visibly. (Unscaled, every score is near 0 and attention
// averages its entries almost uniformly.)
inline std::shared_ptr<ModelWeights> sharp_random_model(const ModelConfig& c, uint64_t seed,
                                                        float qk_scale = 2.f) {
  auto w = std::make_shared<ModelWeights>(make_random_model(c, seed));
  for (LayerWeights& l : w->layers)
    for (Tensor* t : {&l.wq, &l.wk}) {
      float* p = t->f32();
      for (int64_t i = 0; i < t->numel(); ++i) p[i] *= qk_scale;
    }
  return w;
}

}  // namespace radial::test
