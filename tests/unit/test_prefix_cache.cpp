// Prefix caching: the KvBlockManager's cached groups alone (publish, match,
// attach, reference counts, eviction order, accounting), then the scheduler
// on the fake backend (an exact integer model: a wrong or missing KV entry
// changes the tokens) and on the real default model: a request that finds
// its prefix cached must produce what it produces cold, bit for bit, while
// its cached passes do not run.
#include <catch2/catch.hpp>

#include "engine/kv_cache.h"
#include "engine_harness.h"
#include "fake_backend.h"
#include "scheduler/scheduler.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;

namespace {

// Writes entries for positions [from, to) at every layer of `seq`.
void write(KvBlockManager& kv, int seq, int from, int to) {
  for (int layer = 0; layer < kv.num_layers(); ++layer)
    for (int p = from; p < to; ++p) kv.write_entry(seq, layer, p);
}

}  // namespace

TEST_CASE("prefix cache: groups are published, matched, shared and evicted whole", "[kv][prefix]") {
  KvBlockManager kv(12, 2, 2);  // 12 blocks of 2 entries, 2 layers
  const std::vector<int> toks = {1, 5, 6, 7, 8};
  const int a = kv.create_sequence();
  write(kv, a, 0, 5);  // 3 blocks per layer
  CHECK(kv.used_blocks() == 6);
  kv.publish_prefix(a, toks, 1, 5);  // token blocks {1,5} and {6,7}; {8} is not whole
  CHECK(kv.shared_tokens(a) == 4);
  CHECK(kv.cached_blocks() == 4);
  CHECK(kv.used_blocks() == 6);
  kv.publish_prefix(a, toks, 1, 5);  // again: nothing new
  CHECK(kv.cached_blocks() == 4);
  const std::vector<int> a_blocks0 = kv.blocks(a, 0), a_blocks1 = kv.blocks(a, 1);

  // Matches: whole blocks, exact tokens, the same key, at most max_tokens.
  CHECK(kv.match_prefix(std::vector<int>{1, 5, 6, 7, 9, 9}, 1, 10).tokens == 4);
  CHECK(kv.match_prefix(std::vector<int>{1, 5, 6, 7, 9, 9}, 1, 10).revived_blocks == 0);
  CHECK(kv.match_prefix(std::vector<int>{1, 5, 6, 7}, 1, 3).tokens == 2);
  CHECK(kv.match_prefix(std::vector<int>{1, 5, 6, 8}, 1, 10).tokens == 2);
  CHECK(kv.match_prefix(std::vector<int>{1, 4, 6, 7}, 1, 10).tokens == 0);
  CHECK(kv.match_prefix(std::vector<int>{1, 5, 6, 7}, 2, 10).tokens == 0);  // other routing
  CHECK(kv.match_prefix(std::vector<int>{1}, 1, 10).tokens == 0);

  // Freed: its own block goes back, the groups stay cached and count as free.
  kv.free_sequence(a);
  CHECK(kv.free_blocks() == 12);
  CHECK(kv.used_blocks() == 0);
  CHECK(kv.cached_blocks() == 4);
  const auto m = kv.match_prefix(std::vector<int>{1, 5, 6, 7, 2}, 1, 4);
  CHECK(m.tokens == 4);
  CHECK(m.revived_blocks == 4);

  // Attached: every layer holds entries 0..3 in the very same blocks.
  const int b = kv.create_sequence();
  CHECK(kv.attach_prefix(b, std::vector<int>{1, 5, 6, 7, 2, 2}, 1, 5) == 4);
  CHECK(kv.free_blocks() == 8);
  for (int layer = 0; layer < 2; ++layer) {
    CHECK(kv.num_entries(b, layer) == 4);
    CHECK(kv.positions(b, layer) == std::vector<int32_t>{0, 1, 2, 3});
  }
  CHECK(kv.blocks(b, 0) == std::vector<int>(a_blocks0.begin(), a_blocks0.begin() + 2));
  CHECK(kv.blocks(b, 1) == std::vector<int>(a_blocks1.begin(), a_blocks1.begin() + 2));
  // Appending starts a block of its own; rewriting a cached entry is a bug.
  CHECK(kv.write_entry(b, 0, 4) == 4);
  CHECK(kv.free_blocks() == 7);
  expect_error([&] { kv.write_entry(b, 1, 3); }, ErrorCode::kInternal, {"cached block"});
  expect_error([&] { kv.attach_prefix(b, toks, 1, 5); }, ErrorCode::kInternal, {"empty"});

  // Held groups are never evicted: another sequence gets the 7 free blocks only.
  const int c = kv.create_sequence();
  for (int p = 0; p < 14; ++p) kv.write_entry(c, 0, p);
  CHECK(kv.free_blocks() == 0);
  expect_error([&] { kv.write_entry(c, 0, 14); }, ErrorCode::kResourceExhausted, {"exhausted"});
  // Released, they are evicted when needed: the tail group first.
  kv.free_sequence(b);
  CHECK(kv.free_blocks() == 5);  // b's own block, and 2 groups of 2
  kv.write_entry(c, 0, 14);      // takes b's own block (entries 14 and 15)
  kv.write_entry(c, 0, 15);
  CHECK(kv.cached_blocks() == 4);
  kv.write_entry(c, 0, 16);  // evicts the group of tokens {6, 7}
  CHECK(kv.cached_blocks() == 2);
  CHECK(kv.match_prefix(std::vector<int>{1, 5, 6, 7, 2}, 1, 4).tokens == 2);
  kv.free_sequence(c);
  kv.clear_prefix_cache();
  CHECK(kv.cached_blocks() == 0);
  CHECK(kv.free_blocks() == 12);
}

