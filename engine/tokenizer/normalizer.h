// The normalizer of a Hugging Face tokenizer.json, exactly as the tokenizers
// library applies it to each piece of text between added tokens. Supported:
// NFC, NFD, NFKC, NFKD (ICU), Lowercase, Strip, Prepend, Replace (String or
// Regex pattern) and Sequence. Any other type is a load error naming it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace radial {

class NormalizerStep {
 public:
  virtual ~NormalizerStep() = default;
  virtual void apply(std::string* text) const = 0;
};

class Normalizer {
 public:
  // `j` is tokenizer.json's "normalizer" (null: none). Throws
  // Error(kUnsupported / kCorrupt) naming `file` and the construct.
  Normalizer(const nlohmann::json& j, const std::string& file);
  ~Normalizer();

  bool empty() const { return steps_.empty(); }
  // Normalizes `text` in place (valid UTF-8 in, valid UTF-8 out).
  void apply(std::string* text) const;

 private:
  void add(const nlohmann::json& j, const std::string& where, const std::string& file);
  std::vector<std::unique_ptr<NormalizerStep>> steps_;
};

}  // namespace radial
