// Hostile model files (issue 15 items 3, 4, 6, 7): JSON nested far deeper
// than any real file, FIFOs where files belong, router integers that do not
// fit, and a KV pool larger than the machine. Each must end in a short,
// clear Error: never a stack overflow, a hang, a silent wrap or a bare
// std::bad_alloc.
#include <sys/stat.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "engine/backend.h"
#include "engine/json_input.h"
#include "engine/kv_sizing.h"
#include "engine/model_config.h"
#include "engine/model_loader.h"
#include "engine/router.h"
#include "engine/safetensors.h"
#include "engine/tokenizer.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;
namespace fs = std::filesystem;

namespace {

std::string nested_array(int depth, const std::string& inner = "1") {
  return std::string(depth, '[') + inner + std::string(depth, ']');
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string stories_config() { return default_model_dir() + "/config.json"; }

// Runs f and checks it throws Error with every part in a one-line message
// (no value dumped into it).
template <typename F>
void expect_short_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    FAIL("expected radial::Error");
  } catch (const Error& e) {
    const std::string m = e.what();
    INFO("message: " << m.substr(0, 400));
    CHECK(m.size() < 400);
    CHECK(m.find('\n') == std::string::npos);
    for (const std::string& p : parts) CHECK_THAT(m, Catch::Contains(p));
  }
}

}  // namespace

TEST_CASE("hostile files: JSON nested 100,000 deep is refused at parse time", "[hostile]") {
  TempDir dir("deep-json");
  SECTION("config.json hidden_size") {
    write_file(dir.file("config.json"),
               R"({"model_type": "llama", "hidden_size": )" + nested_array(100000) + "}");
    expect_short_error([&] { load_hf_config(dir.file("config.json")); }, {"nested deeper than 64"});
  }
  SECTION("config.json rope_scaling") {
    write_file(dir.file("config.json"), R"({"model_type": "llama", "rope_scaling": {"factor": )" +
                                            nested_array(100000) + "}}");
    expect_short_error([&] { load_hf_config(dir.file("config.json")); }, {"nested deeper than 64"});
  }
  SECTION("safetensors shape nested 200,000 deep") {
    const std::string header = R"({"w": {"dtype": "F32", "shape": )" + nested_array(200000) +
                               R"(, "data_offsets": [0, 4]}})";
    std::string bytes(8, '\0');
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(n >> (8 * i) & 0xff);
    write_file(dir.file("w.safetensors"), bytes + header + std::string(4, '\0'));
    expect_short_error([&] { SafetensorsFile::open(dir.file("w.safetensors")); },
                       {"nested deeper than 64"});
  }
  SECTION("radial.json") {
    fs::copy_file(stories_config(), dir.file("config.json"));
    write_file(dir.file("radial.json"), R"({"format": )" + nested_array(100000) + "}");
    const ModelConfig c = load_hf_config(dir.file("config.json"));
    expect_short_error([&] { load_router(dir.str(), c, DType::kF32); }, {"nested deeper than 64"});
  }
  SECTION("tokenizer.json") {
    write_file(dir.file("tokenizer.json"), R"({"model": )" + nested_array(100000) + "}");
    expect_short_error([&] { Tokenizer::load(dir.file("tokenizer.json")); },
                       {"nested deeper than 64"});
  }
}

TEST_CASE("hostile files: a deep but legal value is named, not dumped", "[hostile]") {
  // 60 levels parse; the type error must describe the value in a few words.
  TempDir dir("brief-json");
  write_file(dir.file("config.json"),
             R"({"model_type": "llama", "hidden_size": )" + nested_array(60) + "}");
  expect_short_error([&] { load_hf_config(dir.file("config.json")); },
                     {"hidden_size", "an array of 1 elements"});
  CHECK(json_brief(nlohmann::json(std::string(1000, 'x'))).size() <= 40);
}

