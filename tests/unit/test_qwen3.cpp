// Qwen3 (model_type qwen3): the per-head RMSNorm of q and k (q_norm, k_norm)
// after the projections and before RoPE. The CPU backend against the
// double-precision reference (full depth, and routed with K/V propagated to
// skipped layers, whose K is normalized too), and the weights through
// save_hf_model / load_hf_model and the GGUF writer and loader (arch qwen3).
// llama.cpp runs the same GGUF files in tests/e2e/gguf_llama_cpp.sh.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "engine/gguf.h"
#include "engine/gguf_loader.h"
#include "engine/gguf_writer.h"
#include "engine/model_loader.h"
#include "engine_harness.h"
#include "reference_forward.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;

namespace {

ModelConfig qwen3_config() {
  ModelConfig c;
  c.model_type = "qwen3";
  c.qk_norm = true;
  c.hidden_size = 64;
  c.intermediate_size = 128;
  c.num_layers = 4;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 32;  // q_dim 128 != hidden 64, as Qwen3's explicit head_dim allows
  c.vocab_size = 96;
  c.max_position_embeddings = 128;
  c.rms_norm_eps = 1e-6f;
  c.rope_theta = 1000000.f;
  c.tie_word_embeddings = true;
  c.eos_token_ids = {2};
  c.validate();
  return c;
}

// Random weights with q_norm / k_norm away from 1 (so that a missing or
// misplaced norm shows), per layer and per dimension.
std::shared_ptr<ModelWeights> qwen3_model() {
  auto w = std::make_shared<ModelWeights>(make_random_model(qwen3_config(), 21));
  for (size_t l = 0; l < w->layers.size(); ++l)
    for (Tensor* t : {&w->layers[l].q_norm, &w->layers[l].k_norm})
      for (int64_t i = 0; i < t->numel(); ++i)
        t->f32()[i] =
            0.5f + static_cast<float>((i * 7 + l * 3 + (t == &w->layers[l].k_norm)) % 11) / 8;
  return w;
}

bool same(const Tensor& x, const Tensor& y) {
  return x.shape == y.shape && x.dtype == y.dtype && x.nbytes == y.nbytes &&
         std::memcmp(x.data(), y.data(), x.nbytes) == 0;
}

GenerateRequest prompt_request() {
  GenerateRequest r;
  for (int i = 0; i < 24; ++i) r.prompt.push_back(3 + (i * 29) % 90);
  r.max_tokens = 6;
  r.ignore_eos = true;
  r.keep_prompt_logits = true;
  return r;
}

// The engine's prompt logits against the reference's; returns the largest gap.
double gap_to_reference(std::shared_ptr<ModelWeights> w, std::shared_ptr<RouterWeights> router) {
  const GenerateRequest req = prompt_request();
  auto res = run_requests(w, router, {req});
  REQUIRE(res[0].finish != FinishReason::kError);
  auto probe = make_engine(w, router, backend_options_for(w->config, 1, 1, 1, 1));
  const RoutingParams rp = probe->resolve_routing(req.mode, req.threshold);
  std::vector<int> all = req.prompt;
  for (const auto& t : res[0].tokens) all.push_back(t.token);
  all.pop_back();
  const ReferenceResult ref = reference_forward(*w, router.get(), rp, all);
  double worst = 0;
  for (size_t p = 0; p < req.prompt.size(); ++p)
    for (size_t v = 0; v < ref.logits[p].size(); ++v)
      worst = std::max(worst, std::abs(res[0].prompt_logits[p][v] - ref.logits[p][v]));
  for (size_t g = 0; g < res[0].tokens.size(); ++g) {
    const auto& lg = ref.logits[req.prompt.size() - 1 + g];
    CHECK(res[0].tokens[g].token == std::max_element(lg.begin(), lg.end()) - lg.begin());
  }
  return worst;
}

}  // namespace

