#include "scheduler/number_bounds.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>

namespace radial {

namespace {

using Int = __int128;

constexpr Int pow10(int n) {
  Int p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}
constexpr Int kFar = pow10(30);  // beyond every text's value on every grid (< 10^24)

// Digits to an integer (at most NumberBounds::kMaxText of them: no overflow).
Int digits_value(std::string_view d) {
  Int v = 0;
  for (char c : d) v = v * 10 + (c - '0');
  return v;
}

// floor(|v| * 10^g) and whether the product has a fraction, saturated at
// kFar, where v's decimal value is its shortest round-trip text (the "0.1"
// of 0.1): what was written, for every bound written in 17 digits or less.
std::pair<Int, bool> scaled_magnitude(double v, int g) {
  const double m = std::fabs(v);
  if (m >= 1e30) return {kFar, false};
  char buf[400];  // (fixed notation: at most 30 whole digits, 330 after the point)
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, m, std::chars_format::fixed);
  const std::string_view s(buf, ec == std::errc() ? static_cast<size_t>(end - buf) : 0);
  const size_t point = s.find('.');
  const std::string_view whole = s.substr(0, point);
  const std::string_view frac = point == std::string_view::npos ? "" : s.substr(point + 1);
  Int scaled = 0;
  for (char c : whole) scaled = scaled * 10 + (c - '0');
  for (size_t i = 0; i < static_cast<size_t>(g); ++i)
    scaled = scaled * 10 + (i < frac.size() ? frac[i] - '0' : 0);
  if (scaled > kFar) scaled = kFar;
  return {scaled, frac.size() > static_cast<size_t>(g)};  // (no trailing zeros)
}

Int floor_scaled(double v, int g) {
  const auto [m, rem] = scaled_magnitude(v, g);
  return v >= 0 ? m : -(m + (rem ? 1 : 0));
}
Int ceil_scaled(double v, int g) {
  const auto [m, rem] = scaled_magnitude(v, g);
  return v >= 0 ? m + (rem ? 1 : 0) : -m;
}

}  // namespace

NumberBounds::NumberBounds(std::optional<Bound> min, std::optional<Bound> max, bool integer)
    : integer_(integer), given_min_(min), given_max_(max) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // Exclusive bounds, and bounds beyond 2^53 (a written integer there may
  // not be a double: the double read may be a little outside it), move one
  // double inward.
  const auto inward = [](const Bound& b, double toward) {
    return b.exclusive || std::fabs(b.value) >= 0x1p53 ? std::nextafter(b.value, toward) : b.value;
  };
  if (min) min_ = inward(*min, kInf);
  if (max) max_ = inward(*max, -kInf);
  for (int g = 0; g <= kMaxText; ++g) {
    lo_[static_cast<size_t>(g)] = min_ ? ceil_scaled(*min_, g) : -kFar;
    hi_[static_cast<size_t>(g)] = max_ ? floor_scaled(*max_, g) : kFar;
  }
}

bool NumberBounds::meets(bool neg, int g, Int lo, Int hi) const {
  const Int a = neg ? -hi : lo, b = neg ? -lo : hi;  // the values, on the grid of 10^-g
  const size_t i = static_cast<size_t>(g);
  return std::max(a, lo_[i]) <= std::min(b, hi_[i]);
}

bool NumberBounds::reachable(std::string_view t, int max_text) const {
  const int r = max_text - static_cast<int>(t.size());  // bytes left
  if (r < 0) return false;
  const bool neg = !t.empty() && t[0] == '-';
  const std::string_view body = t.substr(neg ? 1 : 0);
  if (body.empty()) {  // no digit yet: some first digit (or a '-' first)
    if (r < 1) return false;
    if (t.empty() && reachable("-", max_text)) return true;
    std::string next(t);
    next.push_back('0');
    for (char d = '0'; d <= '9'; ++d) {
      next.back() = d;
      if (reachable(next, max_text)) return true;
    }
    return false;
  }
  const size_t point = body.find('.');
  const Int whole = digits_value(body.substr(0, point));
  if (point != std::string_view::npos) {  // then fraction digits, up to r more
    if (integer_) return false;
    const std::string_view frac = body.substr(point + 1);
    const int k = static_cast<int>(frac.size());
    if (k == 0 && r < 1) return false;  // "1." is not a number
    const Int base = (whole * pow10(k) + digits_value(frac)) * pow10(r);
    return meets(neg, k + r, base, base + pow10(r) - 1);
  }
  if (body == "0") {  // 0, or 0.xxx with up to r - 1 fraction digits
    if (meets(neg, 0, 0, 0)) return true;
    return !integer_ && r >= 2 && meets(neg, r - 1, 0, pow10(r - 1) - 1);
  }
  for (int j = 0; j <= r; ++j) {  // j more whole digits, then maybe a fraction
    const Int base = whole * pow10(j);
    if (meets(neg, 0, base, base + pow10(j) - 1)) return true;
    const int f = r - j - 1;  // fraction digits that still fit
    if (!integer_ && f >= 1 && meets(neg, f, base * pow10(f), (base + pow10(j)) * pow10(f) - 1))
      return true;
  }
  return false;
}

bool NumberBounds::holds(std::string_view t) const {
  const bool neg = !t.empty() && t[0] == '-';
  const std::string_view body = t.substr(neg ? 1 : 0);
  const size_t point = body.find('.');
  if (body.empty() || static_cast<int>(t.size()) > kMaxText) return false;
  if (point == std::string_view::npos) {
    const Int v = digits_value(body);
    return meets(neg, 0, v, v);
  }
  if (integer_) return false;
  const std::string_view frac = body.substr(point + 1);
  const int k = static_cast<int>(frac.size());
  if (k == 0) return false;
  const Int v = digits_value(body.substr(0, point)) * pow10(k) + digits_value(frac);
  return meets(neg, k, v, v);
}

bool NumberBounds::holds_value(double v) const {
  return (!min_ || v >= *min_) && (!max_ || v <= *max_);
}

bool NumberBounds::excludes(const NumberBounds& o) const {
  // A text held here reads as a double within [min_, max_].
  const bool below =
      max_ && o.given_min_ &&
      (o.given_min_->exclusive ? *max_ <= o.given_min_->value : *max_ < o.given_min_->value);
  const bool above =
      min_ && o.given_max_ &&
      (o.given_max_->exclusive ? *min_ >= o.given_max_->value : *min_ > o.given_max_->value);
  return below || above;
}

}  // namespace radial
