// GGUF files beyond the plain llama architecture: qwen2 (Q/K/V biases,
// NEOX RoPE on Hugging Face's row order), Llama 3's RoPE scaling as
// llama.cpp's converter writes it (rope_freqs.weight and no parameters),
// and the tensor types that load_gguf_model holds as Q8_0. Each written by
// save_gguf_model and read back by load_gguf_model.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <fstream>

#include "engine/gguf.h"
#include "engine/gguf_loader.h"
#include "engine/gguf_writer.h"
#include "engine/model_loader.h"
#include "engine/rope.h"
#include "engine_harness.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;

namespace {

bool same(const Tensor& x, const Tensor& y) {
  return x.shape == y.shape && x.dtype == y.dtype && x.nbytes == y.nbytes &&
         std::memcmp(x.data(), y.data(), x.nbytes) == 0;
}

ModelConfig small_config() {
  ModelConfig c;
  c.hidden_size = 64;
  c.intermediate_size = 96;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 16;
  c.vocab_size = 80;
  c.max_position_embeddings = 256;
  c.eos_token_ids = {2};
  return c;
}

// The prompt logits of `w` for one 40-token prompt (positions far enough
// for RoPE's low frequencies to matter).
std::vector<std::vector<float>> prompt_logits(const ModelWeights& w) {
  GenerateRequest r;
  for (int i = 0; i < 40; ++i) r.prompt.push_back(3 + (i * 37) % 70);
  r.max_tokens = 1;
  r.keep_prompt_logits = true;
  const auto res = run_requests(std::make_shared<ModelWeights>(w), nullptr, {r});
  REQUIRE(res[0].finish != FinishReason::kError);
  return res[0].prompt_logits;
}

// Relative agreement of two rope_inv_freq vectors.
double inv_freq_gap(const ModelConfig& a, const ModelConfig& b) {
  const auto x = rope_inv_freq(a), y = rope_inv_freq(b);
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] / y[i] - 1));
  return worst;
}

}  // namespace

TEST_CASE("GGUF: a qwen2 model round-trips with its biases and half-split rows", "[gguf]") {
  ModelConfig c = small_config();
  c.model_type = "qwen2";
  c.attention_bias = true;
  c.tie_word_embeddings = true;
  c.rope_theta = 1000000.f;
  const ModelWeights w = make_random_model(c, 11);
  TempDir dir("gguf-qwen2");
  const std::string path = dir.file("q.gguf");
  save_gguf_model(w, path, GgufOutType::kF32, "q", {});

  const GgufFile f = GgufFile::open(path);
  CHECK(f.find("general.architecture")->s == "qwen2");
  CHECK(f.find("qwen2.block_count")->i == 2);
  CHECK(f.find("qwen2.rope.freq_base")->f == 1000000.0);
  CHECK(!f.find("llama.block_count"));
  REQUIRE(f.tensor("blk.1.attn_k.bias"));
  CHECK(f.tensor("blk.1.attn_k.bias")->shape() == std::vector<int64_t>{32});
  CHECK(f.tensors().size() == 2 + 12 * 2);  // tied: no output.weight

  const ModelWeights got = load_gguf_model(path);
  ModelConfig want = c;
  want.bos_ends_sequence = false;
  CHECK(got.config == want);  // qwen2, biases, half-split: nothing permuted
  for (size_t i = 0; i < w.layers.size(); ++i) {
    INFO("layer " << i);
    const LayerWeights &x = got.layers[i], &y = w.layers[i];
    CHECK((same(x.wq, y.wq) && same(x.wk, y.wk) && same(x.wv, y.wv) && same(x.wo, y.wo)));
    CHECK((same(x.bq, y.bq) && same(x.bk, y.bk) && same(x.bv, y.bv)));
  }
  CHECK(prompt_logits(got) == prompt_logits(w));

  // A llama model with biases has no GGUF form here, nor qwen2 without them.
  ModelWeights odd = w;
  odd.config.model_type = "llama";
  expect_error([&] { save_gguf_model(odd, dir.file("x.gguf"), GgufOutType::kF32, "x", {}); },
               ErrorCode::kUnsupported, {"biases", "llama-architecture"});
}

