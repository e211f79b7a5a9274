// Whole requests through the Scheduler, CUDA engine against the CPU engine:
// seeded sampling (temperature > 0) gives the CPU's tokens in f32; routed
// decode of many sequences equals the CPU's in f32 and stays close to it
// in bf16 (figures printed); and random weights at a context of 4096 with 256
// sequences in flight give the CPU's tokens in f32 (a token may differ
// only where the CPU's two best logits are within 1e-4 of each other,
// relative to the largest) and the CPU's prompt logits (long prompts,
// split-K attention) within 1e-4.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <set>

#include "cuda_test_util.h"
#include "model_test_util.h"

using namespace radial;
using namespace radial::test;

namespace {

// Forward mode: strictly increasing layers in [0, L), pinned ones present.
// Radial mode: no immediate repeat, at most max_steps steps.
bool valid_path(const std::vector<int>& path, const RouterConfig& rc, int L) {
  if (rc.mode == RouteMode::kRadial) {
    if (static_cast<int>(path.size()) > rc.max_steps) return false;
    for (size_t i = 0; i < path.size(); ++i)
      if (path[i] < 0 || path[i] >= L || (i > 0 && path[i] == path[i - 1])) return false;
    return true;
  }
  for (size_t i = 0; i < path.size(); ++i)
    if (path[i] < 0 || path[i] >= L || (i > 0 && path[i] <= path[i - 1])) return false;
  for (int p : rc.pinned_layers)
    if (std::find(path.begin(), path.end(), p) == path.end()) return false;
  return true;
}

}  // namespace

TEST_CASE("seeded sampling through the scheduler gives the CPU's tokens (f32)",
          "[cuda][generation]") {
  ModelSource src;
  src.model = default_model_dir();
  ModelBundle b = load_bundle(src);
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < 8; ++i) {
    GenerateRequest r;
    r.prompt = {1, 403 + i, 407, 261, 378};
    r.max_tokens = 40;
    r.ignore_eos = true;
    r.sampling.temperature = 0.6f + 0.1f * i;
    r.sampling.top_k = i % 2 ? 0 : 20;
    r.sampling.top_p = i % 3 ? 0.9f : 1.f;
    r.sampling.repetition_penalty = i == 5 ? 1.3f : 1.f;
    r.sampling.seed = 1000 + i;
    if (i >= 4) r.mode = RouteMode::kForward;  // the shipped router
    reqs.push_back(r);
  }
  const BackendOptions o = backend_options_for(b.weights->config, 8, 40, 8, 0);
  auto cpu = make_engine(b.weights, b.router, o, true);
  auto gpu = make_engine(b.weights, b.router, o, false);
  const auto a = run_requests(*cpu, reqs), g = run_requests(*gpu, reqs);
  for (size_t i = 0; i < reqs.size(); ++i) {
    INFO("request " << i);
    REQUIRE(g[i].finish == FinishReason::kLength);
    CHECK(mismatch(token_ids(g[i]), token_ids(a[i])) == "");
    for (size_t k = 0; k < std::min(a[i].tokens.size(), g[i].tokens.size()); ++k)
      CHECK(mismatch(g[i].tokens[k].path, a[i].tokens[k].path) == "");
  }
}

