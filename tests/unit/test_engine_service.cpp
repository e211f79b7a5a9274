// EngineService: the engine loop thread, driven from many threads.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "engine/error.h"
#include "engine_harness.h"
#include "kernels/backend_factory.h"
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

// Reads a stream to its end: the tokens it delivered, and its final result.
SequenceResult drain_stream(RequestStream& s, std::vector<GeneratedToken>* tokens = nullptr) {
  std::vector<GeneratedToken> got;
  SequenceResult result;
  while (s.next(&got, &result, RequestStream::Clock::now() + 10s) !=
         RequestStream::Next::kFinished) {
  }
  if (tokens) *tokens = std::move(got);
  return result;
}

// Submits and waits for the final result on the calling thread (no Catch2
// assertion here: other threads call it). `streamed` gets the number of
// tokens the stream delivered.
SequenceResult generate(EngineService& svc, const GenerateRequest& r, size_t* streamed = nullptr) {
  auto stream = svc.submit(r);
  std::vector<GeneratedToken> got;
  SequenceResult result = drain_stream(*stream, &got);
  if (streamed) *streamed = got.size();
  return result;
}

}  // namespace

TEST_CASE("service: concurrent submits from many threads equal their solo runs", "[service]") {
  EngineService svc(options());
  CHECK(svc.model_info().num_layers == 5);
  CHECK(svc.model_info().has_router);  // models/stories260K/radial.json
  CHECK(svc.model_info().routing_mode == "forward");
  CHECK(svc.tokenize("Once upon a time") == std::vector<int>{1, 403, 407, 261, 378});
  std::vector<SequenceResult> solo;
  for (int i = 0; i < 8; ++i) {
    size_t streamed = 0;
    solo.push_back(generate(svc, req(i, 10 + i), &streamed));
    CHECK(streamed == solo.back().tokens.size());  // the stream carried every token
  }
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
  CHECK_THROWS_WITH(svc.submit(r), Catch::Matchers::Contains("exceeds the limit"));
  r = req(0, 5);
  r.stop = {"a", "b", "c"};
  CHECK_THROWS_WITH(svc.submit(r), Catch::Matchers::Contains("stop strings"));
  r = req(0, 5);
  r.sampling.top_p = 2.f;
  try {
    svc.submit(r);
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
        auto stream = svc.submit(req(i, 30));
        ++accepted;
        drain_stream(*stream);
        ++finished;
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kResourceExhausted) ++exhausted;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(svc.drain(30s));
  CHECK(exhausted + accepted == 16);
  CHECK(finished == accepted);
  CHECK_THROWS_WITH(svc.submit(req(0, 5)), Catch::Matchers::Contains("draining"));
}

TEST_CASE("service: shutdown gives every request in flight its final result", "[service]") {
  std::vector<std::unique_ptr<RequestStream>> streams;
  {
    EngineService svc(options());
    for (int i = 0; i < 6; ++i) streams.push_back(svc.submit(req(i, 400)));
  }
  // The service is gone; every stream has its final result (so dropping
  // them now asks nothing of the service).
  int cancelled = 0;
  for (auto& s : streams) {
    REQUIRE(s->finished());
    cancelled += drain_stream(*s).finish == FinishReason::kCancelled;
  }
  CHECK(cancelled >= 1);
}

TEST_CASE("service: cancel from another thread", "[service]") {
  EngineService svc(options());
  auto stream = svc.submit(req(1, 400));
  std::vector<GeneratedToken> got;
  SequenceResult result;
  while (got.size() < 3) stream->next(&got, &result, RequestStream::Clock::now() + 10s);
  std::thread([&] { svc.cancel(stream->id()); }).join();
  CHECK(drain_stream(*stream).finish == FinishReason::kCancelled);
}

TEST_CASE("service: the engine runs on the backend its factory makes", "[service]") {
  ServiceOptions o = options();
  int made = 0;
  BackendChoice choice;
  choice.kv_blocks = 48;
  const BackendFactory cpu = backend_factory(choice);
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
      svc.submit(std::move(r));
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
