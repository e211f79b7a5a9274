// JSON Schema "pattern" (scheduler/string_pattern.h): the automaton against
// std::regex (ECMAScript) on every string of up to 5 characters over a
// small alphabet; what it refuses, named; code points beyond ASCII; and
// patterns in JSON Schema mode: escapes decoded, no walk stuck, completed
// texts valid under the reference, the vocabulary walk.
#include <catch2/catch.hpp>

#include <random>
#include <regex>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "constraint_check.h"
#include "scheduler/string_pattern.h"
#include "schema_walks.h"

using namespace radial;
using namespace radial::test;
using nlohmann::json;

namespace {

std::shared_ptr<const StringPattern> pattern(const std::string& p) {
  std::string error;
  auto out = StringPattern::compile(p, &error);
  INFO(p << ": " << error);
  REQUIRE(out != nullptr);
  return out;
}

std::string pattern_error(const std::string& p) {
  std::string error;
  CHECK(StringPattern::compile(p, &error) == nullptr);
  return error;
}

}  // namespace

TEST_CASE("Pattern: matches as std::regex_search does, every string up to 5 characters", "[json]") {
  const std::vector<std::string> patterns = {
      "^[a-z]+$",    "a",
      "^a",          "b$",
      "^(ab|b)*$",   "^a{2,3}$",
      "^a{2}b?$",    "^\\d{2}-\\d$",
      "[^ab]",       "^(?:a|1)+-?$",
      "^.$",         "^\\w\\W$",
      "a.b",         "^$",
      "^(a|)b",      "^a*?b+?$",
      "^[-a]$",      "^[a-]$",
      "^\\.$",       "^[\\d.]+$",
      "^a{0,2}$",    "^(a{1,2}){2}$",
      "^\\s*$",      "^[^\\s]$",
      "(?:ab){2,}",  "^(a|b|1)(a|b)$",
      "1|-",         "^\\x61\\u0062",
      "^[\\-.]{3}$", "^a?b?1?$",
  };
  // Strings over an alphabet with a newline ('.' skips it) and a space.
  const std::string alphabet = "ab1-.\n ";
  std::vector<std::string> strings = {""};
  for (size_t i = 0; i < strings.size(); ++i)
    if (strings[i].size() < 5)
      for (char c : alphabet) strings.push_back(strings[i] + c);
  for (const std::string& p : patterns) {
    const auto ours = pattern(p);
    const std::regex ref(p, std::regex::ECMAScript);
    for (const std::string& s : strings) {
      INFO("pattern " << p << " string \"" << s << "\"");
      REQUIRE(ours->matches(s) == std::regex_search(s, ref));
    }
  }
  // "^" and "$" hold the whole pattern: "^a|b" is read as "^(a|b)", which
  // takes fewer strings than ECMAScript's (^a)|(b), never more.
  const auto narrow = pattern("^a|b");
  const std::regex wide("^a|b", std::regex::ECMAScript);
  int fewer = 0;
  for (const std::string& s : strings) {
    if (narrow->matches(s)) CHECK(std::regex_search(s, wide));
    fewer += !narrow->matches(s) && std::regex_search(s, wide);
  }
  CHECK(fewer > 0);
}

TEST_CASE("Pattern: what it refuses is named", "[json]") {
  const auto refused = [](const std::string& p, const char* part) {
    const std::string e = pattern_error(p);
    INFO(p << " -> " << e);
    CHECK(e.find(part) != std::string::npos);
  };
  refused("(?=a)", "lookaround");
  refused("^(?!a)", "lookaround");
  refused("(?<=a)b", "lookaround");
  refused("\\bword", "word boundaries");
  refused("(a)\\1", "backreferences");
  refused("\\p{L}", "\\p");
  refused("a^b", "\"^\" or \"$\"");
  refused("a$b", "\"^\" or \"$\"");
  refused("a{1001}", "above 1000");
  refused("(a", "unclosed '('");
  refused("a)", "unmatched ')'");
  refused("[a", "unclosed '['");
  refused("a**", "after a quantifier");
  refused("*a", "nothing to repeat");
  refused("{2}", "nothing to repeat");
  refused("a\\", "at the end");
  refused("[z-a]", "out of order");
  refused("a{2,1}", "m < n");
  refused("^a{200}$", "more than 127");
  refused("^\\d{100}-\\d{100}$", "more than 127");
  refused("((((a{1000}){1000}){1000}){1000})", "more than 127");
  refused("^(((){1000}){1000}){1000}$", "too large");
  refused("^[^\\s\\S]$", "matches no string");
  refused("^[]$", "matches no string");
  refused("^\\x6", "hex digits");
  // Literal braces and brackets, as ECMAScript's Annex B reads them.
  CHECK(pattern("^a{,2}$")->matches("a{,2}"));
  CHECK(pattern("^]}$")->matches("]}"));
  CHECK(pattern("^[^]$")->matches("\n"));
}

