#include "scheduler/string_pattern.h"

#include <algorithm>
#include <stdexcept>

namespace radial {

namespace {

using Ranges = StringPattern::Ranges;
constexpr uint32_t kMaxCode = 0x10FFFF;
constexpr int kMaxCount = 1000;        // {n,m} bounds
constexpr int64_t kMaxWork = 1 << 20;  // build steps (empty groups repeated add none)

struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Sorted, merged, without the surrogates (no JSON string holds one alone:
// a pair of escapes is one character).
Ranges normalize(Ranges r) {
  Ranges split;
  for (auto [a, b] : r) {
    if (a > b) continue;
    if (a < 0xD800 && b >= 0xD800) split.push_back({a, 0xD7FF});
    if (b > 0xDFFF && a <= 0xDFFF) split.push_back({0xE000, b});
    if (b < 0xD800 || a > 0xDFFF) split.push_back({a, b});
  }
  std::sort(split.begin(), split.end());
  Ranges out;
  for (auto [a, b] : split) {
    if (!out.empty() && a <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, b);
    } else {
      out.push_back({a, b});
    }
  }
  return out;
}

Ranges complement(const Ranges& r) {  // (of a normalized set)
  Ranges out;
  uint32_t next = 0;
  for (auto [a, b] : r) {
    if (a > next) out.push_back({next, a - 1});
    next = b + 1;
  }
  if (next <= kMaxCode) out.push_back({next, kMaxCode});
  return normalize(out);
}

const Ranges kDigit = {{'0', '9'}};
const Ranges kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const Ranges kSpace = {{'\t', '\r'},     {' ', ' '},       {0xA0, 0xA0},     {0x1680, 0x1680},
                       {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F},
                       {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};
const Ranges kLineEnd = {{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}};

// The expression as a tree.
struct Re {
  enum Kind { kClass, kEmpty, kCat, kAlt, kRepeat } kind = kEmpty;
  Ranges cls;             // kClass (normalized)
  std::vector<Re> kids;   // kCat, kAlt; kRepeat: one
  int min = 0, max = -1;  // kRepeat (-1: no limit)
};

Re class_of(Ranges r) {
  Re re;
  re.kind = Re::kClass;
  re.cls = normalize(std::move(r));
  return re;
}

std::vector<uint32_t> decode_utf8(std::string_view s) {  // (the pattern is valid UTF-8: JSON's)
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    const uint8_t b = static_cast<uint8_t>(s[i]);
    const int n = b < 0x80 ? 0 : b < 0xE0 ? 1 : b < 0xF0 ? 2 : 3;
    uint32_t c = n == 0 ? b : b & (0x3F >> n);
    for (int k = 1; k <= n && i + k < s.size(); ++k)
      c = (c << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
    out.push_back(c);
    i += static_cast<size_t>(n) + 1;
  }
  return out;
}

class Parser {
 public:
  explicit Parser(std::string_view pattern) : s_(decode_utf8(pattern)) {}

  // The whole pattern: anchors only at its ends.
  Re parse(bool* anchored_start, bool* anchored_end) {
    size_t end = s_.size();
    *anchored_start = !s_.empty() && s_[0] == '^';
    if (*anchored_start) i_ = 1;
    // A final unescaped '$' (an even run of backslashes before it).
    if (end > i_ && s_[end - 1] == '$') {
      size_t slashes = 0;
      while (end - 1 - slashes > i_ && s_[end - 2 - slashes] == '\\') ++slashes;
      *anchored_end = slashes % 2 == 0;
      if (*anchored_end) --end;
    }
    end_ = end;
    Re re = disjunction();
    if (i_ < end_) throw Unsupported("an unmatched ')'");
    return re;
  }

 private:
  bool at_end() const { return i_ >= end_; }
  uint32_t peek(size_t k = 0) const { return i_ + k < end_ ? s_[i_ + k] : 0xFFFFFFFF; }

  Re disjunction() {
    Re alt;
    alt.kind = Re::kAlt;
    alt.kids.push_back(alternative());
    while (peek() == '|') {
      ++i_;
      alt.kids.push_back(alternative());
    }
    return alt.kids.size() == 1 ? std::move(alt.kids[0]) : alt;
  }

  Re alternative() {
    Re cat;
    cat.kind = Re::kCat;
    while (!at_end() && peek() != '|' && peek() != ')') cat.kids.push_back(term());
    return cat;
  }

  Re term() {
    Re atom = this->atom();
    if (!quantifier_at()) return atom;
    Re rep;
    rep.kind = Re::kRepeat;
    const uint32_t q = s_[i_++];
    if (q == '*') rep.min = 0, rep.max = -1;
    if (q == '+') rep.min = 1, rep.max = -1;
    if (q == '?') rep.min = 0, rep.max = 1;
    if (q == '{') {
      rep.min = number();
      rep.max = rep.min;
      if (peek() == ',') {
        ++i_;
        rep.max = peek() == '}' ? -1 : number();
      }
      ++i_;  // '}'
      if (rep.max >= 0 && rep.max < rep.min) throw Unsupported("a quantifier {n,m} with m < n");
    }
    if (peek() == '?') ++i_;  // lazy: the same strings
    if (quantifier_at()) throw Unsupported("a quantifier after a quantifier");
    rep.kids.push_back(std::move(atom));
    return rep;
  }

  // A quantifier starts here ('{' only as a whole {n}, {n,} or {n,m}:
  // otherwise it is a literal brace).
  bool quantifier_at() const {
    const uint32_t c = peek();
    if (c == '*' || c == '+' || c == '?') return true;
    if (c != '{') return false;
    size_t k = 1;
    const auto digits = [&] {
      const size_t from = k;
      while (peek(k) >= '0' && peek(k) <= '9') ++k;
      return k > from;
    };
    if (!digits()) return false;
    if (peek(k) == ',') {
      ++k;
      digits();
    }
    return peek(k) == '}';
  }

  int number() {
    int64_t n = 0;
    while (peek() >= '0' && peek() <= '9') {
      n = std::min<int64_t>(n * 10 + (s_[i_++] - '0'), kMaxCount + 1);
    }
    if (n > kMaxCount) throw Unsupported("a quantifier above " + std::to_string(kMaxCount));
    return static_cast<int>(n);
  }

  Re atom() {
    const uint32_t c = s_[i_++];
    switch (c) {
      case '^':
      case '$':
        throw Unsupported("\"^\" or \"$\" other than at the pattern's start or end");
      case '*':
      case '+':
      case '?':
        throw Unsupported("a quantifier with nothing to repeat");
      case '.':
        return class_of(complement(normalize(kLineEnd)));
      case '[':
        return bracket();
      case '\\':
        return class_of(escape(false));
      case '(': {
        if (peek() == '?') {
          if (peek(1) == ':') {
            i_ += 2;
          } else if (peek(1) == '<' && peek(2) != '=' && peek(2) != '!') {
            while (!at_end() && peek() != '>') ++i_;
            ++i_;
          } else {
            throw Unsupported("lookaround assertions");
          }
        }
        Re inner = disjunction();
        if (peek() != ')') throw Unsupported("an unclosed '('");
        ++i_;
        return inner;
      }
      case ')':
        throw Unsupported("an unmatched ')'");
      default:
        if (c == '{' && quantifier_at_brace())
          throw Unsupported("a quantifier with nothing to repeat");
        return class_of({{c, c}});
    }
  }
  bool quantifier_at_brace() {  // (the '{' just taken)
    --i_;
    const bool q = quantifier_at();
    ++i_;
    return q;
  }

  // After '\': a class escape or one character. Inside a class \b is a
  // backspace; outside it is a word boundary.
  Ranges escape(bool in_class) {
    if (at_end()) throw Unsupported("a '\\' at the end");
    const uint32_t c = s_[i_++];
    switch (c) {
      case 'd':
        return kDigit;
      case 'D':
        return complement(normalize(kDigit));
      case 'w':
        return kWord;
      case 'W':
        return complement(normalize(kWord));
      case 's':
        return kSpace;
      case 'S':
        return complement(normalize(kSpace));
      case 'n':
        return {{'\n', '\n'}};
      case 'r':
        return {{'\r', '\r'}};
      case 't':
        return {{'\t', '\t'}};
      case 'f':
        return {{'\f', '\f'}};
      case 'v':
        return {{'\v', '\v'}};
      case 'b':
        if (in_class) return {{'\b', '\b'}};
        throw Unsupported("word boundaries (\\b)");
      case 'B':
        throw Unsupported("word boundaries (\\B)");
      case 'x': {
        const uint32_t v = hex(2);
        return {{v, v}};
      }
      case 'u': {
        uint32_t u = hex(4);
        if (u >= 0xD800 && u <= 0xDBFF && peek() == '\\' && peek(1) == 'u') {
          const size_t back = i_;
          i_ += 2;
          const uint32_t low = hex(4);
          if (low >= 0xDC00 && low <= 0xDFFF) {
            u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
          } else {
            i_ = back;
          }
        }
        return {{u, u}};
      }
      case 'p':
      case 'P':
        throw Unsupported("Unicode property escapes (\\p)");
      case 'k':
        throw Unsupported("backreferences");
      case 'c':
        throw Unsupported("control escapes (\\c)");
      default:
        if (c == '0' && !(peek() >= '0' && peek() <= '9')) return {{0, 0}};
        if (c >= '0' && c <= '9') throw Unsupported("backreferences (or octal escapes)");
        return {{c, c}};  // an identity escape: \. \\ \/ \[ ...
    }
  }

  uint32_t hex(int n) {
    uint32_t v = 0;
    for (int k = 0; k < n; ++k) {
      const uint32_t c = peek();
      int d = -1;
      if (c >= '0' && c <= '9') d = static_cast<int>(c - '0');
      if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') d = static_cast<int>((c | 0x20) - 'a' + 10);
      if (d < 0) throw Unsupported("a \\x or \\u escape without its hex digits");
      v = v * 16 + static_cast<uint32_t>(d);
      ++i_;
    }
    return v;
  }

  Re bracket() {
    const bool negated = peek() == '^';
    if (negated) ++i_;
    Ranges set;
    while (peek() != ']') {
      if (at_end()) throw Unsupported("an unclosed '['");
      Ranges lo = element();
      if (peek() == '-' && peek(1) != ']' && peek(1) != 0xFFFFFFFF) {
        ++i_;
        Ranges hi = element();
        if (lo.size() != 1 || hi.size() != 1 || lo[0].first != lo[0].second ||
            hi[0].first != hi[0].second)
          throw Unsupported("a range in a class between classes (as [\\d-z])");
        if (lo[0].first > hi[0].first) throw Unsupported("a class range out of order");
        set.push_back({lo[0].first, hi[0].first});
      } else {
        set.insert(set.end(), lo.begin(), lo.end());
      }
    }
    ++i_;  // ']'
    Ranges r = normalize(set);
    return class_of(negated ? complement(r) : r);
  }
  Ranges element() {
    const uint32_t c = s_[i_++];
    if (c == '\\') return escape(true);
    return {{c, c}};
  }

  std::vector<uint32_t> s_;
  size_t i_ = 0, end_ = 0;
};

}  // namespace

// Glushkov's construction over the tree: each class occurrence is a
// position; follow_[p] holds the positions that may come after p.
class PatternBuilder {
 public:
  explicit PatternBuilder(StringPattern& out) : out_(out) {
    out_.classes_.emplace_back();  // the start
    out_.follow_.emplace_back();
  }

