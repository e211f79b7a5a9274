// Routing semantics of the design note (section 2), checked on stories260K
// against the naive double-precision reference_forward.
#include <catch2/catch.hpp>

#include <cmath>

#include "engine/kv_sizing.h"
#include "engine/model_loader.h"
#include "engine_harness.h"
#include "kernels/backend_factory.h"
#include "reference_forward.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;

namespace {

std::shared_ptr<const ModelWeights> model() { return default_model_weights(); }

const std::vector<int> kPrompt = {1, 403, 407, 261, 378, 432, 383, 286, 261};

GenerateRequest request(std::optional<RouteMode> mode = std::nullopt, int max_tokens = 12) {
  GenerateRequest r;
  r.prompt = kPrompt;
  r.max_tokens = max_tokens;
  r.mode = mode;
  r.ignore_eos = true;
  r.keep_prompt_logits = true;
  return r;
}

std::shared_ptr<RouterWeights> with_mode(RouterWeights r, RouteMode mode, KvPolicy policy,
                                         int max_steps) {
  r.config.mode = mode;
  r.config.kv_policy = policy;
  r.config.max_steps = max_steps;
  if (mode == RouteMode::kRadial) r.config.pinned_layers.clear();
  return std::make_shared<RouterWeights>(std::move(r));
}

// The engine's run of `req` against reference_forward over prompt + generated
// tokens: every position's logits within `tol`, generated tokens' paths equal.
void check_against_reference(std::shared_ptr<const RouterWeights> router,
                             const GenerateRequest& req, double tol = 1e-4) {
  auto res = run_requests(model(), router, {req});
  REQUIRE(res[0].finish != FinishReason::kError);
  auto probe = make_engine(model(), router, backend_options_for(model()->config, 1, 1, 1, 1));
  RoutingParams rp = probe->resolve_routing(req.mode, req.threshold);
  std::vector<int> all = req.prompt;
  for (const auto& t : res[0].tokens) all.push_back(t.token);
  all.pop_back();  // the last token was never fed back
  ReferenceResult ref = reference_forward(*model(), router.get(), rp, all);
  const size_t n = req.prompt.size();
  // Prompt positions' logits.
  REQUIRE(res[0].prompt_logits.size() == n);
  double worst = 0;
  for (size_t p = 0; p < n; ++p)
    for (size_t v = 0; v < ref.logits[p].size(); ++v)
      worst = std::max(worst, std::abs(res[0].prompt_logits[p][v] - ref.logits[p][v]));
  CHECK(worst <= tol);
  // Generated tokens: greedy choice of the reference's logits, and paths.
  for (size_t g = 0; g < res[0].tokens.size(); ++g) {
    const size_t pos = n - 1 + g;
    const auto& lg = ref.logits[pos];
    const int ref_tok = static_cast<int>(std::max_element(lg.begin(), lg.end()) - lg.begin());
    INFO("generated token " << g);
    CHECK(res[0].tokens[g].token == ref_tok);
    CHECK(res[0].tokens[g].path == ref.paths[pos]);
    CHECK(res[0].tokens[g].depth == static_cast<int>(ref.paths[pos].size()));
  }
}

}  // namespace

TEST_CASE("forward mode at threshold 0 equals full mode", "[routing]") {
  for (KvPolicy policy : {KvPolicy::kPropagate, KvPolicy::kSparse}) {
    auto router = with_mode(make_random_router(model()->config, 7), RouteMode::kForward, policy, 5);
    GenerateRequest full = request(RouteMode::kFull, 40);
    GenerateRequest fwd = request(RouteMode::kForward, 40);
    fwd.threshold = 0.f;
    auto res = run_requests(model(), router, {full, fwd});
    CHECK(token_ids(res[0]) == token_ids(res[1]));
    CHECK(res[0].prompt_logits == res[1].prompt_logits);
    for (const auto& t : res[1].tokens) CHECK(t.path == std::vector<int>{0, 1, 2, 3, 4});
  }
}

TEST_CASE("a router with strongly negative gates runs only the pinned layers", "[routing]") {
  const auto& c = model()->config;
  for (std::vector<int> pinned :
       {std::vector<int>{0}, std::vector<int>{}, std::vector<int>{1, 3}}) {
    auto router = std::make_shared<RouterWeights>(
        constant_router(c, std::vector<float>(c.num_layers + 1, -30.f), RouteMode::kForward,
                        KvPolicy::kPropagate, pinned, c.num_layers));
    auto res = run_requests(model(), router, {request()});
    REQUIRE(res[0].tokens.size() == 12);
    for (const auto& t : res[0].tokens) {
      CHECK(t.path == pinned);
      CHECK(t.depth == static_cast<int>(pinned.size()));
    }
  }
}

