// The GGUF writer (engine/gguf_writer.h, `radial convert --to gguf`): files
// it writes load with the GGUF loader to the source's weights (exactly for
// F32, after bf16 rounding or Q8_0 quantize-dequantize otherwise), Q/K rows
// in llama.cpp's interleaved order, reference.json's continuations, the
// same tokenizer ids, and strict errors that leave no file behind.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/gguf.h"
#include "engine/gguf_loader.h"
#include "engine/gguf_writer.h"
#include "engine/model_loader.h"
#include "engine_harness.h"
#include "npm_data.h"
#include "test_util.h"
#include "tools/radial/commands.h"

using namespace radial;
using namespace radial::test;

namespace {

int run_convert(std::vector<std::string> args, std::string* err = nullptr) {
  args.insert(args.begin(), "convert");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  std::ostringstream o, e;
  auto* old_out = std::cout.rdbuf(o.rdbuf());
  auto* old_err = std::cerr.rdbuf(e.rdbuf());
  const int rc = cli::cmd_convert(static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  if (err) *err = e.str();
  return rc;
}

bool same(const Tensor& x, const Tensor& y) {
  return x.shape == y.shape && x.nbytes == y.nbytes &&
         std::memcmp(x.data(), y.data(), x.nbytes) == 0;
}

// Half-split (HF) Q/K rows in the interleaved order: within each head, the
// row of pair element j of pair i moves from j * head_dim/2 + i to 2i + j.
Tensor interleave(const Tensor& t, int head_dim) {
  Tensor r = Tensor::zeros(DType::kF32, t.shape);
  const int64_t cols = t.shape[1], half = head_dim / 2;
  for (int64_t row = 0; row < t.shape[0]; ++row) {
    const int64_t head = row / head_dim, j = (row % head_dim) / half, i = row % half;
    std::memcpy(r.f32() + (head * head_dim + 2 * i + j) * cols, t.f32() + row * cols, cols * 4);
  }
  return r;
}

// Each value through `f` (bf16 rounding, Q8_0 quantize-dequantize per row).
Tensor rounded(const Tensor& t, GgufOutType type) {
  Tensor r = Tensor::zeros(DType::kF32, t.shape);
  const int64_t n = t.numel();
  if (type == GgufOutType::kBF16) {
    for (int64_t i = 0; i < n; ++i) r.f32()[i] = bf16_to_f32(f32_to_bf16(t.f32()[i]));
  } else {
    std::vector<uint8_t> q(static_cast<size_t>(n / 32 * 34));
    quantize_row_q8_0(t.f32(), q.data(), n);
    ggml_dequantize(GgmlType::kQ8_0, q.data(), r.f32(), n);
  }
  return r;
}

// `got` (loaded from a GGUF file) against `src` (half-split source weights)
// written as `type`: matrices rounded, Q/K interleaved, norms exact.
void check_weights(const ModelWeights& got, const ModelWeights& src, GgufOutType type) {
  const int hd = src.config.head_dim;
  auto m = [&](const Tensor& t) { return type == GgufOutType::kF32 ? t : rounded(t, type); };
  CHECK(same(got.embed, m(src.embed)));
  CHECK(same(got.lm_head, m(src.lm_head)));
  CHECK(same(got.final_norm, src.final_norm));
  REQUIRE(got.layers.size() == src.layers.size());
  for (size_t i = 0; i < src.layers.size(); ++i) {
    const LayerWeights &x = got.layers[i], &y = src.layers[i];
    INFO("layer " << i);
    CHECK(same(x.wq, interleave(m(y.wq), hd)));
    CHECK(same(x.wk, interleave(m(y.wk), hd)));
    CHECK((same(x.wv, m(y.wv)) && same(x.wo, m(y.wo)) && same(x.w_gate, m(y.w_gate)) &&
           same(x.w_up, m(y.w_up)) && same(x.w_down, m(y.w_down))));
    CHECK((same(x.attn_norm, y.attn_norm) && same(x.mlp_norm, y.mlp_norm)));
  }
}

// The GGUF loader's config of a file written from `c` (half-split).
ModelConfig as_loaded(ModelConfig c) {
  c.rope_layout = RopeLayout::kInterleaved;
  c.model_type = "llama";
  c.bos_ends_sequence = false;
  return c;
}

// A random model whose matrices all have rows of a multiple of 32 (Q8_0).
ModelWeights random_model() {
  ModelConfig c;
  c.hidden_size = 64;
  c.intermediate_size = 96;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 16;
  c.vocab_size = 80;
  c.max_position_embeddings = 64;
  c.eos_token_ids = {2, 5};
  return make_random_model(c, 7);
}

const std::vector<std::string> kTexts = {"Once upon a time", "Hello, world!",
                                         "caf\xC3\xA9 \xE2\x82\xAC 42\n\ttabs", "a", ""};

}  // namespace

TEST_CASE("GGUF writer: the HF directory to F32 reproduces its weights and reference.json",
          "[gguf]") {
  TempDir dir("gguf-write-f32");
  const std::string out = dir.file("stories260K.gguf");
  REQUIRE(run_convert({"--input", default_model_dir(), "--to", "gguf", "--out", out}) == 0);
  const ModelWeights src = load_hf_model(default_model_dir());
  auto w = std::make_shared<ModelWeights>(load_gguf_model(out));
  CHECK(w->config == as_loaded(src.config));
  check_weights(*w, src, GgufOutType::kF32);
  // Bit for bit the llama2.c checkpoint the HF directory came from.
  const ModelWeights bin = load_llama2c_model(data_path("stories260K/stories260K.bin"));
  CHECK((same(w->layers[3].wq, bin.layers[3].wq) && same(w->layers[3].wk, bin.layers[3].wk)));

  const GgufFile f = GgufFile::open(out);
  CHECK(f.version() == 3);
  CHECK(f.find("general.architecture")->s == "llama");
  CHECK(f.find("general.alignment")->i == 32);
  CHECK(f.find("general.name")->s == "stories260K");
  CHECK(f.find("llama.rope.dimension_count")->i == 8);
  CHECK(f.find("tokenizer.ggml.model")->s == "llama");
  CHECK(f.tensors().size() == 2 + 9 * 5);  // tied: no output.weight
  CHECK(!f.tensor("output.weight"));
  for (const GgufTensorInfo& t : f.tensors()) CHECK(t.type == GgmlType::kF32);

  // reference.json's prompts through the embedded tokenizer, then greedy.
  auto tok = load_gguf_tokenizer(out);
  std::ifstream in(data_path("stories260K/reference.json"));
  const auto ref = nlohmann::json::parse(in);
  std::vector<GenerateRequest> reqs;
  for (const auto& c : ref["cases"]) {
    GenerateRequest r;
    r.prompt = tok->encode(c["prompt"].get<std::string>());
    REQUIRE(r.prompt == c["prompt_tokens"].get<std::vector<int>>());
    r.max_tokens = c["greedy_steps"].get<int>() + 1 - static_cast<int>(r.prompt.size());
    reqs.push_back(r);
  }
  const auto results = run_requests(w, nullptr, reqs);
  for (size_t i = 0; i < reqs.size(); ++i)
    CHECK(token_ids(results[i]) == ref["cases"][i]["tokens"].get<std::vector<int>>());
}

TEST_CASE("GGUF writer: BF16 and Q8_0 files hold the rounded source weights", "[gguf]") {
  TempDir dir("gguf-write-types");
  const ModelWeights hf = load_hf_model(default_model_dir());
  const std::string bf16 = dir.file("bf16.gguf");
  save_gguf_model(hf, bf16, GgufOutType::kBF16, "s", {});
  check_weights(load_gguf_model(bf16), hf, GgufOutType::kBF16);
  const GgufFile fb = GgufFile::open(bf16);
  CHECK(fb.tensor("blk.0.attn_norm.weight")->type == GgmlType::kF32);
  CHECK(fb.tensor("blk.0.ffn_down.weight")->type == GgmlType::kBF16);
  CHECK(fb.find("general.file_type")->i == 32);

  const ModelWeights r = random_model();  // untied, two end ids
  const std::string q8 = dir.file("q8.gguf");
  REQUIRE(run_convert({"--input", q8, "--to", "gguf"}) == 2);  // (--out missing)
  save_gguf_model(r, q8, GgufOutType::kQ8_0, "r", {});
  const ModelWeights got = load_gguf_model(q8);
  CHECK(got.config == as_loaded(r.config));
  check_weights(got, r, GgufOutType::kQ8_0);
  const GgufFile fq = GgufFile::open(q8);
  CHECK(fq.tensor("output.weight")->type == GgmlType::kQ8_0);
  CHECK(fq.tensor("token_embd.weight")->type == GgmlType::kQ8_0);
  CHECK(fq.tensor("output_norm.weight")->type == GgmlType::kF32);
  CHECK(fq.find("general.file_type")->i == 7);
  CHECK(fq.find("tokenizer.ggml.model")->s == "no_vocab");
  CHECK(fq.find("tokenizer.ggml.eot_token_id")->i == 5);
  expect_error([&] { load_gguf_tokenizer(q8); }, ErrorCode::kUnsupported, {"no_vocab"});
}

TEST_CASE("GGUF writer: Q8_0 refuses rows that are not whole blocks, leaving no file", "[gguf]") {
  TempDir dir("gguf-write-q8-bad");
  const std::string out = dir.file("m.gguf");
  std::ofstream(out) << "old";
  std::string err;
  CHECK(run_convert(
            {"--input", default_model_dir(), "--to", "gguf", "--out-type", "q8_0", "--out", out},
            &err) == 1);
  CHECK_THAT(err, Catch::Contains("blk.0.ffn_down.weight") && Catch::Contains("172") &&
                      Catch::Contains("multiple of 32"));
  std::ifstream in(out);
  CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "old");  // untouched
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path),
                      std::filesystem::directory_iterator()) == 1);  // no temporary left

  ModelWeights biased = random_model();
  biased.config.attention_bias = true;
  for (LayerWeights& l : biased.layers) {
    l.bq = Tensor::zeros(DType::kF32, {biased.config.q_dim()});
    l.bk = l.bv = Tensor::zeros(DType::kF32, {biased.config.kv_dim()});
  }
  expect_error([&] { save_gguf_model(biased, dir.file("b.gguf"), GgufOutType::kF32, "b", {}); },
               ErrorCode::kUnsupported, {"biases"});
  CHECK(!std::filesystem::exists(dir.file("b.gguf")));
}