  struct Built {
    bool nullable = true;
    StringPattern::Set first, last;
  };

  Built build(const Re& r) {
    if (++work_ > kMaxWork) throw Unsupported("a pattern too large");
    switch (r.kind) {
      case Re::kClass: {
        const int p = static_cast<int>(out_.classes_.size());
        if (p > StringPattern::kMaxPositions)
          throw Unsupported("more than " + std::to_string(StringPattern::kMaxPositions) +
                            " characters or classes once its repetitions are written out");
        out_.classes_.push_back(r.cls);
        out_.follow_.emplace_back();
        Built b;
        b.nullable = false;
        b.first.set(p), b.last.set(p);
        return b;
      }
      case Re::kEmpty:
        return {};
      case Re::kCat: {
        Built acc;
        for (const Re& k : r.kids) acc = then(acc, build(k));
        return acc;
      }
      case Re::kAlt: {
        Built acc;
        acc.nullable = false;
        for (const Re& k : r.kids) {
          const Built b = build(k);
          acc.nullable = acc.nullable || b.nullable;
          acc.first |= b.first, acc.last |= b.last;
        }
        return acc;
      }
      case Re::kRepeat: {
        Built acc;
        for (int i = 0; i < r.min; ++i) acc = then(acc, build(r.kids[0]));
        if (r.max < 0) {  // then a starred copy
          Built star = build(r.kids[0]);
          link(star.last, star.first);
          star.nullable = true;
          acc = then(acc, star);
        } else {
          for (int i = r.min; i < r.max; ++i) {  // then optional copies
            Built opt = build(r.kids[0]);
            opt.nullable = true;
            acc = then(acc, opt);
          }
        }
        return acc;
      }
    }
    return {};
  }