TEST_CASE("prefix cache: a block computed twice is kept once", "[kv][prefix]") {
  KvBlockManager kv(16, 2, 2);
  const std::vector<int> toks = {1, 5, 6, 7};
  const int a = kv.create_sequence(), b = kv.create_sequence();
  write(kv, a, 0, 4);
  write(kv, b, 0, 4);
  CHECK(kv.used_blocks() == 8);
  kv.publish_prefix(a, toks, 1, 4);
  kv.publish_prefix(b, toks, 1, 4);  // b's copies go back to the pool
  CHECK(kv.used_blocks() == 4);
  CHECK(kv.cached_blocks() == 4);
  CHECK(kv.blocks(a, 0) == kv.blocks(b, 0));
  CHECK(kv.blocks(a, 1) == kv.blocks(b, 1));
  kv.free_sequence(a);
  CHECK(kv.used_blocks() == 4);  // b still holds them
  kv.free_sequence(b);
  CHECK(kv.used_blocks() == 0);
  CHECK(kv.match_prefix(std::vector<int>{1, 5, 6, 7, 0}, 1, 4).tokens == 4);

  // Publishing a block that is not written at every layer is refused.
  const int d = kv.create_sequence();
  kv.write_entry(d, 0, 0);
  kv.write_entry(d, 0, 1);
  expect_error([&] { kv.publish_prefix(d, toks, 1, 2); }, ErrorCode::kInternal, {"complete"});
}

