#include "scheduler/schema_disjoint.h"

#include "engine/error.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

namespace radial {

namespace {

using K = SchemaNode;
constexpr uint8_t kNumeric = K::kNumber | K::kInteger;
constexpr int kMaxDepth = 16;  // deeper: "may overlap"

bool never(const SchemaNode& n) {
  return !n.any && n.kinds == 0 && !n.literal && n.members.empty();
}

uint8_t literal_kind(const std::string& l) {
  switch (l[0]) {
    case '{':
      return K::kObject;
    case '[':
      return K::kArray;
    case '"':
      return K::kString;
    case 't':
    case 'f':
      return K::kBoolean;
    case 'n':
      return K::kNull;
    default:
      return kNumeric;
  }
}

// The kinds of value a non-union node takes (a number kind as both).
uint8_t kinds_of(const SchemaNode& n) {
  if (n.any) return 0x7F;
  uint8_t k = n.kinds;
  if (n.literal)
    for (const std::string& l : n.literals) k |= literal_kind(l);
  return (k & kNumeric) ? k | kNumeric : k;
}

uint32_t characters(const std::string& quoted) {  // a literal string's, escapes as one
  uint32_t n = 0;
  for (size_t i = 1; i + 1 < quoted.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(quoted[i]);
    if ((c & 0xC0) == 0x80) continue;
    ++n;
    if (c == '\\') i += quoted[i + 1] == 'u' ? 5 : 1;  // (compact: \u for controls only)
  }
  return n;
}

}  // namespace

bool SchemaDisjoint::excludes(int a, int b, int depth) {
  if (depth > kMaxDepth) return false;
  const SchemaNode& na = s_.node(a);
  const SchemaNode& nb = s_.node(b);
  spend(1 + static_cast<int64_t>(na.literals.size() + nb.literals.size()));  // (kinds_of)
  if (!na.members.empty())  // every value of every member
    return std::all_of(na.members.begin(), na.members.end(),
                       [&](int m) { return excludes(m, b, depth + 1); });
  if (!nb.members.empty())  // valid against none of the members
    return std::all_of(nb.members.begin(), nb.members.end(),
                       [&](int m) { return excludes(a, m, depth + 1); });
  if (never(na) || never(nb)) return true;
  if (na.any || nb.any) return false;
  const uint8_t shared = kinds_of(na) & kinds_of(nb);
  if (shared == 0) return true;
  if (na.literal) return literals_fail(na, nb);
  if (nb.literal) return false;  // (a writes many values: one may be b's)
  for (uint8_t kind = 1; kind < 0x80; kind <<= 1) {
    if (!(shared & kind) || kind == K::kInteger) continue;
    if (!kind_excludes(na, nb, kind, depth)) return false;
  }
  return true;
}

// Every literal of `a` fails the non-union node `b`.
bool SchemaDisjoint::literals_fail(const SchemaNode& a, const SchemaNode& b) {
  const uint8_t kinds = kinds_of(b);
  return std::all_of(a.literals.begin(), a.literals.end(),
                     [&](const std::string& l) { return literal_fails(l, b, kinds); });
}
bool SchemaDisjoint::literal_fails(const std::string& l, const SchemaNode& b, uint8_t b_kinds) {
  spend(1);
  const uint8_t kind = literal_kind(l);
  if (!(b_kinds & kind)) return true;
  if (b.literal) {
    if (kind == kNumeric) {  // 1 and 1.0 are one value
      spend(static_cast<int64_t>(b.literals.size()));
      const double v = std::strtod(l.c_str(), nullptr);
      return std::none_of(b.literals.begin(), b.literals.end(), [&](const std::string& o) {
        return literal_kind(o) == kNumeric && std::strtod(o.c_str(), nullptr) == v;
      });
    }
    if (kind == K::kObject || kind == K::kArray)  // (equal values may be written apart)
      return false;
    return !std::binary_search(b.literals.begin(), b.literals.end(), l);
  }
  if (kind == K::kString) {
    const uint32_t n = characters(l);
    return n < b.min_length || n > b.max_length;
  }
  if (kind == kNumeric && b.bounds != nullptr)
    return !b.bounds->holds_value(std::strtod(l.c_str(), nullptr));
  return false;
}

// The values of `kind` that non-literal `a` writes all fail non-literal `b`.
bool SchemaDisjoint::kind_excludes(const SchemaNode& a, const SchemaNode& b, uint8_t kind,
                                   int depth) {
  switch (kind) {
    case K::kNumber:
      return a.bounds != nullptr && b.bounds != nullptr && a.bounds->excludes(*b.bounds);
    case K::kString:
      return a.max_length < b.min_length || a.min_length > b.max_length;
    case K::kArray:
      return (b.max_items >= 0 && a.min_items > b.max_items) ||
             (a.max_items >= 0 && a.max_items < b.min_items);
    case K::kObject:
      return object_excludes(a, b, depth);
    default:
      return false;  // booleans, null
  }
}

bool SchemaDisjoint::object_excludes(const SchemaNode& a, const SchemaNode& b, int depth) {
  spend(static_cast<int64_t>(a.properties.size() * (b.properties.size() + 1)));
  const auto find = [](const SchemaNode& n, const std::string& key) {
    return std::find_if(n.properties.begin(), n.properties.end(),
                        [&](const SchemaNode::Property& p) { return p.key == key; });
  };
  // A key `b` requires that `a` never writes (a writes declared keys only;
  // without properties, any key unless additionalProperties is false).
  if (!a.properties.empty() || a.additional < 0)
    for (const SchemaNode::Property& p : b.properties)
      if (p.required && find(a, p.key) == a.properties.end()) return true;
  // A key `a` always writes, whose values `b` refuses.
  for (const SchemaNode::Property& p : a.properties) {
    if (!p.required) continue;
    if (b.properties.empty()) {
      if (b.additional < 0 || excludes(p.node, b.additional, depth + 1)) return true;
      continue;
    }
    const auto q = find(b, p.key);  // (keys b does not declare: its additionalProperties)
    if (q != b.properties.end() && excludes(p.node, q->node, depth + 1)) return true;
  }
  return false;
}

void SchemaDisjoint::spend(int64_t work) {
  spent_ += work;
  if (spent_ > kBudget)
    throw Error(ErrorCode::kInvalidArgument,
                "json_schema: a \"oneOf\" too large to check that its members exclude each "
                "other (use \"anyOf\")");
}

}  // namespace radial