TEST_CASE("Pattern: code points beyond ASCII", "[json]") {
  CHECK(pattern("^[\xC3\xA9-\xC3\xBC]+$")->matches("\xC3\xA9\xC3\xBC"));  // [é-ü]+
  CHECK_FALSE(pattern("^[\xC3\xA9-\xC3\xBC]+$")->matches("e"));
  CHECK(pattern("^.$")->matches("\xF0\x9F\x98\x80"));  // one code point, four bytes
  CHECK_FALSE(pattern("^.$")->matches("ab"));
  CHECK(pattern("^\\u00e9$")->matches("\xC3\xA9"));
  CHECK(pattern("^\\uD83D\\uDE00$")->matches("\xF0\x9F\x98\x80"));  // a surrogate pair
  CHECK(pattern("^\\s$")->matches("\xE3\x80\x80"));                 // U+3000 is a space
  CHECK(pattern("^\\W$")->matches("\xC3\xA9"));
}

TEST_CASE("Pattern: JSON Schema mode holds strings to it", "[json]") {
  const std::string text = R"({"type":"object","properties":{
      "date":{"type":"string","pattern":"^\\d{4}-\\d{2}-\\d{2}$"},
      "code":{"type":"string","pattern":"^[A-Z]{2}[0-9]*$"},
      "has":{"type":"string","pattern":"ab"},
      "uni":{"type":["string","null"],"pattern":"^\u00e9+\ud83d\ude00?$"},
      "pick":{"enum":["ab","cd",3],"pattern":"^a"}},
    "required":["date","code","has"]})";
  const auto s = compile(text);
  const auto with = [&](const std::string& rest) {
    return accepts(*s, R"({"date":"2024-01-31","code":"AB1","has":"xaby")" + rest + "}");
  };
  CHECK(with(""));
  CHECK(with(R"(,"uni":"\u00e9\ud83d\ude00")"));  // escapes, decoded
  CHECK(with(",\"uni\":\"\xC3\xA9\xC3\xA9\""));   // raw UTF-8
  CHECK(with(R"(,"uni":null,"pick":"ab")"));
  CHECK(with(R"(,"pick":3)"));
  CHECK_FALSE(with(R"(,"pick":"cd")"));  // (filtered out of the enum)
  CHECK_FALSE(with(R"(,"uni":"e")"));
  CHECK_FALSE(with(R"(,"uni":"\u00e9\ud83d\ude01")"));
  CHECK_FALSE(accepts(*s, R"({"date":"2024-1-31","code":"AB","has":"ab"})"));
  CHECK_FALSE(accepts(*s, R"({"date":"2024-01-31","code":"Ab","has":"ab"})"));
  CHECK_FALSE(accepts(*s, R"({"date":"2024-01-31","code":"AB","has":"ba"})"));
  // A prefix that leads nowhere is refused at once: the fifth character of
  // a date must be '-'.
  SchemaState st(s.get());
  CHECK(feed_all(st, R"({"date":"20245)") == 13);
  // Beside one of minLength / maxLength: held to both, never stuck (a
  // character is taken only while a match still fits). Beside both:
  // refused; relaxed (tools), the lengths win.
  const auto lengths = compile(R"({"type":"object","properties":{
      "a":{"type":"string","pattern":"^a+$","maxLength":3},
      "b":{"type":"string","pattern":"^(ab)+$","minLength":3}}})");
  CHECK(accepts(*lengths, R"({"a":"aaa","b":"abab"})"));
  CHECK_FALSE(accepts(*lengths, R"({"a":"aaaa"})"));
  CHECK_FALSE(accepts(*lengths, R"({"b":"ab"})"));
  CHECK_THAT(compile_error(R"({"type":"object","properties":{"a":{"type":"string",
                             "pattern":"a","minLength":1,"maxLength":3}}})"),
             Catch::Contains("beside both \"minLength\" and \"maxLength\""));
  CHECK_THAT(compile_error(R"({"type":"object","properties":{"a":{"type":"string",
                             "pattern":"^\\d{4}$","maxLength":3}}})"),
             Catch::Contains("matches no string of the length"));
  const json bounded = json::parse(R"({"type":"object","properties":{
      "c":{"type":"string","pattern":"^[a-c]*d$","maxLength":4},
      "e":{"type":"string","pattern":"^(true|e)+$","minLength":6}},"required":["c","e"]})");
  std::mt19937 walk_rng(29);
  CHECK(random_walks(*compile(bounded.dump()), bounded, walk_rng, 200, 1000) > 100);
  CHECK_THAT(compile_error(R"x({"type":"object","properties":{"a":{"type":"string",
                             "pattern":"(?=a)"}}})x"),
             Catch::Contains("\"pattern\" has lookaround assertions"));
  const auto relaxed = JsonSchema::compile(
      R"x({"type":"object","properties":{"a":{"type":"string","pattern":"(?=a)"}}})x", true);
  CHECK(accepts(*relaxed, R"({"a":"b"})"));
  // Random walks end valid under the reference (std::regex on ASCII), with
  // patterns a walk biased to JSON's structural bytes can finish.
  const json schema = json::parse(R"({"type":"object","properties":{
      "d":{"type":"string","pattern":"^\\d{2}-[0-9]$"},
      "e":{"type":"string","pattern":"^(true|n?u?ll)+\\.?$"},
      "f":{"type":"array","items":{"type":"string","pattern":"^[^a-z\\d]?[ef]*$"}},
      "u":{"type":"string","pattern":"^.?\u00e9?$"}},
    "required":["d","e","f","u"]})");
  std::mt19937 rng(23);
  CHECK(random_walks(*compile(schema.dump()), schema, rng, 300, 1000) > 150);
  // The vocabulary walk inside patterned strings, against a token-by-token check.
  auto vocab = std::make_shared<const JsonVocab>(tok512(), 512);
  for (const std::string& prefix :
       {std::string("{\"date\":\""), std::string("{\"date\":\"2024-0"),
        std::string("{\"date\":\"2024-01-31\",\"code\":\"A"),
        std::string("{\"date\":\"2024-01-31\",\"code\":\"AB\",\"has\":\"x")}) {
    SchemaConstraint c(vocab, s);
    CHECK(!check_allowed_is_accepted(c, prefix, /*rounds=*/2).empty());
  }
}

