// SentencePiece tokenizer (libsentencepiece) with the BOS handling of
// llama2.c / Hugging Face Llama: encode(text) = [BOS] + sp.encode(text); the
// empty prompt is [BOS] alone.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace radial {

class Tokenizer {
 public:
  // Loads a SentencePiece .model file. Throws Error(kNotFound / kCorrupt).
  static std::unique_ptr<Tokenizer> load(const std::string& model_path);
  ~Tokenizer();

  // [BOS] + pieces of `text` (when add_bos).
  std::vector<int> encode(std::string_view text, bool add_bos = true) const;
  // Text of `ids`, as a whole (no leading-space handling beyond SentencePiece's).
  std::string decode(const std::vector<int>& ids) const;
  // The bytes that token `id` contributes when it follows `prev` in a
  // stream (SentencePiece's leading "▁" becomes a space, except right after
  // BOS where llama2.c strips it; byte tokens <0xNN> become that raw byte).
  std::string piece_bytes(int prev, int id) const;

  int vocab_size() const;
  int bos_id() const;
  int eos_id() const;

 private:
  Tokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Turns a stream of token ids into text without ever emitting half of a
// UTF-8 character: bytes of an incomplete sequence are held until it
// completes (or flush() is called, which replaces them with U+FFFD).
class StreamDetokenizer {
 public:
  explicit StreamDetokenizer(const Tokenizer& tok, int prev_token);
  // Returns the complete UTF-8 text that `id` makes available (possibly "").
  std::string push(int id);
  // Returns what is still held (invalid or truncated bytes as U+FFFD).
  std::string flush();

 private:
  const Tokenizer& tok_;
  int prev_;
  std::string pending_;
};

// Finds stop strings in generated text. feed() appends text and returns the
// text that can safely be emitted (text that could still be the start of a
// stop string is held back); stopped() says a stop string was found; the
// stop string itself and anything after it are never emitted.
class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);
  std::string feed(const std::string& text);
  std::string flush();  // held-back text once generation ends without a stop
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace radial
