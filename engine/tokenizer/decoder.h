// The decoder and the post-processor of a Hugging Face tokenizer.json.
//
// Decoder: what each token contributes to the text, as raw bytes (so byte
// tokens can be streamed and joined; the caller turns ill-formed UTF-8 into
// U+FFFD, which is what the tokenizers library does for valid sequences).
// Supported: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip and
// Sequence; no decoder joins tokens with spaces. Rules that depend on the
// position apply to the first token of the text only (Metaspace's prepend
// scheme, Strip after Fuse).
//
// Post-processor: the ids that encode(text, add_special_tokens) puts around
// the text. Supported: TemplateProcessing (single sequence), ByteLevel
// (offsets only: no ids) and Sequence.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace radial {

class DecoderStep {
 public:
  virtual ~DecoderStep() = default;
  virtual void apply(std::string* token, bool first) const = 0;
};

class Decoder {
 public:
  // `j` is tokenizer.json's "decoder" (null: tokens joined with spaces).
  // Throws Error(kUnsupported / kCorrupt) naming `file` and the construct.
  Decoder(const nlohmann::json& j, const std::string& file);
  ~Decoder();

  // The bytes `token` (its text as the vocabulary spells it) contributes;
  // `first`: it is the first token of the decoded text.
  std::string token_bytes(std::string_view token, bool first) const;

 private:
  void add(const nlohmann::json& j, const std::string& where, const std::string& file);
  std::vector<std::unique_ptr<DecoderStep>> steps_;
  bool none_ = false;   // no decoder: tokens separated by spaces
  bool fused_ = false;  // a Fuse step has been added (later steps see one token)
};

struct PostProcessor {
  std::vector<int> prefix;  // ids before the text
  std::vector<int> suffix;  // ids after it
};

// `j` is tokenizer.json's "post_processor" (null: nothing added). Throws
// Error(kUnsupported / kCorrupt) naming `file` and the construct.
PostProcessor parse_post_processor(const nlohmann::json& j, const std::string& file);

}  // namespace radial