TEST_CASE("hand-built routers skip known layers; propagate writes K/V there, sparse does not",
          "[routing]") {
  const auto& c = model()->config;
  // Gates: layers 1 and 3 on, the rest off; layer 0 pinned.
  std::vector<float> gates = {-10, 10, -10, 10, -10, 0};
  for (KvPolicy policy : {KvPolicy::kPropagate, KvPolicy::kSparse}) {
    auto router = std::make_shared<RouterWeights>(
        constant_router(c, gates, RouteMode::kForward, policy, {0}, c.num_layers));
    GenerateRequest req = request();
    auto res = run_requests(model(), router, {req});
    for (const auto& t : res[0].tokens) CHECK(t.path == std::vector<int>{0, 1, 3});
    // Against the direct computation, which keeps K/V per the policy.
    check_against_reference(router, req);

    // K/V entries at the skipped layers, seen through the KV manager.
    auto engine_owner = make_engine(model(), router, backend_options_for(c, 16, 4, 1, 1));
    Engine& engine = *engine_owner;
    Scheduler s(engine, nullptr);
    std::vector<int> entries;
    s.submit(req, {[&](const GeneratedToken&) {
                     if (!entries.empty()) return;
                     // After the prompt: every layer's entry count for sequence 0.
                     for (int j = 0; j < c.num_layers; ++j)
                       entries.push_back(engine.kv().num_entries(0, j));
                   },
                   nullptr});
    s.run_until_idle();
    const int n = static_cast<int>(req.prompt.size());
    if (policy == KvPolicy::kPropagate) {
      CHECK(entries == std::vector<int>{n, n, n, n, n});
    } else {
      CHECK(entries == std::vector<int>{n, n, 0, n, 0});
    }
  }
}

TEST_CASE("propagate and sparse give different attention at skipped layers", "[routing]") {
  const auto& c = model()->config;
  // Layer 2 only every other time is impossible with constant gates, so use
  // a random router whose paths differ per token.
  auto prop = with_mode(make_random_router(c, 11), RouteMode::kForward, KvPolicy::kPropagate, 5);
  auto sparse = with_mode(make_random_router(c, 11), RouteMode::kForward, KvPolicy::kSparse, 5);
  auto a = run_requests(model(), prop, {request()});
  auto b = run_requests(model(), sparse, {request()});
  CHECK(a[0].prompt_logits != b[0].prompt_logits);
}

TEST_CASE("forward mode with a learned-style router matches the direct computation", "[routing]") {
  const auto& c = model()->config;
  for (uint64_t seed : {1u, 2u, 3u})
    for (KvPolicy policy : {KvPolicy::kPropagate, KvPolicy::kSparse}) {
      auto router = with_mode(make_random_router(c, seed), RouteMode::kForward, policy, 5);
      INFO("seed " << seed << " policy " << kv_policy_name(policy));
      check_against_reference(router, request(RouteMode::kForward, 16));
      for (float thr : {0.3f, 0.7f}) {
        GenerateRequest r = request(RouteMode::kForward, 16);
        r.threshold = thr;
        check_against_reference(router, r);
      }
    }
}

TEST_CASE("radial mode reuses layers, honours max_steps and overwrites its own entry",
          "[routing]") {
  const auto& c = model()->config;
  // Argmax excluding the last layer: 0, 2, 0, 2, ... until max_steps.
  std::vector<float> gates = {5, 1, 4, 0, 0, 3};
  for (int max_steps : {1, 3, 4, 7}) {
    auto router = std::make_shared<RouterWeights>(
        constant_router(c, gates, RouteMode::kRadial, KvPolicy::kSparse, {}, max_steps));
    GenerateRequest req = request(std::nullopt, 6);
    auto res = run_requests(model(), router, {req});
    std::vector<int> want;
    for (int i = 0; i < max_steps; ++i) want.push_back(i % 2 == 0 ? 0 : 2);
    for (const auto& t : res[0].tokens) CHECK(t.path == want);
    check_against_reference(router, req);
  }
  // One entry per position at a reused layer: the revisit overwrote it.
  auto router = std::make_shared<RouterWeights>(
      constant_router(c, gates, RouteMode::kRadial, KvPolicy::kSparse, {}, 4));
  auto engine_owner = make_engine(model(), router, backend_options_for(c, 16, 4, 1, 1));
  Engine& engine = *engine_owner;
  Scheduler s(engine, nullptr);
  std::vector<int> entries;
  s.submit(request(std::nullopt, 2), {[&](const GeneratedToken&) {
                                        if (entries.empty())
                                          for (int j = 0; j < c.num_layers; ++j)
                                            entries.push_back(engine.kv().num_entries(0, j));
                                      },
                                      nullptr});
  s.run_until_idle();
  const int n = static_cast<int>(kPrompt.size());
  CHECK(entries == std::vector<int>{n, 0, n, 0, 0});
}

TEST_CASE("radial mode exits when the exit logit wins", "[routing]") {
  const auto& c = model()->config;
  auto router = std::make_shared<RouterWeights>(
      constant_router(c, {1, 5, 0, 0, 0, 3}, RouteMode::kRadial, KvPolicy::kSparse, {}, 10));
  auto res = run_requests(model(), router, {request(std::nullopt, 4)});
  for (const auto& t : res[0].tokens) CHECK(t.path == std::vector<int>{1});
}

TEST_CASE("radial mode with a random router matches the direct computation", "[routing]") {
  const auto& c = model()->config;
  for (uint64_t seed : {4u, 5u}) {
    auto router = with_mode(make_random_router(c, seed), RouteMode::kRadial, KvPolicy::kSparse, 8);
    check_against_reference(router, request(std::nullopt, 10));
  }
}
