// JSON mode (scheduler/json_constraint.h): the byte automaton against
// nlohmann::json's parser on generated objects, their prefixes and their
// mutations; the vocabulary walk against a token-by-token check; and the
// scheduler on stories260K, whose sampled texts must be JSON objects (or
// JSON prefixes when max_tokens cuts them).
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "constraint_check.h"
#include "engine/tokenizer.h"
#include "engine_harness.h"
#include "scheduler/json_constraint.h"
#include "test_util.h"
#include "tests/json_reference.h"

using namespace radial;
using namespace radial::test;

namespace {

// Feeds `s`; the number of bytes taken before a rejection (s.size() when all).
size_t feed_all(JsonState& st, const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i)
    if (!st.feed(static_cast<uint8_t>(s[i]))) return i;
  return s.size();
}

bool accepts(const std::string& s) {
  JsonState st;
  return feed_all(st, s) == s.size() && st.done();
}

// "k<n>" (built by appending: GCC 12 warns, wrongly, about "k" + string).
std::string key_of(unsigned n) {
  std::string k = "k";
  k += std::to_string(n);
  return k;
}

// A string of `inner` between `left` and `right` (see key_of).
std::string wrapped(const char* left, const std::string& inner, const char* right) {
  std::string s = left;
  s += inner;
  s += right;
  return s;
}

nlohmann::json random_value(std::mt19937& rng, int depth) {
  std::uniform_int_distribution<int> kind(0, depth > 3 ? 5 : 7);
  switch (kind(rng)) {
    case 0:
      return nullptr;
    case 1:
      return rng() % 2 == 0;
    case 2:
      return static_cast<int64_t>(rng() % 2000) - 1000;
    case 3:
      return std::ldexp(static_cast<double>(rng() % 100000) - 50000, -static_cast<int>(rng() % 40));
    case 4:
    case 5: {
      static const char* parts[] = {
          "a",  "Lily", " ",    "\"", "\\", "\n", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
          "\t", "/",    "\x01", "key"};
      std::string s;
      for (int i = rng() % 5; i > 0; --i) s += parts[rng() % 13];
      return s;
    }
    case 6: {
      nlohmann::json a = nlohmann::json::array();
      for (int i = rng() % 4; i > 0; --i) a.push_back(random_value(rng, depth + 1));
      return a;
    }
    default: {
      nlohmann::json o = nlohmann::json::object();
      for (int i = rng() % 4; i > 0; --i) o[key_of(rng() % 50)] = random_value(rng, depth + 1);
      return o;
    }
  }
}

}  // namespace

TEST_CASE("JSON mode: the automaton takes JSON objects and nothing else", "[json]") {
  for (const char* ok :
       {"{}", " {\"a\": 1}",
        "{\"a\":[1,2.5,-0.5e+3,true,false,null,{},[]],\"b\":{\"c\":\"\\u00e9\\n\"}}",
        "{\"\xE2\x82\xAC\": \"\xF0\x9F\x98\x80\"}", "{\"a\":0}", "{\"a\":1E9}", "{\"a\" : [ ] }"})
    CHECK(accepts(ok));
  for (const char* bad : {"[]",
                          "1",
                          "\"a\"",
                          "{\"a\":01}",
                          "{\"a\":1.}",
                          "{\"a\":.5}",
                          "{\"a\":1,}",
                          "{,}",
                          "{\"a\" 1}",
                          "{a:1}",
                          "{\"a\":tru}",
                          "{\"a\":nul}",
                          "{\"a\":\"\x01\"}",
                          "{\"a\":\"\\x\"}",
                          "{\"a\":\"\\u12g4\"}",
                          "{\"a\":\"\xC0\x80\"}",
                          "{\"a\":\"\xED\xA0\x80\"}",
                          "{\"a\":\"\xF4\x90\x80\x80\"}",
                          "{\"a\":[}",
                          "{\"a\":1]",
                          "{} {}",
                          "{}}"})
    CHECK_FALSE(accepts(bad));
  // Surrogate escapes come in pairs.
  CHECK(accepts("{\"a\":\"\\ud83d\\ude00\"}"));
  for (const char* lone :
       {"{\"a\":\"\\udddd\"}", "{\"a\":\"\\ud83dx\"}", "{\"a\":\"\\ud83d\\u0041\"}",
        "{\"a\":\"\\ud83d\\n\"}", "{\"a\":\"\\ud83d\"}"})
    CHECK_FALSE(accepts(lone));
  // Whitespace: 16 spaces in a row, not 17; one newline, not two; no
  // carriage return; inside strings, any number of spaces.
  CHECK(accepts(wrapped("{", std::string(16, ' '), "}")));
  CHECK_FALSE(accepts(wrapped("{", std::string(17, ' '), "}")));
  CHECK(accepts(wrapped("{\"a\":\"", std::string(100, ' '), "\"}")));
  CHECK(accepts("{\n  \"a\": 1,\n  \"b\": [\n    2\n  ]\n}"));
  CHECK_FALSE(accepts("{\n\n\"a\": 1}"));
  CHECK_FALSE(accepts("{\r\n\"a\": 1}"));
  // Nesting: 64 containers, not 65.
  CHECK(accepts(wrapped("{\"a\":", std::string(63, '[') + std::string(63, ']'), "}")));
  CHECK_FALSE(accepts(wrapped("{\"a\":", std::string(64, '[') + std::string(64, ']'), "}")));
  // A prefix is fed but not done.
  JsonState st;
  CHECK(feed_all(st, "{\"a\": [1, {\"b\"") == 14);
  CHECK_FALSE(st.done());
}

