// Model loading: HF directories (single, sharded, BF16), llama2.c checkpoints,
// save_hf_model / `radial convert` (llama2.c -> HF must equal the shipped HF
// model bit for bit), random models, and malformed inputs.
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/model_loader.h"
#include "engine/safetensors.h"
#include "tests/unit/test_util.h"
#include "tools/radial/commands.h"

namespace radial {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using test::expect_error;
using test::TempDir;

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype == b.dtype && a.shape == b.shape && a.nbytes == b.nbytes &&
         (a.nbytes == 0 || std::memcmp(a.data(), b.data(), a.nbytes) == 0);
}

// Every tensor of a model with its engine name.
std::vector<std::pair<std::string, const Tensor*>> named(const ModelWeights& w) {
  std::vector<std::pair<std::string, const Tensor*>> out = {{"embed", &w.embed}};
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const LayerWeights& l = w.layers[i];
    const std::string p = "layers." + std::to_string(i) + ".";
    for (auto [n, t] : {std::pair{"attn_norm", &l.attn_norm},
                        {"wq", &l.wq},
                        {"wk", &l.wk},
                        {"wv", &l.wv},
                        {"bq", &l.bq},
                        {"bk", &l.bk},
                        {"bv", &l.bv},
                        {"wo", &l.wo},
                        {"mlp_norm", &l.mlp_norm},
                        {"w_gate", &l.w_gate},
                        {"w_up", &l.w_up},
                        {"w_down", &l.w_down}})
      out.emplace_back(p + n, t);
  }
  out.emplace_back("final_norm", &w.final_norm);
  out.emplace_back("lm_head", &w.lm_head);
  return out;
}

