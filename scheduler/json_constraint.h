// JSON mode (OpenAI's response_format {"type": "json_object"}): the
// generated text is held to a prefix of one JSON object, token by token.
//
// JsonVocab: every token's text bytes (Tokenizer::piece_bytes after an
// ordinary token), sorted, with the common-prefix length of each with the
// one before it, built once per tokenizer. Special tokens and tokens without
// text are never allowed (end-of-sequence is not needed: the scheduler ends a
// sequence when its object closes).
//
// JsonConstraint: the state of one sequence's text (a byte-level pushdown
// automaton for RFC 8259 JSON: an object at the top, nesting up to 64,
// strings as UTF-8 with the standard escapes (surrogate escapes in pairs,
// as strict parsers want them) and no raw control characters,
// whitespace between tokens in runs of at most one newline and 16 spaces or
// tabs, no carriage return, as llama.cpp's JSON grammar bounds it, so that a
// sequence cannot idle in it).
// allow() computes which token ids may come next, walking the sorted
// vocabulary so that a shared prefix is run once and a rejected byte rules
// out every token that starts with the same bytes; mask() sets every other
// logit to -inf. accept() advances the state by a sampled token.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/tokenizer.h"

namespace radial {

class JsonVocab {
 public:
  // `vocab_size`: the model's (logits); ids at or past the tokenizer's are never allowed.
  JsonVocab(const Tokenizer& tok, int vocab_size);
  int vocab_size() const { return vocab_size_; }

 private:
  friend class JsonConstraint;
  int vocab_size_ = 0;
  std::vector<std::string> bytes_;  // by id; "" for a token never allowed
  std::vector<int> sorted_;         // ids with text, by their bytes
  std::vector<int> lcp_;            // [i]: common prefix of sorted_[i - 1] and sorted_[i]
};

// One JSON value's parse state, advanced byte by byte (small and copyable).
struct JsonState {
  enum Mode : uint8_t {
    kStart,      // before the top-level object: whitespace, then '{'
    kValue,      // a value (after ':' or ',' in an array)
    kArrayOpen,  // after '[': a value or ']'
    kKeyOpen,    // after '{': a key or '}'
    kKey,        // after ',' in an object: a key
    kColon,      // after a key
    kAfter,      // after a value: ',' or the container's close
    kString,     // inside a string (key or value)
    kEscape,     // after a backslash
    kUnicode,    // in \uXXXX (pending hex digits in `left`)
    kNumber,     // in a number (`num` says where)
    kLiteral,    // in true / false / null (`lit` + `left` say what remains)
    kDone,       // the top-level object is closed
  };
  Mode mode = kStart;
  uint8_t left = 0;        // kUnicode: hex digits to go; kLiteral: letters to go
  uint8_t lit = 0;         // kLiteral: 0 true, 1 false, 2 null
  uint8_t num = 0;         // kNumber: 0 '-', 1 '0', 2 int digits, 3 '.', 4 frac digits,
                           // 5 'e', 6 exponent sign, 7 exponent digits
  uint8_t utf8 = 0;        // kString: continuation bytes to go
  uint8_t utf8_lo = 0x80;  // kString: the next continuation byte's range
  uint8_t utf8_hi = 0xBF;
  uint8_t spaces = 0;     // spaces and tabs in this run of whitespace
  uint8_t newlines = 0;   // newlines in this run of whitespace
  bool key = false;       // kString / kEscape / kUnicode: a key's string
  bool want_low = false;  // after \uD800-\uDBFF: \uDC00-\uDFFF must follow
  uint16_t code = 0;      // kUnicode: the hex digits so far
  uint8_t depth = 0;      // open containers
  uint64_t objects = 0;   // bit i: container i is an object (else an array)

  // Consumes one byte; false (state unspecified) when it cannot continue a
  // JSON object.
  bool feed(uint8_t b);
  bool done() const { return mode == kDone; }
  bool operator==(const JsonState&) const = default;
};

class JsonConstraint {
 public:
  explicit JsonConstraint(std::shared_ptr<const JsonVocab> vocab) : vocab_(std::move(vocab)) {}

  // Token ids that may come next (in the vocabulary's byte order), valid
  // until the next call. Inside strings, where most tokens fit and the walk
  // is long, the answers of the last 4 states are kept: every step of a
  // string is in the same state, and so is every string at the same place in
  // the nesting; a hit returns the kept list without a walk or a copy.
  const std::vector<int>& allowed();
  // Sets every logit but the allowed tokens' to -inf; false when no token
  // is allowed (the vocabulary cannot continue the text).
  bool mask(std::span<float> logits);
  // Advances by token `id`'s bytes; false when they do not continue the
  // text (a token mask() did not allow).
  bool accept(int id);
  // The top-level object is closed: the sequence is complete.
  bool complete() const { return state_.done(); }

 private:
  void walk(std::vector<int>* out);  // allowed() without the cache

  std::shared_ptr<const JsonVocab> vocab_;
  JsonState state_;
  // Scratch kept across steps (no allocation per token once grown):
  std::vector<int> walked_;        // a walk's answer outside strings
  std::vector<JsonState> states_;  // walk(): the state after each byte of a token
  std::vector<float> kept_;        // mask(): the allowed tokens' logits
  struct CacheEntry {
    JsonState state;
    std::vector<int> allowed;
    uint64_t used = 0;  // last use (steps_); 0: empty
  };
  CacheEntry cache_[4];
  uint64_t steps_ = 0;
};

}  // namespace radial