TEST_CASE("JSON mode: the automaton agrees with nlohmann::json on random objects", "[json]") {
  std::mt19937 rng(7);
  int mutated_valid = 0, mutated_invalid = 0;
  for (int n = 0; n < 400; ++n) {
    nlohmann::json o = nlohmann::json::object();
    for (int i = rng() % 5; i > 0; --i) o[key_of(i)] = random_value(rng, 1);
    const std::string text = o.dump(n % 3 == 0 ? 1 : -1);  // some with newlines and indents
    INFO(text);
    REQUIRE(json_mode_reference(text));
    CHECK(accepts(text));
    // Every proper prefix is taken whole, and is not a complete object.
    JsonState st;
    for (size_t i = 0; i + 1 < text.size(); ++i) {
      REQUIRE(st.feed(static_cast<uint8_t>(text[i])));
      CHECK_FALSE(st.done());
    }
    // Mutations: the automaton accepts exactly what the reference accepts.
    for (int m = 0; m < 8; ++m) {
      std::string t = text;
      const size_t at = rng() % t.size();
      static const std::string alphabet = "{}[]:,\"\\ 0123456789.eE+-tfnulrsa\x01\xC3\xA9\xFF";
      const int op = rng() % 3;
      if (op == 0) t[at] = alphabet[rng() % alphabet.size()];
      if (op == 1) t = t.substr(0, at) + alphabet[rng() % alphabet.size()] + t.substr(at);
      if (op == 2) t = t.substr(0, at) + t.substr(at + 1);
      const bool want = json_mode_reference(t);
      INFO("mutated: " << t);
      CHECK(accepts(t) == want);
      (want ? mutated_valid : mutated_invalid) += 1;
    }
  }
  CHECK(mutated_valid > 100);  // both kinds were tried
  CHECK(mutated_invalid > 1000);
}

TEST_CASE("JSON mode: the vocabulary walk allows exactly the tokens that continue the text",
          "[json]") {
  const Tokenizer& tok = tok512();
  auto vocab = std::make_shared<const JsonVocab>(tok, 512);
  // States reached by feeding these token texts, one after another.
  for (const std::string& prefix :
       {std::string(), std::string("{"), std::string("{\"Lily"), std::string("{\"a\":"),
        std::string("{\"a\": -1"), std::string("{\"a\": [tr"), std::string("{\"a\": \"x\\u00")}) {
    JsonConstraint c(vocab);
    CHECK(!check_allowed_is_accepted(c, prefix).empty());
  }
}

TEST_CASE("JSON mode: sampled texts are JSON objects, or prefixes of one when cut", "[json]") {
  // A story model writes no JSON of its own: biases toward '"' and '}' (the
  // byte tokens <0x22>, <0x7D>) make most objects close within the budget;
  // the constraint alone keeps every text valid whatever the bias.
  const Tokenizer& tok = tok512();
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < 6; ++i) {
    GenerateRequest r;
    r.prompt = tok.encode("Lily wrote a JSON object:");
    r.max_tokens = 160;
    r.sampling.temperature = 1.2f;
    r.sampling.seed = 100 + i;
    if (i > 0) r.sampling.logit_bias = {{3 + '"', 3.f}, {3 + '}', 1.5f * i}};
    r.json_object = true;
    r.logprobs = 3;
    reqs.push_back(r);
  }
  reqs[0].sampling.temperature = 0;  // greedy too
  const auto res = run_requests(default_model_weights(), nullptr, reqs, &tok);
  int closed = 0;
  for (const auto& r : res) {
    INFO(r.text);
    REQUIRE(r.finish != FinishReason::kError);
    JsonState st;
    CHECK(feed_all(st, r.text) == r.text.size());
    if (r.finish == FinishReason::kStop) {
      ++closed;
      CHECK(st.done());
      CHECK(nlohmann::json::parse(r.text).is_object());
    } else {
      CHECK(r.finish == FinishReason::kLength);
    }
    for (const auto& t : r.tokens) {
      CHECK(std::isfinite(t.logprob));
      for (const auto& lp : t.top_logprobs)  // masked tokens are -inf: never above the token
        CHECK((std::isfinite(lp.logprob) || lp.logprob < t.logprob));
    }
  }
  CHECK(closed >= 3);
}

TEST_CASE("JSON mode needs a tokenizer", "[json]") {
  GenerateRequest r;
  r.prompt = {1, 2};
  r.json_object = true;
  auto engine = make_engine(default_model_weights(), nullptr,
                            options_for(default_model_weights()->config, {r}));
  Scheduler s(*engine, nullptr);
  expect_error([&] { s.submit(r, {}); }, ErrorCode::kInvalidArgument, {"JSON mode", "tokenizer"});
}
