// Bounds on a JSON number (JSON Schema's minimum, maximum, exclusiveMinimum,
// exclusiveMaximum), held while the number is written byte by byte.
//
// A bounded number is written without an exponent, in at most kMaxText
// bytes ("-" and "." included), and compared exactly, as decimals, with
// each bound's shortest text as a double (the "0.1" of 0.1: the bound as
// written). A validator that reads numbers as doubles agrees, as rounding
// to nearest keeps order: text <= "0.1" implies double(text) <= 0.1. An
// exclusive bound b is held as the inclusive bound next to it
// (nextafter(b), whose text is beyond b), so that a text within half a
// double's step of b is not taken for one beyond it; so is a bound beyond
// 2^53, where a written integer may not be a double.
//
// reachable() is what keeps generation from getting stuck: a prefix is
// allowed only while some completion of it, within kMaxText bytes, is in
// bounds (and whole, for integers).
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace radial {

class NumberBounds {
 public:
  static constexpr int kMaxText = 24;

  struct Bound {
    double value = 0;
    bool exclusive = false;
  };
  // Bounds as JSON gives them (nullopt: none on that side); `integer`:
  // whole numbers only. Tight bounds on a side (minimum 1 and
  // exclusiveMinimum 0.5) are combined by the caller: give the tighter.
  NumberBounds(std::optional<Bound> min, std::optional<Bound> max, bool integer);

  bool integer() const { return integer_; }
  // Whether `prefix` (a prefix of an RFC 8259 number without exponent,
  // possibly empty) has a completion of at most `max_text` bytes in bounds.
  bool reachable(std::string_view prefix, int max_text = kMaxText) const;
  // Whether the complete number `text` (no exponent) is in bounds.
  bool holds(std::string_view text) const;
  // Whether a double is in bounds, as a validator compares it (enum and
  // const values).
  bool holds_value(double v) const;
  // Whether every number held here (as a validator reads it) is outside
  // `o`'s bounds as given: all below its minimum or all above its maximum.
  bool excludes(const NumberBounds& o) const;

 private:
  using Int = __int128;
  // Whether some value of sign `neg` and magnitude in [lo, hi] (units of
  // 10^-g) is in bounds.
  bool meets(bool neg, int g, Int lo, Int hi) const;

  bool integer_ = false;
  std::optional<Bound> given_min_, given_max_;  // as given
  std::optional<double> min_, max_;             // inclusive (exclusive ones moved inward)
  // The bounds on the grid of 10^-g: lo_[g] = ceil(min * 10^g), hi_[g] =
  // floor(max * 10^g), saturated at -+kFar (beyond every text's value).
  std::array<Int, kMaxText + 1> lo_{}, hi_{};
};

}  // namespace radial
