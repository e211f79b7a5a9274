// The head's sampling rule (engine/token_sampling.h), which the CUDA
// sampling kernel computes too, and the Backend defaults built on it.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "engine/engine.h"
#include "engine/kv_sizing.h"
#include "engine/model_bundle.h"
#include "engine/sampler.h"
#include "engine/token_sampling.h"
#include "kernels/backend_factory.h"
#include "test_util.h"

using namespace radial;
using radial::test::expect_error;

namespace {

TokenSampling params(float t, int k, float p, float u) { return TokenSampling{t, k, p, u}; }

// Probability of each id under the rule, found by sweeping the uniform draw
// over a fine grid.
std::map<int, double> distribution(const std::vector<float>& l, float t, int k, float p) {
  std::map<int, double> hist;
  const int grid = 20000;
  for (int i = 0; i < grid; ++i)
    hist[sample_token(l, params(t, k, p, (i + 0.5f) / grid))] += 1.0 / grid;
  return hist;
}

}  // namespace

TEST_CASE("token sampling: greedy is argmax with ties to the lowest id", "[token_sampling]") {
  CHECK(sample_token(std::vector<float>{1, 3, 3, 2}, params(0, 0, 1, 0.9f)) == 1);
  CHECK(sample_token(std::vector<float>{NAN, -1, NAN}, params(0, 0, 1, 0)) == 1);
  CHECK(sample_token(std::vector<float>{NAN, NAN}, params(0, 0, 1, 0)) == 0);
}

TEST_CASE("token sampling: temperature draws in id order by weight", "[token_sampling]") {
  const std::vector<float> l = {0.f, std::log(3.f), std::log(2.f), std::log(4.f)};  // 1:3:2:4
  auto d = distribution(l, 1.f, 0, 1.f);
  CHECK(d[0] == Approx(0.1).margin(1e-3));
  CHECK(d[1] == Approx(0.3).margin(1e-3));
  CHECK(d[2] == Approx(0.2).margin(1e-3));
  CHECK(d[3] == Approx(0.4).margin(1e-3));
  // The draw is taken in id order: the smallest uniforms give id 0.
  CHECK(sample_token(l, params(1, 0, 1, 0.f)) == 0);
  CHECK(sample_token(l, params(1, 0, 1, 0.09f)) == 0);
  CHECK(sample_token(l, params(1, 0, 1, 0.11f)) == 1);
  CHECK(sample_token(l, params(1, 0, 1, 0.99f)) == 3);
  // Temperature 2 flattens: weights sqrt(1):sqrt(3):sqrt(2):sqrt(4).
  d = distribution(l, 2.f, 0, 1.f);
  const double z = 1 + std::sqrt(3.0) + std::sqrt(2.0) + 2;
  CHECK(d[1] == Approx(std::sqrt(3.0) / z).margin(1e-3));
}

TEST_CASE("token sampling: top-k and top-p keep the right ids", "[token_sampling]") {
  const std::vector<float> l = {0.f, std::log(3.f), std::log(2.f), std::log(4.f)};  // 1:3:2:4
  auto d = distribution(l, 1.f, 2, 1.f);  // ids 3 and 1: 4:3
  CHECK(d.size() == 2);
  CHECK(d[1] == Approx(3.0 / 7).margin(1e-3));
  CHECK(d[3] == Approx(4.0 / 7).margin(1e-3));
  d = distribution(l, 1.f, 0, 0.65f);  // 0.4 + 0.3 >= 0.65: ids 3 and 1
  CHECK(d.size() == 2);
  CHECK(d[3] == Approx(4.0 / 7).margin(1e-3));
  d = distribution(l, 1.f, 0, 0.75f);  // 0.4 + 0.3 + 0.2 needed
  CHECK(d.size() == 3);
  CHECK(d[2] == Approx(2.0 / 9).margin(1e-3));
  // top-p applies to what top-k kept: of 4:3, 0.5 needs only id 3.
  d = distribution(l, 1.f, 2, 0.5f);
  CHECK(d.size() == 1);
  CHECK(d[3] == Approx(1.0));
  // Ties at the top-k boundary are all kept.
  d = distribution({1.f, 2.f, 2.f, 0.f}, 1.f, 1, 1.f);
  CHECK(d.size() == 2);
  CHECK(d[1] == Approx(0.5).margin(1e-3));
}

