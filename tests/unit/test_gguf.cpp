// GGUF: the stories260K GGUF against the llama2.c checkpoint and
// reference.json's prompts, dispatch by magic, and malformed files.
// Dequantization: test_gguf_quant.cpp; reference.json's greedy tokens:
// test_reference_model.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/gguf.h"
#include "engine/gguf_loader.h"
#include "engine/model_bundle.h"
#include "engine/model_loader.h"
#include "engine_harness.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;

namespace {

std::string gguf_path() { return data_path("stories260K/stories260K.gguf"); }

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A small GGUF built field by field.
struct Builder {
  std::string out = "GGUF";
  template <typename T>
  Builder& raw(T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof(T));
    return *this;
  }
  Builder& str(const std::string& s) {
    raw<uint64_t>(s.size());
    out += s;
    return *this;
  }
  Builder& header(uint32_t version, uint64_t tensors, uint64_t kvs) {
    return raw(version).raw(tensors).raw(kvs);
  }
  Builder& kv_u32(const std::string& k, uint32_t v) { return str(k).raw<uint32_t>(4).raw(v); }
  Builder& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type,
                  uint64_t offset) {
    str(name).raw<uint32_t>(static_cast<uint32_t>(ne.size()));
    for (uint64_t n : ne) raw(n);
    return raw(type).raw(offset);
  }
  Builder& pad(size_t align = 32) {
    while (out.size() % align) out.push_back('\0');
    return *this;
  }
};

void expect_corrupt(const std::string& bytes, ErrorCode code,
                    std::initializer_list<std::string> parts) {
  TempDir dir("gguf-bad");
  const std::string path = dir.file("m.gguf");
  write_all(path, bytes);
  expect_error([&] { GgufFile::open(path); }, code, parts);
}

}  // namespace

TEST_CASE("GGUF: stories260K's header, config and context length", "[gguf]") {
  const GgufFile f = GgufFile::open(gguf_path());
  CHECK(f.version() == 3);
  CHECK(f.tensors().size() == 48);
  REQUIRE(f.tensor("blk.0.ffn_gate.weight"));
  CHECK(f.tensor("blk.0.ffn_gate.weight")->shape() == std::vector<int64_t>{172, 64});
  CHECK(f.tensor("output.weight"));

  const ModelWeights w = load_gguf_model(gguf_path());
  const ModelWeights b = load_llama2c_model(data_path("stories260K/stories260K.bin"));
  // The file's llama.context_length wins by default; the rest matches the .bin.
  CHECK(w.config.max_position_embeddings == 128);
  ModelConfig c = w.config;
  c.max_position_embeddings = 512;
  c.bos_ends_sequence = true;  // llama2.c's run.c rule; GGUF files follow llama.cpp's
  c.tie_word_embeddings = b.config.tie_word_embeddings;  // the GGUF stores output.weight
  CHECK(c == b.config);
  LoadOptions opts;
  opts.context_length = 512;
  CHECK(load_gguf_model(gguf_path(), opts).config.max_position_embeddings == 512);
}