void check_same_weights(const ModelWeights& a, const ModelWeights& b) {
  auto na = named(a), nb = named(b);
  REQUIRE(na.size() == nb.size());
  for (size_t i = 0; i < na.size(); ++i) {
    INFO(na[i].first);
    CHECK(same_bits(*na[i].second, *nb[i].second));
  }
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

std::map<std::string, Tensor> read_all(const std::string& path) {
  SafetensorsFile f = SafetensorsFile::open(path);
  std::map<std::string, Tensor> out;
  for (const std::string& n : f.names()) out[n] = f.read(n, *f.info(n).dtype);
  return out;
}

// Writes config.json + model.safetensors into `dir`.
void write_hf_dir(const fs::path& dir, const json& config,
                  const std::map<std::string, Tensor>& tensors) {
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << config.dump(2);
  std::vector<std::pair<std::string, const Tensor*>> list;
  for (const auto& [n, t] : tensors) list.emplace_back(n, &t);
  write_safetensors((dir / "model.safetensors").string(), list);
}

std::string stories_bin() { return test::data_path("stories260K/stories260K.bin"); }

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Runs `radial convert` with the given arguments, capturing stdout/stderr.
int run_convert(std::vector<std::string> args, std::string* out = nullptr,
                std::string* err = nullptr) {
  args.insert(args.begin(), "convert");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  std::ostringstream o, e;
  auto* old_out = std::cout.rdbuf(o.rdbuf());
  auto* old_err = std::cerr.rdbuf(e.rdbuf());
  int rc = cli::cmd_convert(static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  if (out) *out = o.str();
  if (err) *err = e.str();
  return rc;
}

TEST_CASE("loader: the default HF model", "[loader]") {
  ModelWeights w = load_model(test::default_model_dir());
  const ModelConfig& c = w.config;
  CHECK(c.model_type == "llama");
  CHECK(c.hidden_size == 64);
  CHECK(c.num_layers == 5);
  CHECK(c.num_heads == 8);
  CHECK(c.num_kv_heads == 4);
  CHECK(c.vocab_size == 512);
  CHECK(c.rope_layout == RopeLayout::kHalfSplit);
  CHECK(c.tie_word_embeddings);
  REQUIRE(w.layers.size() == 5);
  CHECK(w.layers[2].wk.shape == std::vector<int64_t>{32, 64});
  CHECK(w.layers[2].w_down.shape == std::vector<int64_t>{64, 172});
  CHECK(w.lm_head.storage == w.embed.storage);  // tied: shared, not copied
  CHECK(w.embed.dtype == DType::kF32);
  CHECK(w.layers[0].bq.empty());
  // The file's bytes, unchanged.
  SafetensorsFile f = SafetensorsFile::open(test::default_model_dir() + "/model.safetensors");
  CHECK(same_bits(w.layers[4].w_up, f.read("model.layers.4.mlp.up_proj.weight", DType::kF32)));
}

TEST_CASE("loader: the sharded variant is bit-identical", "[loader]") {
  ModelWeights a = load_hf_model(test::default_model_dir());
  ModelWeights b = load_hf_model(test::data_path("stories260K-hf-sharded"));
  CHECK(a.config == b.config);
  check_same_weights(a, b);
}

TEST_CASE("loader: the BF16 variant equals the F32 model rounded to BF16", "[loader]") {
  ModelWeights ref = load_hf_model(test::default_model_dir());
  ModelWeights as_f32 = load_hf_model(test::data_path("stories260K-hf-bf16"));
  ModelWeights as_bf16 =
      load_hf_model(test::data_path("stories260K-hf-bf16"), {.matrix_dtype = DType::kBF16});
  ModelWeights ref_bf16 = load_hf_model(test::default_model_dir(), {.matrix_dtype = DType::kBF16});
  auto nr = named(ref), n32 = named(as_f32), n16 = named(as_bf16), nr16 = named(ref_bf16);
  for (size_t i = 0; i < nr.size(); ++i) {
    INFO(nr[i].first);
    const Tensor &r = *nr[i].second, &x = *n32[i].second, &y = *n16[i].second;
    if (r.empty()) continue;  // no biases
    CHECK(x.dtype == DType::kF32);
    if (r.shape.size() == 1) {  // norms load as F32 (the file's BF16 values)
      CHECK(y.dtype == DType::kF32);
      CHECK(same_bits(y, x));
      continue;
    }
    CHECK(y.dtype == DType::kBF16);
    CHECK(same_bits(y, *nr16[i].second));  // F32 -> BF16 at load rounds the same way
    const auto* y16 = reinterpret_cast<const uint16_t*>(y.data());
    int64_t mismatches = 0;
    for (int64_t k = 0; k < r.numel(); ++k) {
      const float v = r.f32()[k];
      const uint16_t want = f32_to_bf16(v);
      mismatches += y16[k] != want || x.f32()[k] != bf16_to_f32(want);
      mismatches += std::fabs(x.f32()[k] - v) > std::fabs(v) * (1.f / 256);
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("loader: llama2.c checkpoint", "[loader]") {
  ModelWeights w = load_model(stories_bin());
  const ModelConfig& c = w.config;
  CHECK(c.hidden_size == 64);
  CHECK(c.intermediate_size == 172);
  CHECK(c.num_layers == 5);
  CHECK(c.num_heads == 8);
  CHECK(c.num_kv_heads == 4);
  CHECK(c.head_dim == 8);
  CHECK(c.vocab_size == 512);
  CHECK(c.max_position_embeddings == 512);
  CHECK(c.rope_layout == RopeLayout::kInterleaved);
  CHECK(c.tie_word_embeddings);
  CHECK(c.bos_ends_sequence);
  CHECK(c.bos_token_id == 1);
  CHECK(c.eos_token_ids == std::vector<int>{2});
  CHECK(w.lm_head.storage == w.embed.storage);

  // Q/K rows: HF row h*hd + j*hd/2 + i == llama2.c row h*hd + 2i + j.
  ModelWeights hf = load_hf_model(test::default_model_dir());
  const int hd = c.head_dim, d = c.hidden_size;
  for (int layer : {0, 4})
    for (int h = 0; h < c.num_kv_heads; ++h)
      for (int i = 0; i < hd / 2; ++i)
        for (int j = 0; j < 2; ++j) {
          const float* k_ll = w.layers[layer].wk.f32() + (h * hd + 2 * i + j) * d;
          const float* k_hf = hf.layers[layer].wk.f32() + (h * hd + j * hd / 2 + i) * d;
          CHECK(std::memcmp(k_ll, k_hf, d * 4) == 0);
        }
  CHECK(same_bits(w.layers[3].wv, hf.layers[3].wv));  // V is not permuted
}

TEST_CASE("loader: llama2.c -> save_hf_model equals the shipped HF model", "[loader]") {
  TempDir tmp("convert");
  ModelWeights ll = load_llama2c_model(stories_bin());
  save_hf_model(ll, tmp.file("hf"));
  ModelWeights back = load_hf_model(tmp.file("hf"));
  ModelWeights shipped = load_hf_model(test::default_model_dir());
  CHECK(back.config == shipped.config);
  check_same_weights(back, shipped);
  // Same tensor names as the shipped file (no lm_head.weight: tied).
  CHECK(SafetensorsFile::open(tmp.file("hf/model.safetensors")).names() ==
        SafetensorsFile::open(test::default_model_dir() + "/model.safetensors").names());
  CHECK(read_json(tmp.file("hf/config.json"))["tie_word_embeddings"] == true);
}

TEST_CASE("loader: radial convert", "[loader][convert]") {
  TempDir tmp("cli");
  const std::string tok = test::data_path("stories260K/tok512.model");
  std::string out, err;
  REQUIRE(run_convert({"--from", "llama2c", "--input", stories_bin(), "--out", tmp.file("a"),
                       "--tokenizer", tok},
                      &out, &err) == 0);
  CHECK(err.empty());
  CHECK_THAT(out, Catch::Contains("5 layers"));
  CHECK(read_bytes(tmp.file("a/tokenizer.model")) == read_bytes(tok));
  ModelWeights shipped = load_hf_model(test::default_model_dir());
  check_same_weights(load_model(tmp.file("a")), shipped);

  // Re-saving an HF directory (the sharded one) keeps the weights and its tokenizer.
  REQUIRE(run_convert({"--input=" + test::data_path("stories260K-hf-sharded"),
                       "--out=" + tmp.file("b")}) == 0);
  check_same_weights(load_model(tmp.file("b")), shipped);
  CHECK(fs::exists(tmp.file("b/tokenizer.model")));

  CHECK(run_convert({"--help"}, &out) == 0);
  CHECK_THAT(out, Catch::Contains("usage: radial convert"));
  CHECK(run_convert({}, nullptr, &err) == 2);
  CHECK_THAT(err, Catch::StartsWith("radial convert: "));
  CHECK(run_convert({"--input", stories_bin(), "--out", tmp.file("c"), "--from", "onnx"}, nullptr,
                    &err) == 2);
  CHECK_THAT(err, Catch::Contains("--from"));
  CHECK(run_convert({"--input", stories_bin(), "--out"}, nullptr, &err) == 2);
  CHECK(run_convert({"--bogus"}, nullptr, &err) == 2);
  CHECK(run_convert({"--input", tmp.file("missing.bin"), "--out", tmp.file("c")}, nullptr, &err) ==
        1);
  CHECK_THAT(err, Catch::StartsWith("radial convert: ") && Catch::Contains("missing.bin"));
  CHECK(run_convert({"--input", stories_bin(), "--out", tmp.file("c"), "--tokenizer",
                     tmp.file("nope.model")},
                    nullptr, &err) == 1);
  CHECK_THAT(err, Catch::Contains("nope.model"));
}

// A small llama2.c file with an untied classifier (negative vocab_size).
TEST_CASE("loader: llama2.c with an untied classifier", "[loader]") {
  TempDir tmp("untied");
  const int32_t dim = 8, hidden = 12, L = 2, heads = 2, kv_heads = 1, vocab = 10, seq = 4;
  const int64_t kv = dim / heads * kv_heads;
  const int64_t n = vocab * dim + L * dim + L * dim * dim + 2 * L * kv * dim + L * dim * dim +
                    L * dim + 3 * L * hidden * dim + dim + seq * (dim / heads) + vocab * dim;
  std::vector<float> data(n);
  for (int64_t i = 0; i < n; ++i) data[i] = static_cast<float>(i);
  int32_t header[7] = {dim, hidden, L, heads, kv_heads, -vocab, seq};
  {
    std::ofstream f(tmp.file("m.bin"), std::ios::binary);
    f.write(reinterpret_cast<const char*>(header), sizeof(header));
    f.write(reinterpret_cast<const char*>(data.data()), n * 4);
  }
  ModelWeights w = load_llama2c_model(tmp.file("m.bin"));
  CHECK_FALSE(w.config.tie_word_embeddings);
  CHECK(w.config.vocab_size == vocab);
  CHECK(w.lm_head.storage != w.embed.storage);
  CHECK(w.lm_head.f32()[0] == static_cast<float>(n - vocab * dim));  // the last array
  CHECK(w.embed.f32()[vocab * dim - 1] == static_cast<float>(vocab * dim - 1));
  // w1 (gate) of layer 1 starts after emb, rms_att, wq, wk, wv, wo, rms_ffn, w1[0].
  const int64_t w1 = vocab * dim + L * dim + L * dim * dim + 2 * L * kv * dim + L * dim * dim +
                     L * dim + hidden * dim;
  CHECK(w.layers[1].w_gate.f32()[0] == static_cast<float>(w1));
  CHECK(w.final_norm.f32()[0] == static_cast<float>(n - vocab * dim - seq * (dim / heads) - dim));

  // Untied models keep lm_head.weight through save_hf_model.
  save_hf_model(w, tmp.file("hf"));
  CHECK(SafetensorsFile::open(tmp.file("hf/model.safetensors")).contains("lm_head.weight"));
  ModelWeights back = load_hf_model(tmp.file("hf"));
  CHECK(same_bits(back.lm_head, w.lm_head));
  auto nb = named(back), nw = named(w);
  for (size_t i = 0; i < nb.size(); ++i) {
    INFO(nb[i].first);
    const bool rope = nb[i].first.ends_with(".wq") || nb[i].first.ends_with(".wk");
    CHECK(same_bits(*nb[i].second, *nw[i].second) != rope);
  }
  // head_dim 4: half-split rows (0, 1, 2, 3) come from interleaved rows (0, 2, 1, 3).
  const int64_t perm[4] = {0, 2, 1, 3};
  for (int64_t r = 0; r < dim; ++r)
    CHECK(back.layers[1].wq.f32()[r * dim] ==
          w.layers[1].wq.f32()[(r / 4 * 4 + perm[r % 4]) * dim]);
}

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

TEST_CASE("loader: load_model dispatch", "[loader]") {
  TempDir tmp("dispatch");
  std::ofstream(tmp.file("model.txt")) << "hello";
  expect_error([&] { load_model(tmp.file("model.txt")); }, ErrorCode::kInvalidArgument,
               {"model.txt"});
  expect_error([&] { load_model(tmp.file("none.bin")); }, ErrorCode::kNotFound, {"none.bin"});
  expect_error([&] { load_model(tmp.str()); }, ErrorCode::kNotFound, {tmp.file("config.json")});
  CHECK(load_model(stories_bin()).config.rope_layout == RopeLayout::kInterleaved);
}

ModelConfig small_config(const std::string& type, bool tied) {
  ModelConfig c = parse_hf_config(read_json(test::default_model_dir() + "/config.json"));
  c.model_type = type;
  c.attention_bias = type == "qwen2";
  c.tie_word_embeddings = tied;
  return c;
}

uint64_t fnv1a(const ModelWeights& w) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const auto& [name, t] : named(w))
    for (size_t i = 0; i < t->nbytes; ++i)
      h = (h ^ static_cast<uint8_t>(t->data()[i])) * 0x100000001b3ull;
  return h;
}

TEST_CASE("random model: deterministic, seeded, valid", "[loader][random]") {
  const ModelConfig c = small_config("llama", /*tied=*/false);
  ModelWeights a = make_random_model(c, 42), b = make_random_model(c, 42),
               other = make_random_model(c, 43);
  CHECK(a.config == c);
  check_same_weights(a, b);
  // Pinned values: generation uses no libm or std:: distributions, so this
  // must hold on every platform.
  CHECK(fnv1a(a) == 0x61028f9199524373ull);
  auto na = named(a), no = named(other);
  for (size_t i = 0; i < na.size(); ++i) {
    INFO(na[i].first);
    const bool is_norm = na[i].first.ends_with("norm");
    if (na[i].second->empty()) continue;  // no biases
    CHECK(same_bits(*na[i].second, *no[i].second) == is_norm);
  }
  CHECK_NOTHROW(a.validate());
  CHECK(a.lm_head.storage != a.embed.storage);
  for (int64_t i = 0; i < 64; ++i) CHECK(a.layers[2].mlp_norm.f32()[i] == 1.f);

  // Roughly N(0, 0.02): mean, standard deviation and the 2-sigma tail.
  double sum = 0, sq = 0;
  int64_t tail = 0;
  const Tensor& e = a.embed;
  for (int64_t i = 0; i < e.numel(); ++i) {
    const double v = e.f32()[i];
    sum += v;
    sq += v * v;
    tail += std::fabs(v) > 0.04;
  }
  const double n = static_cast<double>(e.numel()), mean = sum / n;
  CHECK(std::fabs(mean) < 5e-4);
  CHECK(std::sqrt(sq / n - mean * mean) == Approx(0.02).epsilon(0.02));
  CHECK(static_cast<double>(tail) / n == Approx(0.0455).margin(0.005));

  // Matrices generated directly in BF16: the F32 values rounded; vectors F32.
  ModelWeights h = make_random_model(c, 42, {.matrix_dtype = DType::kBF16});
  auto nh = named(h);
  for (size_t i = 0; i < na.size(); ++i) {
    INFO(na[i].first);
    if (na[i].second->empty()) continue;
    const bool matrix = na[i].second->shape.size() == 2;
    CHECK(same_bits(*nh[i].second, matrix ? na[i].second->to(DType::kBF16) : *na[i].second));
  }

  ModelWeights tied = make_random_model(small_config("llama", true), 42);
  CHECK(tied.lm_head.storage == tied.embed.storage);
  ModelConfig bad = c;
  bad.num_kv_heads = 3;
  expect_error([&] { make_random_model(bad, 1); }, ErrorCode::kInvalidArgument,
               {"num_key_value_heads"});
}

TEST_CASE("random model: biases survive save_hf_model, Q/K permuted when interleaved",
          "[loader][random]") {
  TempDir tmp("random-save");
  ModelConfig c = small_config("qwen2", /*tied=*/true);
  ModelWeights a = make_random_model(c, 7);
  REQUIRE(a.layers[0].bq.numel() == 64);
  save_hf_model(a, tmp.file("half"));
  ModelWeights back = load_hf_model(tmp.file("half"));
  CHECK(back.config == a.config);
  check_same_weights(back, a);

  c.rope_layout = RopeLayout::kInterleaved;
  ModelWeights il = make_random_model(c, 7);
  save_hf_model(il, tmp.file("il"));
  ModelWeights hs = load_hf_model(tmp.file("il"));
  CHECK(hs.config.rope_layout == RopeLayout::kHalfSplit);
  const int hd = c.head_dim;
  for (int r = 0; r < c.kv_dim(); ++r) {  // half-split row r <- interleaved row
    const int h = r / hd, j = (r % hd) / (hd / 2), i = r % (hd / 2), src = h * hd + 2 * i + j;
    CHECK(hs.layers[1].bk.f32()[r] == il.layers[1].bk.f32()[src]);
    CHECK(hs.layers[1].wk.f32()[r * 64 + 5] == il.layers[1].wk.f32()[src * 64 + 5]);
  }
  CHECK(same_bits(hs.layers[1].bv, il.layers[1].bv));
}

}  // namespace
}  // namespace radial
