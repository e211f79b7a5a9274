#include "scheduler/json_constraint.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <limits>

namespace radial {

namespace {

constexpr int kMaxDepth = 64;
constexpr int kMaxSpaces = 16;  // spaces and tabs in a run of whitespace
constexpr const char* kLiterals[3] = {"true", "false", "null"};

bool is_digit(uint8_t b) { return b >= '0' && b <= '9'; }
bool is_hex(uint8_t b) { return is_digit(b) || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F'); }

}  // namespace

bool JsonState::feed(uint8_t b) {
  const auto after_value = [&] { mode = depth == 0 ? kDone : kAfter; };
  const auto open = [&](bool object) {
    if (depth >= kMaxDepth) return false;
    objects = object ? objects | (uint64_t{1} << depth) : objects & ~(uint64_t{1} << depth);
    ++depth;
    mode = object ? kKeyOpen : kArrayOpen;
    return true;
  };
  const auto top_is_object = [&] { return depth > 0 && ((objects >> (depth - 1)) & 1) != 0; };
  const auto close = [&] {
    --depth;
    after_value();
    return true;
  };
  const auto string = [&](bool is_key) {
    // (Fields of other modes reset too, so that every string starting at
    // the same place in the nesting is the same state: allowed()'s cache.)
    mode = kString;
    key = is_key;
    utf8 = left = lit = num = 0;
    utf8_lo = 0x80, utf8_hi = 0xBF;
    want_low = false, code = 0;
    return true;
  };
  // Outside strings, numbers and literals: whitespace between tokens, a run
  // holding at most one newline and 16 spaces or tabs (no carriage return),
  // as llama.cpp's JSON grammar bounds it: a model cannot idle in it.
  if (mode != kString && mode != kEscape && mode != kUnicode && mode != kNumber &&
      mode != kLiteral) {
    if (b == '\n') return ++newlines <= 1;
    if (b == ' ' || b == '\t') return ++spaces <= kMaxSpaces;
    if (b == '\r') return false;
    spaces = newlines = 0;
  }
  switch (mode) {
    case kStart:
      return b == '{' && open(true);
    case kArrayOpen:
      if (b == ']') return close();
      [[fallthrough]];
    case kValue:
      switch (b) {
        case '{':
          return open(true);
        case '[':
          return open(false);
        case '"':
          return string(false);
        case '-':
          mode = kNumber, num = 0;
          return true;
        case 't':
        case 'f':
        case 'n':
          mode = kLiteral, lit = b == 't' ? 0 : b == 'f' ? 1 : 2;
          left = static_cast<uint8_t>(std::strlen(kLiterals[lit]) - 1);
          return true;
        default:
          if (!is_digit(b)) return false;
          mode = kNumber, num = b == '0' ? 1 : 2;
          return true;
      }
    case kKeyOpen:
      if (b == '}') return close();
      [[fallthrough]];
    case kKey:
      return b == '"' && string(true);
    case kColon:
      if (b != ':') return false;
      mode = kValue;
      return true;
    case kAfter:
      if (b == ',') {
        mode = top_is_object() ? kKey : kValue;
        return true;
      }
      if (b == (top_is_object() ? '}' : ']')) return close();
      return false;
    case kString:
      if (want_low && b != '\\') return false;  // a high surrogate's low half must follow
      if (utf8 > 0) {                           // a continuation byte
        if (b < utf8_lo || b > utf8_hi) return false;
        --utf8;
        utf8_lo = 0x80, utf8_hi = 0xBF;
        return true;
      }
      if (b == '"') {
        if (key) {
          mode = kColon;
        } else {
          after_value();
        }
        return true;
      }
      if (b == '\\') {
        mode = kEscape;
        return true;
      }
      if (b < 0x20) return false;
      if (b < 0x80) return true;
      // A UTF-8 lead byte (Unicode Table 3-7: no overlongs or surrogates).
      if (b >= 0xC2 && b <= 0xDF) {
        utf8 = 1;
      } else if (b >= 0xE0 && b <= 0xEF) {
        utf8 = 2;
        if (b == 0xE0) utf8_lo = 0xA0;
        if (b == 0xED) utf8_hi = 0x9F;
      } else if (b >= 0xF0 && b <= 0xF4) {
        utf8 = 3;
        if (b == 0xF0) utf8_lo = 0x90;
        if (b == 0xF4) utf8_hi = 0x8F;
      } else {
        return false;
      }
      return true;
    case kEscape:
      if (b == 'u') {
        mode = kUnicode, left = 4, code = 0;
        return true;
      }
      if (want_low || std::strchr("\"\\/bfnrt", b) == nullptr || b == 0) return false;
      mode = kString;
      return true;
    case kUnicode: {
      // Surrogates come in pairs (a lone one is no character: parsers such
      // as nlohmann's refuse it): \uD800-\uDBFF, then \uDC00-\uDFFF.
      if (!is_hex(b)) return false;
      const int digit = b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;
      code = static_cast<uint16_t>(code * 16 + digit);
      --left;
      if (left == 2) {  // the first two digits decide
        const bool low = code >= 0xDC && code <= 0xDF, high = code >= 0xD8 && code <= 0xDB;
        if (want_low != low || (want_low && high)) return false;
      }
      if (left > 0) return true;
      mode = kString;
      want_low = code >= 0xD800 && code <= 0xDBFF;
      code = 0;
      return true;
    }
    case kNumber: {
      const bool digit = is_digit(b), exp = b == 'e' || b == 'E';
      switch (num) {
        case 0:  // '-'
          if (!digit) return false;
          num = b == '0' ? 1 : 2;
          return true;
        case 1:  // a leading '0'
        case 2:  // integer digits
        case 4:  // fraction digits
        case 7:  // exponent digits
          if (digit && num != 1) return true;
          if (b == '.' && num <= 2) {
            num = 3;
            return true;
          }
          if (exp && num <= 4) {
            num = 5;
            return true;
          }
          after_value();  // the number ends here; the byte is the next token's
          return feed(b);
        case 3:  // '.'
          if (!digit) return false;
          num = 4;
          return true;
        case 5:  // 'e'
          if (b == '+' || b == '-') {
            num = 6;
            return true;
          }
          [[fallthrough]];
        case 6:  // exponent sign
          if (!digit) return false;
          num = 7;
          return true;
      }
      return false;
    }
    case kLiteral: {
      const char* word = kLiterals[lit];
      if (b != static_cast<uint8_t>(word[std::strlen(word) - left])) return false;
      if (--left == 0) after_value();
      return true;
    }
    case kDone:
      return false;  // only whitespace, handled above
  }
  return false;
}

}  // namespace radial
