// A JSON Schema compiled for constrained generation (OpenAI's
// response_format {"type": "json_schema"}): the subset OpenAI's strict mode
// takes, plus minItems / maxItems, minLength / maxLength, numbers' bounds,
// string patterns, oneOf of members that exclude each other and allOf of
// one schema.
//
// Enforced: type (a name or a list of names), properties, required,
// additionalProperties, items, minItems, maxItems, minLength, maxLength,
// minimum, maximum, exclusiveMinimum, exclusiveMaximum (draft 4's boolean
// form too), pattern (scheduler/string_pattern.h's subset, beside one of
// minLength / maxLength at most), enum, const, anyOf, oneOf (only when schema_disjoint.h shows
// its members exclude each other: then it is anyOf), allOf of one schema
// (that schema), $ref (to "#" or a JSON pointer into the document:
// "#/$defs/Name", "#/definitions/Name"; recursion allowed), and the boolean
// schemas.
// "format" date, time, date-time, uuid, ipv4 and email are held as
// patterns (format_pattern) where no pattern and not both lengths are given.
// Annotations are ignored: title, description, default, examples, format,
// $schema, $id, $comment, deprecated, readOnly, writeOnly, $defs,
// definitions, discriminator (and keywords JSON Schema does not define).
// Refused (kInvalidArgument naming the keyword and where it is): the other
// assertions (multipleOf, allOf of several schemas, not, if,
// uniqueItems, prefixItems, patternProperties, ...): radiald cannot hold the
// text to them.
//
// Generation is stricter than the schema, never looser: every text it lets
// through is valid against the schema. An object with properties gets them
// in the schema's order (each optional one may be left out) and no other
// keys, whatever additionalProperties says; an object without properties
// takes any keys, each value held to additionalProperties; an integer is
// written without a fraction or exponent; a number with bounds is written
// without an exponent, in at most NumberBounds::kMaxText bytes, and checked
// exactly (scheduler/number_bounds.h); enum and const values are written
// as their compact JSON text. The root must be an object.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/number_bounds.h"
#include "scheduler/string_pattern.h"

namespace radial {

struct SchemaNode {
  enum Kind : uint8_t {
    kObject = 1,
    kArray = 2,
    kString = 4,
    kNumber = 8,    // any number (integers included)
    kInteger = 16,  // integers only (when kNumber is not set)
    kBoolean = 32,
    kNull = 64,
  };
  bool any = false;   // no constraint: any JSON value
  uint8_t kinds = 0;  // the kinds of value it takes (0 and not any: none; a union: unused)
  // anyOf: the node is a union of these nodes, none of them a union (nested
  // unions are flattened, in order, each member once).
  std::vector<int> members;
  // enum / const: the values' compact JSON texts, sorted; the value must be
  // one of them byte for byte.
  bool literal = false;
  std::vector<std::string> literals;

  struct Property {
    std::string key;  // the name as a JSON string, quotes included
    int node = 0;
    bool required = false;
  };
  std::vector<Property> properties;  // in the schema's order
  // next_required[i]: the first required property at or after i (size() if none)
  std::vector<int> next_required;
  int additional = -1;  // no properties: every key's value node; -1: no keys at all
  int items = 0;        // arrays: each item's node
  int min_items = 0;
  int max_items = -1;  // -1: no limit
  // strings: characters (Unicode code points; an escape is one, a surrogate
  // pair of escapes one)
  static constexpr uint32_t kNoMaxLength = 0xFFFFFFFF;
  uint32_t min_length = 0;
  uint32_t max_length = kNoMaxLength;
  // numbers: minimum / maximum (null: none)
  std::shared_ptr<const NumberBounds> bounds;
  // strings: the pattern (null: none; never beside both lengths)
  std::shared_ptr<const StringPattern> pattern;
};

// The pattern radiald holds a string "format" to (date, time, date-time,
// uuid, ipv4, email), or null for the formats it leaves as annotations.
const char* format_pattern(std::string_view format);

class JsonSchema {
 public:
  static constexpr int kMaxProperties = 64;  // per object
  static constexpr int kMaxNodes = 4096;
  static constexpr int kMaxLiterals = 1024;        // enum values per schema
  static constexpr size_t kMaxAlternatives = 256;  // schemas in one union, flattened

  // Compiles the schema's JSON text; throws Error(kInvalidArgument) naming
  // the problem and where it is (a JSON pointer). `relaxed` (tool
  // arguments, whose schemas describe more than they constrain): the
  // refused assertions are skipped instead (allOf of several schemas too),
  // oneOf is read as anyOf whether its members exclude each other or not, tuple
  // items as any items, and keywords beside anyOf / $ref are ignored; the
  // text then holds to what remains, which may break what was skipped.
  static std::shared_ptr<const JsonSchema> compile(std::string_view text, bool relaxed = false);

  int root() const { return root_; }
  const SchemaNode& node(int id) const { return nodes_[static_cast<size_t>(id)]; }
  int size() const { return static_cast<int>(nodes_.size()); }
  static constexpr int kAnyNode = 0;  // node 0 takes any value

 private:
  friend class SchemaCompiler;
  std::vector<SchemaNode> nodes_;
  int root_ = 0;
};

}  // namespace radial
