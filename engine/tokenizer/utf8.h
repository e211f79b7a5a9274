// UTF-8 helpers shared by the tokenizers and the streaming detokenizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace radial::utf8 {

// Length of the well-formed UTF-8 sequence at the start of `s` (Unicode
// Table 3-7: no overlongs, no surrogates, nothing above U+10FFFF), or 0 when
// `s` does not start with one (empty, ill-formed or truncated).
size_t sequence_length(std::string_view s);

// Throws Error(kInvalidArgument) naming `what`, the offset and the byte when
// `s` is not well-formed UTF-8.
void require_valid(std::string_view s, const std::string& what);

// Decodes the well-formed sequence of `len` bytes at `p` (len from
// sequence_length()).
char32_t decode(const char* p, size_t len);

// Appends the UTF-8 encoding of `cp` (a Unicode scalar value).
void append(std::string* out, char32_t cp);

// Moves the longest decodable prefix of `in` to `out`, replacing ill-formed
// bytes with U+FFFD (one per maximal subpart, as the Unicode standard
// recommends). Returns the number of bytes consumed. When `final` is false a
// trailing sequence that is a valid but incomplete prefix is left
// unconsumed; when `final` is true it becomes U+FFFD too.
size_t decode_lossy(std::string_view in, bool final, std::string* out);

// `in` with every ill-formed sequence replaced by U+FFFD.
inline std::string lossy(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  decode_lossy(in, /*final=*/true, &out);
  return out;
}

}  // namespace radial::utf8