TEST_CASE("hostile files: a FIFO in the model directory is refused without blocking", "[hostile]") {
  TempDir dir("fifo");
  auto fifo = [&](const std::string& name) {
    REQUIRE(::mkfifo(dir.file(name).c_str(), 0600) == 0);
    return dir.file(name);
  };
  SECTION("config.json") {
    const std::string p = fifo("config.json");
    expect_short_error([&] { load_hf_config(p); }, {"FIFO"});
    expect_short_error([&] { load_model(dir.str()); }, {"FIFO"});
  }
  SECTION("model.safetensors") {
    fs::copy_file(stories_config(), dir.file("config.json"));
    fifo("model.safetensors");
    expect_short_error([&] { load_model(dir.str()); }, {"FIFO"});
  }
  SECTION("tokenizer files and radial.json") {
    expect_short_error([&] { Tokenizer::load(fifo("tokenizer.json")); }, {"FIFO"});
    expect_short_error([&] { Tokenizer::load(fifo("tokenizer.model")); }, {"FIFO"});
    fifo("radial.json");
    expect_short_error(
        [&] { load_router(dir.str(), load_hf_config(stories_config()), DType::kF32); }, {"FIFO"});
  }
  SECTION("a llama2.c checkpoint") {
    expect_short_error([&] { load_model(fifo("model.bin")); }, {"FIFO"});
  }
}

TEST_CASE("hostile files: radial.json integers must fit in 32 bits", "[hostile]") {
  const ModelConfig c = load_hf_config(stories_config());
  nlohmann::json j = {
      {"format", "radial-router/1"}, {"num_layers", c.num_layers}, {"hidden_size", c.hidden_size},
      {"router_hidden", 16},         {"activation", "silu"},       {"norm_eps", 1e-5},
      {"mode", "forward"},           {"threshold", 0.5},           {"max_steps", 8},
      {"pinned_layers", {0}},        {"kv_policy", "propagate"}};
  REQUIRE_NOTHROW(parse_router_config(j, c));
  for (const char* key : {"num_layers", "hidden_size", "router_hidden", "max_steps"}) {
    nlohmann::json bad = j;
    bad[key] = (1ULL << 32) + static_cast<uint64_t>(c.num_layers);  // wrapped to the right value
    INFO(key);
    expect_error([&] { parse_router_config(bad, c); }, ErrorCode::kInvalidArgument,
                 {key, "32-bit"});
  }
  nlohmann::json pinned = j;
  pinned["pinned_layers"] = {(1LL << 32)};
  expect_error([&] { parse_router_config(pinned, c); }, ErrorCode::kInvalidArgument,
               {"pinned_layers", "32-bit"});
  nlohmann::json threshold = j;
  threshold["threshold"] = 1e300;
  expect_error([&] { parse_router_config(threshold, c); }, ErrorCode::kInvalidArgument,
               {"threshold"});
}

TEST_CASE("hostile files: a KV pool larger than the machine says what to change", "[hostile]") {
  // The arithmetic alone: a pool over the machine's memory never allocates.
  bool allocated = false;
  expect_error(
      [&] { allocate_host_kv_pool(1 << 20, 1 << 20, 1LL << 30, [&] { allocated = true; }); },
      ErrorCode::kResourceExhausted, {"1048576 blocks", "larger than this machine", "kv_blocks"});
  CHECK_FALSE(allocated);
  // An allocation that fails is the same kind of message, not std::bad_alloc.
  expect_error([&] { allocate_host_kv_pool(4, 16, 1LL << 30, [] { throw std::bad_alloc(); }); },
               ErrorCode::kResourceExhausted, {"could not be allocated", "kv_blocks"});
  // Through the CPU backend: the pool of an absurd context (2^27 positions).
  ModelConfig c = load_hf_config(stories_config());
  c.max_position_embeddings = 1 << 27;
  const ModelWeights w = make_random_model(c, 1);
  BackendOptions o;
  o.kv_blocks = auto_cpu_kv_blocks(c, o.kv_block_size);
  o.max_slots = 64;
  expect_error([&] { make_cpu_backend(w, nullptr, o); }, ErrorCode::kResourceExhausted,
               {"KV pool", "kv_blocks"});
}
