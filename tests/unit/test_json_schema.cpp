// JSON Schema mode (scheduler/json_schema.h, scheduler/schema_state.h): the
// keywords it refuses; texts it takes and refuses; random walks whose
// completed texts must be valid under the reference validator
// (tests/json_schema_reference.h); instances made from the schemas, which it
// must take; the vocabulary walk against a token-by-token check; and the
// scheduler on stories260K.
#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "constraint_check.h"
#include "engine/error.h"
#include "engine/tokenizer.h"
#include "engine_harness.h"
#include "scheduler/json_schema.h"
#include "scheduler/schema_state.h"
#include "schema_walks.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;
using nlohmann::json;

namespace {

const char* kPerson = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "description": "an annotation", "format": "an annotation too"},
    "age": {"type": "integer"},
    "email": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
    "kind": {"enum": ["a", "b", 1.5, null, {"x": [1]}]},
    "score": {"type": ["number", "boolean"]}
  },
  "required": ["name", "age", "tags"],
  "additionalProperties": false
})";

const char* kTree = R"({
  "$defs": {"node": {"type": "object",
                     "properties": {"v": {"type": "integer"},
                                    "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                     "required": ["v"]}},
  "$ref": "#/$defs/node"
})";

// A union of two object shapes that share their first byte, and free keys.
const char* kShapes = R"({
  "type": "object",
  "properties": {
    "pet": {"anyOf": [
      {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
      {"type": "object", "properties": {"b": {"type": "string"}, "a": {"type": "boolean"}},
       "required": ["b"]}]},
    "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
    "anything": {},
    "empty": {"type": "object", "additionalProperties": false},
    "flag": {"const": true}
  },
  "required": ["pet"]
})";

}  // namespace

