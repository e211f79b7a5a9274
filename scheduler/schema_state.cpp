#include "scheduler/schema_state.h"

#include <algorithm>

namespace radial {

namespace {

bool number_byte(uint8_t b) {
  return (b >= '0' && b <= '9') || b == '.' || b == 'e' || b == 'E' || b == '+' || b == '-';
}
bool whitespace(uint8_t b) { return b == ' ' || b == '\t' || b == '\n' || b == '\r'; }

// Bits a..b (inclusive) of a 64-bit mask.
uint64_t bits(int a, int b) {
  const int n = b - a + 1;
  return (n >= 64 ? ~uint64_t{0} : ((uint64_t{1} << n) - 1)) << a;
}

// Feeds one byte to one path; every path that follows from it goes to
// `out` (none when the byte cannot continue that reading, several when a
// union's members all take it).
class PathStep {
 public:
  PathStep(const JsonSchema& s, SchemaPath* out, int* n) : s_(s), out_(out), n_(n) {}

  void feed(SchemaPath p, uint8_t b) {
    using J = JsonState;
    // A number ends at the first byte that cannot continue it: its value
    // ends before that byte, which is then structure.
    bool number_ended = false;
    if ((p.value == SchemaPath::kScalar || p.value == SchemaPath::kAny ||
         p.value == SchemaPath::kLiteral) &&
        p.json.mode == J::kNumber && p.json.depth == p.vdepth && !number_byte(b)) {
      if (p.value == SchemaPath::kLiteral && !literal_exact(p)) return;
      if (p.number_node != 0 &&
          !s_.node(p.number_node).bounds->holds(std::string_view(p.number, p.number_len)))
        return;
      p.value = SchemaPath::kNone;
      p.integer = false;
      p.number_node = 0, p.number_len = 0;
      number_ended = true;
    }
    switch (p.value) {
      case SchemaPath::kNone:
        return structure(p, b, number_ended ? J::kAfter : p.json.mode);
      case SchemaPath::kAny:
        if (!p.json.feed(b)) return;
        if (ended(p)) p.value = SchemaPath::kNone;
        return emit(p);
      case SchemaPath::kScalar: {
        if (p.bounded() && !count_character(p, b)) return;
        const J::Mode mode = p.json.mode;
        const uint8_t utf8 = p.json.utf8, left = p.json.left;
        if (!p.json.feed(b)) return;
        if (p.number_node != 0 && !number_step(p, b)) return;
        if (p.pattern_node != 0 && !pattern_step(p, mode, utf8, left, b)) return;
        if (p.integer && p.json.mode == J::kNumber && (p.json.num == 3 || p.json.num == 5))
          return;  // '.' or 'e' in an integer
        if (ended(p)) p.value = SchemaPath::kNone, p.integer = false;
        return emit(p);
      }
      case SchemaPath::kLiteral:
        if (!p.json.feed(b) || !literal_step(p, b)) return;
        if (ended(p)) {
          if (!literal_exact(p)) return;
          p.value = SchemaPath::kNone;
        }
        return emit(p);
      case SchemaPath::kKey:
        return key(p, b);
      case SchemaPath::kFreeKey:
        if (!p.json.feed(b)) return;
        if (p.json.mode == J::kColon) {
          p.next = static_cast<uint16_t>(s_.node(top(p).node).additional);
          p.value = SchemaPath::kNone;
        }
        return emit(p);
    }
  }

 private:
  static SchemaPath::Frame& top(SchemaPath& p) { return p.frames[p.depth - 1]; }
  static bool ended(const SchemaPath& p) {
    return (p.json.mode == JsonState::kAfter || p.json.mode == JsonState::kDone) &&
           p.json.depth == p.vdepth;
  }
  bool in_array(const SchemaPath& p) const {
    return p.json.depth > 0 && ((p.json.objects >> (p.json.depth - 1)) & 1) == 0;
  }

  void emit(const SchemaPath& p) {
    for (int i = 0; i < *n_; ++i)
      if (out_[i] == p) return;
    if (*n_ < SchemaState::kMaxPaths) out_[(*n_)++] = p;
  }

