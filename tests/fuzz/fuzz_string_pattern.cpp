// libFuzzer target: JSON Schema patterns (scheduler/string_pattern.h)
// against std::regex's ECMAScript grammar. The input is a pattern, a NUL
// byte, and a string; both ASCII, the pattern at most 64 bytes and the
// string at most 16 (std::regex backtracks). When both compile the pattern:
// every string radiald's automaton matches must match std::regex_search
// (JSON Schema mode never writes an invalid string), and for a pattern
// without '|' the two agree both ways (with '|', an anchor at an end holds
// the whole pattern: radiald takes fewer strings, on purpose). A pattern
// std::regex refuses is skipped, and so are those where libstdc++ is not
// ECMAScript (below); the automaton must not crash on any.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <regex>
#include <string>

#include "scheduler/string_pattern.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  if (nul == std::string::npos) return 0;
  const std::string pattern = in.substr(0, nul), s = in.substr(nul + 1);
  if (pattern.size() > 64 || s.size() > 16) return 0;
  for (unsigned char c : pattern + s)
    if (c == 0 || c >= 0x80) return 0;
  // libstdc++'s regex compiler overflows an int on a long run of digits
  // after '{', and its executor recurses once per state of the copies a
  // large count makes (a stack overflow there, not here): patterns with a
  // run of more than 2 digits are skipped.
  for (size_t i = 0, run = 0; i < pattern.size(); ++i) {
    run = pattern[i] >= '0' && pattern[i] <= '9' ? run + 1 : 0;
    if (run > 2) return 0;
  }
  // libstdc++ reads POSIX's "[.x.]", "[=x=]" and "[:name:]" inside a
  // class even in ECMAScript mode (ECMAScript reads '[', '.' and the rest
  // there as themselves): skipped.
  for (const char* posix : {"[.", "[=", "[:"})
    if (pattern.find(posix) != std::string::npos) return 0;
  std::string error;
  const auto ours = radial::StringPattern::compile(pattern, &error);
  if (ours == nullptr) return 0;
  const bool matched = ours->matches(s);
  std::regex ref;
  try {
    // (__polynomial: libstdc++'s breadth-first executor, not backtracking,
    // which takes exponential time on patterns such as "(|a|)+b".)
    ref = std::regex(pattern, std::regex::ECMAScript | std::regex_constants::__polynomial);
  } catch (const std::regex_error&) {
    return 0;
  }
  const bool expected = std::regex_search(s, ref);
  if (matched && !expected) std::abort();  // a string that breaks the pattern
  if (pattern.find('|') == std::string::npos && matched != expected) std::abort();
  return 0;
}
