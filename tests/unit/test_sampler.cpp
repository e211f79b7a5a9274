// Sampler: greedy, determinism, top-k / top-p, temperature, logit bias,
// repetition, presence and frequency penalties, parameter validation.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>
#include <vector>

#include "engine/error.h"
#include "engine/sampler.h"

namespace radial {
namespace {

// Deterministic pseudo-random logits in [-scale, scale) (a local LCG, so the
// test does not depend on std:: distributions either).
std::vector<float> make_logits(int n, uint32_t seed, float scale = 4.f) {
  std::vector<float> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (float& f : v) {
    x = x * 1664525u + 1013904223u;
    f = scale * (static_cast<float>(x >> 8) / 8388608.f - 1.f);
  }
  return v;
}

std::vector<double> softmax(const std::vector<float>& logits, double temperature) {
  const double mx = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) sum += p[i] = std::exp((logits[i] - mx) / temperature);
  for (double& x : p) x /= sum;
  return p;
}

// Draws `n` samples (fresh logits each time) and returns the frequencies.
std::vector<double> frequencies(const SamplingParams& params, const std::vector<float>& logits,
                                int n) {
  Sampler s(params);
  std::vector<double> freq(logits.size(), 0.0);
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = logits;
    freq[s.sample(l, {})] += 1.0 / n;
  }
  return freq;
}

std::vector<int> draws(const SamplingParams& params, const std::vector<float>& logits, int n) {
  Sampler s(params);
  std::vector<int> out;
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = logits;
    out.push_back(s.sample(l, {}));
  }
  return out;
}

std::string validate_message(const SamplingParams& p) {
  try {
    p.validate();
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kInvalidArgument);
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("sampler: argmax and greedy", "[sampler]") {
  CHECK(argmax(std::vector<float>{1.f, 3.f, 2.f}) == 1);
  CHECK(argmax(std::vector<float>{5.f, 3.f, 5.f}) == 0);  // ties to the lowest id
  CHECK(argmax(std::vector<float>{1.f, 7.f, 7.f}) == 1);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(argmax(std::vector<float>{nan, -1.f, nan}) == 1);
  CHECK(argmax(std::vector<float>{nan, nan}) == 0);
  CHECK_THROWS_AS(argmax(std::span<const float>{}), Error);

  Sampler greedy(SamplingParams{});
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    auto logits = make_logits(1000, seed);
    const int expected = argmax(logits);
    CHECK(greedy.sample(logits, {}) == expected);
  }
}

TEST_CASE("sampler: same seed gives the same samples, different seeds differ", "[sampler]") {
  SamplingParams p;
  p.temperature = 1.f;
  p.seed = 1234;
  const auto logits = make_logits(64, 7, 1.f);
  const auto a = draws(p, logits, 2000);
  const auto b = draws(p, logits, 2000);
  CHECK(a == b);
  p.seed = 1235;
  const auto c = draws(p, logits, 2000);
  CHECK(a != c);
  // Samples actually vary within one stream.
  CHECK(std::set<int>(a.begin(), a.end()).size() > 10);

  // With top-k and top-p as well.
  p.top_k = 20;
  p.top_p = 0.8f;
  CHECK(draws(p, logits, 500) == draws(p, logits, 500));
}

TEST_CASE("sampler: the random stream is pinned (splitmix64)", "[sampler]") {
  // Two equally likely tokens: token = (u >= 0.5), i.e. the top bit of each
  // splitmix64 output. splitmix64 from seed 0 starts 0xE220A8397B1DCDAF,
  // 0x6E789E6AA1B965F4, 0x06C45D188009454F, 0xF88BB8A8724C81EC, ...
  SamplingParams p;
  p.temperature = 1.f;
  p.seed = 0;
  const std::vector<float> logits{0.f, 0.f};
  CHECK(draws(p, logits, 4) == std::vector<int>{1, 0, 0, 1});
}