TEST_CASE("JSON Schema: what it refuses is named, with where it is", "[json]") {
  const auto refused = [](const std::string& schema, std::initializer_list<const char*> parts) {
    const std::string e = compile_error(schema);
    INFO(schema << "\n-> " << e);
    REQUIRE(!e.empty());
    for (const char* p : parts) CHECK(e.find(p) != std::string::npos);
  };
  refused(R"({"type":"object","properties":{"name":{"type":"string","not":{"const":"a"}}}})",
          {"\"not\"", "not supported", "/properties/name"});
  refused(R"({"type":"object","properties":{"n":{"type":"integer","multipleOf":2}}})",
          {"\"multipleOf\"", "/properties/n"});
  refused(R"({"oneOf":[{"type":"object"},{"type":"object","properties":{"a":{}}}]})",
          {"\"oneOf\"", "members 0 and 1 may both take", "/oneOf"});
  refused(R"({"type":"object","properties":{"a":{"allOf":[{"type":"string"},{"maxLength":3}]}}})",
          {"\"allOf\" of more than one", "/properties/a"});
  refused(R"({"type":"array"})", {"root must be an object"});
  refused(R"({"type":"string"})", {"root must be an object"});
  refused(R"({"type":"object","properties":{"a":{}},"required":["b"]})",
          {"\"b\"", "not in \"properties\""});
  refused(R"({"type":"object","properties":{"a":{"$ref":"#/$defs/missing"}}})",
          {"names nothing", "/properties/a"});
  refused(R"({"type":"object","properties":{"a":{"$ref":"https://example.com/s.json"}}})",
          {"not in this document"});
  refused(R"({"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"})",
          {"refers to itself"});
  refused(
      R"({"$defs":{"u":{"anyOf":[{"$ref":"#/$defs/u"},{"type":"object"}]}},"$ref":"#/$defs/u"})",
      {"takes itself"});
  refused(R"({"type":"object","properties":{"a":{"type":"str"}}})", {"\"str\""});
  refused(R"({"type":"object","properties":{"a":{"type":"string","enum":[1,2]}}})",
          {"no value of \"enum\""});
  refused(R"({"type":"object","properties":{"a":{"items":[{"type":"string"}]}}})", {"tuple"});
  refused(R"({"type":"object","properties":{"a":{"type":"array","minItems":3,"maxItems":2}}})",
          {"\"minItems\" is above \"maxItems\""});
  refused(R"({"type":"object","properties":{"a":{"type":"array","minItems":-1}}})",
          {"non-negative integer"});
  refused(R"({"type":"object","properties":{"a":{"$ref":"#/x","type":"string"}}})",
          {"\"$ref\" beside \"type\""});
  refused(R"({"type":"object","properties":{"a":{"anyOf":[{}],"type":"string"}}})",
          {"\"anyOf\" beside \"type\""});
  refused(R"({"type":"object","properties":{"a":{"anyOf":[]}}})", {"non-empty array"});
  refused(R"({"type":"object","properties":{"a":5}})", {"object or a boolean"});
  refused(R"({"type":"object","properties":{"a":false},"required":["a"]})",
          {"required property \"a\" takes no value"});
  refused("{", {"not JSON"});
  std::string props;
  for (int i = 0; i < 65; ++i) props += (i ? ",\"p" : "\"p") + std::to_string(i) + "\":{}";
  refused(R"({"type":"object","properties":{)" + props + "}}", {"more than 64 properties"});
  std::string values;
  for (int i = 0; i < 1025; ++i) values += (i ? "," : "") + std::to_string(i);
  refused(R"({"type":"object","properties":{"a":{"enum":[)" + values + "]}}}",
          {"more than 1024 values"});
  std::string deep = R"({"type":"object","properties":{"a":)";
  std::string deep_end = "}}";
  for (int i = 0; i < 40; ++i) {
    deep += R"({"type":"object","properties":{"a":)";
    deep_end += "}}";
  }
  refused(deep + "{}" + deep_end, {"nests deeper than 64"});
  // Unions of unions, 16 deep and 10 wide (10^16 ways down): flattened once,
  // each schema reached once, so compiling and reading a value cost little.
  std::string defs;
  for (int i = 0; i < 16; ++i) {
    std::string members;
    for (int k = 0; k < 10; ++k)
      members +=
          (k ? "," : "") + std::string(R"({"$ref":"#/$defs/u)") + std::to_string(i + 1) + "\"}";
    defs += "\"u" + std::to_string(i) + "\":{\"anyOf\":[" + members + "]},";
  }
  defs += R"("u16":{"type":"integer"})";
  const auto nested = compile(
      R"({"type":"object","properties":{"a":{"$ref":"#/$defs/u0"}},"$defs":{)" + defs + "}}");
  CHECK(accepts(*nested, R"({"a":12})"));
  CHECK_FALSE(accepts(*nested, R"({"a":"x"})"));
  std::string wide;
  for (int k = 0; k < 257; ++k)
    wide += (k ? "," : "") + std::string(R"({"const":)") + std::to_string(k) + "}";
  refused(R"({"type":"object","properties":{"a":{"anyOf":[)" + wide + "]}}}",
          {"more than 256 schemas"});
  // What it takes: OpenAI's strict-mode shapes, annotations, boolean schemas.
  CHECK(compile_error(kPerson).empty());
  CHECK(compile_error(kTree).empty());
  CHECK(compile_error(kShapes).empty());
  CHECK(compile_error(R"({"type":"object","properties":{"a":true,"b":false}})").empty());
  CHECK(compile_error(R"({"anyOf":[{"type":"object"},{"type":"string"}]})").empty());
}

TEST_CASE("JSON Schema: the texts it takes and the ones it refuses", "[json]") {
  const auto person = compile(kPerson);
  for (const char* ok : {
           R"({"name":"Al","age":30,"tags":["x"]})",
           R"({"name":"Al","age":-3,"email":null,"tags":["x","y"],"kind":"b","score":1e3})",
           "{ \"name\" : \"A\\\"l\" ,\n \"age\":0,\"tags\":[\"\\u00e9\"],\"kind\":{\"x\":[1]}}",
           R"({"name":"Al","age":1,"tags":["x"],"kind":1.5,"score":false})",
           R"({"name":"","age":1,"email":"a@b","tags":["x"],"kind":null})",
       }) {
    INFO(ok);
    CHECK(accepts(*person, ok));
    CHECK(schema_valid(json::parse(ok), json::parse(kPerson), json::parse(kPerson)));
  }
  for (const char* bad : {
           R"({"age":30,"name":"Al","tags":["x"]})",                    // out of the schema's order
           R"({"name":"Al","tags":["x"]})",                             // age is required
           R"({"name":"Al","age":3.5,"tags":["x"]})",                   // not an integer
           R"({"name":"Al","age":3e2,"tags":["x"]})",                   // (written as one)
           R"({"name":"Al","age":30,"tags":[]})",                       // minItems
           R"({"name":"Al","age":30,"tags":["a","b","c"]})",            // maxItems
           R"({"name":"Al","age":30,"tags":["x"],"kind":"c"})",         // not in the enum
           R"({"name":"Al","age":30,"tags":["x"],"kind":1.50})",        // (not as written there)
           R"({"name":"Al","age":30,"tags":["x"],"other":1})",          // no other keys
           R"({"name":5,"age":30,"tags":["x"]})",                       // a number for a string
           R"({"name":"Al","age":30,"tags":["x"],"score":"1"})",        // neither type
           R"({"name":"Al","age":30,"tags":["x"],"kind":{"x": [1]}})",  // a literal, spaced
           R"({"name":"Al","age":30,"tags":["x"],})",
           R"(["name"])",
       }) {
    INFO(bad);
    CHECK_FALSE(accepts(*person, bad));
  }
  const auto tree = compile(kTree);
  CHECK(accepts(*tree, R"({"v":1,"kids":[{"v":2},{"v":3,"kids":[{"v":4,"kids":[]}]}]})"));
  CHECK_FALSE(accepts(*tree, R"({"v":1,"kids":[{"v":2},{"kids":[]}]})"));
  const auto shapes = compile(kShapes);
  for (
      const char* ok :
      {R"({"pet":{"a":1}})", R"({"pet":{"b":"x"}})", R"({"pet":{"b":"x","a":true}})",
       R"({"pet":{"a":1},"counts":{"x":1,"y":-2},"anything":[{"q":[null]}],"empty":{},"flag":true})",
       R"({"pet":{"a":1},"counts":{}})"}) {
    INFO(ok);
    CHECK(accepts(*shapes, ok));
  }
  for (const char* bad :
       {R"({"pet":{"a":"x"}})", R"({"pet":{}})", R"({"pet":{"a":1,"b":"x"}})",
        R"({"pet":{"a":1},"counts":{"x":"1"}})", R"({"pet":{"a":1},"empty":{"a":1}})",
        R"({"pet":{"a":1},"flag":false})", R"({})"}) {
    INFO(bad);
    CHECK_FALSE(accepts(*shapes, bad));
  }
  // A large enum: each value, and nothing between or beyond them.
  std::string many;
  for (int i = 0; i < 1000; ++i) many += (i ? ",\"v" : "\"v") + std::to_string(i * 7) + "\"";
  const auto big = compile(R"({"type":"object","properties":{"e":{"enum":[)" + many + "]}}}");
  for (int i : {0, 1, 7, 70, 700, 6993}) {
    const std::string v = "{\"e\":\"v" + std::to_string(i) + "\"}";
    INFO(v);
    CHECK(accepts(*big, v) == (i % 7 == 0));
  }
  CHECK_FALSE(accepts(*big, R"({"e":"v"})"));
  CHECK_FALSE(accepts(*big, R"({"e":"v69930"})"));
  // A property whose schema is false is never written.
  const auto never = compile(R"({"type":"object","properties":{"a":true,"b":false}})");
  CHECK(accepts(*never, R"({"a":[1]})"));
  CHECK_FALSE(accepts(*never, R"({"b":1})"));
  CHECK_FALSE(accepts(*never, R"({"a":1,"b":1})"));
  // Proper prefixes are taken and are not complete.
  const std::string text = R"({"name":"Al","age":30,"tags":["x"],"kind":{"x":[1]}})";
  SchemaState st(person.get());
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    REQUIRE(st.feed(static_cast<uint8_t>(text[i])));
    CHECK_FALSE(st.done());
  }
  CHECK(st.feed('}'));
  CHECK(st.done());
}

TEST_CASE("JSON Schema: instances of the schemas are taken; random walks end valid", "[json]") {
  std::mt19937 rng(7);
  int completed = 0;
  for (const char* text : {kPerson, kTree, kShapes}) {
    const json schema = json::parse(text);
    const OJ ordered = OJ::parse(text);
    const auto s = compile(text);
    for (int n = 0; n < 150; ++n) {  // instances
      const OJ v = instance(ordered, ordered, rng, 0);
      const std::string doc = v.dump();
      INFO(doc);
      REQUIRE(schema_valid(json::parse(doc), schema, schema));
      CHECK(accepts(*s, doc));
    }
    completed += random_walks(*s, schema, rng, 300, 3000);
  }
  CHECK(completed > 300);
}

TEST_CASE("JSON Schema: minLength and maxLength count characters", "[json]") {
  const auto s = compile(R"({"type":"object","properties":{
      "a":{"type":"string","minLength":2,"maxLength":3},
      "b":{"type":["string","null"],"maxLength":0},
      "c":{"enum":["x","xyz","toolong"],"maxLength":3}},"required":["a"]})");
  const auto with_a = [&](const std::string& a) { return accepts(*s, "{\"a\":" + a + "}"); };
  CHECK(with_a(R"("ab")"));
  CHECK(with_a(R"("abc")"));
  CHECK_FALSE(with_a(R"("a")"));
  CHECK_FALSE(with_a(R"("abcd")"));
  CHECK(with_a("\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\""));  // three characters of 2, 3, 4 bytes
  CHECK_FALSE(with_a("\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80!\""));
  CHECK(with_a(R"("\n\u00e9")"));       // an escape is one character
  CHECK(with_a(R"("\ud83d\ude00a")"));  // a surrogate pair of escapes is one
  CHECK_FALSE(with_a(R"("\ud83d\ude00ab\"")"));
  CHECK(accepts(*s, R"({"a":"ab","b":"","c":"xyz"})"));
  CHECK(accepts(*s, R"({"a":"ab","b":null})"));
  CHECK_FALSE(accepts(*s, R"({"a":"ab","b":"x"})"));
  CHECK_FALSE(accepts(*s, R"({"a":"ab","c":"toolong"})"));  // (filtered out of the enum)
  // Random walks end valid (the reference counts code points too).
  std::mt19937 rng(5);
  const json schema = json::parse(R"({"type":"object","properties":{
      "a":{"type":"string","minLength":2,"maxLength":3},"b":{"type":"string","maxLength":40},
      "c":{"type":"array","items":{"type":"string","minLength":1,"maxLength":2}}},
      "required":["a","b","c"]})");
  CHECK(random_walks(*compile(schema.dump()), schema, rng, 200, 3000) > 100);
  // The vocabulary walk (and its cache, which compares the lengths left
  // only up to a horizon) against a token-by-token check.
  auto vocab = std::make_shared<const JsonVocab>(tok512(), 512);
  const auto bounded = compile(schema.dump());
  for (const std::string& prefix :
       {std::string("{\"a\":\""), std::string("{\"a\":\"x"), std::string("{\"a\":\"xyz"),
        std::string("{\"a\":\"ab\",\"b\":\""),
        std::string("{\"a\":\"ab\",\"b\":\"0123456789012345678901234567890123456")}) {
    SchemaConstraint c(vocab, bounded);
    check_allowed_is_accepted(c, prefix, /*rounds=*/2);  // the second from the cache
  }
}

