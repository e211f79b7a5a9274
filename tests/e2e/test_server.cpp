// End-to-end tests of radiald (RADIALD_E2E_KEEP_LOGS=1 keeps the daemons' logs):
// the real daemon as a subprocess on loopback
// ports, driven through the generated C++ stubs, the health and reflection
// services and /metrics. Three daemons, started when first needed:
//   A: models/stories260K + a random forward router written for the test;
//      limits 64 prompt tokens, 512 max_tokens, 4 stop strings.
//   B: a random 8-layer model (d=256, context 2048) with the stories260K
//      tokenizer and a random radial router: slow enough (ms per token) to
//      cancel, time out and drain mid-stream.
//   C: the llama2.c stories260K.bin (no tokenizer, no router) with
//      --max-queued 1 --max-batch-tokens 1 --kv-blocks 30: overload.
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <latch>
#include <mutex>
#include <sstream>
#include <thread>

#include <grpcpp/impl/client_unary_call.h>
#include <grpcpp/impl/rpc_method.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "engine/model_bundle.h"
#include "engine/model_config.h"
#include "engine/router.h"
#include "tests/e2e/server_fixture.h"

namespace radial::e2e {
namespace {

using namespace std::chrono_literals;

// The daemons of this test binary; leaked on purpose (gRPC objects must not
// be destroyed after main()), their processes killed at exit.
class Fixture {
 public:
  static Fixture& get() {
    static Fixture* f = [] {
      auto* p = new Fixture();
      std::atexit([] { get().kill_all(); });
      return p;
    }();
    return *f;
  }

  const std::string& dir() const { return dir_.path(); }

  Server& a() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!a_) {
      const std::string router = dir() + "/router-forward";
      save_router(make_random_router(load_hf_config(model_dir() + "/config.json"), 7), router);
      a_ = start_server("A",
                        {"--model", model_dir(), "--router", router, "--max-prompt-tokens", "64",
                         "--max-tokens", "512", "--max-stop-strings", "4"},
                        dir());
    }
    return *a_;
  }

  Server& b() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!b_) {
      const std::string config = dir() + "/slow.json";
      write_file(config, kSlowModelConfig);
      RouterWeights r = make_random_router(load_hf_config(config), 11);
      r.config.mode = RouteMode::kRadial;
      r.config.kv_policy = KvPolicy::kSparse;
      r.config.max_steps = 2 * r.config.num_layers;
      r.config.pinned_layers.clear();
      const std::string router = dir() + "/router-radial";
      save_router(r, router);
      b_ = start_server(
          "B",
          {"--dummy-config", config, "--tokenizer", model_dir() + "/tokenizer.model", "--router",
           router, "--kv-blocks", "2048", "--max-tokens", "2000", "--drain-timeout-s", "1"},
          dir());
    }
    return *b_;
  }

  Server& c() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!c_) {
      c_ = start_server("C",
                        {"--model", source_dir() + "/tests/data/stories260K/stories260K.bin",
                         "--max-queued", "1", "--max-batch-tokens", "1", "--kv-blocks", "30"},
                        dir());
    }
    return *c_;
  }

 private:
  void kill_all() {
    for (auto* s : {&a_, &b_, &c_})
      if (*s && (*s)->proc) (*s)->proc->signal(SIGKILL);
    for (auto* s : {&a_, &b_, &c_})
      if (*s && (*s)->proc) (*s)->proc->wait_exit(5s);
    if (std::getenv("RADIALD_E2E_KEEP_LOGS") != nullptr) {
      std::fprintf(stderr, "radiald logs kept in %s\n", dir_.path().c_str());
    } else {
      std::error_code ec;
      std::filesystem::remove_all(dir_.path(), ec);
    }
  }

  TempDir dir_;
  std::mutex mu_;
  std::unique_ptr<Server> a_, b_, c_;
};

nlohmann::json reference() {
  std::ifstream in(source_dir() + "/tests/data/stories260K/reference.json");
  return nlohmann::json::parse(in);
}

