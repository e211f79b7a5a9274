// A GGUF file's byte-level BPE vocabulary (tokenizer.ggml.model "gpt2") as
// the tokenizer.json that Hugging Face's tokenizers would load for the same
// model, so that the tokenizer.json implementation encodes it. The
// pre-tokenizer is not in the vocabulary: llama.cpp names it in
// tokenizer.ggml.pre, and only the names whose tokenizer.json counterparts
// are checked against real files here are accepted.
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/gguf_loader.h"

namespace radial {

namespace {

using json = nlohmann::json;

// The Split regexes of Llama-3's and Qwen2's tokenizer.json (they differ in
// \p{N}{1,3} against \p{N}).
constexpr const char* kLlama3Split =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kQwen2Split =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

json byte_level(bool use_regex) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", false},
          {"trim_offsets", false},
          {"use_regex", use_regex}};
}

}  // namespace

nlohmann::json gguf_bpe_tokenizer_json(const GgufBpeVocab& v, const std::string& what) {
  const char* split = nullptr;
  bool ignore_merges = false, nfc = false;
  if (v.pre == "llama-bpe") {  // Llama 3
    split = kLlama3Split;
    ignore_merges = true;
  } else if (v.pre == "qwen2") {
    split = kQwen2Split;
    nfc = true;
  } else {
    throw Error(ErrorCode::kUnsupported,
                what + ": tokenizer.ggml.pre \"" + v.pre +
                    "\" is not supported (llama-bpe and qwen2 are); give the model's "
                    "tokenizer.json with --tokenizer");
  }
  require(v.types.size() == v.tokens.size(), ErrorCode::kCorrupt,
          what + ": tokenizer.ggml.token_type does not have one entry per token");
  json vocab = json::object();
  json added = json::array();
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    const int type = v.types[id];
    require(type >= 1 && type <= 6, ErrorCode::kCorrupt,
            what + ": tokenizer.ggml.token_type[" + std::to_string(id) +
                "] = " + std::to_string(type) + " is not a token type (1..6)");
    // Control (3) and user-defined (4) tokens are tokenizer.json's added
    // tokens, special and not; every token keeps its id in the vocabulary.
    require(vocab.emplace(v.tokens[id], id).second, ErrorCode::kCorrupt,
            what + ": token \"" + v.tokens[id] + "\" appears twice in tokenizer.ggml.tokens");
    if (type == 3 || type == 4)
      added.push_back({{"id", id},
                       {"content", v.tokens[id]},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", false},
                       {"special", type == 3}});
  }
  json post = byte_level(false);
  if (v.add_bos) {
    require(v.bos >= 0 && v.bos < static_cast<int>(v.tokens.size()), ErrorCode::kCorrupt,
            what + ": tokenizer.ggml.add_bos_token without a bos_token_id in the vocabulary");
    const std::string bos = v.tokens[v.bos];
    post = {{"type", "TemplateProcessing"},
            {"single",
             {{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}},
              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
            {"pair",
             {{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}},
              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
              {{"SpecialToken", {{"id", bos}, {"type_id", 1}}}},
              {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
            {"special_tokens",
             {{bos,
               {{"id", bos},
                {"ids", json::array({static_cast<uint64_t>(v.bos)})},
                {"tokens", json::array({bos})}}}}}};
  }
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", nfc ? json{{"type", "NFC"}} : json(nullptr)},
          {"pre_tokenizer",
           {{"type", "Sequence"},
            {"pretokenizers",
             {{{"type", "Split"},
               {"pattern", {{"Regex", split}}},
               {"behavior", "Isolated"},
               {"invert", false}},
              byte_level(false)}}}},
          {"post_processor", post},
          {"decoder", byte_level(false)},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"ignore_merges", ignore_merges},
            {"vocab", vocab},
            {"merges", v.merges}}}};
}

}  // namespace radial
