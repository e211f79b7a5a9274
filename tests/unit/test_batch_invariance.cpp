// A request's greedy tokens must not depend on which other requests share
// its batches: bit for bit on the CPU backend, in every mode.
#include <catch2/catch.hpp>

#include "engine/model_loader.h"
#include "engine_harness.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;

namespace {

std::shared_ptr<const ModelWeights> model() { return default_model_weights(); }

std::vector<GenerateRequest> mixed_requests(std::optional<RouteMode> mode) {
  const std::vector<std::vector<int>> prompts = {
      {1},
      {1, 403, 407, 261, 378},
      {1, 317, 269, 274, 287, 263, 377, 267, 265, 282, 295, 433},
      {1, 291, 376, 400, 428},
      {1,   432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426,
       338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322}};
  std::vector<GenerateRequest> reqs;
  int i = 0;
  for (const auto& p : prompts) {
    GenerateRequest r;
    r.prompt = p;
    r.max_tokens = 10 + 7 * i++;
    r.mode = mode;
    r.ignore_eos = true;
    reqs.push_back(r);
  }
  // One sampled request: its seed, not the batch, decides its tokens.
  reqs[2].sampling.temperature = 0.9f;
  reqs[2].sampling.top_p = 0.9f;
  reqs[2].sampling.seed = 42;
  return reqs;
}

void check_invariance(std::shared_ptr<const RouterWeights> router, std::optional<RouteMode> mode) {
  auto reqs = mixed_requests(mode);
  std::vector<SequenceResult> solo;
  for (const auto& r : reqs) solo.push_back(run_requests(model(), router, {r})[0]);
  // All together; together with a small per-step budget (splits batches and
  // prompt waves); together on two threads.
  for (auto [budget, threads] : {std::pair{4096, 1}, std::pair{3, 1}, std::pair{4096, 2}}) {
    auto together = run_requests(model(), router, reqs, nullptr, budget, threads);
    for (size_t i = 0; i < reqs.size(); ++i) {
      INFO("request " << i << ", budget " << budget << ", threads " << threads);
      CHECK(token_ids(together[i]) == token_ids(solo[i]));
      REQUIRE(together[i].tokens.size() == solo[i].tokens.size());
      for (size_t t = 0; t < solo[i].tokens.size(); ++t)
        CHECK(together[i].tokens[t].path == solo[i].tokens[t].path);
    }
  }
}

}  // namespace

TEST_CASE("batch invariance: full mode", "[batch]") { check_invariance(nullptr, RouteMode::kFull); }

TEST_CASE("batch invariance: forward mode, propagate and sparse", "[batch]") {
  for (KvPolicy policy : {KvPolicy::kPropagate, KvPolicy::kSparse}) {
    auto r = make_random_router(model()->config, 3);
    r.config.kv_policy = policy;
    check_invariance(std::make_shared<RouterWeights>(r), RouteMode::kForward);
  }
}

TEST_CASE("batch invariance: radial mode", "[batch]") {
  auto r = make_random_router(model()->config, 9);
  r.config.mode = RouteMode::kRadial;
  r.config.kv_policy = KvPolicy::kSparse;
  r.config.pinned_layers.clear();
  r.config.max_steps = 7;
  check_invariance(std::make_shared<RouterWeights>(r), RouteMode::kRadial);
}