  // a then b.
  Built then(const Built& a, const Built& b) {
    link(a.last, b.first);
    Built c;
    c.nullable = a.nullable && b.nullable;
    c.first = a.first;
    if (a.nullable) c.first |= b.first;
    c.last = b.last;
    if (b.nullable) c.last |= a.last;
    return c;
  }

  void link(const StringPattern::Set& from, const StringPattern::Set& to) {
    for (int p = 0; p < static_cast<int>(out_.follow_.size()); ++p)
      if (from.test(p)) out_.follow_[static_cast<size_t>(p)] |= to;
  }

 private:
  StringPattern& out_;
  int64_t work_ = 0;
};

std::shared_ptr<const StringPattern> StringPattern::compile(std::string_view pattern,
                                                            std::string* error) {
  auto out = std::make_shared<StringPattern>();
  try {
    bool anchored_start = false, anchored_end = false;
    Re body = Parser(pattern).parse(&anchored_start, &anchored_end);
    // Unanchored ends match anything there.
    Re any_run;
    any_run.kind = Re::kRepeat;
    any_run.kids.push_back(class_of({{0, kMaxCode}}));
    Re whole;
    whole.kind = Re::kCat;
    if (!anchored_start) whole.kids.push_back(any_run);
    whole.kids.push_back(std::move(body));
    if (!anchored_end) whole.kids.push_back(any_run);
    PatternBuilder builder(*out);
    const PatternBuilder::Built b = builder.build(whole);
    out->follow_[0] = b.first;
    out->accept_ = b.last;
    if (b.nullable) out->accept_.set(0);
  } catch (const Unsupported& e) {
    *error = "has " + std::string(e.what()) +
             ", which radiald does not take (a subset of ECMA-262 patterns: docs/api.md)";
    return nullptr;
  }
  // Live: positions that can be entered (a class with a character) and
  // from which a match is reachable.
  const int n = static_cast<int>(out->classes_.size());
  Set usable;
  usable.set(0);
  for (int p = 1; p < n; ++p)
    if (!out->classes_[static_cast<size_t>(p)].empty()) usable.set(p);
  for (int p = 0; p < n; ++p)
    if (usable.test(p) && out->accept_.test(p)) out->live_.set(p);
  for (bool grew = true; grew;) {
    grew = false;
    for (int p = 0; p < n; ++p) {
      if (!usable.test(p) || out->live_.test(p)) continue;
      Set next = out->follow_[static_cast<size_t>(p)];
      next.w[0] &= usable.w[0], next.w[1] &= usable.w[1];
      if (next.intersects(out->live_)) out->live_.set(p), grew = true;
    }
  }
  if (!out->live_.test(0)) {
    *error = "matches no string";
    return nullptr;
  }
  out->start_.set(0);
  out->measure();
  return out;
}

void StringPattern::measure() {
  const int n = static_cast<int>(classes_.size());
  shortest_.assign(static_cast<size_t>(n), kNoMax);
  longest_.assign(static_cast<size_t>(n), 0);
  // Layers of sets (n set operations each, at most n + 1 layers): `at` the
  // positions with a completion of exactly k characters... shortest: the
  // first layer a position is in; `reach` those with one of k or more.
  Set at = accept_, reach = live_;
  at.w[0] &= live_.w[0], at.w[1] &= live_.w[1];
  for (int k = 0; k <= n; ++k) {
    Set next_at, next_reach;
    for (int p = 0; p < n; ++p) {
      if (!live_.test(p)) continue;
      if (at.test(p) && shortest_[static_cast<size_t>(p)] == kNoMax)
        shortest_[static_cast<size_t>(p)] = static_cast<uint32_t>(k);
      if (reach.test(p)) longest_[static_cast<size_t>(p)] = static_cast<uint32_t>(k);
      const Set& f = follow_[static_cast<size_t>(p)];
      if (f.intersects(at)) next_at.set(p);
      if (f.intersects(reach)) next_reach.set(p);
    }
    next_at.w[0] &= live_.w[0], next_at.w[1] &= live_.w[1];
    next_reach.w[0] &= live_.w[0], next_reach.w[1] &= live_.w[1];
    at = next_at, reach = next_reach;
  }
  // A completion of n characters or more repeats a position: a cycle on
  // the way to a match, so completions of any length.
  for (int p = 0; p < n; ++p)
    if (reach.test(p)) longest_[static_cast<size_t>(p)] = kNoMax;
}

StringPattern::Set StringPattern::followers(const Set& s) const {
  Set next;
  for (int w = 0; w < 2; ++w)
    for (uint64_t bits = s.w[w]; bits != 0; bits &= bits - 1)
      next |= follow_[static_cast<size_t>(w * 64 + __builtin_ctzll(bits))];
  return next;
}

StringPattern::Set StringPattern::step(const Set& s, uint32_t c, Left left) const {
  const Set next = followers(s);
  Set out;
  for (int w = 0; w < 2; ++w)
    for (uint64_t bits = next.w[w] & live_.w[w]; bits != 0; bits &= bits - 1) {
      const int p = w * 64 + __builtin_ctzll(bits);
      const Ranges& r = classes_[static_cast<size_t>(p)];
      auto it = std::upper_bound(r.begin(), r.end(), std::make_pair(c, kMaxCode + 1));
      if (it != r.begin() && std::prev(it)->second >= c && fits(p, left)) out.set(p);
    }
  return out;
}

bool StringPattern::can_step(const Set& s, uint32_t lo, uint32_t hi, Left left) const {
  if (lo > hi) return false;
  const Set next = followers(s);
  for (int w = 0; w < 2; ++w)
    for (uint64_t bits = next.w[w] & live_.w[w]; bits != 0; bits &= bits - 1) {
      const int p = w * 64 + __builtin_ctzll(bits);
      if (!fits(p, left)) continue;
      const Ranges& r = classes_[static_cast<size_t>(p)];
      // The first range ending at or after lo starts at or before hi.
      auto it = std::lower_bound(
          r.begin(), r.end(), lo,
          [](const std::pair<uint32_t, uint32_t>& x, uint32_t v) { return x.second < v; });
      if (it != r.end() && it->first <= hi) return true;
    }
  return false;
}

bool StringPattern::matches(std::string_view utf8) const {
  Set s = start_;
  for (uint32_t c : decode_utf8(utf8)) {
    s = step(s, c);
    if (s.empty()) return false;
  }
  return accepts(s);
}

}  // namespace radial