  // Between values (`m0`: the JSON mode the byte meets).
  void structure(SchemaPath p, uint8_t b, JsonState::Mode m0) {
    using J = JsonState;
    if (whitespace(b) || m0 == J::kColon || m0 == J::kDone) {
      if (p.json.feed(b)) emit(p);  // (JsonState bounds the whitespace)
      return;
    }
    switch (m0) {
      case J::kStart:
        return start_value(p, s_.root(), b);
      case J::kArrayOpen:
        if (b == ']') return close(p, b);
        [[fallthrough]];
      case J::kValue: {
        if (!in_array(p)) return start_value(p, p.next, b);
        SchemaPath::Frame& f = top(p);
        const SchemaNode& a = s_.node(f.node);
        if (a.max_items >= 0 && f.count >= a.max_items) return;
        // Counted only where a limit needs it: the items of an unlimited
        // array are then the same state (allowed()'s cache).
        if ((a.min_items > 0 || a.max_items >= 0) && f.count < UINT16_MAX) ++f.count;
        return start_value(p, a.items, b);
      }
      case J::kKeyOpen:
        if (b == '}') return close(p, b);
        [[fallthrough]];
      case J::kKey: {
        const SchemaNode& o = s_.node(top(p).node);
        if (b != '"' || !p.json.feed(b)) return;
        if (o.properties.empty()) {
          if (o.additional < 0) return;
          p.value = SchemaPath::kFreeKey;
          return emit(p);
        }
        const int np = static_cast<int>(o.properties.size()), at = top(p).count;
        if (at >= np) return;
        // The next property, up to and including the first required one.
        p.keys = bits(at, std::min(o.next_required[at], np - 1));
        p.value = SchemaPath::kKey;
        p.pos = 1;
        return emit(p);
      }
      case J::kAfter:
        if (b == ',') {
          const SchemaNode& c = s_.node(top(p).node);
          if (in_array(p) ? c.max_items >= 0 && top(p).count >= c.max_items  // another item
              : c.properties.empty() ? c.additional < 0                      // another key
                                     : top(p).count >= c.properties.size())
            return;
          if (p.json.feed(b)) emit(p);
          return;
        }
        return close(p, b);
      default:
        return;  // (strings, numbers and literals are values)
    }
  }

  // '}' or ']': the object's required properties are all there, the array
  // has its minimum of items.
  void close(SchemaPath p, uint8_t b) {
    if (p.depth == 0) return;
    const SchemaPath::Frame& f = top(p);
    const SchemaNode& n = s_.node(f.node);
    if (!in_array(p)) {
      const int np = static_cast<int>(n.properties.size());
      if (n.next_required[std::min<int>(f.count, np)] < np) return;
    } else if (f.count < n.min_items) {
      return;
    }
    if (!p.json.feed(b)) return;
    --p.depth;
    emit(p);
  }

  // The value of node `id` starts with byte `b`.
  void start_value(SchemaPath p, int id, uint8_t b) {
    const SchemaNode& n = s_.node(id);
    if (!n.members.empty()) {  // (flattened: no member is a union)
      for (int m : n.members) start_value(p, m, b);
      return;
    }
    p.vdepth = p.json.depth;
    p.min_left = 0, p.max_left = SchemaNode::kNoMaxLength;
    if (n.any) {
      if (!p.json.feed(b)) return;
      p.value = ended(p) ? SchemaPath::kNone : SchemaPath::kAny;
      return emit(p);
    }
    if (n.literal) {
      p.literal_node = static_cast<uint16_t>(id);
      p.lo = 0, p.hi = static_cast<uint16_t>(n.literals.size()), p.pos = 0;
      if (!p.json.feed(b) || !literal_step(p, b)) return;
      p.value = SchemaPath::kLiteral;
      if (ended(p)) {
        if (!literal_exact(p)) return;
        p.value = SchemaPath::kNone;
      }
      return emit(p);
    }
    using K = SchemaNode;
    if (b == '{' || b == '[') {
      if (!(n.kinds & (b == '{' ? K::kObject : K::kArray))) return;
      if (p.depth >= SchemaPath::kMaxFrames || !p.json.feed(b)) return;
      p.frames[p.depth++] = {static_cast<uint16_t>(id), 0};
      p.value = SchemaPath::kNone;
      return emit(p);
    }
    uint8_t kind = 0;
    if (b == '"') kind = K::kString;
    if (b == '-' || (b >= '0' && b <= '9')) kind = K::kNumber | K::kInteger;
    if (b == 't' || b == 'f') kind = K::kBoolean;
    if (b == 'n') kind = K::kNull;
    if (!(n.kinds & kind) || !p.json.feed(b)) return;
    p.value = SchemaPath::kScalar;
    p.integer = (kind & K::kNumber) && !(n.kinds & K::kNumber);
    if ((kind & K::kNumber) && n.bounds != nullptr) {
      p.number_node = static_cast<uint16_t>(id), p.number_len = 0;
      if (!number_step(p, b)) return;
    }
    if (kind == K::kString) p.min_left = n.min_length, p.max_left = n.max_length;
    if (kind == K::kString && n.pattern != nullptr) {
      p.pattern_node = static_cast<uint16_t>(id);
      p.pattern = n.pattern->start();
    }
    emit(p);
  }