double metric(const Server& s, const std::string& name,
              const std::map<std::string, std::string>& labels = {}) {
  return metric_value(s.metrics(), name, labels).value_or(-1);
}

}  // namespace

TEST_CASE("health, reflection, ModelInfo and Tokenize", "[server]") {
  Server& a = Fixture::get().a();
  CHECK(health(a.channel, "") == 1);
  CHECK(health(a.channel, "radial.v1.Radial") == 1);
  grpc::Status st;
  CHECK(health(a.channel, "no.such.Service", &st) == -1);
  CHECK(st.error_code() == grpc::StatusCode::NOT_FOUND);

  const std::string services = reflection_list_services(a.channel);
  CHECK(services.find("radial.v1.Radial") != std::string::npos);
  CHECK(services.find("grpc.health.v1.Health") != std::string::npos);

  grpc::ClientContext ctx;
  pb::ModelInfoResponse info;
  REQUIRE(a.stub->ModelInfo(&ctx, pb::ModelInfoRequest(), &info).ok());
  CHECK(info.name() == "stories260K");
  CHECK(info.model_type() == "llama");
  CHECK(info.num_layers() == 5);
  CHECK(info.hidden_size() == 64);
  CHECK(info.context_length() == 512);
  CHECK(info.vocab_size() == 512);
  CHECK(info.routing_mode() == pb::ROUTING_MODE_FORWARD);
  REQUIRE(info.routing_modes_size() == 2);
  CHECK(info.routing_modes(0) == pb::ROUTING_MODE_FULL);
  CHECK(info.routing_modes(1) == pb::ROUTING_MODE_FORWARD);
  CHECK(info.kv_policy() == "propagate");
  CHECK(info.threshold() == Approx(0.5));
  CHECK(info.has_tokenizer());
  CHECK(info.max_prompt_tokens() == 64);
  CHECK(info.max_tokens() == 512);
  CHECK(info.max_stop_strings() == 4);
  CHECK(info.bos_token_id() == 1);
  CHECK(std::vector<uint32_t>(info.eos_token_ids().begin(), info.eos_token_ids().end()) ==
        std::vector<uint32_t>{2});

  grpc::ClientContext tctx;
  pb::TokenizeRequest treq;
  treq.set_text("Once upon a time");
  treq.set_add_bos(true);
  pb::TokenizeResponse tok;
  REQUIRE(a.stub->Tokenize(&tctx, treq, &tok).ok());
  CHECK(std::vector<int>(tok.ids().begin(), tok.ids().end()) ==
        reference()["cases"][0]["prompt_tokens"].get<std::vector<int>>());
  REQUIRE(tok.pieces_size() == tok.ids_size());
  std::string joined;
  for (const auto& p : tok.pieces()) joined += p;
  CHECK(joined == "Once upon a time");
  CHECK(tok.pieces(2) == " upon");
}

TEST_CASE("greedy generation reproduces the reference, streamed and unary", "[server]") {
  Server& a = Fixture::get().a();
  const auto ref = reference()["cases"][0];
  const auto want = ref["tokens"].get<std::vector<int>>();
  REQUIRE(want.size() == 124);
  pb::GenerateRequest req = text_request(ref["prompt"].get<std::string>(), 124);
  req.set_routing_mode(pb::ROUTING_MODE_FULL);

  Generation u = generate_unary(*a.stub, req);
  REQUIRE(u.status.ok());
  CHECK(u.ids == want);
  CHECK(u.last.finish_reason() == pb::FINISH_REASON_LENGTH);
  CHECK(u.last.usage().prompt_tokens() == 5);
  CHECK(u.last.usage().generated_tokens() == 124);
  CHECK(u.last.usage().mean_depth() == Approx(5));
  CHECK(u.last.usage().layer_steps_skipped() == 0);
  CHECK(u.last.usage().compute_fraction() == Approx(1).epsilon(1e-3));
  CHECK(!u.last.request_id().empty());
  CHECK(u.text == ref["text"].get<std::string>());
  for (const auto& p : u.paths) CHECK(p == std::vector<uint32_t>{0, 1, 2, 3, 4});

  req.set_request_id("reference-stream");
  Generation s = generate_stream(*a.stub, req);
  REQUIRE(s.status.ok());
  CHECK(s.ids == want);
  CHECK(s.text == u.text);
  CHECK(s.messages == 125);  // one per token, then the final message
  CHECK(s.one_token_per_message);
  CHECK(s.first_request_id == "reference-stream");
  CHECK(s.last.request_id() == "reference-stream");
  CHECK(s.last.tokens_size() == 0);
  CHECK(s.last.finish_reason() == pb::FINISH_REASON_LENGTH);
  CHECK(s.last.usage().generated_tokens() == 124);
}

