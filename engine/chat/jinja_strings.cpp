#include "engine/chat/jinja_strings.h"

#include <unicode/uchar.h>
#include <unicode/ustring.h>

#include <algorithm>

#include "engine/tokenizer/utf8.h"

namespace radial::jinja::str {

namespace {

char32_t cp_of(std::string_view ch) { return utf8::decode(ch.data(), ch.size()); }

std::u16string to_u16(std::string_view s) {
  std::u16string out;
  for (std::string_view ch : chars(s)) {
    const char32_t c = cp_of(ch);
    if (c >= 0x10000) {
      out.push_back(static_cast<char16_t>(0xD800 + ((c - 0x10000) >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + ((c - 0x10000) & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(c));
    }
  }
  return out;
}

std::string from_u16(const std::u16string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char32_t c = s[i];
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < s.size())
      c = 0x10000 + ((c - 0xD800) << 10) + (s[++i] - 0xDC00);
    utf8::append(&out, c);
  }
  return out;
}

bool ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::string map_case(std::string_view s, bool to_upper) {
  if (ascii(s)) {
    std::string out(s);
    for (char& c : out)
      c = static_cast<char>(to_upper ? std::toupper(static_cast<unsigned char>(c))
                                     : std::tolower(static_cast<unsigned char>(c)));
    return out;
  }
  const std::u16string src = to_u16(s);
  std::u16string dst(src.size() * 3 + 4, u'\0');
  UErrorCode status = U_ZERO_ERROR;
  const auto* in = reinterpret_cast<const UChar*>(src.data());
  auto* out = reinterpret_cast<UChar*>(dst.data());
  const int32_t n = to_upper ? u_strToUpper(out, static_cast<int32_t>(dst.size()), in,
                                            static_cast<int32_t>(src.size()), "", &status)
                             : u_strToLower(out, static_cast<int32_t>(dst.size()), in,
                                            static_cast<int32_t>(src.size()), "", &status);
  if (U_FAILURE(status)) return std::string(s);
  dst.resize(static_cast<size_t>(n));
  return from_u16(dst);
}

bool is_cased(std::string_view ch) {
  const auto c = static_cast<UChar32>(cp_of(ch));
  return u_hasBinaryProperty(c, UCHAR_CASED);
}

}  // namespace

std::vector<std::string_view> chars(std::string_view s) {
  std::vector<std::string_view> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t len = std::max<size_t>(1, utf8::sequence_length(s.substr(i)));
    out.push_back(s.substr(i, len));
    i += len;
  }
  return out;
}

bool is_space(std::string_view ch) {
  const char32_t c = cp_of(ch);
  if (c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F)) return true;
  if (c < 0x80) return false;
  return u_isUWhiteSpace(static_cast<UChar32>(c));
}

std::string upper(std::string_view s) { return map_case(s, true); }
std::string lower(std::string_view s) { return map_case(s, false); }

std::string title(std::string_view s) {
  std::string out;
  bool previous_cased = false;
  for (std::string_view ch : chars(s)) {
    const bool cased = is_cased(ch);
    if (cased && !previous_cased) {
      const auto c = static_cast<UChar32>(cp_of(ch));
      utf8::append(&out, static_cast<char32_t>(u_totitle(c)));
    } else if (cased) {
      out += lower(ch);
    } else {
      out += ch;
    }
    previous_cased = cased;
  }
  return out;
}

std::string capitalize(std::string_view s) {
  const auto cs = chars(s);
  if (cs.empty()) return "";
  std::string out;
  utf8::append(&out, static_cast<char32_t>(u_totitle(static_cast<UChar32>(cp_of(cs[0])))));
  return out + lower(s.substr(cs[0].size()));
}

std::string strip(std::string_view s, const std::string* set, bool left, bool right) {
  const auto cs = chars(s);
  auto strip_it = [&](std::string_view ch) {
    if (set == nullptr) return is_space(ch);
    return set->find(ch) != std::string::npos;  // UTF-8 matches only at character boundaries
  };
  size_t b = 0, e = cs.size();
  if (left)
    while (b < e && strip_it(cs[b])) ++b;
  if (right)
    while (e > b && strip_it(cs[e - 1])) --e;
  if (b == e) return "";
  return std::string(
      s.substr(cs[b].data() - s.data(), cs[e - 1].data() + cs[e - 1].size() - cs[b].data()));
}

std::vector<std::string> split(std::string_view s, const std::string* sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep != nullptr) {
    size_t prev = 0;
    for (size_t at = s.find(*sep); at != std::string_view::npos &&
                                   (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit);
         at = s.find(*sep, prev)) {
      out.emplace_back(s.substr(prev, at - prev));
      prev = at + sep->size();
    }
    out.emplace_back(s.substr(prev));
    return out;
  }
  const auto cs = chars(s);
  size_t i = 0;
  while (i < cs.size()) {
    while (i < cs.size() && is_space(cs[i])) ++i;
    if (i == cs.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
      out.push_back(strip(s.substr(cs[i].data() - s.data()), nullptr, false, true));
      break;
    }
    size_t j = i;
    while (j < cs.size() && !is_space(cs[j])) ++j;
    out.emplace_back(
        s.substr(cs[i].data() - s.data(), cs[j - 1].data() + cs[j - 1].size() - cs[i].data()));
    i = j;
  }
  return out;
}

std::string replace(std::string_view s, std::string_view from, std::string_view to, int64_t count) {
  std::string out;
  if (from.empty()) {  // Python inserts `to` between every character
    const auto cs = chars(s);
    int64_t n = 0;
    for (size_t i = 0; i <= cs.size(); ++i) {
      if (count < 0 || n < count) out += to, ++n;
      if (i < cs.size()) out += cs[i];
    }
    return out;
  }
  size_t prev = 0;
  int64_t n = 0;
  for (size_t at = s.find(from); at != std::string_view::npos && (count < 0 || n < count);
       at = s.find(from, prev)) {
    out.append(s.substr(prev, at - prev));
    out.append(to);
    prev = at + from.size();
    ++n;
  }
  out.append(s.substr(prev));
  return out;
}

}  // namespace radial::jinja::str
