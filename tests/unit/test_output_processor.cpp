// The output processor alone (no engine): what each sampled token becomes,
// and when a sequence ends (EOS, a stop string, max_tokens, the context),
// with the usage the final result reports.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/tokenizer.h"
#include "scheduler/logprobs.h"
#include "scheduler/output_processor.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;

namespace {

ModelConfig config(int layers = 4, int context = 64) {
  ModelConfig c;
  c.num_layers = layers;
  c.hidden_size = 8;
  c.intermediate_size = 16;
  c.num_heads = 2;
  c.num_kv_heads = 1;
  c.head_dim = 4;
  c.vocab_size = 512;
  c.max_position_embeddings = context;
  c.eos_token_ids = {2};
  return c;
}

Pass pass_at(int position, std::vector<int> path) {
  Pass p;
  p.position = position;
  p.steps = static_cast<int>(path.size());
  p.path = std::move(path);
  return p;
}

}  // namespace

TEST_CASE("output: tokens, usage and the end by max_tokens", "[output]") {
  const ModelConfig c = config();
  GenerateRequest r;
  r.prompt = {1, 5, 6};
  r.max_tokens = 3;
  OutputProcessor out(c, nullptr, 0, r);
  auto v = out.on_token(40, pass_at(2, {0, 1, 2, 3}));
  REQUIRE(v.token != nullptr);
  CHECK(v.token->token == 40);
  CHECK(v.token->depth == 4);
  CHECK_FALSE(v.finish);
  v = out.on_token(41, pass_at(3, {0, 2}));
  CHECK_FALSE(v.finish);
  v = out.on_token(42, pass_at(4, {1}));
  REQUIRE(v.finish);
  CHECK(*v.finish == FinishReason::kLength);
  const SequenceResult& res = out.finish(*v.finish);
  CHECK(res.finish == FinishReason::kLength);
  CHECK(res.usage.prompt_tokens == 3);
  CHECK(res.usage.generated_tokens == 3);
  CHECK(res.usage.mean_depth == Approx((4 + 2 + 1) / 3.0));
  CHECK(res.usage.layer_steps_skipped == (0 + 2 + 3));
  CHECK(res.text.empty());  // no tokenizer: no text
}

TEST_CASE("output: EOS ends without a token; ignore_eos emits it; the context ends", "[output]") {
  const ModelConfig c = config(4, 6);
  GenerateRequest r;
  r.prompt = {1, 5};
  r.max_tokens = 100;
  {
    OutputProcessor out(c, nullptr, 0, r);
    const auto v = out.on_token(2, pass_at(1, {0}));
    CHECK(v.token == nullptr);
    REQUIRE(v.finish);
    CHECK(*v.finish == FinishReason::kStop);
    CHECK(out.generated() == 0);
  }
  r.ignore_eos = true;
  OutputProcessor out(c, nullptr, 0, r);
  CHECK(out.on_token(2, pass_at(1, {0})).token != nullptr);
  for (int pos = 2; pos < 4; ++pos) CHECK_FALSE(out.on_token(9, pass_at(pos, {0})).finish);
  const auto v = out.on_token(9, pass_at(5, {0}));  // position 5 is the context's last
  REQUIRE(v.finish);
  CHECK(*v.finish == FinishReason::kLength);
}

TEST_CASE("output: text, stop strings held back, flushed at the end", "[output]") {
  auto tok = Tokenizer::load(data_path("stories260K/tok512.model"));
  const ModelConfig c = config(4, 512);
  const std::vector<int> text_ids = tok->encode("Once upon a time, there was", false);
  GenerateRequest r;
  r.prompt = {1};
  r.max_tokens = 100;
  r.stop = {"a time"};
  OutputProcessor out(c, tok.get(), 0, r);
  std::string streamed;
  std::optional<FinishReason> end;
  int pos = 1;
  for (int id : text_ids) {
    const auto v = out.on_token(id, pass_at(pos++, {0, 1}));
    if (v.token) streamed += v.token->text;
    if (v.finish) {
      end = v.finish;
      break;
    }
  }
  REQUIRE(end);
  CHECK(*end == FinishReason::kStopString);
  const SequenceResult& res = out.finish(*end);
  CHECK(res.text == "Once upon ");  // the stop string and what follows are never emitted
  CHECK(streamed == res.text);

  // Held-back text is flushed into the last token when the sequence ends
  // another way.
  r.stop = {"time, there was more"};
  OutputProcessor held(c, tok.get(), 0, r);
  pos = 1;
  std::string s2;
  for (int id : text_ids)
    if (const auto v = held.on_token(id, pass_at(pos++, {0})); v.token) s2 += v.token->text;
  const SequenceResult& r2 = held.finish(FinishReason::kLength);
  CHECK(r2.text == "Once upon a time, there was");
  CHECK(s2.size() < r2.text.size());  // "time, there was" was held back until the end
  CHECK(r2.text.rfind(s2, 0) == 0);
  std::string joined;
  for (const auto& t : r2.tokens) joined += t.text;
  CHECK(joined == r2.text);
}