TEST_CASE("32 concurrent streams equal their solo outputs", "[server]") {
  Server& a = Fixture::get().a();
  const std::vector<std::string> prompts = {
      "",
      "Once",
      "Once upon a time",
      "The little dog ran to the park and",
      "Lily and Ben were friends. They liked to play in the garden with a big red ball. One day",
      "Tom"};
  const std::vector<uint32_t> lengths = {1, 3, 8, 16, 33, 64, 100};
  std::vector<pb::GenerateRequest> reqs;
  for (int i = 0; i < 32; ++i) {
    pb::GenerateRequest r;
    if (i % 7 == 6) {
      for (int id : {1, 403, 407, 261 + i, 378}) r.mutable_token_ids()->add_ids(id);
    } else {
      r.set_text(prompts[i % prompts.size()]);
    }
    r.set_max_tokens(lengths[i % lengths.size()]);
    switch (i % 5) {
      case 0:
        break;  // the router's mode (forward)
      case 1:
        r.set_routing_mode(pb::ROUTING_MODE_FULL);
        break;
      case 2:
        r.set_routing_mode(pb::ROUTING_MODE_FORWARD);
        break;
      case 3:
        r.set_routing_mode(pb::ROUTING_MODE_FORWARD);
        r.set_threshold(0.8f);
        break;
      case 4:
        r.set_threshold(0.f);
        break;
    }
    if (i % 4 == 3) {
      r.set_temperature(0.9f);
      r.set_top_k(40);
      r.set_top_p(0.9f);
      r.set_repetition_penalty(1.1f);
      r.set_seed(1000 + i);
    }
    if (i % 3 == 0) r.set_ignore_eos(true);
    if (i % 8 == 5) r.mutable_stop_strings()->Add(std::string("."));
    reqs.push_back(r);
  }
  std::vector<Generation> solo;
  for (const auto& r : reqs) {
    solo.push_back(generate_unary(*a.stub, r));
    REQUIRE(solo.back().status.ok());
  }
  const std::vector<Generation> together = generate_together(*a.stub, reqs);
  bool some_skipped = false;
  for (size_t i = 0; i < reqs.size(); ++i) {
    INFO("request " << i);
    check_same_as_solo(together[i], solo[i]);
    if (solo[i].last.usage().layer_steps_skipped() > 0) some_skipped = true;
  }
  CHECK(some_skipped);  // the router did skip layers somewhere
}

