// The whole model on the GPU against the CPU backend and reference.json
// (stories260K): fp32 reproduces the reference tokens exactly and its
// logits within 1e-3; bf16 logits stay within relative L2 error 3e-2 of
// the CPU's; routed modes (forward with propagate and sparse, radial) give
// the same paths and tokens on GPU and CPU in fp32; the device's routing
// decisions and sampling agree with the host's.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cuda_test_util.h"
#include "engine/model_bundle.h"
#include "engine/model_loader.h"
#include "engine/tokenizer.h"
#include "kernels/cuda_backend.h"
#include "scheduler/scheduler.h"

using namespace radial;
using namespace radial::test;

namespace {

// The source tree: $RADIAL_SOURCE_DIR when set (the GPU machine runs a copy
// of it elsewhere), else where it was at build time.
std::string source(const std::string& built_in, const std::string& rel) {
  const char* env = std::getenv("RADIAL_SOURCE_DIR");
  return env ? std::string(env) + "/" + rel : built_in;
}
std::string data(const std::string& rel) {
  return source(std::string(RADIAL_TEST_DATA) + "/" + rel, "tests/data/" + rel);
}
std::string model_dir() {
  return source(std::string(RADIAL_MODELS_DIR) + "/stories260K", "models/stories260K");
}

std::unique_ptr<Engine> make(std::shared_ptr<const ModelWeights> w,
                             std::shared_ptr<const RouterWeights> r, int longest, int max_new,
                             int seqs, DType dtype /* kF32 with cpu = true: the CPU backend */,
                             bool cpu) {
  BackendOptions o = backend_options_for(w->config, longest, max_new, seqs, 1);
  if (cpu) return std::make_unique<Engine>(w, r, o);
  CudaOptions co;
  co.dtype = dtype;
  auto b = make_cuda_backend(*w, r.get(), o, co);
  return std::make_unique<Engine>(w, r, o, std::move(b));
}

std::vector<SequenceResult> run(Engine& engine, const std::vector<GenerateRequest>& reqs) {
  Scheduler s(engine, nullptr);
  std::vector<SequenceResult> out(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i)
    s.submit(reqs[i],
             SequenceCallbacks{nullptr, [&out, i](const SequenceResult& r) { out[i] = r; }});
  s.run_until_idle();
  return out;
}

std::vector<int> ids(const SequenceResult& r) {
  std::vector<int> v;
  for (const auto& t : r.tokens) v.push_back(t.token);
  return v;
}

}  // namespace

TEST_CASE("fp32 on the GPU reproduces reference.json", "[cuda][model]") {
  auto w = std::make_shared<ModelWeights>(load_model(model_dir()));
  auto tok = Tokenizer::load(data("stories260K/tok512.model"));
  std::ifstream in(data("stories260K/reference.json"));
  const nlohmann::json ref = nlohmann::json::parse(in);
  std::vector<GenerateRequest> reqs;
  for (const auto& c : ref["cases"]) {
    GenerateRequest r;
    r.prompt = tok->encode(c["prompt"].get<std::string>());
    r.max_tokens = c["greedy_steps"].get<int>() + 1 - static_cast<int>(r.prompt.size());
    reqs.push_back(r);
  }
  auto engine = make(w, nullptr, 64, 256, static_cast<int>(reqs.size()), DType::kF32, false);
  auto res = run(*engine, reqs);
  for (size_t i = 0; i < reqs.size(); ++i) {
    REQUIRE(res[i].finish != FinishReason::kError);
    CHECK(ids(res[i]) == ref["cases"][i]["tokens"].get<std::vector<int>>());
  }
  // Logits of the first positions of the first case.
  const auto& c0 = ref["cases"][0];
  GenerateRequest r;
  r.prompt = tok->encode(c0["prompt"].get<std::string>());
  auto gen = c0["tokens"].get<std::vector<int>>();
  r.prompt.insert(r.prompt.end(), gen.begin(), gen.end());
  r.prompt.resize(std::min<size_t>(r.prompt.size(), 8));
  r.max_tokens = 1;
  r.keep_prompt_logits = true;
  auto all = run(*engine, {r});
  double max_abs = 0;
  for (size_t pos = 0; pos < c0["logits"].size(); ++pos) {
    const auto want = c0["logits"][pos].get<std::vector<double>>();
    REQUIRE(all[0].prompt_logits.size() > pos);
    for (size_t v = 0; v < want.size(); ++v)
      max_abs = std::max(max_abs, std::abs(all[0].prompt_logits[pos][v] - want[v]));
  }
  INFO("max |logit - reference| = " << max_abs);
  CHECK(max_abs < 1e-3);
}

TEST_CASE("bf16 and f16 logits stay close to the CPU's", "[cuda][model]") {
  auto w = std::make_shared<ModelWeights>(load_model(model_dir()));
  GenerateRequest r;
  r.prompt = {1, 403, 407, 261, 378, 432, 383, 286, 261, 300, 301, 302};
  r.max_tokens = 1;
  r.keep_prompt_logits = true;
  auto cpu = make(w, nullptr, 16, 2, 1, DType::kF32, true);
  auto want = run(*cpu, {r})[0].prompt_logits;
  for (DType t : {DType::kBF16, DType::kF16}) {
    auto gpu = make(w, nullptr, 16, 2, 1, t, false);
    auto got = run(*gpu, {r})[0].prompt_logits;
    REQUIRE(got.size() == want.size());
    for (size_t p = 0; p < want.size(); ++p) {
      INFO(dtype_name(t) << " position " << p);
      CHECK(rel_error(got[p], want[p]) < 3e-2);
    }
  }
}

