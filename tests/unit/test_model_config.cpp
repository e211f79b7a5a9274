// parse_hf_config / to_hf_config / ModelConfig::validate.
#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/model_config.h"
#include "tests/unit/test_util.h"

namespace radial {
namespace {

using json = nlohmann::json;
using test::expect_error;

json stories_config() {
  std::ifstream in(test::default_model_dir() + "/config.json");
  return json::parse(in);
}

// A Llama-3.1-8B config.json as transformers writes it.
json llama31_config() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
    "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
    "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
    "transformers_version": "4.43.0.dev0", "use_cache": true, "vocab_size": 128256})");
}

// A Qwen2.5-0.5B config.json.
json qwen25_config() {
  return json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
    "intermediate_size": 4864, "max_position_embeddings": 32768, "max_window_layers": 24,
    "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24,
    "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "sliding_window": 32768, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
    "transformers_version": "4.40.1", "use_cache": true, "use_sliding_window": false,
    "vocab_size": 151936})");
}

// A Qwen3-0.6B config.json.
json qwen3_config() {
  return json::parse(R"({
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
    "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 3072,
    "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
    "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null,
    "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.51.0",
    "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})");
}

TEST_CASE("config: the shipped stories260K config", "[config]") {
  ModelConfig c = parse_hf_config(stories_config());
  CHECK(c.model_type == "llama");
  CHECK(c.hidden_size == 64);
  CHECK(c.intermediate_size == 172);
  CHECK(c.num_layers == 5);
  CHECK(c.num_heads == 8);
  CHECK(c.num_kv_heads == 4);
  CHECK(c.head_dim == 8);
  CHECK(c.q_dim() == 64);
  CHECK(c.kv_dim() == 32);
  CHECK(c.vocab_size == 512);
  CHECK(c.max_position_embeddings == 512);
  CHECK(c.rms_norm_eps == 1e-5f);
  CHECK(c.rope_theta == 10000.f);
  CHECK(c.rope_layout == RopeLayout::kHalfSplit);
  CHECK(c.rope_scaling == RopeScaling::kNone);
  CHECK(c.tie_word_embeddings);
  CHECK_FALSE(c.attention_bias);
  CHECK(c.hidden_act == Activation::kSilu);
  CHECK(c.bos_token_id == 1);
  CHECK(c.eos_token_ids == std::vector<int>{2});
  CHECK_FALSE(c.bos_ends_sequence);
  c.validate();
  CHECK(load_hf_config(test::default_model_dir() + "/config.json") == c);
}

TEST_CASE("config: real Llama 3.1, Qwen2.5 and Mistral configs", "[config]") {
  ModelConfig l = parse_hf_config(llama31_config());
  l.validate();
  CHECK(l.num_kv_heads == 8);
  CHECK(l.head_dim == 128);
  CHECK(l.rope_scaling == RopeScaling::kLlama3);
  CHECK(l.rope_factor == 8.f);
  CHECK(l.rope_low_freq_factor == 1.f);
  CHECK(l.rope_high_freq_factor == 4.f);
  CHECK(l.rope_original_max_position == 8192);
  CHECK(l.rope_theta == 500000.f);
  CHECK(l.eos_token_ids == std::vector<int>{128001, 128008, 128009});
  CHECK_FALSE(l.tie_word_embeddings);

  ModelConfig q = parse_hf_config(qwen25_config());
  q.validate();
  CHECK(q.model_type == "qwen2");
  CHECK(q.attention_bias);  // Qwen2 always has Q/K/V biases
  CHECK(q.head_dim == 64);
  CHECK(q.rms_norm_eps == 1e-6f);
  CHECK(q.bos_token_id == 151643);
  CHECK(q.tie_word_embeddings);

  ModelConfig q3 = parse_hf_config(qwen3_config());
  q3.validate();
  CHECK(q3.model_type == "qwen3");
  CHECK(q3.qk_norm);  // Qwen3 normalizes each head of q and k
  CHECK_FALSE(q3.attention_bias);
  CHECK(q3.head_dim == 128);
  CHECK(q3.q_dim() == 2048);
  CHECK(q3.rope_layout == RopeLayout::kHalfSplit);
  CHECK(q3.eos_token_ids == std::vector<int>{151645});
  CHECK_FALSE(q.qk_norm);

  json m = stories_config();
  m["model_type"] = "mistral";
  m["sliding_window"] = nullptr;
  m["head_dim"] = 16;  // explicit head_dim: q_dim 128 != hidden 64 is allowed
  ModelConfig mc = parse_hf_config(m);
  mc.validate();
  CHECK(mc.head_dim == 16);
  CHECK(mc.q_dim() == 128);
}