TEST_CASE("output: prompt logits are kept in position order, once each", "[output]") {
  ModelConfig c = config();
  c.vocab_size = 3;
  GenerateRequest r;
  r.prompt = {1, 2, 0};
  r.keep_prompt_logits = true;
  OutputProcessor out(c, nullptr, 0, r);
  const float l0[] = {1, 2, 3}, l1[] = {4, 5, 6}, l2[] = {7, 8, 9};
  out.record_prompt_position(pass_at(1, {0}), l1);  // not the next position: ignored
  CHECK(out.prompt_positions_recorded() == 0);
  out.record_prompt_position(pass_at(0, {0, 1}), l0);
  out.record_prompt_position(pass_at(0, {0, 1}), l0);  // again (a recompute): ignored
  out.record_prompt_position(pass_at(1, {0}), l1);
  out.record_prompt_position(pass_at(2, {0}), l2);
  out.record_prompt_position(pass_at(3, {0}), l2);  // beyond the prompt: ignored
  const SequenceResult& res = out.finish(FinishReason::kLength);
  REQUIRE(res.prompt_logits.size() == 3);
  CHECK(res.prompt_logits[1] == std::vector<float>{4, 5, 6});
  CHECK(res.prompt_depth == std::vector<int>{2, 1, 1});
}

TEST_CASE("output: prompt log-probabilities score each next prompt token, once each", "[output]") {
  ModelConfig c = config();
  c.vocab_size = 3;
  GenerateRequest r;
  r.prompt = {1, 2, 0};
  r.prompt_logprobs = 1;
  OutputProcessor out(c, nullptr, 0, r);
  const float l0[] = {0, 0, std::log(2.f)}, l1[] = {5, 1, 1}, l2[] = {7, 8, 9};
  out.record_prompt_position(pass_at(1, {0}), l1);  // not the next position: ignored
  CHECK(out.prompt_positions_recorded() == 0);
  out.record_prompt_position(pass_at(0, {0, 1}), l0);
  out.record_prompt_position(pass_at(0, {0, 1}), l0);  // again (a recompute): ignored
  out.record_prompt_position(pass_at(1, {0}), l1);
  out.record_prompt_position(pass_at(2, {0}), l2);  // the last: it scores no prompt token
  CHECK(out.prompt_positions_recorded() == 3);
  const SequenceResult& res = out.finish(FinishReason::kLength);
  CHECK(res.prompt_logits.empty());  // (keep_prompt_logits is off)
  REQUIRE(res.prompt_token_logprobs.size() == 2);
  // Position 0's logits score prompt[1] = 2: p = 2 / (1 + 1 + 2).
  const GeneratedToken& a = res.prompt_token_logprobs[0];
  CHECK(a.token == 2);
  CHECK(a.logprob == Approx(std::log(0.5)));
  CHECK(a.depth == 2);
  CHECK(a.path == std::vector<int>{0, 1});
  REQUIRE(a.top_logprobs.size() == 1);
  CHECK(a.top_logprobs[0].token == 2);
  // Position 1's score prompt[2] = 0, the likeliest.
  const GeneratedToken& b = res.prompt_token_logprobs[1];
  CHECK(b.token == 0);
  CHECK(b.logprob == Approx(5 - std::log(std::exp(5.0) + 2 * std::exp(1.0))));
  CHECK(b.top_logprobs[0].token == 0);
  CHECK(b.top_logprobs[0].logprob == b.logprob);
}

TEST_CASE("logprobs: values and the likeliest tokens, ties to the lower id", "[logprobs]") {
  const float ninf = -std::numeric_limits<float>::infinity();
  const std::vector<float> l{1, 3, 3, 2, ninf};
  float chosen = 0;
  std::vector<TokenLogprob> top;
  token_logprobs(l, 0.f, 3, 3, &chosen, &top);
  const double lse = std::log(std::exp(1.0) + 2 * std::exp(3.0) + std::exp(2.0));
  CHECK(chosen == Approx(2 - lse));
  REQUIRE(top.size() == 3);
  CHECK(top[0].token == 1);
  CHECK(top[1].token == 2);
  CHECK(top[2].token == 3);
  CHECK(top[0].logprob == Approx(3 - lse));
  token_logprobs(l, 2.f, 4, 9, &chosen, &top);  // temperature 2; more asked than there are
  CHECK(chosen == -std::numeric_limits<float>::infinity());
  REQUIRE(top.size() == 5);
  CHECK(top[4].token == 4);
  CHECK(top[0].logprob ==
        Approx(1.5 - std::log(std::exp(0.5) + 2 * std::exp(1.5) + std::exp(1.0))));

  // Against a full sort, on logits with many ties.
  uint32_t x = 7;
  std::vector<float> many(1000);
  for (float& v : many) v = static_cast<float>((x = x * 1664525u + 1013904223u) >> 28);
  std::vector<int> order(many.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return many[a] > many[b]; });
  for (int k : {1, 5, 20}) {
    token_logprobs(many, 0.f, 0, k, &chosen, &top);
    REQUIRE(top.size() == static_cast<size_t>(k));
    for (int j = 0; j < k; ++j) CHECK(top[j].token == order[j]);
  }
}
