// The serving core's request stream, alone and through EngineService on
// the fake backend (no model file: random weights from a tiny config, which
// the fake ignores): token events, then exactly one final result; a reader
// woken by tokens without polling; cancel from either side; a dropped
// stream cancels its request; a slow reader never holds the engine up.
#include <catch2/catch.hpp>

#include <fstream>
#include <thread>

#include "fake_backend.h"
#include "scheduler/engine_service.h"
#include "scheduler/request_stream.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;
using namespace std::chrono_literals;
using Next = RequestStream::Next;

namespace {

std::vector<GeneratedToken> read_all(RequestStream& s, SequenceResult* result) {
  std::vector<GeneratedToken> got;
  while (s.next(&got, result, RequestStream::Clock::now() + 10s) != Next::kFinished) {
  }
  return got;
}

GenerateRequest request(int i, int max_tokens) {
  GenerateRequest r;
  r.prompt = {1, 3 + i, 5, 7};
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  r.mode = RouteMode::kFull;
  return r;
}

// An EngineService on the fake backend, from a 3-layer config file.
struct FakeService {
  TempDir dir{"stream"};
  FakeModel model{3};
  std::unique_ptr<EngineService> svc;
  explicit FakeService(std::chrono::microseconds layer_delay = 0us) {
    std::ofstream(dir.file("config.json"))
        << R"({"model_type": "llama", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 3,
               "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 97,
               "max_position_embeddings": 512, "bos_token_id": 1, "eos_token_id": 2})";
    model.layer_delay = layer_delay;
    ServiceOptions o;
    o.model.dummy_config = dir.file("config.json");
    o.backend.kv_blocks = 512;
    o.backend.max_slots = 256;
    o.backend_factory = model.factory();
    svc = std::make_unique<EngineService>(o);
  }
};

}  // namespace

TEST_CASE("request stream: tokens in order, then exactly one final result", "[stream]") {
  int cancels = 0;
  RequestStream s(7, [&](uint64_t id) {
    CHECK(id == 7);
    ++cancels;
  });
  std::vector<GeneratedToken> got;
  SequenceResult result;
  CHECK(s.next(&got, &result, RequestStream::Clock::now() + 5ms) == Next::kTimeout);
  SequenceCallbacks sink = s.sink();
  GeneratedToken t;
  t.token = 11;
  sink.on_token(t);
  t.token = 12;
  sink.on_token(t);
  CHECK(s.next(&got, &result, RequestStream::Clock::now() + 1s) == Next::kTokens);
  REQUIRE(got.size() == 2);
  CHECK(got[0].token == 11);
  CHECK(got[1].token == 12);
  // A reader waiting with a long deadline wakes as soon as a token comes.
  std::thread writer([&] {
    std::this_thread::sleep_for(20ms);
    GeneratedToken u;
    u.token = 13;
    sink.on_token(u);
  });
  const auto t0 = RequestStream::Clock::now();
  CHECK(s.next(&got, &result, t0 + 10s) == Next::kTokens);
  CHECK(RequestStream::Clock::now() - t0 < 5s);
  writer.join();
  CHECK(got.back().token == 13);
  CHECK_FALSE(s.finished());
  SequenceResult final_result;
  final_result.finish = FinishReason::kLength;
  final_result.usage.generated_tokens = 3;
  sink.on_finish(final_result);
  CHECK(s.finished());
  CHECK(s.next(&got, &result, RequestStream::Clock::now() + 1s) == Next::kFinished);
  CHECK(result.usage.generated_tokens == 3);
  CHECK(s.next(&got, &result, RequestStream::Clock::now()) == Next::kFinished);  // again
  CHECK(got.size() == 3);
  CHECK(cancels == 0);  // finished: dropping it cancels nothing
}

TEST_CASE("request stream: a stream dropped unfinished cancels its request", "[stream]") {
  int cancels = 0;
  {
    RequestStream s(3, [&](uint64_t) { ++cancels; });
  }
  CHECK(cancels == 1);
  // Its sink outlives it harmlessly (the engine's callbacks may still come).
  SequenceCallbacks sink;
  {
    RequestStream s(4, [&](uint64_t) { ++cancels; });
    sink = s.sink();
    s.cancel();
    s.cancel();  // idempotent
  }
  CHECK(cancels == 2);
  sink.on_token(GeneratedToken{});
  sink.on_finish(SequenceResult{});
}

