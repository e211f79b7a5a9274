// The sampling kernel against sample_token (engine/token_sampling.h):
// greedy exactly; with temperature, top-k and top-p the kernel sums in fp32
// where the host sums in double, so a draw may differ only where the
// uniform lies within 1e-4 of a boundary between two ids: then the kernel's
// id must be the host's at uniform +- 1e-4.
#include <catch2/catch.hpp>

#include <cstring>

#include "cuda_test_util.h"
#include "engine/token_sampling.h"
#include "kernels/sampling.cuh"

using namespace radial;
using namespace radial::test;

TEST_CASE("sample_rows draws what sample_token draws", "[cuda][kernels]") {
  std::mt19937 rng(21);
  for (int vocab : {1, 7, 512, 1000, 128256}) {
    const int n = 24;
    std::vector<float> logits = random_vec(rng, static_cast<size_t>(n) * vocab, 3.f);
    if (vocab > 7) {
      logits[5] = NAN;
      logits[vocab + 3] = INFINITY;
      logits[2 * vocab + 1] = logits[2 * vocab + 2] = 50.f;  // a tie for greedy
    }
    std::vector<TokenSampling> ps(n);
    std::uniform_real_distribution<float> u01(0.f, 1.f);
    for (int i = 0; i < n; ++i) {
      ps[i].temperature = i % 4 == 0 ? 0.f : 0.3f + u01(rng);
      ps[i].top_k = i % 3 == 0 ? 0 : 1 + static_cast<int>(u01(rng) * 50);
      ps[i].top_p = i % 2 ? 1.f : 0.2f + 0.8f * u01(rng);
      ps[i].uniform = std::min(u01(rng), 0.999f);
    }
    std::vector<int> packed(4 * n);
    for (int i = 0; i < n; ++i) {
      std::memcpy(&packed[4 * i], &ps[i].temperature, 4);
      packed[4 * i + 1] = ps[i].top_k;
      std::memcpy(&packed[4 * i + 2], &ps[i].top_p, 4);
      std::memcpy(&packed[4 * i + 3], &ps[i].uniform, 4);
    }
    DeviceBuffer dl = to_device(logits), dp = ints_to_device(packed), dt = poisoned(n * 4),
                 ws(kernels::sample_workspace_bytes(n));
    kernels::sample_rows(dl.as<float>(), n, vocab, dp.as<int>(), dt.as<int>(), ws.get(), nullptr);
    const std::vector<int> got = ints_to_host(dt.get(), n);
    for (int i = 0; i < n; ++i) {
      INFO("vocab " << vocab << " row " << i << " T " << ps[i].temperature << " k " << ps[i].top_k
                    << " p " << ps[i].top_p << " u " << ps[i].uniform);
      std::span<const float> row(logits.data() + static_cast<size_t>(i) * vocab, vocab);
      const int want = sample_token(row, ps[i]);
      if (ps[i].temperature == 0.f || got[i] == want) {
        CHECK(got[i] == want);  // greedy: exactly
        continue;
      }
      TokenSampling lo = ps[i], hi = ps[i];
      lo.uniform = std::max(0.f, lo.uniform - 1e-4f);
      hi.uniform = std::min(0.9999f, hi.uniform + 1e-4f);
      CHECK((got[i] == sample_token(row, lo) || got[i] == sample_token(row, hi)));
    }
  }
}

TEST_CASE("sample_rows treats -0 and +0 as one value, like sample_token", "[cuda][kernels]") {
  // {1, 0, -0, -1}, top_k 2: the cut value is 0, so both zeros are kept
  // (sample_token compares values); uniform 0.9 then lands on id 2.
  struct Case {
    std::vector<float> logits;
    TokenSampling p;
  };
  const std::vector<Case> cases = {
      {{1.f, 0.f, -0.f, -1.f}, {1.f, 2, 1.f, 0.9f}},
      {{1.f, -0.f, 0.f, -1.f}, {1.f, 2, 1.f, 0.9f}},
      {{-0.f, 0.f, -0.f, 0.f}, {0.7f, 1, 1.f, 0.8f}},
      {{2.f, -0.f, 0.f, -0.f, 0.f}, {1.f, 0, 0.9f, 0.95f}},
  };
  for (const Case& c : cases) {
    const int vocab = static_cast<int>(c.logits.size());
    std::vector<int> packed(4);
    std::memcpy(&packed[0], &c.p.temperature, 4);
    packed[1] = c.p.top_k;
    std::memcpy(&packed[2], &c.p.top_p, 4);
    std::memcpy(&packed[3], &c.p.uniform, 4);
    DeviceBuffer dl = to_device(c.logits), dp = ints_to_device(packed), dt = poisoned(4),
                 ws(kernels::sample_workspace_bytes(1));
    kernels::sample_rows(dl.as<float>(), 1, vocab, dp.as<int>(), dt.as<int>(), ws.get(), nullptr);
    const int want = sample_token(c.logits, c.p);
    INFO("case with k " << c.p.top_k << " p " << c.p.top_p << " u " << c.p.uniform);
    CHECK(ints_to_host(dt.get(), 1)[0] == want);
  }
  CHECK(sample_token(cases[0].logits, cases[0].p) == 2);
}

TEST_CASE("greedy rows split over many CTAs take the smallest id of the largest value",
          "[cuda][kernels]") {
  // 1, 3 and 40 greedy rows of a 128256-id vocabulary (32, 32 and 7 CTAs a
  // row): the largest value twice, in different CTAs' ranges (ids 4000 and
  // 128000, or 70000 and 70001 in one range); NaN everywhere but one id; all
  // NaN (id 0, as sample_token); all -inf.
  const int vocab = 128256;
  std::mt19937 rng(5);
  for (int n : {1, 3, 40}) {
    std::vector<float> logits = random_vec(rng, static_cast<size_t>(n) * vocab, 3.f);
    for (int i = 0; i < n; ++i) {
      float* row = logits.data() + static_cast<size_t>(i) * vocab;
      switch (i % 5) {
        case 0:
          row[4000] = row[128000] = 99.f;
          break;
        case 1:
          row[70001] = row[70000] = 99.f;
          break;
        case 2:
          std::fill(row, row + vocab, NAN);
          row[100000] = -5.f;
          break;
        case 3:
          std::fill(row, row + vocab, NAN);
          break;
        case 4:
          std::fill(row, row + vocab, -INFINITY);
          break;
      }
    }
    std::vector<int> packed(4 * n, 0);  // temperature 0: greedy
    DeviceBuffer dl = to_device(logits), dp = ints_to_device(packed), dt = poisoned(n * 4),
                 ws(kernels::sample_workspace_bytes(n));
    kernels::sample_rows(dl.as<float>(), n, vocab, dp.as<int>(), dt.as<int>(), ws.get(), nullptr);
    const std::vector<int> got = ints_to_host(dt.get(), n);
    const int expected[5] = {4000, 70000, 100000, 0, 0};
    for (int i = 0; i < n; ++i) {
      INFO("rows " << n << " row " << i);
      std::span<const float> row(logits.data() + static_cast<size_t>(i) * vocab, vocab);
      CHECK(got[i] == sample_token(row, TokenSampling{}));
      CHECK(got[i] == expected[i % 5]);
    }
  }
}
