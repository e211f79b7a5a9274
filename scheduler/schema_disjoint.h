// Whether a union's members exclude each other, for "oneOf": JSON Schema
// mode writes a value for one member at a time (as for anyOf), which is
// valid against the oneOf only if it is valid against no other member.
//
// SchemaDisjoint::excludes(a, b): true when no value JSON Schema mode writes for
// node `a` is valid against node `b` (as a validator reads `b`). It is a
// sufficient check, never a complete one: false means "may overlap". It
// knows
//   - kinds: a value of a kind `b` does not take (numbers overlap numbers);
//   - literals: enum / const values none of which is the other's;
//   - objects: a property `b` requires that `a` never writes (JSON Schema
//     mode writes only declared properties), or a property `a` requires
//     whose values `b`'s schema for it excludes (the discriminator of
//     Pydantic's discriminated unions: "pet_type": {"const": "cat"});
//   - numbers: bounds that do not meet.
// Unions among `a`, `b` and the nodes below are read through their
// (flattened) members.
#pragma once

#include <cstdint>

#include "scheduler/json_schema.h"

namespace radial {

class SchemaDisjoint {
 public:
  // Work allowed over all the checks (nodes visited, literals compared):
  // past it, excludes() throws Error(kInvalidArgument), so that a hostile
  // oneOf (256 members of 1024 numbers each) cannot stall the caller.
  static constexpr int64_t kBudget = 1 << 21;

  explicit SchemaDisjoint(const JsonSchema& s) : s_(s) {}
  bool excludes(int a, int b) { return excludes(a, b, 0); }

 private:
  bool excludes(int a, int b, int depth);
  bool literals_fail(const SchemaNode& a, const SchemaNode& b);
  bool literal_fails(const std::string& l, const SchemaNode& b, uint8_t b_kinds);
  bool kind_excludes(const SchemaNode& a, const SchemaNode& b, uint8_t kind, int depth);
  bool object_excludes(const SchemaNode& a, const SchemaNode& b, int depth);
  void spend(int64_t work);

  const JsonSchema& s_;
  int64_t spent_ = 0;
};

}  // namespace radial