TEST_CASE("routed decode of many sequences: f32 equals the CPU's, bf16 stays close",
          "[cuda][generation]") {
  ModelSource src;
  src.model = default_model_dir();
  ModelBundle b = load_bundle(src);
  REQUIRE(b.router != nullptr);
  const int L = b.weights->config.num_layers, n = 96, gen = 24;
  for (const RoutedVariant& v : kRoutedVariants) {
    auto router = router_variant(*b.router, v, L);
    const RouterConfig& rc = router->config;
    std::vector<GenerateRequest> reqs;
    std::mt19937 rng(5);
    for (int i = 0; i < n; ++i) {
      GenerateRequest r;
      r.prompt = {1};
      const int len = 2 + i % 23;
      for (int k = 0; k < len; ++k) r.prompt.push_back(3 + rng() % 500);
      r.max_tokens = gen;
      r.ignore_eos = true;
      reqs.push_back(r);
    }
    const char* name = v.mode == RouteMode::kRadial    ? "radial/sparse"
                       : v.policy == KvPolicy::kSparse ? "forward/sparse"
                                                       : "forward/propagate";
    INFO(name);
    const BackendOptions o = backend_options_for(b.weights->config, 25, gen, n, 0);
    auto cpu = make_engine(b.weights, router, o, true);
    auto gpu32 = make_engine(b.weights, router, o, false, DType::kF32);
    auto gpu16 = make_engine(b.weights, router, o, false, DType::kBF16);
    const auto a = run_requests(*cpu, reqs), f = run_requests(*gpu32, reqs),
               g = run_requests(*gpu16, reqs);
    int f32_equal = 0, first_token_equal = 0, first_path_equal = 0, all_equal = 0;
    double depth_cpu = 0, depth_gpu = 0;
    for (int i = 0; i < n; ++i) {
      INFO("request " << i);
      REQUIRE(f[i].finish == FinishReason::kLength);
      REQUIRE(g[i].finish == FinishReason::kLength);
      REQUIRE(static_cast<int>(g[i].tokens.size()) == gen);
      bool same = token_ids(f[i]) == token_ids(a[i]);
      for (int k = 0; same && k < gen; ++k) same = f[i].tokens[k].path == a[i].tokens[k].path;
      f32_equal += same;
      for (const auto& t : g[i].tokens) {
        CHECK(valid_path(t.path, rc, L));
        CHECK(t.depth == static_cast<int>(t.path.size()));
        depth_gpu += t.depth;
      }
      for (const auto& t : a[i].tokens) depth_cpu += t.depth;
      first_token_equal += g[i].tokens[0].token == a[i].tokens[0].token;
      first_path_equal += g[i].tokens[0].path == a[i].tokens[0].path;
      all_equal += token_ids(g[i]) == token_ids(a[i]);
    }
    depth_cpu /= n * gen;
    depth_gpu /= n * gen;
    std::printf(
        "  %s, %d sequences x %d tokens: f32 equal to the CPU (tokens and paths) %d; "
        "bf16: first token equal %d, first path equal %d, all tokens equal %d, "
        "mean depth %.3f (CPU f32 %.3f)\n",
        name, n, gen, f32_equal, first_token_equal, first_path_equal, all_equal, depth_gpu,
        depth_cpu);
    // f32: equal but for a rare gate or logit at a tie (1e-6 apart).
    CHECK(f32_equal >= n - 2);
    // bf16 rounds the hidden state to 3 significant digits, so a gate or a
    // logit near a tie may go the other way, and the sequence parts from
    // the CPU's. Forward mode's threshold decisions rarely sit at the edge
    // (measured on an H200: 96 of 96 first paths equal). Radial mode takes
    // the argmax over gates of a router distilled for forward mode, whose
    // largest gates are often nearly equal: about half of the first steps
    // differ (44 of 96 measured), so only the depth is bounded there.
    if (v.mode == RouteMode::kForward) {
      CHECK(first_token_equal >= 0.9 * n);
      CHECK(first_path_equal >= 0.9 * n);
    }
    CHECK(std::abs(depth_gpu - depth_cpu) <= 0.1 * L);
  }
}