TEST_CASE("sampler: top_k = 1 and tiny top_p are greedy", "[sampler]") {
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    auto logits = make_logits(500, seed, 2.f);
    logits[seed * 7] = logits[seed * 11] = 3.f;  // a tie at the top: lowest id wins
    const int expected = argmax(logits);
    CHECK(expected == static_cast<int>(seed * 7));
    SamplingParams k1;
    k1.temperature = 1.5f;
    k1.top_k = 1;
    k1.seed = seed;
    SamplingParams p0;
    p0.temperature = 1.5f;
    p0.top_p = 1e-6f;
    p0.seed = seed;
    for (int rep = 0; rep < 5; ++rep) {
      auto l1 = logits, l2 = logits;
      CHECK(Sampler(k1).sample(l1, {}) == expected);
      CHECK(Sampler(p0).sample(l2, {}) == expected);
    }
  }
}

TEST_CASE("sampler: temperature 1 matches softmax frequencies", "[sampler]") {
  const std::vector<float> logits{1.f, 2.f, 0.5f};
  SamplingParams p;
  p.temperature = 1.f;
  p.seed = 42;
  const auto expected = softmax(logits, 1.0);
  const auto freq = frequencies(p, logits, 20000);
  for (int i = 0; i < 3; ++i) CHECK(std::abs(freq[i] - expected[i]) < 0.02);

  p.temperature = 2.f;
  const auto expected2 = softmax(logits, 2.0);
  const auto freq2 = frequencies(p, logits, 20000);
  for (int i = 0; i < 3; ++i) CHECK(std::abs(freq2[i] - expected2[i]) < 0.02);
}

TEST_CASE("sampler: top_k and top_p renormalize over the kept tokens", "[sampler]") {
  // Probabilities 0.5, 0.3, 0.2 (ids 2, 0, 1).
  const std::vector<float> logits{std::log(0.3f), std::log(0.2f), std::log(0.5f)};
  SamplingParams p;
  p.temperature = 1.f;
  p.seed = 9;
  p.top_k = 2;
  auto freq = frequencies(p, logits, 20000);
  CHECK(std::abs(freq[2] - 0.625) < 0.02);
  CHECK(std::abs(freq[0] - 0.375) < 0.02);
  CHECK(freq[1] == 0.0);

  p.top_k = 0;
  p.top_p = 0.75f;  // 0.5 < 0.75 <= 0.8: ids 2 and 0
  freq = frequencies(p, logits, 20000);
  CHECK(std::abs(freq[2] - 0.625) < 0.02);
  CHECK(freq[1] == 0.0);

  p.top_p = 0.4f;  // the best token alone
  freq = frequencies(p, logits, 2000);
  CHECK(freq[0] == 0.0);
  CHECK(freq[1] == 0.0);
}

TEST_CASE("sampler: top_p and top_k on a large vocabulary", "[sampler]") {
  const int n = 128 * 1024;
  const auto logits = make_logits(n, 3, 8.f);
  const auto probs = softmax(logits, 1.0);
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  // Draws 20 samples; counts those outside `allowed` and the distinct ids.
  auto check_draws = [&](const SamplingParams& p, const std::vector<char>& allowed,
                         size_t min_distinct) {
    Sampler s(p);
    std::vector<float> l(n);
    std::set<int> seen;
    int outside = 0;
    for (int i = 0; i < 20; ++i) {
      l = logits;
      const int id = s.sample(l, {});
      outside += allowed[id] ? 0 : 1;
      seen.insert(id);
    }
    CHECK(outside == 0);
    CHECK(seen.size() >= min_distinct);
  };
  for (float top_p : {0.05f, 0.5f, 0.9f}) {
    std::vector<char> nucleus(n, 0);
    double cum = 0;
    size_t size = 0;
    for (int id : order) {
      nucleus[id] = 1;
      ++size;
      cum += probs[id];
      if (cum >= top_p) break;
    }
    SamplingParams p;
    p.temperature = 1.f;
    p.top_p = top_p;
    p.seed = 5;
    check_draws(p, nucleus, size > 1000 ? 10 : 1);
  }
  // A small k (heap selection) and a large k (nth_element), with a flat
  // temperature so that many ids are drawn.
  for (int k : {40, n / 2}) {
    std::vector<char> top(n, 0);
    for (int j = 0; j < k; ++j) top[order[j]] = 1;
    SamplingParams p;
    p.temperature = 100.f;
    p.top_k = k;
    check_draws(p, top, 10);
  }
}

