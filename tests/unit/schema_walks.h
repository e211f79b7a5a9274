// Shared by the JSON Schema mode tests: compiling, feeding texts, random
// instances of a schema, and random byte walks whose completed texts must
// be valid under the reference validator (tests/json_schema_reference.h).
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "scheduler/json_schema.h"
#include "scheduler/schema_state.h"
#include "tests/json_reference.h"
#include "tests/json_schema_reference.h"

namespace radial::test {

inline std::shared_ptr<const JsonSchema> compile(const std::string& text) {
  return JsonSchema::compile(text);
}

// The compile error's message ("" when it compiles).
inline std::string compile_error(const std::string& text) {
  try {
    JsonSchema::compile(text);
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kInvalidArgument);
    return e.what();
  }
  return "";
}

// Bytes of `text` taken before a rejection (text.size() when all).
inline size_t feed_all(SchemaState& st, const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i)
    if (!st.feed(static_cast<uint8_t>(text[i]))) return i;
  return text.size();
}

inline bool accepts(const JsonSchema& s, const std::string& text) {
  SchemaState st(&s);
  return feed_all(st, text) == text.size() && st.done();
}

// A random instance of `schema` (properties in the schema's order, each
// optional one present half the time; strings from a small alphabet with
// escapes and UTF-8). ordered_json keeps the order of keys.
using OJ = nlohmann::ordered_json;
inline OJ instance(const OJ& schema, const OJ& root, std::mt19937& rng, int depth) {
  if (schema.contains("$ref"))
    return instance(root.at(OJ::json_pointer(schema["$ref"].get<std::string>().substr(1))), root,
                    rng, depth + 1);
  if (schema.contains("anyOf")) {
    const OJ& m = schema["anyOf"];
    return instance(m[rng() % m.size()], root, rng, depth + 1);
  }
  if (schema.contains("const")) return schema["const"];
  if (schema.contains("enum")) return schema["enum"][rng() % schema["enum"].size()];
  std::string type = "any";
  if (schema.contains("type")) {
    const OJ& t = schema["type"];
    type = t.is_string() ? t.get<std::string>() : t[rng() % t.size()].get<std::string>();
  }
  if (type == "any")
    type = depth > 3 ? "null" : std::vector<std::string>{"string", "integer", "array"}[rng() % 3];
  if (type == "object") {
    OJ o = OJ::object();
    const OJ props = schema.value("properties", OJ::object());
    const OJ req = schema.value("required", OJ::array());
    for (const auto& [key, sub] : props.items()) {
      bool required = false;
      for (const OJ& r : req) required = required || r == key;
      if (!required && (rng() % 2 == 0 || depth > 4)) continue;
      o[key] = instance(sub, root, rng, depth + 1);
    }
    if (props.empty() && schema.contains("additionalProperties") &&
        schema["additionalProperties"].is_object())
      for (int i = rng() % 3; i > 0; --i)
        o["k" + std::to_string(i)] = instance(schema["additionalProperties"], root, rng, depth + 1);
    return o;
  }
  if (type == "array") {
    OJ a = OJ::array();
    const int lo = schema.value("minItems", 0), hi = schema.value("maxItems", 3);
    const int n = depth > 4 ? lo : lo + static_cast<int>(rng() % (hi - lo + 1));
    for (int i = 0; i < n; ++i)
      a.push_back(instance(schema.value("items", OJ::object()), root, rng, depth + 1));
    return a;
  }
  if (type == "string") {
    static const std::vector<std::string> parts = {"a",  "Lily", " ",        "\"",
                                                   "\\", "\n",   "\xC3\xA9", "\xF0\x9F\x98\x80"};
    std::string s;
    for (int i = rng() % 5; i > 0; --i) s += parts[rng() % parts.size()];
    return s;
  }
  if (type == "integer" || type == "number") {
    // Within the bounds (inclusive ones as given), from a default range;
    // numbers on a grid of 1/64, which prints without an exponent.
    double lo = -1000, hi = 1000;
    if (schema.contains("minimum")) lo = schema["minimum"].get<double>(), hi = std::max(hi, lo);
    if (schema.contains("maximum")) hi = schema["maximum"].get<double>(), lo = std::min(lo, hi);
    const double step = type == "integer" ? 1 : 1 / 64.0;
    const auto below = [&](const char* key) {
      return schema.contains(key) && schema[key].is_number() ? schema[key].get<double>() : NAN;
    };
    const double ex_lo = below("exclusiveMinimum"), ex_hi = below("exclusiveMaximum");
    int64_t a = static_cast<int64_t>(std::ceil(lo / step)),
            b = static_cast<int64_t>(std::floor(hi / step));
    if (!std::isnan(ex_lo)) a = std::max(a, static_cast<int64_t>(std::floor(ex_lo / step)) + 1);
    if (!std::isnan(ex_hi)) b = std::min(b, static_cast<int64_t>(std::ceil(ex_hi / step)) - 1);
    const int64_t k = a + static_cast<int64_t>(rng() % static_cast<uint64_t>(b - a + 1));
    if (type == "integer") return k;
    return static_cast<double>(k) * step;
  }
  if (type == "boolean") return rng() % 2 == 0;
  return nullptr;
}

// Random walks over bytes from the start, biased to the structural bytes so
// that most end; each one that ends complete must be valid under the
// reference, and no walk may get stuck. Returns how many ended complete.
inline int random_walks(const JsonSchema& s, const nlohmann::json& schema, std::mt19937& rng,
                        int walks, size_t max_len) {
  static const std::string structural = "{}[],:\"0123456789-.etfnrul ";
  int completed = 0;
  for (int walk = 0; walk < walks; ++walk) {
    SchemaState st(&s);
    std::string out;
    while (!st.done() && out.size() < max_len) {
      std::vector<uint8_t> next;
      std::vector<double> weight;
      for (int b = 0; b < 256; ++b) {
        SchemaState probe = st;
        if (!probe.feed(static_cast<uint8_t>(b))) continue;
        next.push_back(static_cast<uint8_t>(b));
        weight.push_back(structural.find(static_cast<char>(b)) != std::string::npos ? 40 : 1);
      }
      INFO(out);
      REQUIRE(!next.empty());  // a reading never gets stuck
      const uint8_t b = next[std::discrete_distribution<size_t>(weight.begin(), weight.end())(rng)];
      REQUIRE(st.feed(b));
      out += static_cast<char>(b);
    }
    if (!st.done()) continue;
    ++completed;
    INFO(out);
    REQUIRE(json_mode_reference(out));
    CHECK(schema_valid(parse_completed(out), schema, schema));
  }
  return completed;
}

}  // namespace radial::test