TEST_CASE("invalid requests get INVALID_ARGUMENT and the server keeps serving", "[server]") {
  Server& a = Fixture::get().a();
  const double before = metric(a, "radial_request_errors_total", {{"code", "INVALID_ARGUMENT"}});
  struct Case {
    const char* what;
    pb::GenerateRequest req;
    const char* message_part;
  };
  std::vector<Case> cases;
  auto base = [] { return text_request("Once upon a time", 8); };
  cases.push_back({"unknown token id", ids_request({1, 999}, 8), "999"});
  cases.push_back({"negative token id", ids_request({1, -3}, 8), "-3"});
  {
    auto r = base();
    r.set_temperature(-1.f);
    cases.push_back({"negative temperature", r, "temperature"});
  }
  for (float p : {0.f, 1.5f}) {
    auto r = base();
    r.set_top_p(p);
    cases.push_back({"top_p", r, "top_p"});
  }
  {
    auto r = base();
    r.set_repetition_penalty(0.f);
    cases.push_back({"repetition_penalty 0", r, "repetition_penalty"});
  }
  {
    auto r = base();
    r.set_threshold(1.5f);
    cases.push_back({"threshold 1.5", r, "threshold"});
  }
  {
    auto r = base();
    r.set_routing_mode(pb::ROUTING_MODE_RADIAL);
    cases.push_back({"radial mode on a forward router", r, "radial"});
  }
  {
    auto r = base();
    r.set_routing_mode(static_cast<pb::RoutingMode>(9));
    cases.push_back({"unknown routing mode", r, "routing_mode"});
  }
  cases.push_back({"prompt over the limit", ids_request(std::vector<int>(65, 5), 8), "65"});
  cases.push_back({"max_tokens over the limit", text_request("Once", 513), "513"});
  {
    auto r = base();
    for (int i = 0; i < 5; ++i) r.add_stop_strings("stop" + std::to_string(i));
    cases.push_back({"too many stop strings", r, "stop"});
  }
  {
    auto r = base();
    r.set_request_id("has space");
    cases.push_back({"bad request_id", r, "request_id"});
  }
  for (const auto& c : cases) {
    INFO(c.what);
    Generation u = generate_unary(*a.stub, c.req);
    CHECK(u.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(u.status.error_message().find(c.message_part) != std::string::npos);
    Generation s = generate_stream(*a.stub, c.req);
    CHECK(s.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.messages == 0);
    CHECK(!s.status.error_message().empty());
  }
  // A message over --max-message-bytes (1 MiB) is refused by gRPC itself.
  Generation big = generate_unary(*a.stub, text_request(std::string(2 << 20, 'a'), 4));
  CHECK(big.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);

  Generation ok = generate_stream(*a.stub, base());
  CHECK(ok.status.ok());
  CHECK(ok.ids.size() == 8);
  CHECK(metric(a, "radial_request_errors_total", {{"code", "INVALID_ARGUMENT"}}) ==
        before + 2 * cases.size());

  // A model without a tokenizer or a router (C: llama2.c checkpoint).
  Server& c = Fixture::get().c();
  Generation text = generate_unary(*c.stub, text_request("Once", 4));
  CHECK(text.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(text.status.error_message().find("tokenizer") != std::string::npos);
  pb::GenerateRequest fwd = ids_request({1, 403}, 4);
  fwd.set_routing_mode(pb::ROUTING_MODE_FORWARD);
  Generation no_router = generate_unary(*c.stub, fwd);
  CHECK(no_router.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(no_router.status.error_message().find("router") != std::string::npos);
  CHECK(generate_unary(*c.stub, ids_request({1, 403}, 4)).status.ok());
}

// Sends `bytes` as the request of unary `method` (no client-side checks:
// what a hostile or buggy client can put on the wire).
grpc::Status raw_unary(grpc::Channel& ch, const std::string& method, const std::string& bytes) {
  grpc::Slice slice(bytes);
  grpc::ByteBuffer req(&slice, 1), resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 20s);
  return grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      &ch, grpc::internal::RpcMethod(method.c_str(), grpc::internal::RpcMethod::NORMAL_RPC), &ctx,
      req, &resp);
}

TEST_CASE("a string field that is not UTF-8 gets INVALID_ARGUMENT naming it, counted", "[server]") {
  Server& a = Fixture::get().a();
  const double before = metric(a, "radial_request_errors_total", {{"code", "INVALID_ARGUMENT"}});
  // TokenizeRequest.text (field 1) = "ab\xff".
  grpc::Status t = raw_unary(*a.channel, "/radial.v1.Radial/Tokenize",
                             std::string("\x0a\x03"
                                         "ab\xff"));
  CHECK(t.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(t.error_message(),
             Catch::Contains("TokenizeRequest.text") && Catch::Contains("UTF-8"));
  // GenerateRequest.text = "Once", stop_strings (field 9) = "\xc3\x28".
  grpc::Status g = raw_unary(*a.channel, "/radial.v1.Radial/GenerateUnary",
                             std::string("\x0a\x04Once\x4a\x02\xc3\x28"));
  CHECK(g.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(g.error_message(), Catch::Contains("GenerateRequest.stop_strings"));
  // Bytes that are no protocol buffer at all stay INTERNAL, now with a message.
  grpc::Status junk =
      raw_unary(*a.channel, "/radial.v1.Radial/Tokenize", std::string("\xff\xff\xff"));
  CHECK(junk.error_code() == grpc::StatusCode::INTERNAL);
  CHECK_FALSE(junk.error_message().empty());
  // The same bytes, valid, still work (wire-compatible).
  CHECK(raw_unary(*a.channel, "/radial.v1.Radial/Tokenize",
                  std::string("\x0a\x03"
                              "abc"))
            .ok());
  CHECK(
      wait_metric(a, "radial_request_errors_total", {{"code", "INVALID_ARGUMENT"}}, before + 2, 10s)
          .value_or(-1) >= before + 2);
  CHECK(generate_stream(*a.stub, text_request("Once upon a time", 4)).status.ok());
}

TEST_CASE("cancellation and deadlines end the sequence and free its KV blocks", "[server]") {
  Server& b = Fixture::get().b();
  const std::map<std::string, std::string> cancelled = {{"finished_reason", "cancelled"}};
  pb::GenerateRequest req = text_request("Once upon a time", 1500);
  req.set_ignore_eos(true);
  req.set_routing_mode(pb::ROUTING_MODE_FULL);

  SECTION("client cancels mid-stream") {
    const double n0 = metric(b, "radial_request_success_total", cancelled);
    grpc::ClientContext ctx;
    auto reader = b.stub->Generate(&ctx, req);
    pb::GenerateResponse m;
    int got = 0;
    while (got < 3 && reader->Read(&m)) got += m.tokens_size();
    REQUIRE(got == 3);
    ctx.TryCancel();
    while (reader->Read(&m)) {
    }
    CHECK(reader->Finish().error_code() == grpc::StatusCode::CANCELLED);
    CHECK(wait_metric(b, "radial_request_success_total", cancelled, n0 + 1, 10s) == n0 + 1);
    CHECK(wait_metric(b, "radial_kv_cache_blocks_used", {}, 0, 10s) == 0);
    CHECK(metric(b, "radial_num_requests_running") == 0);
  }
  SECTION("stream deadline") {
    const double n0 = metric(b, "radial_request_success_total", cancelled);
    Generation g = generate_stream(*b.stub, req, 300ms);
    CHECK(g.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
    CHECK(g.ids.size() < 1500);
    CHECK(wait_metric(b, "radial_request_success_total", cancelled, n0 + 1, 10s) == n0 + 1);
    CHECK(wait_metric(b, "radial_kv_cache_blocks_used", {}, 0, 10s) == 0);
  }
  SECTION("unary deadline") {
    const double n0 = metric(b, "radial_request_success_total", cancelled);
    Generation g = generate_unary(*b.stub, req, 300ms);
    CHECK(g.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
    CHECK(wait_metric(b, "radial_request_success_total", cancelled, n0 + 1, 10s) == n0 + 1);
    CHECK(wait_metric(b, "radial_kv_cache_blocks_used", {}, 0, 10s) == 0);
  }
  // The server still serves.
  CHECK(generate_unary(*b.stub, text_request("Once", 3)).status.ok());
}

TEST_CASE("radial routing: concurrent streams equal solo, paths within bounds", "[server]") {
  Server& b = Fixture::get().b();
  std::vector<pb::GenerateRequest> reqs;
  for (int i = 0; i < 6; ++i) {
    pb::GenerateRequest r = text_request(i % 2 ? "Once upon a time" : "The dog", 12 + i);
    r.set_ignore_eos(true);
    if (i % 3 != 2) r.set_routing_mode(pb::ROUTING_MODE_RADIAL);
    reqs.push_back(r);
  }
  std::vector<Generation> solo;
  for (const auto& r : reqs) solo.push_back(generate_unary(*b.stub, r));
  std::vector<Generation> together(reqs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < reqs.size(); ++i)
    threads.emplace_back([&, i] { together[i] = generate_stream(*b.stub, reqs[i]); });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < reqs.size(); ++i) {
    INFO("request " << i);
    REQUIRE(solo[i].status.ok());
    REQUIRE(together[i].status.ok());
    CHECK(together[i].ids == solo[i].ids);
    CHECK(together[i].paths == solo[i].paths);
    for (size_t t = 0; t < solo[i].paths.size(); ++t) {
      CHECK(solo[i].depths[t] == solo[i].paths[t].size());
      CHECK(solo[i].depths[t] <= 16);  // max_steps
      for (uint32_t layer : solo[i].paths[t]) CHECK(layer < 8);
    }
  }
}

TEST_CASE("overload gets RESOURCE_EXHAUSTED, the rest succeed", "[server]") {
  Server& c = Fixture::get().c();
  const auto want = reference()["cases"][0]["tokens"].get<std::vector<int>>();
  const pb::GenerateRequest req = ids_request({1, 403, 407, 261, 378}, 20);
  constexpr int kN = 16;
  std::vector<Generation> out(kN);
  std::latch start(kN);
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i)
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      out[i] = generate_unary(*c.stub, req);
    });
  for (auto& t : threads) t.join();
  int exhausted = 0, ok = 0;
  for (const auto& g : out) {
    if (g.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++exhausted;
      CHECK(!g.status.error_message().empty());
    } else {
      INFO(describe(g.status));
      REQUIRE(g.status.ok());
      ++ok;
      CHECK(g.ids == std::vector<int>(want.begin(), want.begin() + 20));
    }
  }
  CHECK(exhausted >= 1);
  CHECK(ok >= 1);
  CHECK(metric(c, "radial_request_errors_total", {{"code", "RESOURCE_EXHAUSTED"}}) >= exhausted);
  CHECK(wait_metric(c, "radial_kv_cache_blocks_used", {}, 0, 10s) == 0);
}

TEST_CASE("/metrics has every series with a model label and passes promtool", "[server]") {
  Server& a = Fixture::get().a();
  REQUIRE(generate_stream(*a.stub, text_request("Once upon a time", 20)).status.ok());
  REQUIRE(wait_metric(a, "radial_num_requests_running", {}, 0, 10s) == 0);
  const std::string text = a.metrics();
  REQUIRE(!text.empty());
  for (const char* name : {"radial_request_success_total",
                           "radial_prompt_tokens_total",
                           "radial_generation_tokens_total",
                           "radial_time_to_first_token_seconds_count",
                           "radial_inter_token_latency_seconds_count",
                           "radial_time_per_output_token_seconds_count",
                           "radial_e2e_request_latency_seconds_count",
                           "radial_request_queue_time_seconds_count",
                           "radial_num_requests_running",
                           "radial_num_requests_waiting",
                           "radial_kv_cache_blocks_used",
                           "radial_kv_cache_blocks_capacity",
                           "radial_kv_cache_usage_perc",
                           "radial_token_depth_count",
                           "radial_layer_tokens_executed_total",
                           "radial_layer_kv_only_rows_total",
                           "radial_layer_batch_size_count",
                           "radial_scheduler_step_duration_seconds_count",
                           "radial_router_seconds_total",
                           "radial_router_evaluations_total",
                           "radial_layer_compute_executed_total",
                           "radial_layer_compute_full_total",
                           "radial_compute_skipped_fraction",
                           "radial_preemptions_total",
                           "radial_request_errors_total"}) {
    INFO(name);
    CHECK(metric_value(text, name).has_value());
  }
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line))
    if (line.rfind("radial_", 0) == 0) {
      INFO(line);
      CHECK(line.find("model=\"stories260K\"") != std::string::npos);
    }
  CHECK(metric_value(text, "radial_generation_tokens_total").value_or(0) >= 20);
  CHECK(metric_value(text, "radial_kv_cache_blocks_capacity") == 64 * 32 * 5);
  CHECK(metric_value(text, "radial_token_depth_bucket", {{"le", "5"}}) ==
        metric_value(text, "radial_token_depth_count"));
  CHECK(metric_value(text, "radial_router_evaluations_total").value_or(0) > 0);
  CHECK(metric_value(text, "radial_layer_tokens_executed_total", {{"layer", "0"}}).value_or(0) > 0);
  CHECK(metric_value(text, "radial_scheduler_step_duration_seconds_count", {{"node_kind", "head"}})
            .value_or(0) > 0);

  const std::string file = Fixture::get().dir() + "/metrics.txt";
  write_file(file, text);
  CommandResult r = run_command({"/bin/sh", "-c", "command -v promtool"}, "", 10s);
  if (r.exit_code != 0) {
    WARN("promtool not found; skipping `promtool check metrics`");
    return;
  }
  r = run_command({"/bin/sh", "-c", "promtool check metrics"}, file, 30s);
  INFO(r.output);
  CHECK(r.exit_code == 0);
}