namespace {

BackendOptions fake_options(int kv_blocks, int block_size = 4) {
  BackendOptions o;
  o.kv_blocks = kv_blocks;
  o.kv_block_size = block_size;
  o.max_slots = 256;
  return o;
}

std::vector<int> prompt(int tag, int len, const std::vector<int>& head = {}) {
  std::vector<int> p = head;
  if (p.empty()) p.push_back(1);
  for (int k = static_cast<int>(p.size()); k < len; ++k) p.push_back(3 + (tag * 37 + k * 11) % 90);
  return p;
}

GenerateRequest req(std::vector<int> p, int max_tokens) {
  GenerateRequest r;
  r.prompt = std::move(p);
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  return r;
}

struct Tally : SchedulerObserver {
  long rows = 0, looked_up = 0, hit = 0, preemptions = 0;
  void on_preempted(uint64_t) override { ++preemptions; }
  void on_step(const StepInfo& s) override {
    if (s.kind == NodeKind::kLayer) rows += s.full_rows + s.kv_only_rows;
  }
  void on_prefix_lookup(int l, int h) override {
    looked_up += l;
    hit += h;
  }
};

// Runs `r` alone on a fresh engine: the cold result.
SequenceResult cold(FakeModel& m, std::shared_ptr<const RouterWeights> router,
                    const GenerateRequest& r) {
  auto engine = m.engine(fake_options(256), router);
  Scheduler s(*engine, nullptr);
  SequenceResult out;
  s.submit(r, {nullptr, [&out](const SequenceResult& res) { out = res; }});
  s.run_until_idle();
  return out;
}

// Submits `reqs` together to `s` and runs to idle; returns each result.
std::vector<SequenceResult> run_together(Scheduler& s, const std::vector<GenerateRequest>& reqs) {
  std::vector<SequenceResult> out(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i)
    s.submit(reqs[i], {nullptr, [&out, i](const SequenceResult& r) { out[i] = r; }});
  s.run_until_idle();
  return out;
}

void check_same(const SequenceResult& got, const SequenceResult& want) {
  REQUIRE(got.tokens.size() == want.tokens.size());
  for (size_t i = 0; i < got.tokens.size(); ++i) {
    INFO("token " << i);
    CHECK(got.tokens[i].token == want.tokens[i].token);
    CHECK(got.tokens[i].path == want.tokens[i].path);
  }
}

}  // namespace

TEST_CASE("prefix cache: a later request runs only what is not cached, to the same tokens",
          "[scheduler][prefix]") {
  FakeModel m(4);
  struct Mode {
    std::shared_ptr<RouterWeights> router;
    bool cached;
    const char* name;
  };
  const Mode modes[] = {
      {nullptr, true, "full"},
      {m.router(RouteMode::kForward, KvPolicy::kPropagate), true, "forward/propagate"},
      {m.router(RouteMode::kForward, KvPolicy::kSparse), false, "forward/sparse"},
      {m.router(RouteMode::kRadial, KvPolicy::kSparse), false, "radial"}};
  for (const Mode& mode : modes) {
    INFO(mode.name);
    auto engine = m.engine(fake_options(256), mode.router);
    Tally tally;
    Scheduler s(*engine, nullptr, {}, &tally);
    auto run = [&](const GenerateRequest& r) {
      SequenceResult out;
      s.submit(r, {nullptr, [&out](const SequenceResult& res) { out = res; }});
      s.run_until_idle();
      return out;
    };
    const GenerateRequest a = req(prompt(1, 23), 9);
    const SequenceResult ra = run(a);
    check_same(ra, cold(m, mode.router, a));
    CHECK(ra.usage.cached_prompt_tokens == 0);

    // The same first 18 tokens: 4 whole blocks of 4 are cached.
    const GenerateRequest b =
        req(prompt(2, 30, std::vector<int>(a.prompt.begin(), a.prompt.begin() + 18)), 7);
    const long rows_before = tally.rows;
    const SequenceResult rb = run(b);
    check_same(rb, cold(m, mode.router, b));
    const int L = 4;
    if (mode.cached) {
      CHECK(rb.usage.cached_prompt_tokens == 16);
      // Forward mode writes K/V at every layer too (propagate): 30 - 16 prompt
      // passes and 6 decode passes, L rows each.
      CHECK(tally.rows - rows_before == static_cast<long>(30 - 16 + 6) * L);
    } else {
      CHECK(rb.usage.cached_prompt_tokens == 0);
    }

    // A follow-up turn: A's prompt, its generated tokens and more. A's last
    // token never ran (the generation ended with it), so 23 + 9 - 1 = 31
    // positions were computed: 7 whole blocks.
    std::vector<int> turn = a.prompt;
    for (const auto& t : ra.tokens) turn.push_back(t.token);
    turn.insert(turn.end(), {40, 41, 42});
    const GenerateRequest c = req(turn, 5);
    const SequenceResult rc = run(c);
    check_same(rc, cold(m, mode.router, c));
    CHECK(rc.usage.cached_prompt_tokens == (mode.cached ? 28 : 0));

    // The whole prompt cached: its last token still runs (it yields the next).
    const SequenceResult rd = run(req(std::vector<int>(turn.begin(), turn.begin() + 32), 4));
    check_same(rd, cold(m, mode.router, req(std::vector<int>(turn.begin(), turn.begin() + 32), 4)));
    CHECK(rd.usage.cached_prompt_tokens == (mode.cached ? 28 : 0));
    if (mode.cached) CHECK(tally.hit == 16 + 28 + 28);
    CHECK(engine->kv().used_blocks() == 0);
    if (mode.cached)
      CHECK(engine->kv().cached_blocks() > 0);
    else
      CHECK(engine->kv().cached_blocks() == 0);
  }
}

