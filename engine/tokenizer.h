// Tokenizers. `Tokenizer` is the interface every caller uses; two
// implementations stand behind it:
//   - SentencePiece (`tokenizer.model`, engine/tokenizer/sentencepiece_tokenizer.h)
//     with the BOS handling of llama2.c / Hugging Face Llama;
//   - Hugging Face `tokenizer.json` (engine/tokenizer/hf_tokenizer.h): byte-level
//     BPE (Llama-3, Qwen) and Metaspace / byte-fallback BPE (Llama-2, Mistral,
//     Gemma), with added and special tokens and the file's post-processor.
// Tokenizer::load picks one from a path (see there). Every implementation is
// immutable after load and safe to use from several threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace radial {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Loads a tokenizer from `path`:
  //   - a directory: its tokenizer.json (with tokenizer_config.json when present)
  //     when it has one, else its tokenizer.model;
  //   - a file named *.json: a Hugging Face tokenizer.json (tokenizer_config.json
  //     beside it is read when present);
  //   - any other file: a SentencePiece model.
  // Throws Error(kNotFound) when nothing is there, Error(kCorrupt) for a file
  // that is not what it claims, Error(kUnsupported) naming a tokenizer.json
  // construct this implementation does not reproduce exactly.
  static std::unique_ptr<Tokenizer> load(const std::string& path);

  // Token ids of `text`. With add_bos (Hugging Face's add_special_tokens) the
  // tokenizer's own rules add special tokens: SentencePiece prepends BOS;
  // tokenizer.json applies its post-processor (which may add BOS, or nothing,
  // as Llama-3's ByteLevel post-processor). Special-token text inside `text`
  // (tokenizer.json: "<|eot_id|>") becomes its id. Throws
  // Error(kInvalidArgument) when `text` is not valid UTF-8.
  virtual std::vector<int> encode(std::string_view text, bool add_bos = true) const = 0;

  // Text of `ids`, special tokens (BOS, EOS, <|eot_id|>...) left out; bytes
  // that do not form UTF-8 become U+FFFD. Throws Error(kInvalidArgument) for
  // an id outside [0, vocab_size()).
  std::string decode(const std::vector<int>& ids) const { return decode(ids, true); }
  virtual std::string decode(const std::vector<int>& ids, bool skip_special) const = 0;

  // The raw bytes that token `id` contributes when it follows `prev` in a
  // stream (prev < 0: the start of the text). They may be part of a UTF-8
  // character (byte-level and byte-fallback tokens); StreamDetokenizer joins
  // them. Special tokens contribute nothing. A leading space that the
  // tokenizer adds to the first word is dropped right after BOS (llama2.c's
  // rule; tokenizer.json's Metaspace and Strip decoders). Throws
  // Error(kInvalidArgument) for an id outside [0, vocab_size()).
  virtual std::string piece_bytes(int prev, int id) const = 0;

  // Number of ids: one more than the largest id (added tokens included).
  virtual int vocab_size() const = 0;
  virtual int bos_id() const = 0;  // -1: none
  virtual int eos_id() const = 0;  // -1: none
  // The id of a token given by its text (special tokens included), or -1.
  virtual int token_id(std::string_view token) const = 0;
  // True for special (control) tokens, which decode() and piece_bytes() skip.
  virtual bool is_special(int id) const = 0;
  // "sentencepiece" or "tokenizer.json", for logs and ModelInfo.
  virtual std::string_view kind() const = 0;
};

// Turns a stream of token ids into text without ever emitting half of a
// UTF-8 character: bytes of an incomplete sequence (a byte-level token that
// ends inside a character) are held until it completes (or flush() is
// called, which replaces them with U+FFFD).
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