TEST_CASE("sampler: repetition penalty", "[sampler]") {
  SamplingParams p;
  p.repetition_penalty = 2.f;
  Sampler s(p);
  std::vector<float> logits{2.f, -2.f, 1.f, 3.f};
  const std::vector<int> history{0, 1, 0, 0};  // each distinct id once
  s.sample(logits, history);
  CHECK(logits[0] == 1.f);   // 2 / 2
  CHECK(logits[1] == -4.f);  // -2 * 2
  CHECK(logits[2] == 1.f);   // untouched
  CHECK(logits[3] == 3.f);

  // It changes the greedy choice.
  std::vector<float> l2{2.f, 1.5f};
  CHECK(Sampler(p).sample(l2, std::vector<int>{0}) == 1);
  std::vector<float> l3{2.f, 1.5f};
  CHECK(Sampler(SamplingParams{}).sample(l3, std::vector<int>{0}) == 0);

  // History ids must be in the vocabulary.
  std::vector<float> l4{1.f, 2.f};
  CHECK_THROWS_AS(s.sample(l4, std::vector<int>{2}), Error);
  std::vector<float> empty;
  CHECK_THROWS_AS(s.sample(empty, {}), Error);
}

TEST_CASE("sampler: logit bias", "[sampler]") {
  SamplingParams p;
  p.logit_bias = {{0, 5.f}, {2, -100.f}};
  std::vector<float> logits{1.f, 2.f, 3.f};
  CHECK(Sampler(p).sample(logits, {}) == 0);
  CHECK(logits == std::vector<float>{6.f, 2.f, -97.f});
  // -100 all but bans a token even when sampling hot.
  p.logit_bias = {{2, -100.f}};
  p.temperature = 2.f;
  Sampler hot(p);
  for (int i = 0; i < 200; ++i) {
    std::vector<float> l{1.f, 1.f, 3.f};
    CHECK(hot.sample(l, {}) != 2);
  }
  // A bias token outside the logits is an error, not a write out of bounds.
  p.logit_bias = {{3, 1.f}};
  std::vector<float> l{1.f, 2.f, 3.f};
  CHECK_THROWS_AS(Sampler(p).sample(l, {}), Error);
}

TEST_CASE("sampler: presence and frequency penalties count generated ids only", "[sampler]") {
  SamplingParams p;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  // Prompt {3, 3}, then generated {0, 0, 1, 0}.
  const std::vector<int> history{3, 3, 0, 0, 1, 0};
  std::vector<float> logits{4.f, 4.f, 4.f, 4.f};
  Sampler s(p);
  CHECK(s.sample(logits, history, 2) == 2);  // 2 and 3 are untouched and tie: the lowest id
  CHECK(logits[0] == 4.f - (0.25f * 3 + 0.5f));
  CHECK(logits[1] == 4.f - (0.25f * 1 + 0.5f));
  CHECK(logits[2] == 4.f);
  CHECK(logits[3] == 4.f);  // in the prompt only
  // With prompt_len 0 the whole history counts.
  std::vector<float> all{4.f, 4.f, 4.f, 4.f};
  s.sample(all, history, 0);
  CHECK(all[3] == 4.f - (0.25f * 2 + 0.5f));
  // Negative penalties favour repeats.
  SamplingParams q;
  q.presence_penalty = -1.f;
  std::vector<float> rep{1.f, 1.5f};
  CHECK(Sampler(q).sample(rep, std::vector<int>{0}, 0) == 0);
  // prompt_len past the history is an error.
  std::vector<float> l{1.f};
  CHECK_THROWS_AS(s.sample(l, std::vector<int>{0}, 2), Error);
}

