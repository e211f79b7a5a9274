// Python str semantics on UTF-8 strings for the chat-template renderer:
// code points, whitespace, case mapping (ICU, root locale, as Python's
// locale-independent str methods).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace radial::jinja::str {

// The code points of `s`, each as its UTF-8 bytes.
std::vector<std::string_view> chars(std::string_view s);
// Python's str.isspace for one character.
bool is_space(std::string_view ch);
std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string title(std::string_view s);
std::string capitalize(std::string_view s);
// str.strip / lstrip / rstrip: whitespace when `chars` is null, else any
// character of *chars.
std::string strip(std::string_view s, const std::string* chars, bool left, bool right);
// str.split(sep, maxsplit) (sep null: runs of whitespace, no empty parts).
std::vector<std::string> split(std::string_view s, const std::string* sep, int64_t maxsplit);
std::string replace(std::string_view s, std::string_view from, std::string_view to, int64_t count);

}  // namespace radial::jinja::str