TEST_CASE("GGUF: Llama 3 RoPE scaling is written and read as llama.cpp's rope_freqs.weight",
          "[gguf]") {
  ModelConfig c = small_config();
  c.rope_layout = RopeLayout::kInterleaved;  // written as it is
  c.rope_scaling = RopeScaling::kLlama3;
  // An original context of 128 and high_freq_factor 8 put the medium band
  // at wavelengths 16..128, where a 16-wide head with theta 10000 has two
  // (19.9 and 62.8); the five longer ones are the low band.
  c.rope_factor = 8.f;
  c.rope_low_freq_factor = 1.f;
  c.rope_high_freq_factor = 8.f;
  c.rope_original_max_position = 128;
  const ModelWeights w = make_random_model(c, 5);
  TempDir dir("gguf-llama3-rope");
  const std::string path = dir.file("l.gguf");
  save_gguf_model(w, path, GgufOutType::kF32, "l", {});

  const GgufFile f = GgufFile::open(path);
  const GgufTensorInfo* rf = f.tensor("rope_freqs.weight");
  REQUIRE(rf);
  CHECK(rf->type == GgmlType::kF32);
  const Tensor factors = f.read_f32(*rf);
  REQUIRE(factors.numel() == 8);
  const std::vector<float> want_factors = llama3_rope_freq_factors(c);
  CHECK(std::vector<float>(factors.f32(), factors.f32() + 8) == want_factors);
  // High band 1, low band the factor, something between in the middle.
  CHECK(want_factors[0] == 1.f);
  CHECK(want_factors[7] == 8.f);
  int between = 0;
  for (float x : want_factors) between += x > 1.f && x < 8.f;
  CHECK(between == 2);
  CHECK(!f.find("llama.rope.scaling.type"));

  const ModelWeights got = load_gguf_model(path);
  CHECK(got.config.rope_scaling == RopeScaling::kLlama3);
  CHECK(got.config.rope_factor == 8.f);
  CHECK(got.config.rope_original_max_position == 128);
  CHECK(got.config.rope_low_freq_factor == 1.f);
  CHECK(got.config.rope_high_freq_factor == Approx(8.f).epsilon(1e-6));
  CHECK(inv_freq_gap(got.config, c) < 1e-6);
  const auto a = prompt_logits(got), b = prompt_logits(w);
  REQUIRE(a.size() == b.size());
  for (size_t p = 0; p < a.size(); ++p)
    for (size_t v = 0; v < a[p].size(); ++v) CHECK(a[p][v] == Approx(b[p][v]).margin(1e-5));
  // Without the scaling the logits differ: the test sees RoPE at all.
  ModelWeights plain = w;
  plain.config.rope_scaling = RopeScaling::kNone;
  CHECK(prompt_logits(plain) != b);
}

TEST_CASE("Llama 3 RoPE factors: fitted back to an equivalent scaling, or refused", "[gguf]") {
  ModelConfig c = small_config();
  c.rope_theta = 500000.f;
  c.rope_scaling = RopeScaling::kLlama3;
  SECTION("Llama 3.1's own parameters come back as they are") {
    c.rope_factor = 8.f;
    c.rope_original_max_position = 8192;
    c.head_dim = 128;  // the medium band needs frequencies there
    ModelConfig fit = small_config();
    fit.head_dim = 128;
    fit.rope_theta = 500000.f;
    REQUIRE(fit_llama3_rope(llama3_rope_freq_factors(c), fit));
    CHECK(fit.rope_scaling == RopeScaling::kLlama3);
    CHECK(fit.rope_factor == 8.f);
    CHECK(fit.rope_low_freq_factor == 1.f);
    CHECK(fit.rope_high_freq_factor == 4.f);
    CHECK(fit.rope_original_max_position == 8192);
  }
  SECTION("other parameters: the same frequencies from an equivalent set") {
    // Band 16..128 again (theta 10000), from low 2, high 16, context 256:
    // the same curve as low 1, high 8, context 128.
    c.rope_theta = 10000.f;
    c.rope_factor = 16.f;
    c.rope_low_freq_factor = 2.f;
    c.rope_high_freq_factor = 16.f;
    c.rope_original_max_position = 256;
    ModelConfig fit = small_config();
    REQUIRE(fit_llama3_rope(llama3_rope_freq_factors(c), fit));
    CHECK(inv_freq_gap(fit, c) < 1e-6);
    CHECK(fit.rope_original_max_position == 128);
    CHECK(fit.rope_high_freq_factor == Approx(8.f).epsilon(1e-6));
  }
  SECTION("every factor 1: no scaling") {
    ModelConfig fit = small_config();
    fit.rope_scaling = RopeScaling::kLinear;  // replaced
    REQUIRE(fit_llama3_rope(std::vector<float>(8, 1.f), fit));
    CHECK(fit.rope_scaling == RopeScaling::kNone);
  }
  SECTION("factors no Llama 3 scaling gives are refused, leaving the config as it was") {
    ModelConfig fit = small_config();
    const ModelConfig before = fit;
    for (const std::vector<float>& bad :
         {std::vector<float>{1, 3, 1, 3, 1, 3, 1, 3}, std::vector<float>{1, 1, 1, 2, 3, 5, 8, 13},
          std::vector<float>{1, 1, 1, 1, 1, 1, 1, 0}, std::vector<float>(7, 1.f),
          std::vector<float>{1, 1, 1, 1, 1, 1, 1, NAN}}) {
      CHECK(!fit_llama3_rope(bad, fit));
      CHECK(fit == before);
    }
  }
}