TEST_CASE("config: defaults and accepted variants", "[config]") {
  json j = stories_config();
  j.erase("num_key_value_heads");
  j.erase("rms_norm_eps");
  j.erase("bos_token_id");
  j.erase("eos_token_id");
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};  // older "type" key
  j["pretraining_tp"] = 4;                                    // no effect on inference math
  j["partial_rotary_factor"] = 1.0;
  j["sliding_window"] = 4096;  // not shorter than the context: no effect
  j["max_position_embeddings"] = 4096;
  ModelConfig c = parse_hf_config(j);
  CHECK(c.num_kv_heads == 8);
  CHECK(c.rms_norm_eps == 1e-6f);  // transformers' default
  CHECK(c.bos_token_id == 1);
  CHECK(c.eos_token_ids == std::vector<int>{2});
  CHECK(c.rope_scaling == RopeScaling::kLinear);
  CHECK(c.rope_factor == 2.f);

  j["rope_scaling"] = {{"rope_type", "default"}};
  CHECK(parse_hf_config(j).rope_scaling == RopeScaling::kNone);
  j["eos_token_id"] = nullptr;
  CHECK(parse_hf_config(j).eos_token_ids.empty());
  j["hidden_act"] = "gelu";
  CHECK(parse_hf_config(j).hidden_act == Activation::kGelu);
  j["hidden_act"] = "relu";
  CHECK(parse_hf_config(j).hidden_act == Activation::kRelu);

  // transformers 5: rope_parameters carries rope_theta too.
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 250000.0}};
  CHECK(parse_hf_config(j).rope_theta == 250000.f);

  // Qwen2: a short window is fine while use_sliding_window is false, or while
  // no layer reaches max_window_layers.
  json q = qwen25_config();
  q["sliding_window"] = 4096;
  CHECK_NOTHROW(parse_hf_config(q));
  q["use_sliding_window"] = true;
  q["max_window_layers"] = 24;
  CHECK_NOTHROW(parse_hf_config(q));
  q["layer_types"] = json::array();
  for (int i = 0; i < 24; ++i) q["layer_types"].push_back("full_attention");
  CHECK_NOTHROW(parse_hf_config(q));
}

