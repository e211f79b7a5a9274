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

JsonVocab::JsonVocab(const Tokenizer& tok, int vocab_size) : vocab_size_(vocab_size) {
  bytes_.resize(vocab_size);
  // An ordinary previous token: no leading space is dropped.
  const int bos = tok.bos_id();
  const int prev = tok.eos_id() >= 0 && tok.eos_id() != bos ? tok.eos_id() : bos == 0 ? 1 : 0;
  const int n = std::min(vocab_size, tok.vocab_size());
  for (int id = 0; id < n; ++id)
    if (!tok.is_special(id)) bytes_[id] = tok.piece_bytes(prev, id);
  for (int id = 0; id < vocab_size; ++id)
    if (!bytes_[id].empty()) sorted_.push_back(id);
  std::sort(sorted_.begin(), sorted_.end(), [&](int a, int b) {
    return bytes_[a] < bytes_[b] || (bytes_[a] == bytes_[b] && a < b);
  });
  lcp_.assign(sorted_.size(), 0);
  for (size_t i = 1; i < sorted_.size(); ++i) {
    const std::string &a = bytes_[sorted_[i - 1]], &b = bytes_[sorted_[i]];
    size_t k = 0;
    while (k < a.size() && k < b.size() && a[k] == b[k]) ++k;
    lcp_[i] = static_cast<int>(k);
  }
}

const std::vector<int>& JsonConstraint::allowed() {
  // Between values few tokens fit and the walk is short; inside strings most
  // do, and the states repeat.
  if (state_.mode != JsonState::kString) {
    walk(&walked_);
    return walked_;
  }
  ++steps_;
  CacheEntry* slot = &cache_[0];
  for (CacheEntry& e : cache_) {
    if (e.used != 0 && e.state == state_) {
      e.used = steps_;
      return e.allowed;
    }
    if (e.used < slot->used) slot = &e;  // the least recently used (or an empty one)
  }
  walk(&slot->allowed);
  slot->state = state_;
  slot->used = steps_;
  return slot->allowed;
}

void JsonConstraint::walk(std::vector<int>* out) {
  out->clear();
  const JsonVocab& v = *vocab_;
  // states[k]: the state after the first k bytes of the current token.
  std::vector<JsonState>& states = states_;
  states.assign(1, state_);
  int dead = INT_MAX;  // the byte of the last path that was rejected
  for (size_t i = 0; i < v.sorted_.size(); ++i) {
    const int lcp = v.lcp_[i];
    if (lcp > dead) continue;  // it starts with that rejected byte too
    dead = INT_MAX;
    states.resize(static_cast<size_t>(lcp) + 1);
    const std::string& s = v.bytes_[v.sorted_[i]];
    bool ok = true;
    for (size_t k = static_cast<size_t>(lcp); k < s.size(); ++k) {
      JsonState next = states.back();
      if (!next.feed(static_cast<uint8_t>(s[k]))) {
        dead = static_cast<int>(k);
        ok = false;
        break;
      }
      states.push_back(next);
    }
    if (ok) out->push_back(v.sorted_[i]);
  }
}

bool JsonConstraint::mask(std::span<float> logits) {
  const std::vector<int>& ids = allowed();
  kept_.resize(ids.size());
  for (size_t i = 0; i < ids.size(); ++i)
    kept_[i] = static_cast<size_t>(ids[i]) < logits.size() ? logits[ids[i]] : 0.f;
  std::fill(logits.begin(), logits.end(), -std::numeric_limits<float>::infinity());
  for (size_t i = 0; i < ids.size(); ++i)
    if (static_cast<size_t>(ids[i]) < logits.size()) logits[ids[i]] = kept_[i];
  return !ids.empty();
}

bool JsonConstraint::accept(int id) {
  if (id < 0 || id >= vocab_->vocab_size() || vocab_->bytes_[id].empty()) return false;
  JsonState next = state_;
  for (char c : vocab_->bytes_[id])
    if (!next.feed(static_cast<uint8_t>(c))) return false;
  state_ = next;
  return true;
}

}  // namespace radial