TEST_CASE("JSON Schema: Pydantic's schemas (tests/data/schemas)", "[json]") {
  const auto read = [](const char* name) {
    std::ifstream in(data_path(std::string("schemas/") + name), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    REQUIRE(!text.str().empty());
    return text.str();
  };
  // A model with $defs, an enum class, Optional (anyOf with null), Literal,
  // a nested model, conlist (minItems/maxItems), dict, date (format), Union.
  const std::string person_text = read("pydantic_person.json");
  const auto person = compile(person_text);
  const json person_schema = json::parse(person_text);
  const std::string ok =
      R"({"name":"Ada","age":36,"color":"red","kind":"human","home":{"street":"1 Main","city":"X"},)"
      R"("work":null,"tags":["a","b"],"scores":{"math":9.5},"born":"1815-12-10","id":7})";
  CHECK(accepts(*person, ok));
  CHECK(schema_valid(json::parse(ok), person_schema, person_schema));
  CHECK_FALSE(accepts(*person, R"({"name":"Ada","age":36,"color":"blue")"));
  // A recursive model.
  const auto tree = compile(read("pydantic_tree.json"));
  CHECK(accepts(*tree, R"({"value":1,"children":[{"value":2,"children":[]},{"value":3}]})"));
  // A discriminated union is a oneOf whose members' "pet_type" consts tell
  // them apart. A max_length is maxLength.
  const auto owner = compile(read("pydantic_discriminated.json"));
  CHECK(accepts(*owner, R"({"pet":{"pet_type":"cat","meows":3}})"));
  CHECK(accepts(*owner, R"({"pet":{"pet_type":"dog","barks":0.5}})"));
  CHECK_FALSE(accepts(*owner, R"({"pet":{"pet_type":"cat","barks":0.5}})"));
  const auto limited = compile(read("pydantic_limited.json"));
  CHECK(accepts(*limited, R"({"code":"abcdefgh"})"));
  CHECK_FALSE(accepts(*limited, R"({"code":"abcdefghi"})"));
  // Random walks end valid under the reference.
  std::mt19937 rng(11);
  CHECK(random_walks(*person, person_schema, rng, 200, 4000) > 100);
}

TEST_CASE("JSON Schema: the vocabulary walk allows exactly the tokens that continue the text",
          "[json]") {
  const Tokenizer& tok = tok512();
  auto vocab = std::make_shared<const JsonVocab>(tok, 512);
  const auto s = compile(kShapes);
  for (const std::string& prefix :
       {std::string(), std::string("{"), std::string("{\"pe"), std::string("{\"pet\":{"),
        std::string("{\"pet\":{\"b\":\"Li"), std::string("{\"pet\":{\"a\":1"),
        std::string("{\"pet\":{\"a\":1},\"counts\":{\""), std::string("{\"pet\":{\"a\":1},\"fl")}) {
    SchemaConstraint c(vocab, s);
    CHECK(!check_allowed_is_accepted(c, prefix).empty());
  }
}

TEST_CASE("JSON Schema: sampled texts hold to the schema, or are prefixes of such when cut",
          "[json]") {
  // Enums and booleans close within the budget even for a story model.
  const std::string schema = R"({"type":"object","properties":{
      "mood":{"enum":["happy","sad",3,null]},"ok":{"type":"boolean"},
      "pet":{"anyOf":[{"type":"null"},{"type":"object","properties":{"kind":{"const":"cat"}},
                                         "required":["kind"]}]},
      "n":{"type":"integer"}},
    "required":["mood","ok"],"additionalProperties":false})";
  const Tokenizer& tok = tok512();
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < 6; ++i) {
    GenerateRequest r;
    r.prompt = tok.encode("Lily wrote a JSON object:");
    r.max_tokens = 250;
    r.sampling.temperature = i == 0 ? 0.f : 1.0f;
    r.sampling.seed = 200 + i;
    r.json_schema = schema;
    r.logprobs = 2;
    reqs.push_back(r);
  }
  const auto res = run_requests(default_model_weights(), nullptr, reqs, &tok);
  const auto compiled = compile(schema);
  int closed = 0;
  for (const auto& r : res) {
    INFO(r.text);
    REQUIRE(r.finish != FinishReason::kError);
    SchemaState st(compiled.get());
    CHECK(feed_all(st, r.text) == r.text.size());
    if (r.finish == FinishReason::kStop) {
      ++closed;
      CHECK(st.done());
      CHECK(schema_valid(json::parse(r.text), json::parse(schema), json::parse(schema)));
    } else {
      CHECK(r.finish == FinishReason::kLength);
    }
    for (const auto& t : r.tokens) CHECK(std::isfinite(t.logprob));
  }
  CHECK(closed >= 4);
}

TEST_CASE("JSON Schema mode: bad schemas and bad combinations are the validator's errors",
          "[json]") {
  GenerateRequest r;
  r.prompt = {1, 2};
  r.json_schema = R"x({"type":"object","properties":{"a":{"type":"string","pattern":"(?=a)"}}})x";
  auto engine = make_engine(default_model_weights(), nullptr,
                            options_for(default_model_weights()->config, {r}));
  const Tokenizer& tok = tok512();
  Scheduler with_tok(*engine, &tok);
  expect_error([&] { with_tok.submit(r, {}); }, ErrorCode::kInvalidArgument,
               {"json_schema", "\"pattern\"", "/properties/a"});
  r.json_schema = R"({"type":"object"})";
  r.json_object = true;
  expect_error([&] { with_tok.submit(r, {}); }, ErrorCode::kInvalidArgument,
               {"JSON mode and JSON Schema mode"});
  r.json_object = false;
  Scheduler without(*engine, nullptr);
  expect_error([&] { without.submit(r, {}); }, ErrorCode::kInvalidArgument,
               {"JSON Schema mode", "tokenizer"});
}
