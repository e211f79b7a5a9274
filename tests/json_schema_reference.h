// The reference JSON Schema mode (scheduler/schema_state.h) is checked
// against, shared by the unit test and the fuzz target: a plain validator of
// a parsed value against the keywords radiald enforces, written from JSON
// Schema's definitions (any key order, additionalProperties as written,
// integers as any whole number), not from radiald's stricter generation.
// Only schemas JsonSchema::compile() takes are given to it.
#pragma once

#include <cmath>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

namespace radial::test {

// Parses a text JSON Schema mode completed: as nlohmann::json::parse, but
// numbers whose exponent overflows a double (valid JSON) are read with
// exponent 0 (a number of the same kind).
inline nlohmann::json parse_completed(std::string s) {
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] == '"') {  // skip strings
      for (++i; i < s.size() && s[i] != '"'; ++i)
        if (s[i] == '\\') ++i;
      continue;
    }
    if (s[i] == 'e' || s[i] == 'E') {
      size_t j = i + 1;
      if (s[j] == '+' || s[j] == '-') ++j;
      while (j < s.size() && s[j] >= '0' && s[j] <= '9') s[j++] = '0';
    }
  }
  return nlohmann::json::parse(s);
}

// A JSON Schema pattern against a string, by std::regex's ECMAScript
// grammar (search: unanchored unless the pattern anchors). Checked only for
// ASCII patterns and strings of at most 64 bytes (std::regex reads bytes,
// and recurses per character); true when std::regex refuses the pattern.
inline bool pattern_matches(const std::string& pattern, const std::string& s) {
  if (s.size() > 64) return true;
  for (unsigned char c : s + pattern)
    if (c >= 0x80) return true;
  try {
    return std::regex_search(s, std::regex(pattern, std::regex::ECMAScript));
  } catch (const std::regex_error&) {
    return true;
  }
}

inline bool schema_valid(const nlohmann::json& v, const nlohmann::json& schema,
                         const nlohmann::json& root, int depth = 0) {
  using nlohmann::json;
  if (depth > 200) return false;
  if (schema.is_boolean()) return schema.get<bool>();
  if (schema.contains("$ref")) {
    const std::string ref = schema["$ref"].get<std::string>();
    return schema_valid(v, root.at(json::json_pointer(ref.substr(1))), root, depth + 1);
  }
  if (schema.contains("anyOf")) {
    for (const json& m : schema["anyOf"])
      if (schema_valid(v, m, root, depth + 1)) return true;
    return false;
  }
  if (schema.contains("oneOf")) {  // exactly one
    int valid = 0;
    for (const json& m : schema["oneOf"]) valid += schema_valid(v, m, root, depth + 1);
    return valid == 1;
  }
  if (schema.contains("allOf")) {
    for (const json& m : schema["allOf"])
      if (!schema_valid(v, m, root, depth + 1)) return false;
    return true;
  }
  if (schema.contains("type")) {
    const json& t = schema["type"];
    const auto is = [&](const std::string& name) {
      if (name == "object") return v.is_object();
      if (name == "array") return v.is_array();
      if (name == "string") return v.is_string();
      if (name == "boolean") return v.is_boolean();
      if (name == "null") return v.is_null();
      if (name == "number") return v.is_number();
      if (name == "integer")
        return v.is_number_integer() ||
               (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
      return false;
    };
    bool any = false;
    if (t.is_string()) {
      any = is(t.get<std::string>());
    } else {
      for (const json& name : t) any = any || is(name.get<std::string>());
    }
    if (!any) return false;
  }
  if (schema.contains("const") && v != schema["const"]) return false;
  if (schema.contains("enum")) {
    bool found = false;
    for (const json& e : schema["enum"]) found = found || e == v;
    if (!found) return false;
  }
  if (v.is_object()) {
    const json props = schema.value("properties", json::object());
    for (const json& r : schema.value("required", json::array()))
      if (!v.contains(r.get<std::string>())) return false;
    for (const auto& [key, value] : v.items()) {
      if (props.contains(key)) {
        if (!schema_valid(value, props[key], root, depth + 1)) return false;
      } else if (schema.contains("additionalProperties")) {
        if (!schema_valid(value, schema["additionalProperties"], root, depth + 1)) return false;
      }
    }
  }
  if (v.is_string()) {  // lengths in code points
    size_t chars = 0;
    for (unsigned char c : v.get<std::string>()) chars += (c & 0xC0) != 0x80;
    if (schema.contains("minLength") && chars < schema["minLength"].get<size_t>()) return false;
    if (schema.contains("maxLength") && chars > schema["maxLength"].get<size_t>()) return false;
    if (schema.contains("pattern") &&
        !pattern_matches(schema["pattern"].get<std::string>(), v.get<std::string>()))
      return false;
  }
  if (v.is_number()) {  // bounds, compared as doubles (as JavaScript validators do)
    const double x = v.get<double>();
    const bool draft4_min = schema.contains("exclusiveMinimum") &&
                            schema["exclusiveMinimum"].is_boolean() &&
                            schema["exclusiveMinimum"].get<bool>();
    const bool draft4_max = schema.contains("exclusiveMaximum") &&
                            schema["exclusiveMaximum"].is_boolean() &&
                            schema["exclusiveMaximum"].get<bool>();
    if (schema.contains("minimum") &&
        (draft4_min ? x <= schema["minimum"].get<double>() : x < schema["minimum"].get<double>()))
      return false;
    if (schema.contains("maximum") &&
        (draft4_max ? x >= schema["maximum"].get<double>() : x > schema["maximum"].get<double>()))
      return false;
    if (schema.contains("exclusiveMinimum") && schema["exclusiveMinimum"].is_number() &&
        x <= schema["exclusiveMinimum"].get<double>())
      return false;
    if (schema.contains("exclusiveMaximum") && schema["exclusiveMaximum"].is_number() &&
        x >= schema["exclusiveMaximum"].get<double>())
      return false;
  }
  if (v.is_array()) {
    if (schema.contains("minItems") && v.size() < schema["minItems"].get<size_t>()) return false;
    if (schema.contains("maxItems") && v.size() > schema["maxItems"].get<size_t>()) return false;
    if (schema.contains("items"))
      for (const json& item : v)
        if (!schema_valid(item, schema["items"], root, depth + 1)) return false;
  }
  return true;
}

}  // namespace radial::test
