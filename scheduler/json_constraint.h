// JSON mode (OpenAI's response_format {"type": "json_object"}): the
// generated text is held to a prefix of one JSON object, token by token.
//
// JsonState: the state of one sequence's text (a byte-level pushdown
// automaton for RFC 8259 JSON: an object at the top, nesting up to 64,
// strings as UTF-8 with the standard escapes (surrogate escapes in pairs,
// as strict parsers want them) and no raw control characters,
// whitespace between tokens in runs of at most one newline and 16 spaces or
// tabs, no carriage return, as llama.cpp's JSON grammar bounds it, so that a
// sequence cannot idle in it).
// JsonConstraint: the tokens that may continue it (scheduler/byte_constraint.h).
#pragma once

#include <cstdint>

#include "scheduler/byte_constraint.h"

namespace radial {

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
  bool repeats() const { return mode == kString; }
  bool operator==(const JsonState&) const = default;
};

using JsonConstraint = ByteConstraint<JsonState>;

}  // namespace radial
