// EngineService: the engine loop thread, driven from many threads.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <thread>

#include "engine/error.h"
#include "engine_harness.h"
#include "scheduler/engine_service.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;
using namespace std::chrono_literals;

namespace {

ServiceOptions options() {
  ServiceOptions o;
  o.model.model = default_model_dir();
  o.backend.kv_blocks = 2048;
  o.backend.max_slots = 512;
  o.backend.threads = 1;
  return o;
}

GenerateRequest req(int i, int max_tokens) {
  GenerateRequest r;
  r.prompt = {1, 403 + i % 40, 261, 378};
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  r.mode = RouteMode::kFull;  // the default model ships a router: ask for full depth explicitly
  return r;
}

// Submits and waits for the final result on the calling thread.
SequenceResult generate(EngineService& svc, const GenerateRequest& r) {
  std::promise<SequenceResult> done;
  auto fut = done.get_future();
  svc.submit(r, {nullptr, [&done](const SequenceResult& res) { done.set_value(res); }});
  return fut.get();
}

}  // namespace

TEST_CASE("service: concurrent submits from many threads equal their solo runs", "[service]") {
  EngineService svc(options());
  CHECK(svc.model_info().num_layers == 5);
  CHECK(svc.model_info().has_router);  // models/stories260K/radial.json
  CHECK(svc.model_info().routing_mode == "forward");
  CHECK(svc.tokenize("Once upon a time") == std::vector<int>{1, 403, 407, 261, 378});
  std::vector<SequenceResult> solo;
  for (int i = 0; i < 8; ++i) solo.push_back(generate(svc, req(i, 10 + i)));
  std::vector<std::thread> threads;
  std::vector<SequenceResult> together(8);
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] { together[i] = generate(svc, req(i, 10 + i)); });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) CHECK(token_ids(together[i]) == token_ids(solo[i]));
  // Give the loop a moment to publish its idle snapshot.
  for (int i = 0; i < 100 && svc.stats().kv_blocks_used != 0; ++i) std::this_thread::sleep_for(5ms);
  CHECK(svc.stats().kv_blocks_used == 0);
}

TEST_CASE("service: validation errors, limits and the queue bound", "[service]") {
  ServiceOptions o = options();
  o.limits.max_tokens = 50;
  o.limits.max_queued = 1;
  o.limits.max_stop_strings = 2;
  EngineService svc(o);
  GenerateRequest r = req(0, 51);
  CHECK_THROWS_WITH(svc.submit(r, {}), Catch::Matchers::Contains("exceeds the limit"));
  r = req(0, 5);
  r.stop = {"a", "b", "c"};
  CHECK_THROWS_WITH(svc.submit(r, {}), Catch::Matchers::Contains("stop strings"));
  r = req(0, 5);
  r.sampling.top_p = 2.f;
  try {
    svc.submit(r, {});
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kInvalidArgument);
  }
  // Flood: with one queue slot, some submissions are refused as exhausted.
  std::atomic<int> exhausted{0}, finished{0}, accepted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i)
    threads.emplace_back([&, i] {
      try {
        svc.submit(req(i, 30), {nullptr, [&](const SequenceResult&) { ++finished; }});
        ++accepted;
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kResourceExhausted) ++exhausted;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(svc.drain(30s));
  CHECK(exhausted + accepted == 16);
  CHECK(finished == accepted);
  CHECK_THROWS_WITH(svc.submit(req(0, 5), {}), Catch::Matchers::Contains("draining"));
}

TEST_CASE("service: shutdown gives every request in flight its final callback", "[service]") {
  std::atomic<int> finals{0}, cancelled{0};
  {
    EngineService svc(options());
    for (int i = 0; i < 6; ++i)
      svc.submit(req(i, 400), {nullptr, [&](const SequenceResult& r) {
                                 ++finals;
                                 if (r.finish == FinishReason::kCancelled) ++cancelled;
                               }});
  }
  CHECK(finals == 6);
  CHECK(cancelled >= 1);
}

TEST_CASE("service: cancel from another thread", "[service]") {
  EngineService svc(options());
  std::promise<SequenceResult> done;
  std::atomic<int> tokens{0};
  const uint64_t id =
      svc.submit(req(1, 400), {[&](const GeneratedToken&) { ++tokens; },
                               [&](const SequenceResult& r) { done.set_value(r); }});
  while (tokens < 3) std::this_thread::sleep_for(1ms);
  svc.cancel(id);
  CHECK(done.get_future().get().finish == FinishReason::kCancelled);
}

TEST_CASE("service: the engine runs on the backend its factory makes", "[service]") {
  ServiceOptions o = options();
  int made = 0;
  const BackendFactory cpu = backend_factory(BackendChoice{.kv_blocks = 48});
  o.backend_factory = [&](const ModelWeights& w, const RouterWeights* r, BackendOptions& bo) {
    ++made;
    return cpu(w, r, bo);  // sets bo.kv_blocks = 48: the engine must use the factory's sizing
  };
  EngineService svc(o);
  CHECK(made == 1);
  CHECK(svc.stats().kv_blocks_total == 48);
  EngineService plain(options());
  CHECK(token_ids(generate(svc, req(3, 12))) == token_ids(generate(plain, req(3, 12))));
}

TEST_CASE("service: a bad request is INVALID_ARGUMENT even when the queue is full", "[service]") {
  ServiceOptions o = options();
  o.limits.max_queued = 0;  // every valid request is refused as exhausted
  EngineService svc(o);
  auto code_of = [&](GenerateRequest r) {
    try {
      svc.submit(std::move(r), {});
    } catch (const Error& e) {
      return e.code();
    }
    FAIL("expected an error");
    return ErrorCode::kInternal;
  };
  CHECK(code_of(req(0, 5)) == ErrorCode::kResourceExhausted);
  GenerateRequest bad = req(0, 5);
  bad.prompt = {1, 100000};
  CHECK(code_of(bad) == ErrorCode::kInvalidArgument);
  bad = req(0, 5);
  bad.threshold = 7.f;
  CHECK(code_of(bad) == ErrorCode::kInvalidArgument);
}
