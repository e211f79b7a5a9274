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
#include "tests/unit/model_files.h"
#include "tests/unit/test_util.h"
#include "tools/radial/commands.h"

namespace radial {
namespace {

using namespace test;  // model_files.h: fs, json and the file helpers

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