TEST_CASE("Qwen3: the CPU backend matches the reference with per-head q/k norms", "[qwen3]") {
  auto w = qwen3_model();
  CHECK(gap_to_reference(w, nullptr) < 1e-4);
  // Routed: layers 1 and 3 skipped with K/V propagated (normalized K there).
  const std::vector<float> gates = {-10, 10, -10, 10, 0};
  for (KvPolicy policy : {KvPolicy::kPropagate, KvPolicy::kSparse}) {
    auto router = std::make_shared<RouterWeights>(
        constant_router(w->config, gates, RouteMode::kForward, policy, {0}, 4));
    INFO(kv_policy_name(policy));
    CHECK(gap_to_reference(w, router) < 1e-4);
  }
  // The norms matter: without them the logits move far beyond that.
  auto plain = std::make_shared<ModelWeights>(*w);
  plain->config.qk_norm = false;
  plain->config.model_type = "llama";
  for (LayerWeights& l : plain->layers) l.q_norm = l.k_norm = Tensor();
  GenerateRequest r = prompt_request();
  const auto a = run_requests(w, nullptr, {r}), b = run_requests(plain, nullptr, {r});
  double moved = 0;
  for (size_t p = 0; p < r.prompt.size(); ++p)
    for (size_t v = 0; v < a[0].prompt_logits[p].size(); ++v)
      moved = std::max(moved, std::abs(static_cast<double>(a[0].prompt_logits[p][v] -
                                                           b[0].prompt_logits[p][v])));
  CHECK(moved > 1e-2);
}

TEST_CASE("Qwen3: weights and config through Hugging Face and GGUF files", "[qwen3][gguf]") {
  auto w = qwen3_model();
  TempDir dir("qwen3-files");
  save_hf_model(*w, dir.file("hf"));
  const ModelWeights hf = load_hf_model(dir.file("hf"));
  CHECK(hf.config == w->config);
  for (size_t l = 0; l < w->layers.size(); ++l) {
    INFO("layer " << l);
    CHECK(same(hf.layers[l].q_norm, w->layers[l].q_norm));
    CHECK(same(hf.layers[l].k_norm, w->layers[l].k_norm));
    CHECK(same(hf.layers[l].wq, w->layers[l].wq));
  }

  const std::string path = dir.file("q3.gguf");
  save_gguf_model(*w, path, GgufOutType::kF32, "q3", {});
  const GgufFile f = GgufFile::open(path);
  CHECK(f.find("general.architecture")->s == "qwen3");
  CHECK(f.find("qwen3.attention.key_length")->i == 32);
  REQUIRE(f.tensor("blk.3.attn_k_norm.weight"));
  CHECK(f.tensor("blk.3.attn_k_norm.weight")->shape() == std::vector<int64_t>{32});
  CHECK(!f.tensor("blk.0.attn_q.bias"));
  const ModelWeights g = load_gguf_model(path);
  CHECK(g.config == w->config);  // half-split, nothing permuted
  for (size_t l = 0; l < w->layers.size(); ++l) {
    CHECK(same(g.layers[l].q_norm, w->layers[l].q_norm));
    CHECK(same(g.layers[l].k_norm, w->layers[l].k_norm));
    CHECK(same(g.layers[l].wk, w->layers[l].wk));
  }
  const GenerateRequest r = prompt_request();
  CHECK(run_requests(std::make_shared<ModelWeights>(g), nullptr, {r})[0].prompt_logits ==
        run_requests(w, nullptr, {r})[0].prompt_logits);

  // A qwen3 model without its norms has no GGUF form.
  ModelWeights odd = *w;
  odd.config.model_type = "qwen3";
  odd.config.qk_norm = false;
  for (LayerWeights& l : odd.layers) l.q_norm = l.k_norm = Tensor();
  expect_error([&] { save_gguf_model(odd, dir.file("x.gguf"), GgufOutType::kF32, "x", {}); },
               ErrorCode::kUnsupported, {"q/k norms", "qwen3"});
}