  // A string with minLength / maxLength: `b` (not yet fed) ends it, starts
  // a character, or continues one. False when the string must not end yet
  // or may take no more characters.
  static bool count_character(SchemaPath& p, uint8_t b) {
    const JsonState& j = p.json;
    if (j.mode != JsonState::kString || j.utf8 != 0)
      return true;  // inside an escape or a character
    if (b == '"') return p.min_left == 0;
    if (b == '\\' && j.want_low) return true;  // a surrogate pair's low half: the same character
    if ((b & 0xC0) == 0x80) return true;       // (not a start: JsonState refuses it)
    if (p.max_left == 0) return false;
    if (p.max_left != SchemaNode::kNoMaxLength) --p.max_left;
    if (p.min_left > 0) --p.min_left;
    return true;
  }

  // A bounded number's byte `b` (one JsonState took inside the number):
  // no exponent, and some completion still in bounds.
  bool number_step(SchemaPath& p, uint8_t b) const {
    if (b == 'e' || b == 'E' || p.number_len >= NumberBounds::kMaxText) return false;
    p.number[p.number_len++] = static_cast<char>(b);
    return s_.node(p.number_node).bounds->reachable(std::string_view(p.number, p.number_len));
  }

  // A string under a pattern: byte `b`, which JsonState took in `mode`
  // (`utf8` continuation bytes or `left` hex digits to go before it), ends
  // the string, completes a character or is part of one. False when the
  // character cannot continue the pattern (for a part: when no character
  // it may still become can), or the string cannot end here.
  bool pattern_step(SchemaPath& p, JsonState::Mode mode, uint8_t utf8, uint8_t left,
                    uint8_t b) const {
    const StringPattern& pattern = *s_.node(p.pattern_node).pattern;
    const PatternLeft room{p.min_left, p.max_left};  // (this character counted)
    // The characters an escape may still be: after a high surrogate's
    // escape, those of its pair; else any.
    const uint32_t base = p.high ? 0x10000 + ((static_cast<uint32_t>(p.high) - 0xD800) << 10) : 0;
    const uint32_t any_lo = p.high ? base : 0, any_hi = p.high ? base + 0x3FF : 0x10FFFF;
    int64_t c = -1;  // the character completed (-1: none yet)
    if (mode == JsonState::kString) {
      if (b == '"' && utf8 == 0) {  // the end
        if (!pattern.accepts(p.pattern)) return false;
        p.pattern_node = 0, p.pattern = {}, p.cp = 0, p.high = 0;
        return true;
      }
      if (utf8 > 0) {  // a continuation byte
        p.cp = (p.cp << 6) | (b & 0x3F);
        if (utf8 == 1) c = p.cp;
      } else if (b == '\\') {
        return pattern.can_step(p.pattern, any_lo, any_hi, room);
      } else if (b < 0x80) {
        c = b;
      } else {  // a lead byte
        p.cp = b & (b >= 0xF0 ? 0x07 : b >= 0xE0 ? 0x0F : 0x1F);
      }
      if (c < 0) {                  // the code points this UTF-8 prefix may still be
        const int k = p.json.utf8;  // continuation bytes to go
        const int bytes = b >= 0xC0 ? k + 1 : 0;
        const uint32_t lo = p.cp << (6 * k), hi = lo | ((1u << (6 * k)) - 1);
        const uint32_t floor = bytes == 2 ? 0x80 : bytes == 3 ? 0x800 : bytes == 4 ? 0x10000 : 0;
        return pattern.can_step(p.pattern, std::max(lo, floor), std::min(hi, 0x10FFFFu), room);
      }
    } else if (mode == JsonState::kEscape) {
      if (b == 'u') {
        p.cp = 0;
        return pattern.can_step(p.pattern, any_lo, any_hi, room);
      }
      c = b == 'b'   ? '\b'
          : b == 'f' ? '\f'
          : b == 'n' ? '\n'
          : b == 'r' ? '\r'
          : b == 't' ? '\t'
                     : b;
    } else if (mode == JsonState::kUnicode) {
      p.cp = p.cp * 16 + static_cast<uint32_t>(b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10);
      const int rest = left - 1;  // hex digits to go
      const uint32_t lo = p.cp << (4 * rest), hi = lo | ((1u << (4 * rest)) - 1);
      if (p.high) {  // the low half: its pair's characters
        const uint32_t a = std::max(lo, 0xDC00u), z = std::min(hi, 0xDFFFu);
        if (a > z || !pattern.can_step(p.pattern, base + (a - 0xDC00), base + (z - 0xDC00), room))
          return false;
        if (rest == 0) c = base + (p.cp - 0xDC00), p.high = 0;
      } else if (rest > 0) {  // a character of the BMP, or a high half's pairs
        const uint32_t a = std::max(lo, 0xD800u), z = std::min(hi, 0xDBFFu);
        return pattern.can_step(p.pattern, lo, hi, room) ||
               (a <= z && pattern.can_step(p.pattern, 0x10000 + ((a - 0xD800) << 10),
                                           0x10000 + ((z - 0xD800) << 10) + 0x3FF, room));
      } else if (p.cp >= 0xD800 && p.cp <= 0xDBFF) {  // a high half: its pair follows
        p.high = static_cast<uint16_t>(p.cp);
        p.cp = 0;
        const uint32_t pair = 0x10000 + ((static_cast<uint32_t>(p.high) - 0xD800) << 10);
        return pattern.can_step(p.pattern, pair, pair + 0x3FF, room);
      } else {
        c = p.cp;
      }
    }
    if (c < 0) return true;
    p.cp = 0;
    p.pattern = pattern.step(p.pattern, static_cast<uint32_t>(c), room);
    return !p.pattern.empty();
  }