TEST_CASE("routed modes give the same paths on GPU and CPU in fp32", "[cuda][model]") {
  ModelSource src;
  src.model = model_dir();
  ModelBundle b = load_bundle(src);
  REQUIRE(b.router != nullptr);
  struct Variant {
    RouteMode mode;
    KvPolicy policy;
  };
  for (Variant v : {Variant{RouteMode::kForward, KvPolicy::kPropagate},
                    Variant{RouteMode::kForward, KvPolicy::kSparse},
                    Variant{RouteMode::kRadial, KvPolicy::kSparse}}) {
    RouterWeights rw = *b.router;
    rw.config.mode = v.mode;
    rw.config.kv_policy = v.policy;
    rw.config.max_steps = 2 * b.weights->config.num_layers;
    if (v.mode == RouteMode::kRadial) rw.config.pinned_layers.clear();
    auto router = std::make_shared<RouterWeights>(rw);
    std::vector<GenerateRequest> reqs;
    for (int i = 0; i < 3; ++i) {
      GenerateRequest r;
      r.prompt = {1, 403 + i, 407, 261, 378, 432 - i, 383};
      r.max_tokens = 10;
      r.ignore_eos = true;
      r.threshold = 0.3f + 0.2f * i;
      if (v.mode == RouteMode::kRadial) r.threshold.reset();
      reqs.push_back(r);
    }
    auto cpu = make(b.weights, router, 8, 10, 3, DType::kF32, true);
    auto gpu = make(b.weights, router, 8, 10, 3, DType::kF32, false);
    auto a = run(*cpu, reqs), g = run(*gpu, reqs);
    for (size_t i = 0; i < reqs.size(); ++i) {
      INFO(route_mode_name(v.mode) << " " << kv_policy_name(v.policy) << " request " << i);
      REQUIRE(g[i].finish != FinishReason::kError);
      CHECK(ids(g[i]) == ids(a[i]));
      REQUIRE(g[i].tokens.size() == a[i].tokens.size());
      for (size_t k = 0; k < a[i].tokens.size(); ++k)
        CHECK(g[i].tokens[k].path == a[i].tokens[k].path);
    }
  }
}

TEST_CASE("the GPU's head sampling and K/V-only rows agree with the CPU's", "[cuda][model]") {
  ModelSource src;
  src.model = model_dir();
  ModelBundle b = load_bundle(src);
  auto cpu = make(b.weights, b.router, 8, 4, 1, DType::kF32, true);
  auto gpu = make(b.weights, b.router, 8, 4, 1, DType::kF32, false);
  const std::vector<int> tokens = {1, 403, 407, 261, 378};
  const std::vector<int> slots = {4, 0, 2, 1, 3};
  std::vector<int> table = {0};
  std::vector<LayerRow> rows;
  for (int i = 0; i < 5; ++i) rows.push_back({slots[i], i, table.data(), i, i == 2 || i == 4});
  const int d = b.weights->config.hidden_size, kvd = b.weights->config.kv_dim();
  for (Engine* e : {cpu.get(), gpu.get()}) {
    e->backend().embed(tokens, slots);
    e->backend().forward_layer(0, rows);
    e->backend().forward_layer(1, rows);
  }
  for (int i = 0; i < 5; ++i) {
    std::vector<float> hc(d), hg(d), kc(kvd), vc(kvd), kg(kvd), vg(kvd);
    cpu->backend().read_hidden(slots[i], hc.data());
    gpu->backend().read_hidden(slots[i], hg.data());
    CHECK(rel_error(hg, hc) < 1e-5);
    cpu->backend().read_kv(0, i, kc.data(), vc.data());
    gpu->backend().read_kv(0, i, kg.data(), vg.data());
    CHECK(rel_error(kg, kc) < 1e-5);
    CHECK(rel_error(vg, vc) < 1e-5);
  }
  std::vector<TokenSampling> ps(5);
  for (int i = 0; i < 5; ++i)
    ps[i] = TokenSampling{i % 2 ? 0.7f : 0.f, 10, 0.95f, 0.1f * i + 0.05f};
  std::vector<int> tc(5), tg(5);
  cpu->backend().head_sample(slots, ps, tc.data());
  gpu->backend().head_sample(slots, ps, tg.data());
  for (int i = 0; i < 5; i += 2) CHECK(tg[i] == tc[i]);  // greedy rows exactly
  std::vector<RouteQuery> q(5);
  for (int i = 0; i < 5; ++i) q[i] = RouteQuery{i - 1, 0.5f};
  std::vector<int> rc(5), rg(5);
  cpu->backend().route(slots, q, rc.data());
  gpu->backend().route(slots, q, rg.data());
  CHECK(rg == rc);
}