TEST_CASE("GGUF: the same weights and logits as the llama2.c checkpoint", "[gguf]") {
  auto g = std::make_shared<ModelWeights>(load_gguf_model(gguf_path()));
  auto b =
      std::make_shared<ModelWeights>(load_llama2c_model(data_path("stories260K/stories260K.bin")));
  auto same = [](const Tensor& x, const Tensor& y) {
    return x.shape == y.shape && x.nbytes == y.nbytes &&
           std::memcmp(x.data(), y.data(), x.nbytes) == 0;
  };
  CHECK(same(g->embed, b->embed));
  CHECK(same(g->lm_head, b->lm_head));
  CHECK(same(g->final_norm, b->final_norm));
  for (size_t i = 0; i < b->layers.size(); ++i) {
    const LayerWeights &x = g->layers[i], &y = b->layers[i];
    CHECK((same(x.wq, y.wq) && same(x.wk, y.wk) && same(x.wv, y.wv) && same(x.wo, y.wo) &&
           same(x.w_gate, y.w_gate) && same(x.w_up, y.w_up) && same(x.w_down, y.w_down) &&
           same(x.attn_norm, y.attn_norm) && same(x.mlp_norm, y.mlp_norm)));
  }
  GenerateRequest r;
  r.prompt = {1, 403, 407, 261, 378, 432, 383, 286, 261};
  r.max_tokens = 4;
  r.keep_prompt_logits = true;
  auto rg = run_requests(g, nullptr, {r});
  auto rb = run_requests(b, nullptr, {r});
  REQUIRE(rg[0].prompt_logits.size() == rb[0].prompt_logits.size());
  REQUIRE(!rg[0].prompt_logits.empty());
  double worst = 0;
  for (size_t p = 0; p < rg[0].prompt_logits.size(); ++p)
    for (size_t v = 0; v < rg[0].prompt_logits[p].size(); ++v)
      worst =
          std::max<double>(worst, std::abs(rg[0].prompt_logits[p][v] - rb[0].prompt_logits[p][v]));
  CHECK(worst <= 1e-5);
  CHECK(token_ids(rg[0]) == token_ids(rb[0]));
}

TEST_CASE("GGUF: the embedded tokenizer encodes reference.json's prompts", "[gguf][tokenizer]") {
  auto tok = load_gguf_tokenizer(gguf_path());
  auto sp = Tokenizer::load(data_path("stories260K/tok512.model"));
  CHECK(tok->vocab_size() == 512);
  CHECK(tok->bos_id() == 1);
  CHECK(tok->eos_id() == 2);
  std::ifstream in(data_path("stories260K/reference.json"));
  const auto ref = nlohmann::json::parse(in);
  for (const auto& c : ref["cases"]) {
    const std::string prompt = c["prompt"].get<std::string>();
    CHECK(tok->encode(prompt) == c["prompt_tokens"].get<std::vector<int>>());
    const auto gen = c["tokens"].get<std::vector<int>>();
    CHECK(tok->decode(gen) == sp->decode(gen));
  }
  for (const std::string text : {"Hello, world!", "caf\xC3\xA9 \xE2\x82\xAC 42\n\ttabs", "a"})
    CHECK(tok->encode(text) == sp->encode(text));
}

TEST_CASE("GGUF: load_model and load_bundle pick GGUF by its magic", "[gguf]") {
  TempDir dir("gguf-magic");
  const std::string renamed = dir.file("model.bin");  // the extension does not matter
  write_all(renamed, read_all(gguf_path()));
  CHECK(load_model(renamed).config.max_position_embeddings == 128);
  ModelSource src;
  src.model = gguf_path();
  src.context_length = 512;
  const ModelBundle b = load_bundle(src);
  REQUIRE(b.tokenizer);
  CHECK(b.tokenizer->kind() == "sentencepiece");
  CHECK(b.weights->config.max_position_embeddings == 512);
  CHECK(b.tokenizer->encode("The little dog") == std::vector<int>{1, 291, 376, 400, 428});
}

TEST_CASE("GGUF: every truncation of the file is an error", "[gguf][hostile]") {
  const std::string good = read_all(gguf_path());
  TempDir dir("gguf-trunc");
  const std::string path = dir.file("t.gguf");
  // Every prefix of the first 64 bytes, prefixes every 53 bytes through the
  // header (kv and tensor infos end at 14152), then a few inside the data.
  std::vector<size_t> cuts;
  for (size_t n = 0; n < 64; ++n) cuts.push_back(n);
  for (size_t n = 64; n < 14200; n += 53) cuts.push_back(n);
  for (size_t n : {size_t{20000}, size_t{600000}, good.size() - 1}) cuts.push_back(n);
  for (size_t n : cuts) {
    write_all(path, good.substr(0, n));
    INFO("cut at " << n);
    CHECK_THROWS_AS(load_gguf_model(path), Error);
  }
}