TEST_CASE("SIGTERM: NOT_SERVING, new requests refused, the stream ends, exit 0", "[server]") {
  Server& b = Fixture::get().b();
  pb::GenerateRequest req = text_request("Once upon a time", 1500);
  req.set_ignore_eos(true);
  req.set_routing_mode(pb::ROUTING_MODE_FULL);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 60s);
  auto reader = b.stub->Generate(&ctx, req);
  pb::GenerateResponse m;
  int got = 0;
  while (got < 3 && reader->Read(&m)) got += m.tokens_size();
  REQUIRE(got == 3);

  b.proc->signal(SIGTERM);
  int status = 1;
  grpc::Status st;
  for (int i = 0; i < 250; ++i) {
    status = health(b.channel, "radial.v1.Radial", &st);
    if (status == 2 || st.error_code() == grpc::StatusCode::UNAVAILABLE) break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK((status == 2 || st.error_code() == grpc::StatusCode::UNAVAILABLE));
  Generation refused = generate_unary(*b.stub, text_request("Once", 3), 10s);
  CHECK(refused.status.error_code() == grpc::StatusCode::UNAVAILABLE);

  // --drain-timeout-s 1: the stream is cancelled by the server and ends with
  // a final message (or it finished first).
  pb::GenerateResponse last;
  while (reader->Read(&m)) last = m;
  const grpc::Status final_status = reader->Finish();
  INFO(describe(final_status));
  CHECK(final_status.ok());
  CHECK((last.finish_reason() == pb::FINISH_REASON_CANCELLED ||
         last.finish_reason() == pb::FINISH_REASON_LENGTH));
  const std::optional<int> code = b.proc->wait_exit(60s);
  INFO(b.proc->log());
  CHECK(code == std::optional<int>(0));
  CHECK(health(b.channel, "radial.v1.Radial") == -1);
}

// Last: stops A and C. Under the sanitizers this is also where leaks and
// errors at shutdown would surface (as a non-zero exit code).
TEST_CASE("SIGTERM on the other daemons exits 0", "[server]") {
  for (Server* s : {&Fixture::get().a(), &Fixture::get().c()}) {
    REQUIRE(generate_unary(*s->stub, ids_request({1, 403}, 4)).status.ok());
    s->proc->signal(SIGTERM);
    const std::optional<int> code = s->proc->wait_exit(60s);
    INFO(s->proc->log());
    CHECK(code == std::optional<int>(0));
  }
}

}  // namespace radial::e2e
