// Number bounds in JSON Schema mode (scheduler/number_bounds.h: minimum,
// maximum, exclusiveMinimum, exclusiveMaximum): reachable() and holds()
// against a brute-force enumeration of every number text up to 5 bytes,
// checked as a double-reading validator checks them; the texts a schema
// with bounds takes; random walks and instances under the reference; the
// vocabulary walk inside a bounded number; Pydantic's bounds. And oneOf
// (scheduler/schema_disjoint.h): which members count as exclusive.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "constraint_check.h"
#include "scheduler/number_bounds.h"
#include "schema_walks.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;
using nlohmann::json;

namespace {

// -?(0|[1-9][0-9]*)(\.[0-9]*)?: a prefix of a number without exponent
// (complete: not ending at '-' or '.').
bool number_prefix(const std::string& s, bool* complete) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  const size_t digits = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  const size_t whole = i - digits;
  if (whole > 1 && s[digits] == '0') return false;
  *complete = whole > 0;
  if (i == s.size()) return true;
  if (s[i] != '.' || whole == 0) return false;
  ++i;
  const size_t frac = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  *complete = i > frac;
  return i == s.size();
}

struct Case {
  std::optional<NumberBounds::Bound> min, max;
  bool integer;
};

// What a validator reading the text as a double says.
bool validator_takes(const Case& c, const std::string& text) {
  if (c.integer && text.find('.') != std::string::npos) return false;
  const double x = std::strtod(text.c_str(), nullptr);
  if (c.min && (c.min->exclusive ? x <= c.min->value : x < c.min->value)) return false;
  if (c.max && (c.max->exclusive ? x >= c.max->value : x > c.max->value)) return false;
  return true;
}

}  // namespace

TEST_CASE("Number bounds: reachable and holds agree with every text of up to 5 bytes", "[json]") {
  using B = NumberBounds::Bound;
  const std::vector<Case> cases = {
      {B{0, false}, B{1, false}, false},          {B{1, false}, B{5, false}, true},
      {B{0, true}, std::nullopt, false},          {B{0, true}, std::nullopt, true},
      {B{-2.5, false}, B{3.25, true}, false},     {B{0.3, false}, B{0.3, false}, false},
      {B{0.3, true}, B{0.31, true}, false},       {B{99.5, false}, B{100.5, false}, true},
      {B{-10, false}, B{-5, false}, true},        {std::nullopt, B{-0.5, false}, false},
      {B{12345, false}, std::nullopt, true},      {B{1e-3, false}, B{2e-3, false}, false},
      {B{0.3, true}, std::nullopt, false},        {std::nullopt, B{0, false}, true},
      {B{-0.001, false}, B{0.001, false}, false}, {B{100000, false}, std::nullopt, true},
  };
  constexpr int kMax = 5;
  const std::string alphabet = "-.0123456789";
  for (const Case& c : cases) {
    const NumberBounds b(c.min, c.max, c.integer);
    INFO("min " << (c.min ? c.min->value : NAN) << (c.min && c.min->exclusive ? " (ex)" : "")
                << " max " << (c.max ? c.max->value : NAN)
                << (c.max && c.max->exclusive ? " (ex)" : "") << " integer " << c.integer);
    // Every prefix, by depth-first search; the complete texts the validator takes.
    std::vector<std::string> prefixes = {""}, stack = {""};
    std::set<std::string> taken;
    while (!stack.empty()) {
      const std::string s = stack.back();
      stack.pop_back();
      bool complete = false;
      if (!s.empty() && !number_prefix(s, &complete)) continue;
      if (!s.empty()) {
        prefixes.push_back(s);
        if (complete) {
          INFO(s);
          CHECK(b.holds(s) == validator_takes(c, s));
          if (validator_takes(c, s)) taken.insert(s);
        }
      }
      if (static_cast<int>(s.size()) < kMax)
        for (char ch : alphabet) stack.push_back(s + ch);
    }
    for (const std::string& p : prefixes) {
      const auto first = taken.lower_bound(p);  // (sorted: the first at or after p)
      const bool expect = first != taken.end() && first->compare(0, p.size(), p) == 0;
      INFO("prefix \"" << p << "\"");
      CHECK(b.reachable(p, kMax) == expect);
    }
  }
}

