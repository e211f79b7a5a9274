// The scheduler on the real CPU engine (stories260K): budgets, skewed
// routing, KV pressure with preemption by recompute, cancellation, logit
// bias and penalties against the model's own logits.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

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

// Checks every step against the budget, and that each (sequence, layer)
// receives positions in increasing order (the ordering rule's visible part is
// enforced by the KV manager too, which throws on a decreasing position).
struct PlanChecker : SchedulerObserver {
  int budget = 0;
  int steps = 0, preemptions = 0, over_budget = 0;
  void on_step(const StepInfo& s) override {
    ++steps;
    if (s.batch_size > budget) ++over_budget;
  }
  void on_preempted(uint64_t) override { ++preemptions; }
};

std::vector<GenerateRequest> requests(int n, std::optional<RouteMode> mode, int seed = 0) {
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < n; ++i) {
    GenerateRequest r;
    r.prompt = {1};
    for (int k = 0; k < 3 + (i * 7 + seed) % 29; ++k)
      r.prompt.push_back(3 + (i * 131 + k * 17 + seed) % 500);
    r.max_tokens = 5 + (i * 13 + seed) % 40;
    r.mode = mode;
    r.ignore_eos = true;
    reqs.push_back(r);
  }
  return reqs;
}

// Runs reqs together with the given options; checks each against its solo run.
void run_and_compare(std::shared_ptr<const RouterWeights> router,
                     const std::vector<GenerateRequest>& reqs, SchedulerOptions so,
                     BackendOptions bo, PlanChecker& checker) {
  auto engine_owner = make_engine(model(), router, bo);
  Engine& engine = *engine_owner;
  checker.budget = so.max_batch_tokens;
  Scheduler s(engine, nullptr, so, &checker);
  std::vector<SequenceResult> out(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i)
    s.submit(reqs[i], {nullptr, [&out, i](const SequenceResult& r) { out[i] = r; }});
  s.run_until_idle();
  CHECK(engine.kv().used_blocks() == 0);
  CHECK(engine.free_slots() == bo.max_slots);
  CHECK(checker.over_budget == 0);
  for (size_t i = 0; i < reqs.size(); ++i) {
    auto solo = run_requests(model(), router, {reqs[i]});
    INFO("request " << i);
    CHECK(out[i].finish == FinishReason::kLength);
    CHECK(token_ids(out[i]) == token_ids(solo[0]));
  }
}

}  // namespace

TEST_CASE("scheduler: budgets and policies keep outputs equal to solo runs", "[scheduler]") {
  auto router = std::make_shared<RouterWeights>(make_random_router(model()->config, 21));
  for (const char* policy : {"ascending", "largest"})
    for (int budget : {1, 7, 1024}) {
      INFO(policy << " budget " << budget);
      SchedulerOptions so;
      so.policy = policy;
      so.max_batch_tokens = budget;
      so.prefill_chunk = 8;
      PlanChecker c;
      run_and_compare(router, requests(12, std::nullopt), so,
                      backend_options_for(model()->config, 40, 50, 12, 1), c);
    }
}

TEST_CASE("scheduler: skewed routing does not starve anyone", "[scheduler]") {
  const auto& cfg = model()->config;
  // Most tokens want layers 0 and 4 only; a full-mode minority wants all.
  auto router = std::make_shared<RouterWeights>(constant_router(
      cfg, {10, -10, -10, -10, 10, 0}, RouteMode::kForward, KvPolicy::kSparse, {0}, 5));
  auto reqs = requests(16, RouteMode::kForward, 3);
  for (int i = 0; i < 16; i += 5) reqs[i].mode = RouteMode::kFull;
  SchedulerOptions so;
  so.policy = "largest";
  so.max_batch_tokens = 6;
  PlanChecker c;
  run_and_compare(router, reqs, so, backend_options_for(cfg, 40, 50, 16, 1), c);
}

TEST_CASE("scheduler: KV pressure preempts by recompute without changing outputs", "[scheduler]") {
  const auto& cfg = model()->config;
  auto reqs = requests(10, RouteMode::kFull, 5);
  for (auto& r : reqs) r.max_tokens = 60;
  BackendOptions bo = backend_options_for(cfg, 40, 60, 1, 1);
  bo.kv_blocks = cfg.num_layers * 7;  // room for ~1.5 sequences of 100 positions
  bo.max_slots = 64;
  SchedulerOptions so;
  so.prefill_chunk = 16;
  PlanChecker c;
  run_and_compare(nullptr, reqs, so, bo, c);
  CHECK(c.preemptions > 0);
}

TEST_CASE("scheduler: a request larger than the whole pool is rejected at submit", "[scheduler]") {
  BackendOptions bo = backend_options_for(model()->config, 8, 8, 1, 1);
  bo.kv_blocks = 5;
  auto engine_owner = make_engine(model(), nullptr, bo);
  Engine& engine = *engine_owner;
  Scheduler s(engine, nullptr);
  GenerateRequest r;
  r.prompt = {1, 2, 3};
  r.max_tokens = 100;
  CHECK_THROWS_WITH(s.submit(r, {}), Catch::Matchers::Contains("KV blocks"));
}

