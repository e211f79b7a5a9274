// The scheduler against the fake backend (tests/unit/fake_backend.h: an
// exact integer model, no weights): plan -> run -> apply one step at a
// time, the capacity policies alone, and whole runs whose every sequence
// must equal its solo run bit for bit, under every node policy, small
// batches, small prompt chunks, a KV pool small enough to force preemption
// by recompute, routed modes, cancellation and an engine error.
#include <catch2/catch.hpp>

#include <map>

#include "fake_backend.h"
#include "scheduler/admission.h"
#include "scheduler/scheduler.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;

namespace {

BackendOptions options(int kv_blocks, int max_slots = 512, int block_size = 4) {
  BackendOptions o;
  o.kv_blocks = kv_blocks;
  o.kv_block_size = block_size;
  o.max_slots = max_slots;
  return o;
}

GenerateRequest request(int i, int prompt_len, int max_tokens,
                        std::optional<RouteMode> mode = std::nullopt) {
  GenerateRequest r;
  r.prompt = {1};
  for (int k = 1; k < prompt_len; ++k) r.prompt.push_back(3 + (i * 31 + k * 7) % 90);
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  r.mode = mode;
  return r;
}

struct Counts : SchedulerObserver {
  int steps = 0, preemptions = 0, max_batch = 0;
  void on_step(const StepInfo& s) override {
    ++steps;
    max_batch = std::max(max_batch, s.batch_size);
  }
  void on_preempted(uint64_t) override { ++preemptions; }
};

// Runs `reqs` together; returns each result.
std::vector<SequenceResult> run_all(FakeModel& m, std::shared_ptr<const RouterWeights> router,
                                    const std::vector<GenerateRequest>& reqs, BackendOptions bo,
                                    SchedulerOptions so = {}, Counts* counts = nullptr) {
  auto engine = m.engine(bo, router);
  Scheduler s(*engine, nullptr, so, counts);
  std::vector<SequenceResult> out(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i)
    s.submit(reqs[i], {nullptr, [&out, i](const SequenceResult& r) { out[i] = r; }});
  s.run_until_idle();
  CHECK(engine->kv().used_blocks() == 0);
  CHECK(engine->free_slots() == bo.max_slots);
  return out;
}

std::vector<int> ids(const SequenceResult& r) {
  std::vector<int> v;
  for (const auto& t : r.tokens) v.push_back(t.token);
  return v;
}

std::vector<std::vector<int>> paths(const SequenceResult& r) {
  std::vector<std::vector<int>> v;
  for (const auto& t : r.tokens) v.push_back(t.path);
  return v;
}

}  // namespace

TEST_CASE("scheduler core: capacity policies", "[scheduler_core]") {
  GrowthReserveAdmission a;
  // Nothing running: only slots matter (one request always fits the pool).
  CHECK(a.admit(Capacity{0, 10, 0, 4}, 8, 5));
  CHECK_FALSE(a.admit(Capacity{100, 4, 0, 4}, 8, 5));
  // Two running sequences reserve 2 x 4 blocks.
  CHECK(a.admit(Capacity{16, 10, 2, 4}, 8, 5));
  CHECK_FALSE(a.admit(Capacity{15, 10, 2, 4}, 8, 5));
  YoungestFirstPreemption p;
  CHECK(p.victim(1) == -1);
  CHECK(p.victim(2) == 1);
  CHECK(p.victim(7) == 6);
}

TEST_CASE("scheduler core: a step is plan, run, apply", "[scheduler_core]") {
  FakeModel m(3);
  auto engine = m.engine(options(64));
  Scheduler s(*engine, nullptr);
  s.submit(request(0, 5, 2), {});
  s.submit(request(1, 3, 2), {});

  // Plan: both admitted, the embed node with all 8 prompt passes, oldest first.
  StepPlan p = s.plan();
  REQUIRE(p.node == kNodeEmbed);
  CHECK(p.batch.size() == 8);
  CHECK(p.owners.front() != p.owners.back());
  for (size_t i = 1; i < 5; ++i) CHECK(p.owners[i] == p.owners[0]);
  CHECK(s.stats().running == 2);
  // Run: the engine moves the passes to layer 0; the scheduler's state is not touched.
  const int blocks = engine->kv().used_blocks();
  StepOutput out = s.run(p);
  CHECK(out.error.empty());
  for (Pass* pass : p.batch) CHECK(pass->node == 0);
  CHECK(engine->kv().used_blocks() == blocks);
  s.apply(p, out);
  // Layers 0, 1, 2 (full mode), then the head samples on the backend (greedy).
  for (int layer = 0; layer < 3; ++layer) {
    p = s.plan();
    CHECK(p.node == layer);
    CHECK(p.full_rows == 8);
    CHECK(p.kv_only_rows == 0);
    out = s.run(p);
    s.apply(p, out);
  }
  p = s.plan();
  CHECK(p.node == engine->head_node());
  CHECK(p.sample_on_backend);
  // Only the last prompt position of each sequence wants logits.
  CHECK(p.batch.size() == 2);
  out = s.run(p);
  CHECK(out.tokens.size() == 2);
  CHECK(out.logits.empty());
  s.apply(p, out);
  // Each sequence's next pass starts at the embedding.
  p = s.plan();
  CHECK(p.node == kNodeEmbed);
  CHECK(p.batch.size() == 2);
  s.run_until_idle();
  CHECK(s.idle());
}