TEST_CASE("sampler: bias, then repetition penalty, then presence and frequency", "[sampler]") {
  SamplingParams p;
  p.logit_bias = {{0, 2.f}, {1, 1.f}};
  p.repetition_penalty = 2.f;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 1.f;
  std::vector<float> logits{2.f, -3.f, 0.5f};
  Sampler(p).sample(logits, std::vector<int>{1, 0, 0}, 1);
  CHECK(logits[0] == (2.f + 2.f) / 2.f - (1.f * 2 + 0.5f));  // generated twice
  CHECK(logits[1] == (-3.f + 1.f) * 2.f);                    // prompt only
  CHECK(logits[2] == 0.5f);
}

TEST_CASE("sampler: validate names the bad field", "[sampler]") {
  SamplingParams ok;
  CHECK(validate_message(ok).empty());
  ok.temperature = 0.7f;
  ok.top_k = 40;
  ok.top_p = 1.f;
  ok.repetition_penalty = 1.1f;
  CHECK(validate_message(ok).empty());

  SamplingParams p;
  p.top_p = 0.f;
  CHECK(validate_message(p) == "top_p must be in (0, 1], got 0");
  p.top_p = 1.5f;
  CHECK(validate_message(p) == "top_p must be in (0, 1], got 1.5");
  p.top_p = std::numeric_limits<float>::quiet_NaN();
  CHECK(validate_message(p).find("top_p") == 0);

  p = {};
  p.temperature = -1.f;
  CHECK(validate_message(p).find("temperature") == 0);
  p.temperature = std::numeric_limits<float>::infinity();
  CHECK(validate_message(p).find("temperature") == 0);

  p = {};
  p.top_k = -1;
  CHECK(validate_message(p) == "top_k must be >= 0, got -1");

  p = {};
  p.repetition_penalty = 0.f;
  CHECK(validate_message(p).find("repetition_penalty") == 0);
  p.repetition_penalty = std::numeric_limits<float>::quiet_NaN();
  CHECK(validate_message(p).find("repetition_penalty") == 0);

  p = {};
  p.presence_penalty = 2.5f;
  CHECK(validate_message(p) == "presence_penalty must be in [-2, 2], got 2.5");
  p = {};
  p.frequency_penalty = std::numeric_limits<float>::quiet_NaN();
  CHECK(validate_message(p).find("frequency_penalty must be in [-2, 2]") == 0);
  p = {};
  p.presence_penalty = -2.f;
  p.frequency_penalty = 2.f;
  p.logit_bias = {{5, -100.f}, {0, 100.f}};
  CHECK(validate_message(p).empty());
  p.logit_bias = {{5, 1.f}, {5, 2.f}};
  CHECK(validate_message(p) == "logit_bias names token 5 twice");
  p.logit_bias = {{5, 101.f}};
  CHECK(validate_message(p) == "logit_bias of token 5 must be in [-100, 100], got 101");
  p.logit_bias = {{-1, 1.f}};
  CHECK(validate_message(p) == "logit_bias token must be >= 0, got -1");

  p = {};
  p.top_k = -5;
  CHECK_THROWS_AS(Sampler(p), Error);
}

TEST_CASE("sampler: non-finite logits", "[sampler]") {
  SamplingParams p;
  p.temperature = 1.f;
  Sampler s(p);
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int i = 0; i < 20; ++i) {
    std::vector<float> l{nan, 1.f, inf, -inf};
    CHECK(s.sample(l, {}) == 2);
    std::vector<float> l2{nan, 0.f, nan};
    CHECK(s.sample(l2, {}) == 1);
  }
  // A tiny temperature is greedy without overflow.
  p.temperature = 1e-30f;
  Sampler cold(p);
  std::vector<float> l{1.f, 1.001f, 0.5f};
  CHECK(cold.sample(l, {}) == 1);
}

}  // namespace radial