TEST_CASE("config: unsupported features are errors naming the field", "[config]") {
  auto with = [](const std::string& key, json value) {
    json j = stories_config();
    j[key] = std::move(value);
    return j;
  };
  auto unsupported = [](const json& j, std::initializer_list<std::string> parts) {
    expect_error([&] { parse_hf_config(j); }, ErrorCode::kUnsupported, parts);
  };
  unsupported(with("model_type", "gpt2"), {"model_type", "gpt2"});
  unsupported(with("model_type", "qwen3_moe"), {"qwen3_moe", "mixture-of-experts"});
  json q3 = qwen3_config();
  q3["attention_bias"] = true;
  unsupported(q3, {"attention_bias", "qwen3", "o_proj"});
  unsupported(with("rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}}),
              {"rope_scaling", "yarn"});
  unsupported(with("rope_scaling", {{"type", "dynamic"}, {"factor", 2.0}}),
              {"rope_scaling", "dynamic"});
  unsupported(with("sliding_window", 64), {"sliding_window", "64"});
  unsupported(with("hidden_act", "gelu_pytorch_tanh"), {"hidden_act", "gelu_pytorch_tanh"});
  unsupported(with("attention_bias", true), {"attention_bias"});
  unsupported(with("mlp_bias", true), {"mlp_bias"});
  unsupported(with("partial_rotary_factor", 0.5), {"partial_rotary_factor"});
  unsupported(with("attn_logit_softcapping", 50.0), {"attn_logit_softcapping"});
  unsupported(with("final_logit_softcapping", 30.0), {"final_logit_softcapping"});
  unsupported(with("use_qk_norm", true), {"use_qk_norm"});
  unsupported(with("quantization_config", {{"quant_method", "awq"}}), {"quantization_config"});

  json m = stories_config();  // Mistral's default window is 4096
  m["model_type"] = "mistral";
  m["max_position_embeddings"] = 32768;
  unsupported(m, {"sliding_window", "4096"});

  json q = qwen25_config();
  q["use_sliding_window"] = true;
  q["sliding_window"] = 4096;
  q["max_window_layers"] = 21;
  unsupported(q, {"sliding_window"});
}

TEST_CASE("config: malformed values are invalid arguments naming the field", "[config]") {
  auto invalid = [](const std::string& key, json value, std::initializer_list<std::string> parts) {
    json j = stories_config();
    if (value.is_discarded())
      j.erase(key);
    else
      j[key] = std::move(value);
    expect_error([&] { parse_hf_config(j); }, ErrorCode::kInvalidArgument, parts);
  };
  const json erase = json(json::value_t::discarded);
  invalid("num_attention_heads", 7, {"num_attention_heads", "hidden_size"});
  invalid("hidden_size", "64", {"hidden_size"});
  invalid("hidden_size", 64.5, {"hidden_size"});
  invalid("vocab_size", erase, {"vocab_size"});
  invalid("model_type", erase, {"model_type"});
  invalid("tie_word_embeddings", "yes", {"tie_word_embeddings"});
  invalid("rms_norm_eps", "small", {"rms_norm_eps"});
  invalid("eos_token_id", json::array({2, "x"}), {"eos_token_id[1]"});
  invalid("num_hidden_layers", 1e12, {"num_hidden_layers"});
  invalid("rope_scaling", "linear", {"rope_scaling"});
  invalid("rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}}, {"low_freq_factor"});
  expect_error([] { parse_hf_config(json::array()); }, ErrorCode::kInvalidArgument, {"object"});
}

TEST_CASE("config: validate names the inconsistent field", "[config]") {
  ModelConfig base = parse_hf_config(stories_config());
  auto invalid = [&](auto mutate, const std::string& part) {
    ModelConfig c = base;
    mutate(c);
    expect_error([&] { c.validate(); }, ErrorCode::kInvalidArgument, {part});
  };
  invalid([](ModelConfig& c) { c.num_kv_heads = 3; }, "num_key_value_heads");
  invalid([](ModelConfig& c) { c.head_dim = 7; }, "head_dim");
  invalid([](ModelConfig& c) { c.hidden_size = 0; }, "hidden_size");
  invalid([](ModelConfig& c) { c.num_layers = -1; }, "num_hidden_layers");
  invalid([](ModelConfig& c) { c.rms_norm_eps = 0; }, "rms_norm_eps");
  invalid([](ModelConfig& c) { c.rope_theta = -1; }, "rope_theta");
  invalid([](ModelConfig& c) { c.eos_token_ids = {512}; }, "eos_token_id");
  invalid([](ModelConfig& c) { c.model_type = "gpt2"; }, "model_type");
  invalid([](ModelConfig& c) { c.qk_norm = true; }, "qk_norm");  // a llama model
  invalid(
      [](ModelConfig& c) {
        c.model_type = "qwen3";
        c.qk_norm = true;
        c.rope_layout = RopeLayout::kInterleaved;
      },
      "half-split");
}

TEST_CASE("config: to_hf_config round trips", "[config]") {
  std::vector<ModelConfig> configs = {
      parse_hf_config(stories_config()), parse_hf_config(llama31_config()),
      parse_hf_config(qwen25_config()), parse_hf_config(qwen3_config())};
  ModelConfig m = configs[0];
  m.model_type = "mistral";
  m.rope_scaling = RopeScaling::kLinear;
  m.rope_factor = 2.5f;
  m.rms_norm_eps = 1.3e-6f;
  m.hidden_act = Activation::kGelu;
  m.eos_token_ids = {};
  m.bos_token_id = -1;
  configs.push_back(m);
  for (const ModelConfig& c : configs) {
    json j = to_hf_config(c, "bfloat16");
    CHECK(j["torch_dtype"] == "bfloat16");
    // Through text, as config.json is written and read.
    ModelConfig back = parse_hf_config(json::parse(j.dump(2)));
    CHECK(back == c);
  }
  // Floats are written in their shortest form.
  CHECK(to_hf_config(configs[0]).dump().find("\"rms_norm_eps\":1e-05") != std::string::npos);
}

TEST_CASE("config: load_hf_config file errors", "[config]") {
  expect_error([] { load_hf_config("/nonexistent/dir/config.json"); }, ErrorCode::kNotFound,
               {"/nonexistent/dir/config.json"});
  auto path = std::filesystem::temp_directory_path() / "radial-config-test-bad.json";
  std::ofstream(path) << "{\"model_type\": ";
  expect_error([&] { load_hf_config(path.string()); }, ErrorCode::kCorrupt,
               {path.string(), "JSON"});
  std::ofstream(path) << R"({"model_type": "gpt2"})";
  expect_error([&] { load_hf_config(path.string()); }, ErrorCode::kUnsupported,
               {path.string(), "gpt2"});
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace radial
