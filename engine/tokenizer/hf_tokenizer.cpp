#include "engine/tokenizer/hf_tokenizer.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/json_input.h"
#include "engine/tokenizer/added_tokens.h"
#include "engine/tokenizer/bpe_model.h"
#include "engine/tokenizer/decoder.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/pre_tokenizer.h"
#include "engine/tokenizer/tokenizer_config.h"
#include "engine/tokenizer/utf8.h"

namespace radial {

namespace {

using nlohmann::json;

const json& member(const json& j, const char* key) {
  static const json null;
  return j.contains(key) ? j[key] : null;
}

class HfTokenizer final : public Tokenizer {
 public:
  HfTokenizer(const json& j, const std::string& file, const TokenizerConfig& config);

  std::vector<int> encode(std::string_view text, bool add_special) const override;
  using Tokenizer::decode;
  std::string decode(const std::vector<int>& ids, bool skip_special) const override;
  std::string piece_bytes(int prev, int id) const override;
  int vocab_size() const override { return vocab_; }
  int bos_id() const override { return bos_; }
  int eos_id() const override { return eos_; }
  int token_id(std::string_view token) const override;
  bool is_special(int id) const override { return id >= 0 && id < vocab_ && special_[id]; }
  std::string_view kind() const override { return "tokenizer.json"; }