TEST_CASE("GGUF: malformed headers are errors naming the problem", "[gguf][hostile]") {
  expect_corrupt("GGUX" + std::string(20, '\0'), ErrorCode::kCorrupt, {"bad magic"});
  expect_corrupt(Builder().header(1, 0, 0).out, ErrorCode::kUnsupported, {"version 1"});
  expect_corrupt(Builder().header(3, 1ull << 40, 0).out, ErrorCode::kCorrupt, {"tensor_count"});
  expect_corrupt(Builder().header(3, 0, 1000).out, ErrorCode::kCorrupt, {"cannot fit"});
  // A key whose length runs past the end of the file.
  expect_corrupt(Builder().header(3, 0, 1).raw<uint64_t>(1ull << 62).out + std::string(16, 'x'),
                 ErrorCode::kCorrupt, {"length of metadata key"});
  // Unknown value type 13.
  expect_corrupt(Builder().header(3, 0, 1).str("k").raw<uint32_t>(13).raw<uint64_t>(0).out,
                 ErrorCode::kUnsupported, {"k", "unknown metadata value type 13"});
  // An array claiming 2^40 elements.
  expect_corrupt(Builder()
                         .header(3, 0, 1)
                         .str("a")
                         .raw<uint32_t>(9)
                         .raw<uint32_t>(0)
                         .raw<uint64_t>(1ull << 40)
                         .out +
                     std::string(64, '\0'),
                 ErrorCode::kCorrupt, {"length of a"});
  expect_corrupt(Builder().header(3, 0, 2).kv_u32("k", 1).kv_u32("k", 2).out, ErrorCode::kCorrupt,
                 {"duplicate metadata key k"});
  expect_corrupt(Builder().header(3, 0, 1).kv_u32("general.alignment", 24).out, ErrorCode::kCorrupt,
                 {"general.alignment"});
  // Tensor data past the end of the file.
  expect_corrupt(
      Builder().header(3, 1, 0).tensor("w", {32, 2}, 0, 0).pad().out + std::string(64, '\0'),
      ErrorCode::kCorrupt, {"tensor w", "past the end of the file"});
  // Offset not aligned, and an offset near 2^64.
  expect_corrupt(Builder().header(3, 1, 0).tensor("w", {8}, 0, 4).pad().out + std::string(64, '\0'),
                 ErrorCode::kCorrupt, {"tensor w", "alignment"});
  expect_corrupt(Builder().header(3, 1, 0).tensor("w", {8}, 0, ~uint64_t{31}).pad().out +
                     std::string(64, '\0'),
                 ErrorCode::kCorrupt, {"tensor w", "past the end"});
  // Dims: zero, too many, an overflowing product.
  expect_corrupt(Builder().header(3, 1, 0).tensor("w", {0}, 0, 0).out, ErrorCode::kCorrupt,
                 {"tensor w", "dim 0"});
  expect_corrupt(Builder().header(3, 1, 0).tensor("w", {1, 1, 1, 1, 1}, 0, 0).out,
                 ErrorCode::kCorrupt, {"tensor w", "n_dims 5"});
  expect_corrupt(Builder().header(3, 1, 0).tensor("w", {1ull << 30, 1ull << 30}, 0, 0).out,
                 ErrorCode::kCorrupt, {"tensor w", "2^40"});
  // Unsupported tensor types: IQ2_XXS (16, a lattice codebook radiald does
  // not carry) and an unknown one; a partial block.
  expect_corrupt(Builder().header(3, 1, 0).tensor("blk.0.attn_q.weight", {256}, 16, 0).out,
                 ErrorCode::kUnsupported, {"blk.0.attn_q.weight", "IQ2_XXS", "not supported"});
  expect_corrupt(Builder().header(3, 1, 0).tensor("w", {32}, 99, 0).out, ErrorCode::kUnsupported,
                 {"tensor w", "type 99"});
  expect_corrupt(Builder().header(3, 1, 0).tensor("w", {100}, 12, 0).out, ErrorCode::kCorrupt,
                 {"tensor w", "Q4_K block size 256"});
  expect_corrupt(
      Builder().header(3, 2, 0).tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32).pad().out +
          std::string(64, '\0'),
      ErrorCode::kCorrupt, {"duplicate tensor w"});
}

