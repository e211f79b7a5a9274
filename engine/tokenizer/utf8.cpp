#include "engine/tokenizer/utf8.h"

#include <cstdio>

#include "engine/error.h"

namespace radial::utf8 {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Sequence length announced by `lead` and the allowed range of the second
// byte; len 0 for bytes that cannot start a sequence.
struct Lead {
  size_t len;
  unsigned char lo, hi;
};

Lead lead_of(unsigned char c) {
  if (c < 0x80) return {1, 0, 0};
  if (c >= 0xC2 && c <= 0xDF) return {2, 0x80, 0xBF};
  if (c == 0xE0) return {3, 0xA0, 0xBF};
  if (c == 0xED) return {3, 0x80, 0x9F};
  if (c >= 0xE1 && c <= 0xEF) return {3, 0x80, 0xBF};
  if (c == 0xF0) return {4, 0x90, 0xBF};
  if (c == 0xF4) return {4, 0x80, 0x8F};
  if (c >= 0xF1 && c <= 0xF3) return {4, 0x80, 0xBF};
  return {0, 0, 0};
}

// Number of bytes of `s` (at most lead.len) that continue the sequence.
size_t valid_prefix(std::string_view s, const Lead& lead) {
  size_t k = 1;
  for (; k < lead.len && k < s.size(); ++k) {
    const auto c = static_cast<unsigned char>(s[k]);
    const bool ok = k == 1 ? (c >= lead.lo && c <= lead.hi) : (c >= 0x80 && c <= 0xBF);
    if (!ok) break;
  }
  return k;
}

}  // namespace

size_t sequence_length(std::string_view s) {
  if (s.empty()) return 0;
  const Lead lead = lead_of(static_cast<unsigned char>(s[0]));
  if (lead.len <= 1) return lead.len;
  return valid_prefix(s, lead) == lead.len ? lead.len : 0;
}

void require_valid(std::string_view s, const std::string& what) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const size_t len = sequence_length(s.substr(i));
    if (len == 0) {
      char byte[8];
      std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(s[i]));
      throw Error(ErrorCode::kInvalidArgument, what + " is not valid UTF-8 (byte " + byte +
                                                   " at offset " + std::to_string(i) + ")");
    }
    i += len;
  }
}

char32_t decode(const char* p, size_t len) {
  const auto b = [&](size_t i) { return static_cast<char32_t>(static_cast<unsigned char>(p[i])); };
  switch (len) {
    case 1:
      return b(0);
    case 2:
      return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    case 3:
      return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    default:
      return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
  }
}

void append(std::string* out, char32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t decode_lossy(std::string_view in, bool final, std::string* out) {
  size_t i = 0;
  const size_t n = in.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      out->push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    const Lead lead = lead_of(c);
    if (lead.len == 0) {  // a stray continuation byte, C0/C1, or F5..FF
      out->append(kReplacement);
      ++i;
      continue;
    }
    const size_t k = valid_prefix(in.substr(i), lead);
    if (k == lead.len) {
      out->append(in.substr(i, k));
      i += k;
    } else if (i + k == n && !final) {
      return i;  // valid so far, waiting for more bytes
    } else {
      out->append(kReplacement);  // ill-formed (or truncated at the end)
      i += k;
    }
  }
  return i;
}

}  // namespace radial::utf8