TEST_CASE("random weights at context 4096 with 256 sequences: f32 tokens equal the CPU's",
          "[cuda][generation]") {
  const ModelConfig c = attention_config(4, 2, 32, 256, 512, 4096, 4);
  auto w = sharp_random_model(c, 21);
  auto router = std::make_shared<RouterWeights>(make_random_router(c, 22));
  const int n = 256, gen = 8;
  std::mt19937 rng(23);
  std::vector<GenerateRequest> reqs;
  int blocks = 0;
  for (int i = 0; i < n; ++i) {
    GenerateRequest r;
    const int len = i < 4 ? 4088 - 500 * i : 1 + static_cast<int>(rng() % 300);
    r.prompt.push_back(1);
    for (int k = 1; k < len; ++k) r.prompt.push_back(3 + rng() % (c.vocab_size - 3));
    r.max_tokens = gen;
    r.ignore_eos = true;
    r.keep_prompt_logits = i < 2;  // two long prompts: logits of every position
    blocks += (len + gen + 15) / 16 * c.num_layers;
    reqs.push_back(r);
  }
  BackendOptions o;
  o.kv_block_size = 16;
  o.kv_blocks = blocks + 64;
  o.max_slots = 8192;
  o.max_batch_rows = 2048;
  SchedulerOptions so;
  so.max_batch_tokens = 2048;
  for (RouteMode mode : {RouteMode::kFull, RouteMode::kForward}) {
    const char* mode_name = route_mode_name(mode);
    for (auto& r : reqs) r.mode = mode;
    auto cpu = make_engine(w, router, o, true);
    auto gpu = make_engine(w, router, o, false);
    const auto a = run_requests(*cpu, reqs, so), g = run_requests(*gpu, reqs, so);
    int equal = 0, near_ties = 0, path_diff = 0;
    for (int i = 0; i < n; ++i) {
      INFO(mode_name << " request " << i << " (prompt " << reqs[i].prompt.size() << ")");
      REQUIRE(g[i].finish == FinishReason::kLength);
      REQUIRE(g[i].tokens.size() == a[i].tokens.size());
      const auto ta = token_ids(a[i]), tg = token_ids(g[i]);
      size_t k = 0;
      while (k < ta.size() && ta[k] == tg[k] && g[i].tokens[k].path == a[i].tokens[k].path) ++k;
      if (k == ta.size()) {
        ++equal;
        continue;
      }
      if (g[i].tokens[k].path != a[i].tokens[k].path) {  // a router gate at its threshold
        ++path_diff;
        continue;
      }
      // The tokens part at k: the CPU's logits there must hold a near tie.
      GenerateRequest probe = reqs[i];
      probe.prompt.insert(probe.prompt.end(), ta.begin(), ta.begin() + k);
      probe.max_tokens = 1;
      probe.keep_prompt_logits = true;
      const auto p = run_requests(*cpu, {probe}, so);
      const std::vector<float>& l = p[0].prompt_logits.back();
      float scale = 0;
      for (float x : l) scale = std::max(scale, std::abs(x));
      INFO("token " << k << ": CPU " << ta[k] << " (" << l[ta[k]] << "), GPU " << tg[k] << " ("
                    << l[tg[k]] << ")");
      CHECK(l[ta[k]] - l[tg[k]] <= 1e-4f * scale);
      ++near_ties;
    }
    std::printf(
        "  random weights, context 4096, %d sequences (%s): %d equal, %d near ties, "
        "%d path differences\n",
        n, mode_name, equal, near_ties, path_diff);
    CHECK(path_diff <= n / 100);
    CHECK(equal + near_ties + path_diff == n);
    for (int i = 0; i < 2; ++i) {
      REQUIRE(g[i].prompt_logits.size() == a[i].prompt_logits.size());
      std::vector<float> la, lg;
      for (size_t p = 0; p < a[i].prompt_logits.size(); ++p) {
        la.insert(la.end(), a[i].prompt_logits[p].begin(), a[i].prompt_logits[p].end());
        lg.insert(lg.end(), g[i].prompt_logits[p].begin(), g[i].prompt_logits[p].end());
      }
      const double e = rel_error(lg, la);
      std::printf("  random weights (%s): prompt logits of %zu positions: rel error %.2e\n",
                  mode_name, a[i].prompt_logits.size(), e);
      CHECK(e < 1e-4);
    }
  }
}