TEST_CASE("GGUF: a rope_freqs.weight that is not Llama 3's scaling is refused clearly", "[gguf]") {
  ModelConfig c = small_config();
  c.rope_scaling = RopeScaling::kLlama3;
  c.rope_factor = 8.f;
  c.rope_original_max_position = 64;
  const ModelWeights w = make_random_model(c, 2);
  TempDir dir("gguf-bad-rope-freqs");
  const std::string path = dir.file("b.gguf");
  save_gguf_model(w, path, GgufOutType::kF32, "b", {});
  const uint64_t at = GgufFile::open(path).tensor("rope_freqs.weight")->offset;
  {
    std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(static_cast<std::streamoff>(at));
    const float zigzag[8] = {1, 3, 1, 3, 1, 3, 1, 3};
    io.write(reinterpret_cast<const char*>(zigzag), sizeof zigzag);
  }
  expect_error([&] { load_gguf_model(path); }, ErrorCode::kUnsupported,
               {path, "rope_freqs.weight", "Llama 3"});
}

TEST_CASE("GGUF: Q5_0 and Q5_1 matrices load as Q8_0 and run near their values", "[gguf]") {
  // Rows of 64: q4_k_m / q5_k_m fall back to Q5_0 / Q5_1 (and Q8_0).
  ModelConfig c = small_config();
  const ModelWeights w = make_random_model(c, 9);
  TempDir dir("gguf-legacy-types");
  for (const auto& [type, legacy] : {std::pair{GgufOutType::kQ4_K_M, GgmlType::kQ5_0},
                                     std::pair{GgufOutType::kQ5_K_M, GgmlType::kQ5_1}}) {
    INFO(gguf_out_type_name(type));
    const std::string path = dir.file(std::string(gguf_out_type_name(type)) + ".gguf");
    save_gguf_model(w, path, type, "m", {});
    const GgufFile f = GgufFile::open(path);
    REQUIRE(f.tensor("blk.0.attn_q.weight")->type == legacy);
    LoadOptions keep;  // each matrix in its file's type where the CPU backend has it
    keep.matrix_dtype.reset();
    const ModelWeights got = load_gguf_model(path, keep);
    CHECK(got.layers[0].wq.dtype == DType::kQ8_0);
    // The Q8_0 copy of the file's values, as Tensor::to quantizes them.
    const Tensor file_values = f.read_f32(*f.tensor("blk.0.attn_q.weight"));
    CHECK(same(got.layers[0].wq, file_values.to(DType::kQ8_0)));
    CHECK(same(load_gguf_model(path).layers[0].wq, file_values));  // F32, the default
    const auto a = prompt_logits(got), b = prompt_logits(w);
    double worst = 0;
    for (size_t p = 0; p < a.size(); ++p)
      for (size_t v = 0; v < a[p].size(); ++v)
        worst = std::max(worst, static_cast<double>(std::abs(a[p][v] - b[p][v])));
    CHECK(worst < 0.05);
  }
}
