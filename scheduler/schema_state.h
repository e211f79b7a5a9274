// JSON Schema mode: the generated text is held to a prefix of one JSON
// object valid against a schema (scheduler/json_schema.h), token by token.
//
// SchemaPath: one reading of the text so far. JsonState checks the JSON;
// on top of it a stack of frames follows the schema through the objects and
// arrays it constrains: which property comes next, how many items there
// are. A value whose schema constrains nothing inside it (any value) is left
// to JsonState alone until it ends; an enum or const value is matched byte
// for byte against its candidates' texts; so is an object's key against the
// properties that may come next.
//
// SchemaState: the readings still alive. A union (anyOf) whose members take
// the same first byte (two object shapes, say) is read every way at once
// until the text tells them apart; at most kMaxPaths readings are followed
// (the rest are dropped, which only narrows what may come next). Copies
// copy the readings in use only.
#pragma once

#include <cstdint>
#include <memory>

#include "scheduler/json_constraint.h"
#include "scheduler/json_schema.h"

namespace radial {

struct SchemaPath {
  static constexpr int kMaxFrames = 16;  // objects and arrays the schema follows, nested

  struct Frame {
    uint16_t node = 0;
    uint16_t count = 0;  // object: properties passed (the next one's index); array: items
    bool operator==(const Frame&) const = default;
  };
  // What the byte in hand belongs to.
  enum Value : uint8_t {
    kNone,     // between values: structure, followed by the frames
    kScalar,   // a string, number, true/false/null the schema takes whole
    kAny,      // a value the schema does not constrain inside (to its end)
    kLiteral,  // an enum / const value being matched
    kKey,      // an object's key being matched against its next properties
    kFreeKey,  // any key (an object without properties)
  };

  JsonState json;
  Frame frames[kMaxFrames];
  uint8_t depth = 0;  // frames in use
  Value value = kNone;
  uint8_t vdepth = 0;       // json.depth where the current value lives
  bool integer = false;     // kScalar number: no fraction or exponent
  uint16_t next = 0;        // the node of the value that comes next
  uint16_t lo = 0, hi = 0;  // kLiteral: candidates [lo, hi) of node(literal_node).literals
  uint16_t literal_node = 0;
  uint16_t pos = 0;   // kLiteral / kKey: bytes matched
  uint64_t keys = 0;  // kKey: the properties still matching (bit i: property i)
  // kScalar string: characters it still needs, and may still take
  // (SchemaNode::kNoMaxLength: no limit). Compared (==) only up to
  // kLengthHorizon, further than any token reaches: states of a long
  // string's steps then share allowed()'s cache.
  static constexpr uint32_t kLengthHorizon = 1024;
  uint32_t min_left = 0;
  uint32_t max_left = SchemaNode::kNoMaxLength;
  // kScalar number with bounds: its node (0: none) and its text so far.
  uint16_t number_node = 0;
  uint8_t number_len = 0;
  char number[NumberBounds::kMaxText];
  // kScalar string with a pattern: its node (0: none), the pattern's
  // states, and the character being decoded (UTF-8 bytes or \u digits so
  // far; a high surrogate's escape waiting for its low half).
  uint16_t pattern_node = 0;
  uint16_t high = 0;
  uint32_t cp = 0;
  StringPattern::Set pattern;
  bool bounded() const { return min_left != 0 || max_left != SchemaNode::kNoMaxLength; }

  bool operator==(const SchemaPath& o) const;
};

struct SchemaState {
  static constexpr int kMaxPaths = 16;

  SchemaState() = default;
  explicit SchemaState(const JsonSchema* s);  // `s` outlives the state
  SchemaState(const SchemaState& o);
  SchemaState& operator=(const SchemaState& o);  // copies the paths in use only

  const JsonSchema* schema = nullptr;
  uint8_t n = 0;
  SchemaPath paths[kMaxPaths];

  bool feed(uint8_t b);
  bool done() const;
  bool repeats() const;
  bool operator==(const SchemaState& o) const;
};

// The tokens that may continue a text held to `schema` (kept alive here).
class SchemaConstraint : public ByteConstraint<SchemaState> {
 public:
  SchemaConstraint(std::shared_ptr<const JsonVocab> vocab, std::shared_ptr<const JsonSchema> schema)
      : ByteConstraint(std::move(vocab), SchemaState(schema.get())), schema_(std::move(schema)) {}

 private:
  std::shared_ptr<const JsonSchema> schema_;
};

}  // namespace radial