 private:
  void check_id(int id, const char* what) const {
    require(id >= 0 && id < vocab_, ErrorCode::kInvalidArgument,
            std::string(what) + ": token id " + std::to_string(id) +
                " is outside the vocabulary [0, " + std::to_string(vocab_) + ")");
  }
  // Normalizes a piece between non-normalized added tokens and encodes it.
  void encode_piece(std::string_view piece, bool at_origin, std::vector<int>* ids) const;
  void encode_words(std::string_view text, bool at_origin, std::vector<int>* ids) const;

  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  BpeModel model_;
  Decoder decoder_;
  PostProcessor post_;
  AddedTokenMatcher raw_added_;         // matched in the text as given
  AddedTokenMatcher normalized_added_;  // matched in the normalized text
  StringMap<int> added_ids_;            // content -> id
  int vocab_ = 0;
  int bos_ = -1;
  int eos_ = -1;
  std::vector<char> special_;
  std::vector<std::string> special_text_;  // content of special tokens ("" for the others)
  std::vector<std::string> stream_;        // bytes of each id in a stream
  std::vector<std::string> stream_first_;  // ... as the first token of a text
};

HfTokenizer::HfTokenizer(const json& j, const std::string& file, const TokenizerConfig& config)
    : normalizer_(member(j, "normalizer"), file),
      pre_tokenizer_(member(j, "pre_tokenizer"), file),
      model_(
          [&]() -> const json& {
            const json& m = member(j, "model");
            require(m.is_object(), ErrorCode::kCorrupt, file + ": model must be an object");
            require(!m.contains("type") || m["type"].is_string(), ErrorCode::kCorrupt,
                    file + ": model.type must be a string");
            const std::string type = m.value("type", std::string("BPE"));
            require(type == "BPE", ErrorCode::kUnsupported,
                    file + ": model type \"" + type + "\" is not supported");
            return m;
          }(),
          pre_tokenizer_.byte_level(), file),
      decoder_(member(j, "decoder"), file),
      post_(parse_post_processor(member(j, "post_processor"), file)) {
  for (const char* key : {"truncation", "padding"})
    require(member(j, key).is_null(), ErrorCode::kUnsupported,
            file + ": " + key + " is not supported (must be null)");
  const std::vector<AddedToken> added = parse_added_tokens(member(j, "added_tokens"), file);
  vocab_ = model_.size();
  for (const AddedToken& t : added) vocab_ = std::max(vocab_, t.id + 1);
  special_.assign(vocab_, 0);
  std::vector<std::string> texts(vocab_);
  for (int id = 0; id < model_.size(); ++id) texts[id] = model_.token(id);
  special_text_.resize(vocab_);
  for (const AddedToken& t : added) {
    texts[t.id] = t.content;
    if (t.special) special_text_[t.id] = t.content;
    special_[t.id] = t.special;
    added_ids_[t.content] = t.id;
    if (t.normalized && !normalizer_.empty()) {
      std::string pattern = t.content;
      normalizer_.apply(&pattern);
      normalized_added_.add(t, pattern);
    } else {
      raw_added_.add(t, t.content);
    }
  }
  for (int id : post_.prefix) check_id(id, (file + ": post_processor").c_str());
  for (int id : post_.suffix) check_id(id, (file + ": post_processor").c_str());

  stream_.resize(vocab_);
  stream_first_.resize(vocab_);
  for (int id = 0; id < vocab_; ++id) {
    if (special_[id] || texts[id].empty()) continue;
    stream_[id] = decoder_.token_bytes(texts[id], false);
    stream_first_[id] = decoder_.token_bytes(texts[id], true);
  }

  auto id_of_config = [&](const std::optional<std::string>& text, const char* key) {
    if (!text) return -1;
    const int id = token_id(*text);
    require(id >= 0, ErrorCode::kCorrupt,
            "tokenizer_config.json: " + std::string(key) + " \"" + *text + "\" is not a token of " +
                file);
    return id;
  };
  bos_ = id_of_config(config.bos_token, "bos_token");
  eos_ = id_of_config(config.eos_token, "eos_token");
  if (bos_ < 0 && post_.prefix.size() == 1) bos_ = post_.prefix[0];
}

int HfTokenizer::token_id(std::string_view token) const {
  const auto it = added_ids_.find(token);
  if (it != added_ids_.end()) return it->second;
  return model_.id_of(token);
}

std::vector<int> HfTokenizer::encode(std::string_view text, bool add_special) const {
  utf8::require_valid(text, "text");
  std::vector<int> ids;
  ids.reserve(text.size() / 3 + post_.prefix.size() + post_.suffix.size() + 1);
  if (add_special) ids = post_.prefix;
  raw_added_.split(text, true, [&](std::string_view piece, int token, bool at_origin) {
    if (token >= 0)
      ids.push_back(token);
    else
      encode_piece(piece, at_origin, &ids);
  });
  if (add_special) ids.insert(ids.end(), post_.suffix.begin(), post_.suffix.end());
  return ids;
}

void HfTokenizer::encode_piece(std::string_view piece, bool at_origin,
                               std::vector<int>* ids) const {
  if (normalizer_.empty()) return encode_words(piece, at_origin, ids);
  std::string normalized(piece);
  normalizer_.apply(&normalized);
  normalized_added_.split(normalized, at_origin,
                          [&](std::string_view part, int token, bool origin) {
                            if (token >= 0)
                              ids->push_back(token);
                            else
                              encode_words(part, origin, ids);
                          });
}

void HfTokenizer::encode_words(std::string_view text, bool at_origin, std::vector<int>* ids) const {
  pre_tokenizer_.run(text, at_origin,
                     [&](std::string_view word, bool) { model_.encode_word(word, ids); });
}

std::string HfTokenizer::decode(const std::vector<int>& ids, bool skip_special) const {
  for (int id : ids) check_id(id, "decode");
  std::string bytes;
  bool first = true;
  for (int id : ids) {
    if (skip_special && special_[id]) continue;
    if (special_[id])
      bytes += decoder_.token_bytes(special_text_[id], first);
    else
      bytes += first ? stream_first_[id] : stream_[id];
    first = false;
  }
  return utf8::lossy(bytes);
}

std::string HfTokenizer::piece_bytes(int prev, int id) const {
  check_id(id, "piece_bytes");
  const bool first = prev < 0 || (bos_ >= 0 && prev == bos_);
  return first ? stream_first_[id] : stream_[id];
}

}  // namespace

std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& json_path,
                                             const std::string& config_path) {
  const json j = read_json_file(json_path);
  require(j.is_object(), ErrorCode::kCorrupt, json_path + ": must be a JSON object");
  const TokenizerConfig config =
      config_path.empty() ? TokenizerConfig{} : load_tokenizer_config(config_path);
  return hf_tokenizer_from_json(j, json_path, config);
}

std::unique_ptr<Tokenizer> hf_tokenizer_from_json(const nlohmann::json& j, const std::string& what,
                                                  const TokenizerConfig& config) {
  require(j.is_object(), ErrorCode::kCorrupt, what + ": must be a JSON object");
  try {
    return std::make_unique<HfTokenizer>(j, what, config);
  } catch (const nlohmann::json::exception& e) {
    // A field of another type than the parser checks for: still a clear
    // error about the file, never an unexpected exception.
    throw Error(ErrorCode::kCorrupt, what + ": unexpected structure (" + e.what() + ")");
  }
}

}  // namespace radial