TEST_CASE("Pattern: the formats radiald holds", "[json]") {
  const std::vector<std::tuple<const char*, std::vector<const char*>, std::vector<const char*>>>
      formats = {
          {"date", {"2024-02-29", "1999-12-31"}, {"2024-13-01", "2024-1-01", "24-01-01"}},
          {"time", {"23:59:60Z", "08:30:00.125+05:30", "00:00:00z"}, {"24:00:00Z", "08:30:00"}},
          {"date-time",
           {"2024-02-29T08:30:00Z", "2024-02-29t08:30:00.5-01:00"},
           {"2024-02-29 08:30:00Z", "2024-02-29T08:30Z"}},
          {"uuid", {"123e4567-e89b-12d3-a456-426614174000"}, {"123e4567e89b12d3a456426614174000"}},
          {"ipv4",
           {"192.168.0.1", "255.255.255.255", "0.0.0.0"},
           {"256.1.1.1", "1.2.3", "01.2.3.4"}},
          {"email", {"a.b+c@example.com", "x@y.co"}, {"a@b", "@example.com", "a..b@example.com"}},
      };
  for (const auto& [name, good, bad] : formats) {
    INFO(name);
    const char* text = format_pattern(name);
    REQUIRE(text != nullptr);
    const auto p = pattern(text);
    for (const char* s : good) CHECK(p->matches(s));
    for (const char* s : bad) CHECK_FALSE(p->matches(s));
  }
  CHECK(format_pattern("hostname") == nullptr);  // (an annotation)
  // In a schema: held where no pattern and not both lengths are given.
  const auto s = compile(R"({"type":"object","properties":{
      "d":{"type":"string","format":"date"},
      "free":{"type":"string","format":"date","minLength":1,"maxLength":20},
      "other":{"type":"string","format":"hostname"}}})");
  CHECK(accepts(*s, R"({"d":"2024-02-29"})"));
  CHECK_FALSE(accepts(*s, R"({"d":"tomorrow"})"));
  CHECK(accepts(*s, R"({"free":"tomorrow","other":"-"})"));
}