TEST_CASE("token sampling: infinities, NaN and bad parameters", "[token_sampling]") {
  CHECK(sample_token(std::vector<float>{-INFINITY, -INFINITY}, params(1, 0, 1, 0.5f)) == 0);
  CHECK(sample_token(std::vector<float>{NAN, 0.f, INFINITY}, params(1, 0, 1, 0.5f)) == 2);
  expect_error([] { sample_token(std::vector<float>{1}, params(-1, 0, 1, 0)); },
               ErrorCode::kInvalidArgument, {"temperature"});
  expect_error([] { sample_token(std::vector<float>{1}, params(1, -1, 1, 0)); },
               ErrorCode::kInvalidArgument, {"top_k"});
  expect_error([] { sample_token(std::vector<float>{1}, params(1, 0, 0, 0)); },
               ErrorCode::kInvalidArgument, {"top_p"});
  expect_error([] { sample_token(std::vector<float>{1}, params(1, 0, 1, 1.f)); },
               ErrorCode::kInvalidArgument, {"uniform"});
  expect_error([] { sample_token(std::vector<float>{}, params(0, 0, 1, 0)); },
               ErrorCode::kInvalidArgument, {"empty"});
}

TEST_CASE("backend defaults: route and head_sample agree with the logits they come from",
          "[token_sampling]") {
  ModelSource src;
  src.model = radial::test::default_model_dir();
  ModelBundle b = load_bundle(src);
  REQUIRE(b.router != nullptr);
  BackendOptions o = backend_options_for(b.weights->config, 8, 4, 1, 1);
  auto engine_owner = make_engine(b.weights, b.router, o);
  Engine& engine = *engine_owner;
  Backend& be = engine.backend();
  const std::vector<int> tokens = {1, 403, 407, 261, 378, 432};
  std::vector<int> slots = {3, 0, 5, 1, 4, 2};
  be.embed(tokens, slots);
  std::vector<LayerRow> rows;
  std::vector<int> table = {0};
  for (int i = 0; i < 6; ++i) rows.push_back({slots[i], i, table.data(), i, false});
  be.forward_layer(0, rows);
  const int L = b.weights->config.num_layers, V = b.weights->config.vocab_size;
  std::vector<float> gates(6 * (L + 1));
  be.router_logits(slots, gates.data());
  for (float thr : {0.f, 0.3f, 0.5f, 0.8f, 1.f}) {
    std::vector<RouteQuery> q;
    for (int i = 0; i < 6; ++i) q.push_back({i % 3 - 1, thr});
    std::vector<int> targets(6);
    be.route(slots, q, targets.data());
    RoutingParams rp;
    rp.mode = b.router->config.mode;
    rp.threshold = thr;
    for (int i = 0; i < 6; ++i)
      CHECK(targets[i] == route_next(b.router->config, rp, q[i].last, gates.data() + i * (L + 1)));
  }
  std::vector<float> logits(6 * V);
  be.head_logits(slots, logits.data());
  std::vector<TokenSampling> ps;
  for (int i = 0; i < 6; ++i) ps.push_back(params(i % 2 ? 0.8f : 0.f, i % 3 ? 20 : 0, 0.9f, 0.37f));
  std::vector<int> drawn(6);
  be.head_sample(slots, ps, drawn.data());
  for (int i = 0; i < 6; ++i)
    CHECK(drawn[i] == sample_token(std::span<const float>(logits.data() + i * V, V), ps[i]));
}
