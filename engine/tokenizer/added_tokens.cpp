#include "engine/tokenizer/added_tokens.h"

#include <unicode/uchar.h>

#include "engine/error.h"
#include "engine/tokenizer/utf8.h"

namespace radial {

namespace {

// The character that starts at `i` / ends at `end` of `s` (U+FFFF when none).
char32_t char_at(std::string_view s, size_t i, size_t* len) {
  *len = i < s.size() ? std::max<size_t>(1, utf8::sequence_length(s.substr(i))) : 0;
  return *len > 0 ? utf8::decode(s.data() + i, *len) : 0xFFFF;
}
char32_t char_before(std::string_view s, size_t end, size_t* start) {
  size_t b = end;
  while (b > 0 && (static_cast<unsigned char>(s[b - 1]) & 0xC0) == 0x80) --b;
  if (b > 0) --b;
  *start = b;
  size_t len = 0;
  return end > 0 ? char_at(s, b, &len) : 0xFFFF;
}

// Rust's char::is_whitespace (Unicode White_Space).
bool is_space(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)); }

// The Rust regex crate's \w: Alphabetic, marks, decimal digits, connector
// punctuation, joiners.
bool is_word(char32_t c) {
  const auto u = static_cast<UChar32>(c);
  if (u_hasBinaryProperty(u, UCHAR_ALPHABETIC) || c == 0x200C || c == 0x200D) return true;
  const int8_t t = u_charType(u);
  return t == U_NON_SPACING_MARK || t == U_ENCLOSING_MARK || t == U_COMBINING_SPACING_MARK ||
         t == U_DECIMAL_DIGIT_NUMBER || t == U_CONNECTOR_PUNCTUATION;
}

}  // namespace

void AddedTokenMatcher::add(const AddedToken& t, std::string pattern) {
  if (pattern.empty()) return;
  int node = 0;
  for (char ch : pattern) {
    const auto c = static_cast<unsigned char>(ch);
    int next = -1;
    for (const auto& [b, child] : nodes_[node].children)
      if (b == c) next = child;
    if (next < 0) {
      next = static_cast<int>(nodes_.size());
      nodes_[node].children.emplace_back(c, next);
      nodes_.push_back(Node{});
    }
    node = next;
  }
  first_byte_[static_cast<unsigned char>(pattern[0])] = true;
  nodes_[node].token = static_cast<int>(tokens_.size());
  tokens_.push_back(t);
}

int AddedTokenMatcher::longest_at(std::string_view text, size_t pos, size_t* len) const {
  int node = 0, best = -1;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    int next = -1;
    for (const auto& [b, child] : nodes_[node].children)
      if (b == c) {
        next = child;
        break;
      }
    if (next < 0) break;
    node = next;
    if (nodes_[node].token >= 0) {
      best = nodes_[node].token;
      *len = i + 1 - pos;
    }
  }
  return best;
}

void AddedTokenMatcher::split(std::string_view text, bool at_origin, AddedSplitSink out) const {
  size_t emitted = 0;  // text before this offset has been passed on
  size_t pos = 0;
  while (pos < text.size()) {
    if (!first_byte_[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    size_t len = 0;
    const int t = longest_at(text, pos, &len);
    if (t < 0) {
      ++pos;
      continue;
    }
    const AddedToken& tok = tokens_[t];
    size_t start = pos, stop = pos + len;
    if (tok.single_word) {
      size_t before = 0, after_len = 0;
      const bool word_before = start > 0 && is_word(char_before(text, start, &before));
      const bool word_after = stop < text.size() && is_word(char_at(text, stop, &after_len));
      if (word_before || word_after) {  // the match is skipped whole, as by the tokenizers library
        pos += len;
        continue;
      }
    }
    if (tok.lstrip) {
      size_t b = start;
      while (b > emitted) {
        size_t prev = 0;
        if (!is_space(char_before(text, b, &prev))) break;
        b = prev;
      }
      start = b;
    }
    if (tok.rstrip) {
      size_t n = 0;
      while (stop < text.size() && is_space(char_at(text, stop, &n))) stop += n;
    }
    if (start > emitted) out(text.substr(emitted, start - emitted), -1, at_origin && emitted == 0);
    out(text.substr(start, stop - start), tok.id, at_origin && start == 0);
    emitted = pos = stop;
  }
  if (emitted < text.size()) out(text.substr(emitted), -1, at_origin && emitted == 0);
}

std::vector<AddedToken> parse_added_tokens(const nlohmann::json& j, const std::string& file) {
  std::vector<AddedToken> out;
  if (j.is_null()) return out;
  if (!j.is_array()) throw Error(ErrorCode::kCorrupt, file + ": added_tokens must be an array");
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& e = j[i];
    const std::string where = file + ": added_tokens[" + std::to_string(i) + "]";
    if (!e.is_object() || !e.contains("id") || !e["id"].is_number_integer() ||
        e["id"].get<int64_t>() < 0 || e["id"].get<int64_t>() >= (1 << 21) ||
        !e.contains("content") || !e["content"].is_string())
      throw Error(ErrorCode::kCorrupt,
                  where + " must have an id in [0, 2^21) and a string content");
    AddedToken t;
    t.id = e["id"].get<int>();
    t.content = e["content"].get<std::string>();
    utf8::require_valid(t.content, where + ".content");
    auto flag = [&](const char* key, bool fallback) {
      if (!e.contains(key)) return fallback;
      if (!e[key].is_boolean())
        throw Error(ErrorCode::kCorrupt, where + "." + key + " must be a boolean");
      return e[key].get<bool>();
    };
    t.special = flag("special", false);
    t.lstrip = flag("lstrip", false);
    t.rstrip = flag("rstrip", false);
    t.single_word = flag("single_word", false);
    t.normalized = flag("normalized", !t.special);
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace radial