TEST_CASE("GGUF writer: convert's usage errors", "[gguf]") {
  TempDir dir("gguf-write-usage");
  const std::string m = default_model_dir(), out = dir.file("m.gguf");
  for (const auto& [args, what] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--input", m, "--to", "ggml", "--out", out}, "--to must be hf or gguf"},
           {{"--input", m, "--out-type", "bf16", "--out", out}, "--out-type needs --to gguf"},
           {{"--input", m, "--to", "gguf", "--out-type", "q4_1", "--out", out}, "q4_1"},
           {{"--input", m, "--to", "gguf", "--out", dir.str()}, "must name a file"},
       }) {
    std::string err;
    CHECK(run_convert(args, &err) == 2);
    CHECK(err.rfind("radial convert: ", 0) == 0);
    CHECK_THAT(err.substr(0, err.find('\n')), Catch::Contains(what));
  }
  CHECK(!std::filesystem::exists(out));
}

TEST_CASE("GGUF writer: a SentencePiece tokenizer round-trips", "[gguf][tokenizer]") {
  TempDir dir("gguf-write-sp");
  const std::string out = dir.file("m.gguf");
  const GgufMetadata kv = gguf_sentencepiece_metadata(data_path("stories260K/tok512.model"), 520);
  write_gguf(out, kv, {});
  auto tok = load_gguf_tokenizer(out);
  auto sp = Tokenizer::load(data_path("stories260K/tok512.model"));
  CHECK(tok->vocab_size() == 520);  // padded with unused "[PAD<id>]" tokens
  CHECK(tok->bos_id() == sp->bos_id());
  CHECK(tok->eos_id() == sp->eos_id());
  for (const std::string& t : kTexts) CHECK(tok->encode(t) == sp->encode(t));
  const std::vector<int> ids = sp->encode("The little dog ran to the park.");
  CHECK(tok->decode(ids) == sp->decode(ids));
  const GgufFile f = GgufFile::open(out);
  CHECK(f.find("tokenizer.ggml.tokens")->strs[515] == "[PAD515]");
  CHECK(f.find("tokenizer.ggml.token_type")->nums[3] == 6);  // <0x00>: byte
  CHECK(f.find("tokenizer.ggml.token_type")->nums[1] == 3);  // <s>: control
}