TEST_CASE("scheduler: cancellation frees blocks within one step", "[scheduler]") {
  auto engine_owner =
      make_engine(model(), nullptr, backend_options_for(model()->config, 16, 200, 2, 1));
  Engine& engine = *engine_owner;
  Scheduler s(engine, nullptr);
  GenerateRequest r;
  r.prompt = {1, 403, 407};
  r.max_tokens = 200;
  r.ignore_eos = true;
  std::optional<SequenceResult> result;
  int tokens = 0;
  const uint64_t id = s.submit(r, {[&](const GeneratedToken&) { ++tokens; },
                                   [&](const SequenceResult& res) { result = res; }});
  while (tokens < 5) REQUIRE(s.step());
  CHECK(engine.kv().used_blocks() > 0);
  s.cancel(id);
  s.step();
  REQUIRE(result.has_value());
  CHECK(result->finish == FinishReason::kCancelled);
  CHECK(engine.kv().used_blocks() == 0);
  CHECK(s.idle());
}

TEST_CASE("scheduler: each token is the argmax of its biased and penalized logits", "[scheduler]") {
  // Greedy with every logit adjustment at once; the reference is the same
  // model's logits of the whole text (prompt + what was generated), adjusted
  // here independently of Sampler: bias, repetition over the history,
  // presence and frequency over the generated ids only.
  GenerateRequest r;
  r.prompt = {1, 403, 407, 261, 378};  // "Once upon a time"
  r.max_tokens = 40;
  r.ignore_eos = true;
  const GenerateRequest plain_req = r;
  r.sampling.presence_penalty = 0.6f;
  r.sampling.frequency_penalty = 0.9f;
  r.sampling.repetition_penalty = 1.2f;
  const int plain_first = token_ids(run_requests(model(), nullptr, {plain_req})[0])[0];
  r.sampling.logit_bias = {{plain_first, -100.f}, {300, 2.f}};
  const SequenceResult out = run_requests(model(), nullptr, {r})[0];
  const std::vector<int> gen = token_ids(out);
  REQUIRE(gen.size() == 40);
  CHECK(std::count(gen.begin(), gen.end(), plain_first) == 0);

  GenerateRequest whole;
  whole.prompt = r.prompt;
  whole.prompt.insert(whole.prompt.end(), gen.begin(), gen.end() - 1);
  whole.max_tokens = 1;
  whole.keep_prompt_logits = true;
  const SequenceResult ref = run_requests(model(), nullptr, {whole})[0];
  REQUIRE(ref.prompt_logits.size() == whole.prompt.size());
  const size_t P = r.prompt.size();
  int changed = 0;  // positions where the adjustments changed the argmax
  for (size_t i = 0; i < gen.size(); ++i) {
    std::vector<float> l = ref.prompt_logits[P - 1 + i];
    const int plain = static_cast<int>(std::max_element(l.begin(), l.end()) - l.begin());
    for (const LogitBias& b : r.sampling.logit_bias) l[b.token] += b.bias;
    std::set<int> seen(whole.prompt.begin(), whole.prompt.begin() + P + i);
    for (int t : seen) l[t] = l[t] > 0 ? l[t] / 1.2f : l[t] * 1.2f;
    std::map<int, int> count;
    for (size_t j = 0; j < i; ++j) ++count[gen[j]];
    for (const auto& [t, c] : count) l[t] -= 0.9f * static_cast<float>(c) + 0.6f;
    const float best = *std::max_element(l.begin(), l.end());
    INFO("generated token " << i);
    CHECK(l[gen[i]] >= best - 1e-4f);  // (prefill and decode round alike, within 1e-4)
    if (gen[i] != plain) ++changed;
  }
  // The adjustments did change what greedy picks: the banned first token,
  // and later the penalties (4 positions of 40 on this model).
  CHECK(changed >= 2);
}

TEST_CASE("scheduler: prompt log-probabilities score the prompt, prefix cache or not",
          "[scheduler]") {
  GenerateRequest plain;
  plain.prompt = {1};
  for (int k = 0; k < 39; ++k) plain.prompt.push_back(3 + (k * 37) % 500);
  plain.max_tokens = 3;
  plain.ignore_eos = true;
  GenerateRequest scored = plain;
  scored.prompt_logprobs = 2;
  GenerateRequest ref_req = plain;
  ref_req.keep_prompt_logits = true;
  const SequenceResult ref = run_requests(model(), nullptr, {ref_req})[0];

  // The same engine serves the plain request first: its blocks are cached,
  // and the scored request must still run (and score) every prompt position.
  auto engine_owner = make_engine(model(), nullptr, options_for(model()->config, {plain, scored}));
  run_requests_on(*engine_owner, {plain});
  REQUIRE(engine_owner->kv().cached_blocks() > 0);
  const SequenceResult out = run_requests_on(*engine_owner, {scored})[0];
  CHECK(out.usage.cached_prompt_tokens == 0);
  CHECK(token_ids(out) == token_ids(ref));
  REQUIRE(out.prompt_token_logprobs.size() == plain.prompt.size() - 1);
  for (size_t i = 1; i < plain.prompt.size(); ++i) {
    INFO("prompt position " << i);
    const std::vector<float>& l = ref.prompt_logits[i - 1];
    double mx = *std::max_element(l.begin(), l.end()), sum = 0;
    for (float x : l) sum += std::exp(x - mx);
    const int t = plain.prompt[i];
    const GeneratedToken& g = out.prompt_token_logprobs[i - 1];
    CHECK(g.token == t);
    CHECK(g.logprob == Approx(l[t] - mx - std::log(sum)).margin(1e-5));
    REQUIRE(g.top_logprobs.size() == 2);
    CHECK(g.top_logprobs[0].token ==
          static_cast<int>(std::max_element(l.begin(), l.end()) - l.begin()));
    CHECK(g.path == ref.prompt_path[i - 1]);
  }
}