  // Narrows the literal candidates to those with `b` at `pos`.
  bool literal_step(SchemaPath& p, uint8_t b) const {
    const std::vector<std::string>& lits = s_.node(p.literal_node).literals;
    const auto at = [&](int i) {
      const std::string& l = lits[static_cast<size_t>(i)];
      return p.pos < l.size() ? static_cast<int>(static_cast<uint8_t>(l[p.pos])) : -1;
    };
    // The candidates share their first `pos` bytes and are sorted, so their
    // bytes at `pos` (-1 for one that ends there) rise: binary searches.
    int lo = p.lo, hi = p.hi;
    for (int n = hi - lo; n > 0;) {  // the first at or above b
      const int half = n / 2;
      if (at(lo + half) < b) {
        lo += half + 1;
        n -= half + 1;
      } else {
        n = half;
      }
    }
    int end = lo;
    for (int n = hi - lo; n > 0;) {  // the first above b
      const int half = n / 2;
      if (at(end + half) <= b) {
        end += half + 1;
        n -= half + 1;
      } else {
        n = half;
      }
    }
    p.lo = static_cast<uint16_t>(lo), p.hi = static_cast<uint16_t>(end);
    ++p.pos;
    return lo < end;
  }
  bool literal_exact(const SchemaPath& p) const {
    return p.lo < p.hi && s_.node(p.literal_node).literals[p.lo].size() == p.pos;
  }

  // A byte of a key matched against the properties that may come next.
  void key(SchemaPath p, uint8_t b) {
    if (!p.json.feed(b)) return;
    const std::vector<SchemaNode::Property>& props = s_.node(top(p).node).properties;
    for (uint64_t k = p.keys; k != 0; k &= k - 1) {
      const int i = __builtin_ctzll(k);
      const std::string& key = props[static_cast<size_t>(i)].key;
      if (p.pos >= key.size() || static_cast<uint8_t>(key[p.pos]) != b)
        p.keys &= ~(uint64_t{1} << i);
    }
    ++p.pos;
    if (p.keys == 0) return;
    if (p.json.mode == JsonState::kColon) {  // the key's closing quote
      for (uint64_t k = p.keys; k != 0; k &= k - 1) {
        const int i = __builtin_ctzll(k);
        if (props[static_cast<size_t>(i)].key.size() != p.pos) continue;
        top(p).count = static_cast<uint16_t>(i + 1);
        p.next = static_cast<uint16_t>(props[static_cast<size_t>(i)].node);
        p.value = SchemaPath::kNone;
        return emit(p);
      }
      return;
    }
    emit(p);
  }

