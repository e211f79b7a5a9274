// The BPE model of a Hugging Face tokenizer.json ("model": {"type": "BPE"}),
// exactly as the tokenizers library applies it to one pre-token (a "word"):
// initial symbols, byte fallback and unknown tokens, then merges by rank
// (lowest first, leftmost first among equal ranks); `ignore_merges` looks
// the whole word up first.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/string_map.h"

namespace radial {

class BpeModel {
 public:
  // `model` is tokenizer.json's "model" object. With `byte_level` (the
  // pre-tokenizer ends with ByteLevel) the vocabulary's byte-level strings
  // are keyed by the bytes they stand for and encode_word() takes raw bytes;
  // otherwise words are UTF-8 text as the pre-tokenizer left it. Throws
  // Error(kCorrupt) naming `file` and the key for malformed content and
  // Error(kUnsupported) for dropout, subword prefixes and suffixes.
  BpeModel(const nlohmann::json& model, bool byte_level, const std::string& file);

  // Appends the ids of `word`. Thread-safe (results of repeated words are
  // cached).
  void encode_word(std::string_view word, std::vector<int>* ids) const;

  // One more than the largest id of the vocabulary.
  int size() const { return static_cast<int>(tokens_.size()); }
  // The token's text as the file spells it ("" for an id the vocabulary
  // skips).
  const std::string& token(int id) const { return tokens_[id]; }
  // Id of a token by its text as the file spells it, or -1.
  int id_of(std::string_view text) const;
  // The byte that a byte-fallback token "<0xNN>" stands for, or -1.
  int fallback_byte(int id) const;

 private:
  void encode_uncached(std::string_view word, std::vector<int>* ids) const;
  void merge(std::vector<int>* symbols) const;

  bool byte_level_ = false;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  int unk_id_ = -1;
  std::vector<std::string> tokens_;  // id -> text as in the file
  StringMap<int> by_text_;           // text as in the file -> id
  StringMap<int> by_word_;           // the form words come in (raw bytes when byte-level) -> id
  std::array<int, 256> byte_ids_{};  // byte-level: id of each byte; byte fallback: id of <0xNN>
  std::vector<int> fallback_byte_;   // id -> byte of a <0xNN> token, or -1
  MergeMap merges_;

  mutable std::mutex cache_mutex_;
  mutable StringMap<std::vector<int>> cache_;
};

}  // namespace radial