TEST_CASE("GGUF: a valid file of another architecture or tokenizer is refused clearly",
          "[gguf][hostile]") {
  TempDir dir("gguf-arch");
  const std::string path = dir.file("m.gguf");
  Builder b;
  b.header(3, 0, 2).str("general.architecture").raw<uint32_t>(8).str("gemma3");
  b.str("tokenizer.ggml.model").raw<uint32_t>(8).str("bert");
  write_all(path, b.out);
  expect_error([&] { load_gguf_model(path); }, ErrorCode::kUnsupported,
               {path, "gemma3", "llama, qwen2 and qwen3 are"});
  expect_error([&] { load_gguf_tokenizer(path); }, ErrorCode::kUnsupported,
               {path, "tokenizer.ggml.model", "bert", "--tokenizer"});
}

TEST_CASE("GGUF: a model of mixed F32/F16/BF16/Q8_0/Q4_K tensors loads and runs", "[gguf]") {
  // tests/data/gguf/make_tiny_mixed.py documents the values.
  const std::string path = data_path("gguf/tiny_mixed.gguf");
  auto w = std::make_shared<ModelWeights>(load_gguf_model(path));
  const ModelConfig& c = w->config;
  CHECK(c.hidden_size == 32);
  CHECK(c.intermediate_size == 256);
  CHECK(c.num_kv_heads == 1);
  CHECK(c.vocab_size == 8);
  CHECK(c.max_position_embeddings == 64);
  CHECK(c.tie_word_embeddings);
  const LayerWeights& l = w->layers[0];
  REQUIRE(l.w_gate.shape == std::vector<int64_t>{256, 32});
  for (int64_t r : {0, 255})
    for (int64_t col = 0; col < 32; ++col)
      CHECK(l.w_gate.f32()[r * 32 + col] == 0.5f * static_cast<float>(col % 7 - 3));
  REQUIRE(l.w_down.shape == std::vector<int64_t>{32, 256});
  for (int64_t r : {0, 31})
    for (int64_t col = 0; col < 256; ++col)
      CHECK(l.w_down.f32()[r * 256 + col] == ((col / 32) % 2 == 0 ? 2.75f : 4.75f));
  CHECK(l.wk.f32()[1] == static_cast<float>(7 % 9 - 4) / 16);    // BF16
  CHECK(l.wq.f32()[1] == static_cast<float>(13 % 11 - 5) / 32);  // F16
  GenerateRequest r;
  r.prompt = {1, 3, 4};
  r.max_tokens = 4;
  r.keep_prompt_logits = true;
  auto res = run_requests(w, nullptr, {r});
  REQUIRE(res[0].finish != FinishReason::kError);
  for (const auto& pos : res[0].prompt_logits)
    for (float x : pos) CHECK(std::isfinite(x));
  auto tok = load_gguf_tokenizer(path);
  CHECK(tok->encode("a b") == std::vector<int>{1, 3, 4});
  CHECK(tok->decode({3, 4, 6}) == "a bb");
}

TEST_CASE("GGUF: end-of-turn ids and the chat template come from the metadata", "[gguf]") {
  ModelSource src;
  src.model = data_path("gguf/tiny_mixed.gguf");
  const ModelBundle b = load_bundle(src);
  CHECK(b.weights->config.eos_token_ids == std::vector<int>{2, 7});
  REQUIRE(b.chat_template);
  const auto messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "hi"}])");
  CHECK(b.chat_template->render(messages) == "<s>user: hi</s>");
  // stories260K.gguf has no template; its padding id is UINT32_MAX ("none").
  CHECK(load_gguf_chat_template(gguf_path()) == nullptr);
  CHECK(load_gguf_model(gguf_path()).config.eos_token_ids == std::vector<int>{2});
}
