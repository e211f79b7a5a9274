// The reference JSON mode's automaton (scheduler/json_constraint.h) is
// checked against, shared by the unit test and the fuzz target: nlohmann's
// parser, plus the automaton's deliberate limits.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace radial::test {

// Whether `s` is one JSON object that JSON mode allows: nlohmann accepts it
// (numbers beyond double's range, which nlohmann refuses and JSON's grammar
// allows, count as valid), its top is an object, nesting stays within 64,
// and outside strings every run of whitespace holds at most one newline and
// 16 spaces or tabs and no carriage return.
inline bool json_mode_reference(const std::string& s) {
  // nlohmann reads a NUL byte as the end of the input; JSON has no place for
  // one (a raw control character even inside strings).
  if (s.find('\0') != std::string::npos) return false;
  bool ok = nlohmann::json::accept(s);
  if (!ok) {
    try {
      [[maybe_unused]] const auto parsed = nlohmann::json::parse(s);
    } catch (const nlohmann::json::exception& e) {
      if (std::string(e.what()).find("number overflow") == std::string::npos) return false;
      std::string masked = s;  // the same text with every exponent 0
      for (size_t i = 0; i + 1 < masked.size(); ++i)
        if (masked[i] == 'e' || masked[i] == 'E') {
          size_t j = i + 1;
          if (masked[j] == '+' || masked[j] == '-') ++j;
          while (j < masked.size() && masked[j] >= '0' && masked[j] <= '9') masked[j++] = '0';
        }
      if (masked == s || !nlohmann::json::accept(masked)) return false;
      return json_mode_reference(masked);
    }
  }
  const auto j = nlohmann::json::parse(s, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  int run = 0, newlines = 0, depth = 0;
  bool in_string = false, escaped = false;
  for (char c : s) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
    if (depth > 64 || c == '\r') return false;
    run = (c == ' ' || c == '\t') ? run + 1 : (c == '\n') ? run : 0;
    newlines = c == '\n' ? newlines + 1 : (c == ' ' || c == '\t') ? newlines : 0;
    if (run > 16 || newlines > 1) return false;
  }
  return true;
}

}  // namespace radial::test
