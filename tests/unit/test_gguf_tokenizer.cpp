// GGUF byte-level BPE vocabularies (tokenizer.ggml.model "gpt2"): the real
// Llama-3, Llama-3.1 and Qwen3 tokenizer.json files (tests/npm), turned into
// the arrays a GGUF file holds (tokens by id, token types, merges), encode
// the reference ids of tests/data/tokenizers/*.expected.json exactly.
#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/gguf_loader.h"
#include "engine/tokenizer/hf_tokenizer.h"
#include "npm_data.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;
using json = nlohmann::json;

namespace {

// What llama.cpp's converter stores for a tokenizer.json.
GgufBpeVocab vocab_of(const std::string& npm_name, const std::string& pre, bool add_bos) {
  const json j = read_json(npm_tokenizer_dir(npm_name) + "/tokenizer.json");
  GgufBpeVocab v;
  const auto& vocab = j["model"]["vocab"];
  size_t n = vocab.size();
  for (const auto& a : j["added_tokens"]) n = std::max<size_t>(n, a["id"].get<size_t>() + 1);
  v.tokens.resize(n);
  v.types.assign(n, 1);
  for (auto it = vocab.begin(); it != vocab.end(); ++it)
    v.tokens[it.value().get<size_t>()] = it.key();
  for (const auto& a : j["added_tokens"]) {
    const size_t id = a["id"].get<size_t>();
    v.tokens[id] = a["content"].get<std::string>();
    v.types[id] = a["special"].get<bool>() ? 3 : 4;
  }
  for (const auto& m : j["model"]["merges"])
    v.merges.push_back(m.is_string() ? m.get<std::string>()
                                     : m[0].get<std::string>() + " " + m[1].get<std::string>());
  v.pre = pre;
  v.add_bos = add_bos;
  if (add_bos) v.bos = static_cast<int>(vocab.size());  // <|begin_of_text|>, the first added
  return v;
}

void check_reference(const Tokenizer& tok, const std::string& name, bool with_special) {
  const json ref = read_json(data_path("tokenizers/" + name + ".expected.json"));
  REQUIRE(ref["cases"].size() >= 90);
  int wrong = 0;
  for (const auto& c : ref["cases"]) {
    const std::string text = c["text"].get<std::string>();
    const auto want = c[with_special ? "ids" : "ids_no_special"].get<std::vector<int>>();
    if (tok.encode(text, with_special) != want) {
      ++wrong;
      UNSCOPED_INFO(name << ": " << c["text"].dump());
    }
    if (tok.decode(c["ids_no_special"].get<std::vector<int>>(), false) !=
        c["decoded"].get<std::string>())
      ++wrong;
  }
  CHECK(wrong == 0);
}

}  // namespace

TEST_CASE("GGUF gpt2 vocabularies: Llama-3 (llama-bpe) and Qwen3 (qwen2) encode the reference ids",
          "[gguf][tokenizer]") {
  for (const auto& [name, pre] :
       {std::pair<std::string, std::string>{"llama3", "llama-bpe"}, {"qwen3", "qwen2"}}) {
    const auto tok = hf_tokenizer_from_json(
        gguf_bpe_tokenizer_json(vocab_of(name, pre, false), name), name, TokenizerConfig{});
    check_reference(*tok, name, false);
  }
}

TEST_CASE("GGUF gpt2 vocabulary in a file: Llama-3.1 with add_bos_token", "[gguf][tokenizer]") {
  const GgufBpeVocab v = vocab_of("llama3_1", "llama-bpe", true);
  // A GGUF of metadata only (no tensors), written as llama.cpp lays it out.
  std::string out = "GGUF";
  auto raw = [&](auto x) { out.append(reinterpret_cast<const char*>(&x), sizeof(x)); };
  auto str = [&](const std::string& s) {
    raw(uint64_t{s.size()});
    out += s;
  };
  raw(uint32_t{3});
  raw(uint64_t{0});
  raw(uint64_t{7});
  str("tokenizer.ggml.model"), raw(uint32_t{8}), str("gpt2");
  str("tokenizer.ggml.pre"), raw(uint32_t{8}), str("llama-bpe");
  str("tokenizer.ggml.tokens"), raw(uint32_t{9}), raw(uint32_t{8}), raw(uint64_t{v.tokens.size()});
  for (const auto& t : v.tokens) str(t);
  str("tokenizer.ggml.token_type"), raw(uint32_t{9}), raw(uint32_t{5}),
      raw(uint64_t{v.types.size()});
  for (int t : v.types) raw(int32_t{t});
  str("tokenizer.ggml.merges"), raw(uint32_t{9}), raw(uint32_t{8}), raw(uint64_t{v.merges.size()});
  for (const auto& m : v.merges) str(m);
  str("tokenizer.ggml.bos_token_id"), raw(uint32_t{4}), raw(uint32_t(v.bos));
  str("tokenizer.ggml.add_bos_token"), raw(uint32_t{7}), raw(uint8_t{1});
  TempDir dir("gguf-bpe");
  const std::string path = dir.file("llama31.gguf");
  std::ofstream(path, std::ios::binary) << out;
  const auto tok = load_gguf_tokenizer(path);
  CHECK(tok->kind() == "tokenizer.json");
  CHECK(tok->bos_id() == 128000);
  check_reference(*tok, "llama3_1", true);
  check_reference(*tok, "llama3_1", false);
}

TEST_CASE("GGUF gpt2 vocabulary: an unknown pre-tokenizer is refused", "[gguf][tokenizer]") {
  GgufBpeVocab v;
  v.tokens = {"a"};
  v.types = {1};
  v.pre = "default";
  expect_error([&] { gguf_bpe_tokenizer_json(v, "m.gguf"); }, ErrorCode::kUnsupported,
               {"m.gguf", "tokenizer.ggml.pre", "default", "--tokenizer"});
}