TEST_CASE("GGUF writer: a byte-level BPE tokenizer.json round-trips as gpt2", "[gguf][tokenizer]") {
  TempDir dir("gguf-write-bpe");
  const std::string src = npm_tokenizer_dir("llama3_1") + "/tokenizer.json";
  const std::string out = dir.file("m.gguf");
  const GgufMetadata kv = gguf_bpe_metadata(src, 128256);
  write_gguf(out, kv, {});
  auto tok = load_gguf_tokenizer(out);
  CHECK(tok->bos_id() == 128000);
  // The ids of Hugging Face's tokenizers for the same tokenizer.json.
  const auto ref = read_json(data_path("tokenizers/llama3_1.expected.json"));
  int wrong = 0;
  for (const auto& c : ref["cases"])
    if (tok->encode(c["text"].get<std::string>(), true) != c["ids"].get<std::vector<int>>()) {
      ++wrong;
      UNSCOPED_INFO(c["text"].dump());
    }
  CHECK(wrong == 0);
  const GgufFile f = GgufFile::open(out);
  CHECK(f.find("tokenizer.ggml.pre")->s == "llama-bpe");
  CHECK(f.find("tokenizer.ggml.add_bos_token")->i == 1);
  CHECK(f.find("tokenizer.chat_template"));
  // A Metaspace (Llama-2) tokenizer.json is not byte-level BPE.
  expect_error([&] { gguf_bpe_metadata(npm_tokenizer_dir("llama2") + "/tokenizer.json", 32000); },
               ErrorCode::kUnsupported, {"tokenizer.json", "llama-bpe"});
  // Fields of another type than expected: clear errors naming the file.
  auto j = read_json(src);
  const std::string bad = dir.file("tokenizer.json");
  j["model"]["type"] = 7;
  std::ofstream(bad, std::ios::trunc) << j.dump();
  expect_error([&] { gguf_bpe_metadata(bad, 128256); }, ErrorCode::kCorrupt,
               {"tokenizer.json", "unexpected structure"});
  j = read_json(src);
  j["post_processor"] = {{"type", "TemplateProcessing"}, {"single", {{{"SpecialToken", 3}}}}};
  std::ofstream(bad, std::ios::trunc) << j.dump();
  expect_error([&] { gguf_bpe_metadata(bad, 128256); }, ErrorCode::kCorrupt,
               {"tokenizer.json", "unexpected structure"});
  std::ofstream(bad, std::ios::trunc) << std::string(100, '[') << std::string(100, ']');
  expect_error([&] { gguf_bpe_metadata(bad, 128256); }, ErrorCode::kCorrupt, {"nested deeper"});
}

