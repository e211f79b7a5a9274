// The backend factory: a checked choice makes the same CPU engine the
// default constructor makes; bad choices are clear errors.
#include <catch2/catch.hpp>

#include "engine_harness.h"
#include "kernels/backend_factory.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;

TEST_CASE("backend factory: choices are checked", "[backend-factory]") {
  BackendChoice c;
  CHECK_NOTHROW(check_backend_choice(c));
  c.kind = "tpu";
  expect_error([&] { check_backend_choice(c); }, ErrorCode::kInvalidArgument,
               {"cpu or cuda", "tpu"});
  c = {};
  c.dtype = DType::kBF16;  // the CPU backend's weight matrices in BF16
  CHECK_NOTHROW(check_backend_choice(c));
  c = {};
  c.gpu_memory_fraction = 1.5;
  expect_error([&] { check_backend_choice(c); }, ErrorCode::kInvalidArgument,
               {"gpu_memory_fraction"});
  c = {};
  c.kv_blocks = -1;
  expect_error([&] { check_backend_choice(c); }, ErrorCode::kInvalidArgument, {"kv_blocks"});
  c = {};
  c.kind = "cuda";
  c.dtype = DType::kBF16;
  if (cuda_backend_built())
    CHECK_NOTHROW(check_backend_choice(c));
  else
    expect_error([&] { check_backend_choice(c); }, ErrorCode::kUnsupported, {"no CUDA backend"});
}

TEST_CASE("backend factory: the CPU choice generates what the default engine does",
          "[backend-factory]") {
  auto w = default_model_weights();
  GenerateRequest req;
  req.prompt = {1, 403, 407, 261, 378};
  req.max_tokens = 24;
  req.mode = RouteMode::kFull;
  const auto expected = run_requests(w, nullptr, {req});
  REQUIRE(expected.size() == 1);
  REQUIRE(expected[0].tokens.size() == 24);

  BackendChoice c;
  c.kv_blocks = 64;
  BackendOptions opts = options_for(w->config, {req});
  auto engine = make_engine(w, nullptr, opts, c);
  CHECK(engine->backend().name() == make_cpu_backend(*w, nullptr, opts)->name());
  const auto got = run_requests_on(*engine, {req});
  REQUIRE(got.size() == 1);
  CHECK(token_ids(got[0]) == token_ids(expected[0]));
}