TEST_CASE("Number bounds: the texts a schema with bounds takes", "[json]") {
  const auto s = compile(R"({"type":"object","properties":{
      "i":{"type":"integer","minimum":1,"maximum":5},
      "p":{"type":"number","minimum":0,"maximum":1},
      "x":{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1},
      "d4":{"type":"integer","minimum":0,"exclusiveMinimum":true},
      "n":{"type":["integer","null"],"maximum":-1000000},
      "e":{"enum":[1,5,10,"ten"],"maximum":5},
      "both":{"type":"number","minimum":2,"exclusiveMinimum":2.5}}})");
  const auto takes = [&](const std::string& key, const std::string& v) {
    return accepts(*s, "{\"" + key + "\":" + v + "}");
  };
  for (const char* v : {"1", "3", "5"}) CHECK(takes("i", v));
  for (const char* v : {"0", "6", "10", "-1", "1.0", "3e0", "05"}) CHECK_FALSE(takes("i", v));
  for (const char* v : {"0", "1", "1.0", "0.5", "0.999", "-0", "0.0000000000000000000001"})
    CHECK(takes("p", v));
  for (const char* v : {"1.01", "-0.1", "1e-1", "2", "0.00000000000000000000001"})
    CHECK_FALSE(takes("p", v));  // (an exponent is not written; nor 25 bytes)
  for (const char* v : {"0.5", "0.9999999999999999", "0.0001"}) CHECK(takes("x", v));
  // 0.99999999999999999 reads as the double 1: not below 1 for a validator.
  for (const char* v : {"0", "0.0", "1", "-0", "0.99999999999999999"}) CHECK_FALSE(takes("x", v));
  CHECK(takes("d4", "1"));
  CHECK_FALSE(takes("d4", "0"));
  CHECK(takes("n", "null"));
  CHECK(takes("n", "-1000000"));
  CHECK_FALSE(takes("n", "-999999"));
  CHECK(takes("e", "5"));
  CHECK(takes("e", "\"ten\""));
  CHECK_FALSE(takes("e", "10"));  // (filtered out of the enum)
  CHECK(takes("both", "2.6"));
  CHECK_FALSE(takes("both", "2.5"));  // the tighter of the two
  // Prefixes that lead nowhere are refused at once: no number starting "6"
  // is at most 5.
  SchemaState st(s.get());
  CHECK(feed_all(st, R"({"i":6)") == 5);
  // Refused: bounds no text meets, bounds that are not numbers, multipleOf.
  const auto error = [](const std::string& sub) {
    return compile_error(R"({"type":"object","properties":{"a":)" + sub + "}}");
  };
  CHECK_THAT(error(R"({"type":"integer","minimum":5,"maximum":1})"),
             Catch::Contains("no integer of at most 24 characters"));
  CHECK_THAT(error(R"({"type":"integer","minimum":1.2,"maximum":1.8})"),
             Catch::Contains("no integer"));
  CHECK_THAT(error(R"({"type":"number","minimum":1e30})"), Catch::Contains("no number"));
  CHECK_THAT(error(R"({"type":"number","minimum":"1"})"),
             Catch::Contains("\"minimum\" must be a number"));
  CHECK_THAT(error(R"({"type":"number","multipleOf":2})"), Catch::Contains("\"multipleOf\""));
  CHECK_THAT(error(R"({"enum":[7,8],"minimum":9})"), Catch::Contains("no value of \"enum\""));
  // Bounds on a schema that takes no numbers say nothing.
  CHECK(error(R"({"type":"string","minimum":5,"maximum":1})").empty());
}

TEST_CASE("Number bounds: random walks and instances hold under the reference", "[json]") {
  const std::string text = R"({"type":"object","properties":{
      "i":{"type":"integer","minimum":-3,"maximum":250},
      "p":{"type":"number","minimum":0,"maximum":1},
      "x":{"type":"number","exclusiveMinimum":-0.5,"exclusiveMaximum":0.25},
      "big":{"type":"integer","minimum":1000000},
      "neg":{"type":"number","maximum":-2.75},
      "arr":{"type":"array","items":{"type":"integer","exclusiveMinimum":0,"maximum":9}}},
    "required":["i","p","x","big","neg","arr"]})";
  const json schema = json::parse(text);
  const OJ ordered = OJ::parse(text);
  const auto s = compile(text);
  std::mt19937 rng(13);
  for (int n = 0; n < 300; ++n) {
    const std::string doc = instance(ordered, ordered, rng, 0).dump();
    INFO(doc);
    REQUIRE(schema_valid(json::parse(doc), schema, schema));
    CHECK(accepts(*s, doc));
  }
  CHECK(random_walks(*s, schema, rng, 300, 3000) > 150);
  // The vocabulary walk inside bounded numbers, against a token-by-token check.
  auto vocab = std::make_shared<const JsonVocab>(tok512(), 512);
  for (const std::string& prefix :
       {std::string("{\"i\":"), std::string("{\"i\":2"), std::string("{\"i\":25"),
        std::string("{\"i\":0,\"p\":0."), std::string("{\"i\":0,\"p\":1"),
        std::string("{\"i\":0,\"p\":1,\"x\":-0.4")}) {
    SchemaConstraint c(vocab, s);
    CHECK(!check_allowed_is_accepted(c, prefix, /*rounds=*/2).empty());
  }
}