TEST_CASE("GGUF writer: stories260K.gguf -> F32 -> the same weights, config and vocabulary",
          "[gguf]") {
  TempDir dir("gguf-write-rt");
  const std::string in = data_path("stories260K/stories260K.gguf"), out = dir.file("rt.gguf");
  REQUIRE(run_convert({"--input", in, "--to", "gguf", "--out", out}) == 0);  // --from gguf
  const ModelWeights a = load_gguf_model(in), b = load_gguf_model(out);
  CHECK(b.config == a.config);
  CHECK((same(b.embed, a.embed) && same(b.lm_head, a.lm_head) && same(b.final_norm, a.final_norm)));
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const LayerWeights &x = b.layers[i], &y = a.layers[i];
    CHECK((same(x.wq, y.wq) && same(x.wk, y.wk) && same(x.wv, y.wv) && same(x.wo, y.wo) &&
           same(x.w_gate, y.w_gate) && same(x.w_up, y.w_up) && same(x.w_down, y.w_down) &&
           same(x.attn_norm, y.attn_norm) && same(x.mlp_norm, y.mlp_norm)));
  }
  const GgufFile fa = GgufFile::open(in), fb = GgufFile::open(out);
  for (const auto& [key, v] : fa.metadata()) {
    if (key.rfind("tokenizer.", 0) != 0) continue;
    INFO(key);
    const GgufValue* w = fb.find(key);
    REQUIRE(w);
    CHECK((w->strs == v.strs && w->nums == v.nums && w->s == v.s && w->i == v.i));
  }
  auto ta = load_gguf_tokenizer(in), tb = load_gguf_tokenizer(out);
  for (const std::string& t : kTexts) CHECK(tb->encode(t) == ta->encode(t));
}
