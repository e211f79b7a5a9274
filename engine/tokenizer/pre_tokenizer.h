// The pre-tokenizer of a Hugging Face tokenizer.json: splits normalized text
// into the pre-tokens ("words") the BPE model encodes one by one, exactly as
// the tokenizers library does. Supported: Split (String or Regex pattern,
// every behaviour, invert), ByteLevel (add_prefix_space, use_regex; last in a
// Sequence), Digits, Metaspace (prepend_scheme, split) and Sequence. Any other
// type or field value is a load error naming it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/function_ref.h"

namespace radial {

// Receives one piece of text and whether it starts at offset 0 of the
// original text (Metaspace's prepend_scheme "first" needs it).
using PieceSink = FunctionRef<void(std::string_view piece, bool at_origin)>;

class PreTokenizerStep {
 public:
  virtual ~PreTokenizerStep() = default;
  // Splits (and possibly rewrites) `piece`, passing each result to `out`.
  virtual void split(std::string_view piece, bool at_origin, PieceSink out) const = 0;
};

class PreTokenizer {
 public:
  // `j` is tokenizer.json's "pre_tokenizer" (null: the text is one word).
  // Throws Error(kUnsupported / kCorrupt) naming `file` and the construct.
  PreTokenizer(const nlohmann::json& j, const std::string& file);
  ~PreTokenizer();

  // True when the last step is ByteLevel: words then reach the model as raw
  // bytes (the model maps them to the byte-level alphabet).
  bool byte_level() const { return byte_level_; }

  // Passes every word of `text` to `out`, in order.
  void run(std::string_view text, bool at_origin, PieceSink out) const {
    apply(0, text, at_origin, out);
  }

 private:
  void add(const nlohmann::json& j, const std::string& where, const std::string& file);
  void apply(size_t step, std::string_view piece, bool at_origin, PieceSink out) const;

  std::vector<std::unique_ptr<PreTokenizerStep>> steps_;
  bool byte_level_ = false;
};

}  // namespace radial