TEST_CASE("scheduler core: host sampling when a row is not greedy", "[scheduler_core]") {
  FakeModel m(2);
  auto engine = m.engine(options(64));
  Scheduler s(*engine, nullptr);
  GenerateRequest r = request(0, 4, 3);
  r.sampling.temperature = 0.7f;
  r.sampling.seed = 5;
  s.submit(r, {});
  s.submit(request(1, 4, 3), {});
  StepPlan p;
  do {
    StepOutput out;
    p = s.plan();
    if (p.node == engine->head_node()) {
      CHECK_FALSE(p.sample_on_backend);  // one row samples with temperature
      out = s.run(p);
      CHECK(out.logits.size() == p.batch.size() * 97);
      s.apply(p, out);
      break;
    }
    out = s.run(p);
    s.apply(p, out);
  } while (!p.empty());
}

TEST_CASE("scheduler core: every sequence equals its solo run under any plan", "[scheduler_core]") {
  FakeModel m(4);
  struct Mode {
    std::shared_ptr<RouterWeights> router;
    std::optional<RouteMode> mode;
    const char* name;
  };
  const Mode modes[] = {
      {nullptr, std::nullopt, "full"},
      {m.router(RouteMode::kForward, KvPolicy::kPropagate), std::nullopt, "forward/propagate"},
      {m.router(RouteMode::kForward, KvPolicy::kSparse), std::nullopt, "forward/sparse"},
      {m.router(RouteMode::kRadial, KvPolicy::kSparse), std::nullopt, "radial"}};
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < 12; ++i) reqs.push_back(request(i, 2 + (i * 5) % 17, 3 + (i * 7) % 11));
  for (const Mode& mode : modes) {
    INFO(mode.name);
    std::vector<SequenceResult> solo;
    for (const auto& r : reqs) solo.push_back(run_all(m, mode.router, {r}, options(256))[0]);
    struct Plan {
      std::string policy;
      int batch, chunk;
    };
    for (Plan pl : {Plan{"ascending", 1024, 512}, Plan{"largest", 1024, 512},
                    Plan{"ascending", 3, 2}, Plan{"largest", 5, 4}}) {
      INFO(pl.policy << " batch " << pl.batch << " chunk " << pl.chunk);
      SchedulerOptions so;
      so.policy = pl.policy;
      so.max_batch_tokens = pl.batch;
      so.prefill_chunk = pl.chunk;
      Counts counts;
      const auto together = run_all(m, mode.router, reqs, options(256), so, &counts);
      CHECK(counts.max_batch <= pl.batch);
      for (size_t i = 0; i < reqs.size(); ++i) {
        INFO("request " << i);
        CHECK(together[i].finish == FinishReason::kLength);
        CHECK(ids(together[i]) == ids(solo[i]));
        CHECK(paths(together[i]) == paths(solo[i]));
      }
    }
  }
}

TEST_CASE("scheduler core: preemption by recompute changes no token", "[scheduler_core]") {
  FakeModel m(3);
  auto router = m.router(RouteMode::kForward, KvPolicy::kPropagate);
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < 10; ++i) reqs.push_back(request(i, 6 + i % 4, 20));
  std::vector<SequenceResult> solo;
  for (const auto& r : reqs) solo.push_back(run_all(m, router, {r}, options(128))[0]);
  // 3 layers x ceil(29 / 4) = 24 blocks for one sequence's worst case: a
  // 30-block pool holds one and a bit, so the others are preempted often.
  Counts counts;
  const auto together = run_all(m, router, reqs, options(30), {}, &counts);
  CHECK(counts.preemptions > 0);
  for (size_t i = 0; i < reqs.size(); ++i) {
    INFO("request " << i);
    CHECK(ids(together[i]) == ids(solo[i]));
    CHECK(paths(together[i]) == paths(solo[i]));
  }
}

TEST_CASE("scheduler core: cancellation and an engine error free everything", "[scheduler_core]") {
  FakeModel m(3);
  BackendOptions bo = options(128, 64);
  auto engine = m.engine(bo);
  Scheduler s(*engine, nullptr);
  std::map<uint64_t, SequenceResult> done;
  auto keep = [&done](int key) {
    return SequenceCallbacks{nullptr, [&done, key](const SequenceResult& r) { done[key] = r; }};
  };
  const uint64_t a = s.submit(request(0, 5, 100), keep(0));
  s.step();  // a is admitted and runs
  const uint64_t b = s.submit(request(1, 5, 100), keep(1));
  s.cancel(a);
  s.cancel(b);  // still waiting
  s.run_until_idle();
  REQUIRE(done.size() == 2);
  CHECK(done[0].finish == FinishReason::kCancelled);
  CHECK(done[1].finish == FinishReason::kCancelled);
  CHECK(done[1].tokens.empty());
  CHECK(engine->kv().used_blocks() == 0);
  CHECK(engine->free_slots() == bo.max_slots);

  // Every sequence in a failing step ends with kError; the rest go on.
  m.last_backend->fail_layer = 1;
  std::vector<SequenceResult> out(2);
  for (int i = 0; i < 2; ++i)
    s.submit(request(i, 4, 5), {nullptr, [&out, i](const SequenceResult& r) { out[i] = r; }});
  s.run_until_idle();
  for (const auto& r : out) {
    CHECK(r.finish == FinishReason::kError);
    CHECK(r.error.find("layer failed") != std::string::npos);
  }
  CHECK(engine->kv().used_blocks() == 0);
  CHECK(engine->free_slots() == bo.max_slots);
  m.last_backend->fail_layer = -1;
  SequenceResult ok;
  s.submit(request(3, 4, 5), {nullptr, [&ok](const SequenceResult& r) { ok = r; }});
  s.run_until_idle();
  CHECK(ok.finish == FinishReason::kLength);
  CHECK(ok.tokens.size() == 5);
}