  const JsonSchema& s_;
  SchemaPath* out_;
  int* n_;
};

}  // namespace

bool SchemaPath::operator==(const SchemaPath& o) const {
  return json == o.json && depth == o.depth && std::equal(frames, frames + depth, o.frames) &&
         value == o.value && vdepth == o.vdepth && integer == o.integer && next == o.next &&
         lo == o.lo && hi == o.hi && literal_node == o.literal_node && pos == o.pos &&
         keys == o.keys && min_left == o.min_left && number_node == o.number_node &&
         number_len == o.number_len && std::equal(number, number + number_len, o.number) &&
         pattern_node == o.pattern_node && high == o.high && cp == o.cp && pattern == o.pattern &&
         std::min(max_left, kLengthHorizon) == std::min(o.max_left, kLengthHorizon);
}

SchemaState::SchemaState(const JsonSchema* s) : schema(s), n(1) {
  paths[0].next = static_cast<uint16_t>(s->root());
}

SchemaState::SchemaState(const SchemaState& o) { *this = o; }

SchemaState& SchemaState::operator=(const SchemaState& o) {
  schema = o.schema;
  n = o.n;
  std::copy(o.paths, o.paths + n, paths);  // (the rest are not in use)
  return *this;
}

bool SchemaState::feed(uint8_t b) {
  // Inside a string the schema constrains nothing of (most bytes of most
  // walks): JsonState alone, until the string ends.
  if (n == 1) {
    SchemaPath& p = paths[0];
    const bool free_text =
        (p.value == SchemaPath::kScalar && !p.bounded() && p.pattern_node == 0) ||
        p.value == SchemaPath::kAny || p.value == SchemaPath::kFreeKey;
    const JsonState::Mode m = p.json.mode;
    if (free_text &&
        (m == JsonState::kString || m == JsonState::kEscape || m == JsonState::kUnicode)) {
      JsonState next = p.json;
      if (!next.feed(b)) return false;
      if (next.mode == JsonState::kString || next.mode == JsonState::kEscape ||
          next.mode == JsonState::kUnicode) {
        p.json = next;
        return true;
      }
    }
    // An ASCII character inside a string under a pattern: one step of the
    // pattern's automaton.
    if (p.value == SchemaPath::kScalar && p.pattern_node != 0 && !p.bounded() &&
        m == JsonState::kString && p.json.utf8 == 0 && !p.json.want_low && b >= 0x20 && b < 0x80 &&
        b != '"' && b != '\\') {
      const StringPattern::Set next = schema->node(p.pattern_node).pattern->step(p.pattern, b);
      if (next.empty()) return false;
      p.pattern = next;  // (JsonState stays in the string: nothing to feed it)
      return true;
    }
  }
  static thread_local SchemaPath out[kMaxPaths];  // (scratch: no initialization per byte)
  int m = 0;
  PathStep step(*schema, out, &m);
  for (int i = 0; i < n; ++i) step.feed(paths[i], b);
  std::copy(out, out + m, paths);
  n = static_cast<uint8_t>(m);
  return m > 0;
}

bool SchemaState::done() const {
  return std::any_of(paths, paths + n, [](const SchemaPath& p) { return p.json.done(); });
}

bool SchemaState::repeats() const {
  return n > 0 && std::all_of(paths, paths + n, [](const SchemaPath& p) {
           return p.json.mode == JsonState::kString &&
                  (p.value == SchemaPath::kScalar || p.value == SchemaPath::kAny ||
                   p.value == SchemaPath::kFreeKey);
         });
}

bool SchemaState::operator==(const SchemaState& o) const {
  return schema == o.schema && n == o.n && std::equal(paths, paths + n, o.paths);
}

}  // namespace radial
