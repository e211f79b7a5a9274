// Bad requests and mismatched routers get a clear error naming the problem.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/kv_sizing.h"
#include "engine/model_loader.h"
#include "engine_harness.h"
#include "kernels/backend_factory.h"
#include "reference_forward.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;
using Catch::Matchers::Contains;

namespace {

std::shared_ptr<const ModelWeights> model() { return default_model_weights(); }

// The message of the Error that submitting `r` throws ("" if none).
std::string submit_error(const GenerateRequest& r,
                         std::shared_ptr<const RouterWeights> router = nullptr) {
  auto engine_owner =
      make_engine(model(), router, backend_options_for(model()->config, 8, 8, 1, 1));
  Engine& engine = *engine_owner;
  Scheduler s(engine, nullptr);
  try {
    s.submit(r, {});
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kInvalidArgument);
    return e.what();
  }
  return "";
}

GenerateRequest ok() {
  GenerateRequest r;
  r.prompt = {1, 403};
  r.max_tokens = 4;
  return r;
}

}  // namespace

TEST_CASE("invalid requests are rejected with a message", "[errors]") {
  GenerateRequest r = ok();
  CHECK(submit_error(r).empty());

  r = ok();
  r.prompt.assign(513, 5);
  CHECK_THAT(submit_error(r), Contains("longer than the context"));
  r = ok();
  r.max_tokens = 0;
  CHECK_THAT(submit_error(r), Contains("max_tokens"));
  r = ok();
  r.prompt = {1, 512};
  CHECK_THAT(submit_error(r), Contains("outside the vocabulary"));
  r = ok();
  r.sampling.top_p = 0.f;
  CHECK_THAT(submit_error(r), Contains("top_p"));
  r = ok();
  r.sampling.temperature = -1.f;
  CHECK_THAT(submit_error(r), Contains("temperature"));
  r = ok();
  r.mode = RouteMode::kForward;
  CHECK_THAT(submit_error(r), Contains("needs a router"));
  r = ok();
  r.stop = {"the"};
  CHECK_THAT(submit_error(r), Contains("tokenizer"));

  auto router = std::make_shared<RouterWeights>(make_random_router(model()->config, 1));
  r = ok();
  r.threshold = 1.5f;
  CHECK_THAT(submit_error(r, router), Contains("threshold must be in [0, 1]"));
  r.threshold = -0.1f;
  CHECK_THAT(submit_error(r, router), Contains("threshold"));
  r = ok();
  r.mode = RouteMode::kRadial;
  CHECK_THAT(submit_error(r, router), Contains("not supported by this router"));
}

TEST_CASE("a router that does not match the model is rejected", "[errors]") {
  ModelConfig other = model()->config;
  other.num_layers = 6;
  RouterWeights r = make_random_router(other, 1);
  try {
    auto engine = make_engine(model(), std::make_shared<RouterWeights>(r),
                              backend_options_for(model()->config, 8, 8, 1, 1));
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK_THAT(std::string(e.what()), Contains("num_layers"));
  }
}

TEST_CASE("router files: round trip and strict parsing", "[errors][router]") {
  const auto& c = model()->config;
  auto dir = std::filesystem::temp_directory_path() / "radial_router_test";
  std::filesystem::remove_all(dir);
  RouterWeights r =
      constant_router(c, {1, -1, 1, -1, 1, 0}, RouteMode::kForward, KvPolicy::kSparse, {0, 2}, 5);
  save_router(r, dir.string());
  RouterWeights back = load_router(dir.string(), c);
  CHECK(back.config.pinned_layers == std::vector<int>{0, 2});
  CHECK(back.config.kv_policy == KvPolicy::kSparse);
  CHECK(std::equal(back.fc2_b.f32(), back.fc2_b.f32() + 6, r.fc2_b.f32()));

  auto rewrite = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = to_json(r.config);
    edit(j);
    std::ofstream(dir / "radial.json") << j.dump();
  };
  auto load_error = [&]() -> std::string {
    try {
      load_router(dir.string(), c);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  rewrite([](nlohmann::json& j) { j["extra"] = 1; });
  CHECK_THAT(load_error(), Contains("unknown key \"extra\""));
  rewrite([](nlohmann::json& j) { j["threshold"] = 2.0; });
  CHECK_THAT(load_error(), Contains("threshold"));
  rewrite([](nlohmann::json& j) { j["num_layers"] = 4; });
  CHECK_THAT(load_error(), Contains("num_layers"));
  rewrite([](nlohmann::json& j) { j["hidden_size"] = 32; });
  CHECK_THAT(load_error(), Contains("hidden_size"));
  rewrite([](nlohmann::json& j) { j["pinned_layers"] = {7}; });
  CHECK_THAT(load_error(), Contains("pinned layer 7"));
  rewrite([](nlohmann::json& j) {
    j["mode"] = "radial";
    j["kv_policy"] = "propagate";
  });
  CHECK_THAT(load_error(), Contains("sparse"));
  rewrite([](nlohmann::json& j) { j["activation"] = "tanh"; });
  CHECK_THAT(load_error(), Contains("activation"));
  rewrite([](nlohmann::json& j) { j.erase("max_steps"); });
  CHECK_THAT(load_error(), Contains("max_steps"));
  // Tensors whose sizes do not match radial.json.
  rewrite([](nlohmann::json& j) { j["router_hidden"] = 8; });
  CHECK_THAT(load_error(), Contains("router.fc1.weight"));
  // A corrupt tensor file.
  rewrite([](nlohmann::json&) {});
  std::ofstream(dir / "router.safetensors", std::ios::binary) << "garbage";
  CHECK_FALSE(load_error().empty());
  std::filesystem::remove_all(dir);
}
