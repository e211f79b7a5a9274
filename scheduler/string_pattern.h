// A JSON Schema "pattern" (an ECMA-262 regular expression, matched as
// JSON Schema says: anywhere in the string unless anchored) compiled for
// JSON Schema mode to a position automaton (Glushkov's: one state per
// character class in the expression, repetitions expanded), stepped one
// Unicode code point at a time over a set of states held in 128 bits.
//
// The subset: literal characters and identity escapes, ".", classes
// ("[a-z_]", "[^0-9]", "[]" none, "[^]" any), the escapes \d \D \w \W \s \S
// \n \r \t \f \v \0 \xHH \uHHHH (a surrogate pair of them one character),
// groups "(...)", "(?:...)", "(?<name>...)", alternation "|", the
// quantifiers * + ? {n} {n,} {n,m} (lazy ones too: the same strings), and
// "^" / "$" at the start / end of the pattern (held to the whole pattern:
// "^a|b" is read as "^(a|b)", which takes fewer strings, never more).
// Refused (compile() says which): lookarounds, backreferences, word
// boundaries, \p{...}, "^" / "$" anywhere else, quantifiers above 1000, and
// patterns of more than kMaxPositions classes once repetitions are expanded.
//
// step() keeps only the states from which some string still reaches a
// match (within the characters left, when minLength or maxLength binds:
// shortest_ / longest_), so a string under a pattern never gets stuck:
// while the set is not empty there is a way to finish it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace radial {

// Lengths left for the rest of a string, in characters, as JSON Schema
// mode counts them (scheduler/schema_state.h): at least `min`, at most
// `max` (0xFFFFFFFF: no limit). Only one of the two may bind: with both,
// whether some length between them matches is not tracked.
struct PatternLeft {
  uint32_t min = 0, max = 0xFFFFFFFF;
};

class StringPattern {
 public:
  static constexpr int kMaxPositions = 127;  // (plus the start)

  struct Set {  // states: bit i is position i (0: the start)
    uint64_t w[2] = {0, 0};
    bool empty() const { return (w[0] | w[1]) == 0; }
    bool test(int i) const { return (w[i >> 6] >> (i & 63)) & 1; }
    void set(int i) { w[i >> 6] |= uint64_t{1} << (i & 63); }
    bool intersects(const Set& o) const { return ((w[0] & o.w[0]) | (w[1] & o.w[1])) != 0; }
    Set& operator|=(const Set& o) {
      w[0] |= o.w[0], w[1] |= o.w[1];
      return *this;
    }
    bool operator==(const Set&) const = default;
  };

  // Compiles `pattern` (UTF-8); null with `*error` set when it is outside
  // the subset or matches no string ("has lookaround assertions, which
  // ...", "matches no string": to follow "\"pattern\" ").
  static std::shared_ptr<const StringPattern> compile(std::string_view pattern, std::string* error);

  static constexpr uint32_t kNoMax = 0xFFFFFFFF;
  using Left = PatternLeft;

  Set start() const { return start_; }
  // Whether a string of a length `left` allows matches from the start.
  bool fits_start(Left left) const { return fits(0, left); }
  // The states after code point `c` from `s`, kept to those that can still
  // reach a match within `left` (empty: `c` cannot continue the string).
  Set step(const Set& s, uint32_t c, Left left = {}) const;
  // Whether some code point in [lo, hi] continues from `s` within `left`
  // (for a character whose first bytes are known).
  bool can_step(const Set& s, uint32_t lo, uint32_t hi, Left left = {}) const;
  // Whether the string may end in `s`.
  bool accepts(const Set& s) const { return s.intersects(accept_); }
  // Whether a whole string (UTF-8) matches.
  bool matches(std::string_view utf8) const;

  using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;  // code points, inclusive, sorted

 private:
  friend class PatternBuilder;
  bool fits(int p, Left left) const {
    return shortest_[static_cast<size_t>(p)] <= left.max &&
           longest_[static_cast<size_t>(p)] >= left.min;
  }
  void measure();                     // shortest_, longest_
  Set followers(const Set& s) const;  // the positions that may come after those of s
  std::vector<Ranges> classes_;       // per position (the start's is empty)
  std::vector<Set> follow_;           // per position: the positions that may come next
  Set start_, accept_, live_;
  // Per position: the fewest and the most characters from it to a match
  // (kNoMax: any number; live positions only).
  std::vector<uint32_t> shortest_, longest_;
};

}  // namespace radial