TEST_CASE("request stream: through the service, streamed tokens are the result's", "[stream]") {
  FakeService f;
  auto s = f.svc->submit(request(0, 20));
  SequenceResult result;
  const auto got = read_all(*s, &result);
  CHECK(result.finish == FinishReason::kLength);
  REQUIRE(got.size() == 20);
  REQUIRE(result.tokens.size() == 20);
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i].token == result.tokens[i].token);
}

TEST_CASE("request stream: cancel from the front end and from the engine", "[stream]") {
  FakeService f(200us);  // 3 layers per token: about 1.7 ms a token
  auto s = f.svc->submit(request(1, 400));
  std::vector<GeneratedToken> got;
  SequenceResult result;
  while (got.size() < 3) s->next(&got, &result, RequestStream::Clock::now() + 10s);
  s->cancel();  // front end side
  const auto rest = read_all(*s, &result);
  CHECK(result.finish == FinishReason::kCancelled);
  CHECK(result.tokens.size() < 400);

  // Engine side: the service shuts down with requests in flight; each stream
  // still gets its final result.
  std::vector<std::unique_ptr<RequestStream>> streams;
  for (int i = 0; i < 4; ++i) streams.push_back(f.svc->submit(request(i, 400)));
  f.svc.reset();
  for (auto& st : streams) {
    REQUIRE(st->finished());
    SequenceResult r;
    read_all(*st, &r);
    CHECK(r.finish == FinishReason::kCancelled);
  }
}

TEST_CASE("request stream: a dropped stream frees its sequence", "[stream]") {
  FakeService f(200us);
  { auto s = f.svc->submit(request(2, 400)); }  // dropped at once
  CHECK(f.svc->drain(10s));                     // its request ended (cancelled)
  CHECK(f.svc->stats().running == 0);
  CHECK(f.svc->stats().kv_blocks_used == 0);
}

TEST_CASE("request stream: a slow reader holds nobody up", "[stream]") {
  FakeService f(50us);
  auto slow = f.svc->submit(request(3, 60));
  auto fast = f.svc->submit(request(4, 60));
  SequenceResult fast_result;
  read_all(*fast, &fast_result);
  CHECK(fast_result.finish == FinishReason::kLength);
  // The slow reader has not read a token yet; the engine finished its
  // request all the same, and every token waits for it, in order.
  CHECK(f.svc->drain(10s));
  CHECK(slow->finished());
  SequenceResult slow_result;
  std::vector<GeneratedToken> got;
  while (slow->next(&got, &slow_result, RequestStream::Clock::now() + 1s) != Next::kFinished)
    std::this_thread::sleep_for(1ms);
  REQUIRE(got.size() == 60);
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i].token == slow_result.tokens[i].token);
}

TEST_CASE("request stream: poll() never waits, and sees tokens, then the final result",
          "[stream]") {
  RequestStream s(9, [](uint64_t) {});
  std::vector<GeneratedToken> got;
  SequenceResult result;
  SequenceCallbacks sink = s.sink();
  // A writer producing a token every 200 us, as a fast engine does: each
  // poll() returns at once with what has arrived (a reader that waited for
  // "no more tokens" would not return until the generation ended).
  std::thread writer([&] {
    for (int i = 0; i < 50; ++i) {
      GeneratedToken t;
      t.token = i;
      sink.on_token(t);
      std::this_thread::sleep_for(200us);
    }
    SequenceResult r;
    r.finish = FinishReason::kLength;
    sink.on_finish(r);
  });
  int polls = 0, with_tokens = 0;
  for (;;) {
    const auto t0 = RequestStream::Clock::now();
    const Next n = s.poll(&got, &result);
    CHECK(RequestStream::Clock::now() - t0 < 50ms);
    ++polls;
    if (n == Next::kFinished) break;
    if (n == Next::kTokens) ++with_tokens;
    std::this_thread::sleep_for(100us);
  }
  writer.join();
  REQUIRE(got.size() == 50);
  for (int i = 0; i < 50; ++i) CHECK(got[i].token == i);
  CHECK(with_tokens > 1);  // tokens came out while the writer still ran
  CHECK(result.finish == FinishReason::kLength);
  CHECK(s.poll(&got, &result) == Next::kFinished);  // again
}
