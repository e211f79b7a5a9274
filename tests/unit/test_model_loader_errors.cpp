// Model loading, malformed inputs: llama2.c files, HF directories and shard
// indexes each broken in one way give a clear error naming what is wrong;
// ModelWeights::validate names the tensor.

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/model_loader.h"
#include "engine/safetensors.h"
#include "tests/unit/model_files.h"
#include "tests/unit/test_util.h"

namespace radial {
namespace {

using namespace test;  // model_files.h: fs, json and the file helpers

TEST_CASE("loader: malformed llama2.c files", "[loader]") {
  TempDir tmp("bad-bin");
  const std::string p = tmp.file("m.bin");
  std::vector<char> b = read_bytes(stories_bin());
  REQUIRE(b.size() == 1056540);
  auto load = [&] { load_llama2c_model(p); };
  auto set_header = [&](int field, int32_t value) {
    std::memcpy(b.data() + 4 * field, &value, 4);
    write_bytes(p, b);
  };
  SECTION("truncated") {
    b.resize(b.size() - 4);
    write_bytes(p, b);
    expect_error(load, ErrorCode::kCorrupt, {p, "1056536", "1056540", "truncated"});
  }
  SECTION("trailing bytes") {
    b.insert(b.end(), 3, 'x');
    write_bytes(p, b);
    expect_error(load, ErrorCode::kCorrupt, {"1056543", "1056540", "trailing"});
  }
  SECTION("shorter than the header") {
    b.resize(10);
    write_bytes(p, b);
    expect_error(load, ErrorCode::kCorrupt, {"28-byte"});
  }
  SECTION("untied flag without the classifier") {
    set_header(5, -512);
    expect_error(load, ErrorCode::kCorrupt, {"truncated"});
  }
  SECTION("bad header values") {
    struct Case {
      int field;
      int32_t value;
      const char* part;
    };
    for (Case c :
         {Case{0, 0, "dim = 0"}, Case{0, 1 << 20, "dim"}, Case{3, 7, "n_heads = 7"},
          Case{4, 3, "n_kv_heads = 3"}, Case{2, 5000, "n_layers"}, Case{5, 1 << 23, "vocab_size"},
          Case{6, -1, "seq_len"}, Case{4, 0, "n_kv_heads"}, Case{1, -5, "hidden_dim"}}) {
      std::vector<char> saved = b;
      set_header(c.field, c.value);
      expect_error(load, ErrorCode::kCorrupt, {"llama2.c header", c.part});
      b = saved;
    }
  }
  SECTION("not a file") {
    expect_error([&] { load_llama2c_model(tmp.file("absent.bin")); }, ErrorCode::kNotFound,
                 {"absent.bin"});
  }
}

TEST_CASE("loader: malformed HF directories", "[loader]") {
  TempDir tmp("bad-hf");
  const json config = read_json(test::default_model_dir() + "/config.json");
  const std::map<std::string, Tensor> tensors =
      read_all(test::default_model_dir() + "/model.safetensors");
  const fs::path dir = tmp.path / "m";
  auto load = [&] { load_hf_model(dir.string()); };

  SECTION("wrong tensor shape") {
    auto t = tensors;
    t["model.layers.3.self_attn.k_proj.weight"] = Tensor::zeros(DType::kF32, {64, 64});
    write_hf_dir(dir, config, t);
    expect_error(load, ErrorCode::kCorrupt,
                 {"model.layers.3.self_attn.k_proj.weight", "expected [32, 64], got [64, 64]"});
  }
  SECTION("missing tensor") {
    auto t = tensors;
    t.erase("model.layers.2.mlp.up_proj.weight");
    write_hf_dir(dir, config, t);
    expect_error(load, ErrorCode::kNotFound, {"model.layers.2.mlp.up_proj.weight"});
  }
  SECTION("untied config without lm_head.weight") {
    json c = config;
    c["tie_word_embeddings"] = false;
    write_hf_dir(dir, c, tensors);
    expect_error(load, ErrorCode::kNotFound, {"lm_head.weight"});
  }
  SECTION("qwen2 config without biases") {
    json c = config;
    c["model_type"] = "qwen2";
    write_hf_dir(dir, c, tensors);
    expect_error(load, ErrorCode::kNotFound, {"model.layers.0.self_attn.q_proj.bias"});
  }
  SECTION("mixed dtypes are converted, extra tensors ignored") {
    auto t = tensors;
    t["model.layers.1.mlp.gate_proj.weight"] =
        t["model.layers.1.mlp.gate_proj.weight"].to(DType::kBF16);
    t["model.layers.0.self_attn.rotary_emb.inv_freq"] = Tensor::zeros(DType::kF32, {4});
    write_hf_dir(dir, config, t);
    ModelWeights w = load_hf_model(dir.string());
    CHECK(w.layers[1].w_gate.dtype == DType::kF32);
    CHECK(same_bits(
        w.layers[1].w_gate,
        tensors.at("model.layers.1.mlp.gate_proj.weight").to(DType::kBF16).to(DType::kF32)));
  }
  SECTION("missing config.json") {
    write_hf_dir(dir, config, tensors);
    fs::remove(dir / "config.json");
    expect_error(load, ErrorCode::kNotFound, {(dir / "config.json").string()});
    expect_error([&] { load_model(dir.string()); }, ErrorCode::kNotFound,
                 {(dir / "config.json").string()});
  }
  SECTION("missing directory") {
    expect_error(load, ErrorCode::kNotFound, {dir.string()});
    expect_error([&] { load_model(dir.string()); }, ErrorCode::kNotFound, {dir.string()});
  }
  SECTION("missing model.safetensors") {
    write_hf_dir(dir, config, tensors);
    fs::remove(dir / "model.safetensors");
    expect_error(load, ErrorCode::kNotFound, {"model.safetensors"});
  }
  SECTION("corrupt model.safetensors") {
    write_hf_dir(dir, config, tensors);
    fs::resize_file(dir / "model.safetensors", 5000);
    expect_error(load, ErrorCode::kCorrupt, {"model.safetensors"});
  }
  SECTION("unsupported or invalid configs") {
    struct Case {
      const char* key;
      json value;
      ErrorCode code;
      const char* part;
    };
    for (const Case& c :
         {Case{"rope_scaling",
               {{"rope_type", "yarn"}, {"factor", 4.0}},
               ErrorCode::kUnsupported,
               "yarn"},
          Case{"sliding_window", 64, ErrorCode::kUnsupported, "sliding_window"},
          Case{"model_type", "gpt2", ErrorCode::kUnsupported, "gpt2"},
          Case{"num_attention_heads", 7, ErrorCode::kInvalidArgument, "num_attention_heads"},
          Case{"num_key_value_heads", 3, ErrorCode::kInvalidArgument, "num_key_value_heads"}}) {
      json cj = config;
      cj[c.key] = c.value;
      write_hf_dir(dir, cj, tensors);
      expect_error(load, c.code, {"config.json", c.part});
    }
  }
}

TEST_CASE("loader: malformed shard indexes", "[loader]") {
  TempDir tmp("bad-index");
  const fs::path dir = tmp.path / "m";
  fs::copy(test::data_path("stories260K-hf-sharded"), dir, fs::copy_options::recursive);
  const fs::path index = dir / "model.safetensors.index.json";
  json j = read_json(index.string());
  auto load_with = [&](const std::string& tensor, const std::string& shard) {
    json k = j;
    k["weight_map"][tensor] = shard;
    std::ofstream(index) << k.dump();
    load_hf_model(dir.string());
  };
  const std::string q0 = "model.layers.0.self_attn.q_proj.weight";
  expect_error([&] { load_with(q0, "model-00009-of-00003.safetensors"); }, ErrorCode::kNotFound,
               {"model-00009-of-00003.safetensors"});
  expect_error([&] { load_with(q0, "../model-00003-of-00003.safetensors"); }, ErrorCode::kCorrupt,
               {"../model-00003-of-00003.safetensors", q0});
  expect_error([&] { load_with(q0, "sub/model.safetensors"); }, ErrorCode::kCorrupt,
               {"sub/model.safetensors"});
  expect_error([&] { load_with(q0, "model-00001-of-00003.safetensors"); }, ErrorCode::kCorrupt,
               {q0, "model-00001-of-00003.safetensors"});
  std::ofstream(index) << "{\"weight_map\": [";
  expect_error([&] { load_hf_model(dir.string()); }, ErrorCode::kCorrupt,
               {"model.safetensors.index.json"});
}

TEST_CASE("loader: ModelWeights::validate names the tensor", "[loader]") {
  const ModelWeights base = load_hf_model(test::default_model_dir());
  auto corrupt = [&](auto mutate, std::initializer_list<std::string> parts) {
    ModelWeights w = base;
    mutate(w);
    expect_error([&] { w.validate(); }, ErrorCode::kCorrupt, parts);
  };
  corrupt(
      [](ModelWeights& w) {
        w.layers[3].wk = Tensor::zeros(DType::kF32, {64, 64});
      },
      {"layers.3.wk: expected [32, 64], got [64, 64]"});
  corrupt([](ModelWeights& w) { w.layers[1].mlp_norm = w.layers[1].mlp_norm.to(DType::kBF16); },
          {"layers.1.mlp_norm", "BF16", "F32 for a vector"});
  {  // A matrix may be of another dtype than the others.
    ModelWeights w = base;
    w.layers[1].w_up = w.layers[1].w_up.to(DType::kQ8_0);
    CHECK_NOTHROW(w.validate());
    w.layers[1].w_up.nbytes -= 1;
    expect_error([&] { w.validate(); }, ErrorCode::kCorrupt, {"layers.1.w_up", "storage"});
  }
  corrupt([](ModelWeights& w) { w.layers[0].bq = Tensor::zeros(DType::kF32, {64}); },
          {"layers.0.bq"});
  corrupt([](ModelWeights& w) { w.config.attention_bias = true; }, {"layers.0.bq", "no tensor"});
  corrupt([](ModelWeights& w) { w.layers.pop_back(); }, {"layers: expected 5, got 4"});
  corrupt([](ModelWeights& w) { w.lm_head = w.embed.to(DType::kF32); }, {"lm_head"});
  corrupt([](ModelWeights& w) { w.final_norm = Tensor{}; }, {"final_norm"});
  CHECK_NOTHROW(base.validate());
}

}  // namespace
}  // namespace radial