TEST_CASE("Number bounds and oneOf: Pydantic's Field(ge, le, gt, lt) and a discriminated union",
          "[json]") {
  std::ifstream in(data_path("schemas/pydantic_bounded.json"), std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  REQUIRE(!text.str().empty());
  const json schema = json::parse(text.str());
  const auto s = compile(text.str());
  CHECK(accepts(
      *s, R"({"stars":5,"confidence":0.75,"price":12.5,"pet":{"pet_type":"dog","barks":1}})"));
  CHECK(accepts(*s, R"({"stars":1,"confidence":0.001,"price":null,"pet":null})"));
  CHECK_FALSE(accepts(*s, R"({"stars":0,"confidence":0.5})"));
  CHECK_FALSE(accepts(*s, R"({"stars":3,"confidence":1})"));
  CHECK_FALSE(accepts(*s, R"({"stars":3,"confidence":0.5,"price":-1})"));
  CHECK_FALSE(accepts(*s, R"({"stars":3,"confidence":0.5,"pet":{"pet_type":"cow"}})"));
  std::mt19937 rng(17);
  CHECK(random_walks(*s, schema, rng, 200, 3000) > 100);
}

TEST_CASE("oneOf: held when its members exclude each other, refused when they may not", "[json]") {
  const auto with = [](const std::string& one_of) {
    return compile_error(R"({"type":"object","properties":{"u":{"oneOf":)" + one_of + "}}}");
  };
  // Exclusive: by kind, by literals (1 and 1.0 are one value), by a
  // required property's const, by a key only one writes, by bounds, by lengths.
  for (
      const char* ok : {
          R"([{"type":"string"},{"type":"integer"},{"type":"null"}])",
          R"([{"enum":["a","b"]},{"enum":["c",1]},{"const":2.5}])",
          R"([{"type":"object","properties":{"k":{"const":"x"},"v":{}},"required":["k"]},
               {"type":"object","properties":{"k":{"const":"y"}},"required":["k"]}])",
          R"([{"type":"object","properties":{"a":{}},"required":["a"],"additionalProperties":false},
               {"type":"object","properties":{"b":{}},"required":["b"],"additionalProperties":false}])",
          R"([{"type":"number","maximum":0},{"type":"number","exclusiveMinimum":0}])",
          R"([{"type":"string","maxLength":2},{"type":"string","minLength":3}])",
          R"([{"anyOf":[{"type":"string"},{"type":"boolean"}]},{"type":"array"}])",
          R"([{"type":"object"}])",
      }) {
    INFO(ok);
    CHECK(with(ok).empty());
  }
  for (const char* bad : {
           R"([{"type":"string"},{"type":["string","null"]}])",
           R"([{"type":"integer"},{"type":"number"}])",
           R"([{"enum":[1,2]},{"enum":[2.0,3]}])",
           R"([{"type":"object","properties":{"k":{"const":"x"}}},
               {"type":"object","properties":{"k":{"const":"y"}}}])",  // (k not required)
           R"([{"type":"number","maximum":0},{"type":"number","minimum":0}])",
           R"([{}, {"type":"string"}])",
           R"([{"type":"string"},{"type":"string"}])",
       }) {
    INFO(bad);
    CHECK_THAT(with(bad), Catch::Contains("may both take a value"));
  }
  // Written as one member, valid against exactly one.
  const std::string text = R"({"type":"object","properties":{"u":{"oneOf":[
      {"type":"object","properties":{"k":{"const":"x"},"n":{"type":"integer","minimum":0}},
       "required":["k","n"]},
      {"type":"object","properties":{"k":{"const":"y"},"s":{"type":"string"}},"required":["k"]},
      {"type":"integer","maximum":-1},{"type":"integer","minimum":0}]}},"required":["u"]})";
  const auto s = compile(text);
  CHECK(accepts(*s, R"({"u":{"k":"x","n":3}})"));
  CHECK(accepts(*s, R"({"u":{"k":"y"}})"));
  CHECK(accepts(*s, R"({"u":-4})"));
  CHECK_FALSE(accepts(*s, R"({"u":{"k":"x","s":"a"}})"));
  const json schema = json::parse(text);
  std::mt19937 rng(19);
  CHECK(random_walks(*s, schema, rng, 200, 3000) > 100);
  // A hostile oneOf: many members of many numbers, checked within a budget.
  std::string members;
  for (int m = 0; m < 200; ++m) {
    std::string values;
    for (int i = 0; i < 1000; ++i) values += (i ? "," : "") + std::to_string(m * 1000 + i);
    members += (m ? ",{\"enum\":[" : "{\"enum\":[") + values + "]}";
  }
  CHECK_THAT(with("[" + members + "]"), Catch::Contains("too large to check"));
}