TEST_CASE("prefix cache: routing, prompt logits and the option keep requests apart",
          "[scheduler][prefix]") {
  FakeModel m(3);
  auto router = m.router(RouteMode::kForward, KvPolicy::kPropagate);
  const GenerateRequest a = req(prompt(3, 20), 4);
  auto count_hits = [&](SchedulerOptions so, std::function<void(GenerateRequest&)> tweak) {
    auto engine = m.engine(fake_options(256), router);
    Scheduler s(*engine, nullptr, so);
    SequenceResult first, second;
    s.submit(a, {nullptr, [&](const SequenceResult& r) { first = r; }});
    s.run_until_idle();
    GenerateRequest b = a;
    tweak(b);
    s.submit(b, {nullptr, [&](const SequenceResult& r) { second = r; }});
    s.run_until_idle();
    check_same(second, cold(m, router, b));
    return second;
  };
  CHECK(count_hits({}, [](GenerateRequest&) {}).usage.cached_prompt_tokens == 16);
  // Another threshold routes differently: another cache.
  CHECK(count_hits({}, [](GenerateRequest& r) { r.threshold = 0.3f; }).usage.cached_prompt_tokens ==
        0);
  CHECK(count_hits({}, [](GenerateRequest& r) {
          r.mode = RouteMode::kFull;
        }).usage.cached_prompt_tokens == 0);
  // Prompt logits are reported for every position: those passes must run.
  const SequenceResult kept =
      count_hits({}, [](GenerateRequest& r) { r.keep_prompt_logits = true; });
  CHECK(kept.usage.cached_prompt_tokens == 0);
  CHECK(kept.prompt_logits.size() == a.prompt.size());
  SchedulerOptions off;
  off.prefix_caching = false;
  CHECK(count_hits(off, [](GenerateRequest&) {}).usage.cached_prompt_tokens == 0);
}

TEST_CASE("prefix cache: a running sequence's finished blocks serve a newcomer",
          "[scheduler][prefix]") {
  FakeModel m(3);
  auto engine = m.engine(fake_options(256));
  Scheduler s(*engine, nullptr);
  const GenerateRequest a = req(prompt(4, 21), 40);
  SequenceResult ra, rb;
  s.submit(a, {nullptr, [&](const SequenceResult& r) { ra = r; }});
  for (int i = 0; i < 30; ++i) s.step();  // a's prompt done, a few tokens in
  CHECK(s.stats().running == 1);
  const GenerateRequest b =
      req(prompt(5, 26, std::vector<int>(a.prompt.begin(), a.prompt.end())), 6);
  s.submit(b, {nullptr, [&](const SequenceResult& r) { rb = r; }});
  s.run_until_idle();
  CHECK(rb.usage.cached_prompt_tokens == 20);
  check_same(ra, cold(m, nullptr, a));
  check_same(rb, cold(m, nullptr, b));
}

TEST_CASE("prefix cache: requests queued together with one prefix compute it once",
          "[scheduler][prefix]") {
  FakeModel m(3);
  auto router = m.router(RouteMode::kForward, KvPolicy::kPropagate);
  const std::vector<int> shared = prompt(7, 23);
  std::vector<GenerateRequest> reqs = {req(shared, 6), req(shared, 6), req(prompt(8, 11), 6),
                                       req(prompt(9, 30, shared), 6)};
  reqs[1].sampling.temperature = 0.8f;  // the `n` choices of one prompt, say
  reqs[1].sampling.seed = 5;
  auto engine = m.engine(fake_options(256), router);
  Tally tally;
  Scheduler s(*engine, nullptr, {}, &tally);
  const std::vector<SequenceResult> out = run_together(s, reqs);
  // The first computes the 23 tokens; the second waits for its 5 whole
  // blocks (never its last token), and so does the fourth, for the same 5
  // and nothing more (its sixth block differs), with the third (behind it
  // in the queue, first come first served).
  CHECK(out[0].usage.cached_prompt_tokens == 0);
  CHECK(out[1].usage.cached_prompt_tokens == 20);
  CHECK(out[2].usage.cached_prompt_tokens == 0);
  CHECK(out[3].usage.cached_prompt_tokens == 20);
  CHECK(tally.rows == static_cast<long>(23 + 5 + (3 + 5) + (11 + 5) + (10 + 5)) * 3);
  for (size_t i = 0; i < reqs.size(); ++i) {
    INFO("request " << i);
    check_same(out[i], cold(m, router, reqs[i]));
  }
  // With the cache off, nobody waits and every prompt runs.
  SchedulerOptions off;
  off.prefix_caching = false;
  auto engine2 = m.engine(fake_options(256), router);
  Tally tally2;
  Scheduler s2(*engine2, nullptr, off, &tally2);
  run_together(s2, reqs);
  CHECK(tally2.rows == static_cast<long>(23 + 23 + 11 + 30 + 4 * 5) * 3);
}

TEST_CASE("prefix cache: preemption and eviction under a small pool change no token",
          "[scheduler][prefix]") {
  FakeModel m(3);
  auto router = m.router(RouteMode::kForward, KvPolicy::kPropagate);
  const std::vector<int> shared = prompt(6, 12);
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < 10; ++i)
    reqs.push_back(req(prompt(10 + i, 14 + i % 5, i % 3 ? shared : std::vector<int>{}), 20));
  // One sequence's worst case: 3 layers x ceil(37 / 4) = 30 blocks; the pool
  // holds it and a little more, so sequences are preempted and cached blocks
  // evicted all the time.
  auto engine = m.engine(fake_options(36), router);
  Tally tally;
  Scheduler s(*engine, nullptr, {}, &tally);
  const std::vector<SequenceResult> out = run_together(s, reqs);
  CHECK(tally.preemptions > 0);
  CHECK(tally.hit > 0);
  for (size_t i = 0; i < reqs.size(); ++i) {
    INFO("request " << i);
    CHECK(out[i].finish == FinishReason::kLength);
    check_same(out[i], cold(m, router, reqs[i]));
  }
  CHECK(engine->kv().used_blocks() == 0);
}

TEST_CASE("prefix cache: the default model gives the same tokens and depths from the cache",
          "[scheduler][prefix]") {
  auto w = default_model_weights();
  auto router = std::make_shared<RouterWeights>(make_random_router(w->config, 3));
  for (auto mode : {RouteMode::kFull, RouteMode::kForward}) {
    INFO(route_mode_name(mode));
    const std::vector<int> system = {1,   432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426,
                                     338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322};
    std::vector<GenerateRequest> reqs;
    for (int tail : {403, 291, 317}) {
      GenerateRequest r;
      r.prompt = system;
      r.prompt.insert(r.prompt.end(), {tail, 407, 261});
      r.max_tokens = 12;
      r.mode = mode;
      r.ignore_eos = true;
      reqs.push_back(r);
    }
    BackendOptions bo = options_for(w->config, reqs);
    bo.kv_block_size = 8;
    auto engine = make_engine(w, router, bo);
    Scheduler s(*engine, nullptr);
    for (const auto& r : reqs) {
      SequenceResult got;
      s.submit(r, {nullptr, [&got](const SequenceResult& res) { got = res; }});
      s.run_until_idle();
      auto fresh = make_engine(w, router, bo);  // cold, on the same pool shape
      const SequenceResult want = run_requests_on(*fresh, {r})[0];
      CHECK(got.usage.cached_prompt_tokens == (&r == &reqs[0] ? 0 : 16));
      CHECK(token_ids(got) == token_ids(want));
      REQUIRE(got.tokens.size() == want.tokens.size());
      for (size_t t = 0; t < got.tokens.size(); ++t)
        CHECK(got.tokens[t].path == want.tokens[t].path);
    }
  }
}
