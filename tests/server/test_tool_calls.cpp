// OpenAI tool calls (server/openai/tool_calls.h): the format a chat
// template shows, the forced call's schema (which JSON Schema mode must
// take, and whose texts must read back as calls), reading calls out of
// Hermes and Llama 3 replies, what may stream as content, and the
// arguments of earlier calls as the templates want them.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "scheduler/json_schema.h"
#include "scheduler/schema_state.h"
#include "server/openai/api_error.h"
#include "server/openai/tool_calls.h"
#include "tests/unit/npm_data.h"
#include "tests/unit/test_util.h"

using namespace radial;
using namespace radial::server::openai;
using Json = nlohmann::ordered_json;

namespace {

const char* kTools = R"({"tools": [
  {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
   "parameters": {"type": "object", "properties": {"city": {"type": "string", "not": {"const": "x"}},
                  "days": {"type": "integer", "minimum": 1}}, "required": ["city"]}}},
  {"type": "function", "function": {"name": "add", "parameters": {"$defs": {"n": {"type": "number"}},
   "type": "object", "properties": {"a": {"$ref": "#/$defs/n"}, "b": {"$ref": "#/$defs/n"}},
   "required": ["a", "b"], "additionalProperties": false}}},
  {"type": "function", "function": {"name": "now"}}]})";

ToolRequest tools(const std::string& choice, ToolFormat f) {
  Json body = Json::parse(kTools);
  if (!choice.empty()) body["tool_choice"] = Json::parse(choice);
  return parse_tools(body, f);
}

bool schema_takes(const std::string& schema, const std::string& text) {
  const auto s = JsonSchema::compile(schema, /*relaxed=*/true);
  SchemaState st(s.get());
  for (char c : text)
    if (!st.feed(static_cast<uint8_t>(c))) return false;
  return st.done();
}

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("tool calls: the format comes from the chat template", "[tools]") {
  const auto tpl = [&](const char* name) {
    const Json cfg =
        Json::parse(file_text(test::npm_tokenizer_dir(name) + "/tokenizer_config.json"));
    return cfg.value("chat_template", std::string());
  };
  CHECK(tool_format_of(tpl("qwen3")) == ToolFormat::kHermes);
  CHECK(tool_format_of(tpl("llama2")) == ToolFormat::kNone);
  CHECK(tool_format_of(tpl("llama3_1")) == ToolFormat::kNone);  // (this package's has no tools)
  CHECK(tool_format_of(file_text(test::data_path("chat_templates/llama3_2_tools.jinja"))) ==
        ToolFormat::kLlama3Json);
}

TEST_CASE("tool calls: tool_choice", "[tools]") {
  CHECK(tools("", ToolFormat::kHermes).choice == ToolRequest::Choice::kAuto);
  CHECK(tools("\"none\"", ToolFormat::kHermes).choice == ToolRequest::Choice::kNone);
  CHECK_FALSE(tools("\"none\"", ToolFormat::kHermes).reads_calls());
  CHECK_FALSE(tools("\"auto\"", ToolFormat::kNone).reads_calls());  // no format: content
  CHECK(tools("\"required\"", ToolFormat::kNone).reads_calls());
  const ToolRequest named =
      tools(R"({"type": "function", "function": {"name": "add"}})", ToolFormat::kHermes);
  CHECK(named.choice == ToolRequest::Choice::kNamed);
  CHECK(named.named == "add");
  CHECK(named.names == std::vector<std::string>{"get_weather", "add", "now"});
  // A tool without parameters takes an empty object.
  CHECK(named.parameters[2] ==
        Json::parse(R"({"type": "object", "properties": {}, "additionalProperties": false})"));
  // Without tools: none, and auto is none too.
  CHECK(parse_tools(Json::parse(R"({"tool_choice": "auto"})"), ToolFormat::kHermes).choice ==
        ToolRequest::Choice::kNone);
}

TEST_CASE("tool calls: the forced call's schema holds the reply to one call", "[tools]") {
  // Named: only that function, its $refs moved with its parameters.
  const ToolRequest named =
      tools(R"({"type": "function", "function": {"name": "add"}})", ToolFormat::kHermes);
  const std::string one = forced_call_schema(named);
  CHECK(schema_takes(one, R"({"name":"add","arguments":{"a":1,"b":2.5}})"));
  CHECK_FALSE(schema_takes(one, R"({"name":"add","arguments":{"a":"1","b":2}})"));
  CHECK_FALSE(schema_takes(one, R"({"name":"now","arguments":{}})"));
  // Required: any of them; Llama 3's key is "parameters". The skipped
  // "not" is not held (relaxed), the rest is, minimum included.
  const ToolRequest req = tools("\"required\"", ToolFormat::kLlama3Json);
  const std::string any = forced_call_schema(req);
  CHECK(schema_takes(any, R"({"name":"get_weather","parameters":{"city":"x","days":1}})"));
  CHECK_FALSE(
      schema_takes(any, R"({"name":"get_weather","parameters":{"city":"Paris","days":0}})"));
  CHECK(schema_takes(any, R"({"name":"now","parameters":{}})"));
  CHECK(schema_takes(any, R"({"name":"add","parameters":{"a":1,"b":2}})"));
  CHECK_FALSE(schema_takes(any, R"({"name":"get_weather","parameters":{"days":2}})"));
  CHECK_FALSE(schema_takes(any, R"({"name":"add","arguments":{"a":1,"b":2}})"));
  // What it takes reads back as the call.
  const auto r = read_tool_calls(R"({"name":"add","parameters":{"a":1,"b":2}})", req);
  REQUIRE(r);
  CHECK_FALSE(r->content);
  REQUIRE(r->calls.size() == 1);
  CHECK(r->calls[0].name == "add");
  CHECK(Json::parse(r->calls[0].arguments) == Json::parse(R"({"a":1,"b":2})"));
  CHECK(r->calls[0].id.rfind("call_", 0) == 0);
}

TEST_CASE("tool calls: read from Hermes and Llama 3 replies", "[tools]") {
  const ToolRequest hermes = tools("", ToolFormat::kHermes);
  auto r = read_tool_calls(
      "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
      "\"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"now\", \"arguments\": "
      "{}}\n</tool_call>",
      hermes);
  REQUIRE(r);
  CHECK(r->content == std::optional<std::string>("Let me check.\n"));  // as streamed
  REQUIRE(r->calls.size() == 2);
  CHECK(r->calls[0].name == "get_weather");
  CHECK(r->calls[0].arguments == R"({"city":"Paris"})");
  CHECK(r->calls[1].name == "now");
  CHECK(r->calls[0].id != r->calls[1].id);
  // Not calls: an unknown tool, broken JSON, text after a block, no block.
  CHECK_FALSE(
      read_tool_calls("<tool_call>{\"name\": \"rm\", \"arguments\": {}}</tool_call>", hermes));
  CHECK_FALSE(read_tool_calls("<tool_call>{\"name\": \"now\", </tool_call>", hermes));
  CHECK_FALSE(read_tool_calls("<tool_call>{\"name\": \"now\"}</tool_call> and more", hermes));
  CHECK_FALSE(read_tool_calls("It is sunny.", hermes));
  // A reply that ended inside its block (EOS right after the JSON).
  CHECK(read_tool_calls("<tool_call>{\"name\": \"now\", \"arguments\": {}}", hermes));

  const ToolRequest llama = tools("", ToolFormat::kLlama3Json);
  r = read_tool_calls(R"( {"name": "add", "parameters": {"a": 1, "b": 2}} )", llama);
  REQUIRE(r);
  REQUIRE(r->calls.size() == 1);
  CHECK(r->calls[0].arguments == R"({"a":1,"b":2})");
  r = read_tool_calls(
      R"({"name": "now", "parameters": {}}; {"name": "get_weather", "parameters": {"city": "a;b"}})",
      llama);
  REQUIRE(r);
  REQUIRE(r->calls.size() == 2);
  CHECK(r->calls[1].arguments == R"({"city":"a;b"})");
  // Quotes, escapes and brackets inside strings do not split.
  r = read_tool_calls(
      R"({"name": "get_weather", "parameters": {"city": "\";}{"}}; {"name": "now", "parameters": {}})",
      llama);
  REQUIRE(r);
  REQUIRE(r->calls.size() == 2);
  CHECK(Json::parse(r->calls[0].arguments)["city"] == "\";}{");
  // A long reply with many ';' in a string is read in one pass (no calls here).
  CHECK_FALSE(read_tool_calls("{\"name\": \"now\", \"x\": \"" + std::string(200000, ';'), llama));
  // Arguments written as JSON text are read as the object.
  r = read_tool_calls(R"({"name": "add", "arguments": "{\"a\": 1, \"b\": 2}"})", llama);
  REQUIRE(r);
  CHECK(r->calls[0].arguments == R"({"a":1,"b":2})");
  CHECK_FALSE(read_tool_calls(R"({"answer": 42})", llama));
  CHECK_FALSE(read_tool_calls("The answer is 42.", llama));
  // tool_choice none reads nothing.
  CHECK_FALSE(read_tool_calls(R"({"name": "now", "parameters": {}})",
                              tools("\"none\"", ToolFormat::kLlama3Json)));
}

TEST_CASE("tool calls: what streams as content", "[tools]") {
  const ToolRequest hermes = tools("", ToolFormat::kHermes);
  CHECK(streamable_content("Hello", hermes) == 5);
  CHECK(streamable_content("Hello <tool", hermes) == 6);  // may begin a call
  CHECK(streamable_content("Hello <b>", hermes) == 9);
  CHECK(streamable_content("Hi <tool_call>{\"na", hermes) == 3);
  CHECK(streamable_content("Hi <tool_call>{\"na", hermes, 3) == 3);  // (resuming where it stopped)
  const ToolRequest llama = tools("", ToolFormat::kLlama3Json);
  CHECK(streamable_content("  ", llama) == 0);
  CHECK(streamable_content(" {\"name\"", llama) == 0);
  CHECK(streamable_content("Sure", llama) == 4);
  CHECK(streamable_content("{\"name\"", tools("\"none\"", ToolFormat::kLlama3Json)) == 7);
  CHECK(streamable_content("anything", tools("\"required\"", ToolFormat::kHermes)) == 0);
}

TEST_CASE("tool calls: earlier calls' arguments become objects for the template", "[tools]") {
  Json m = Json::parse(R"([{"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": "{\"a\": 1}"}},
      {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": "not json"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "3"}])");
  arguments_as_objects(&m);
  CHECK(m[0]["tool_calls"][0]["function"]["arguments"] == Json::parse(R"({"a": 1})"));
  CHECK(m[0]["tool_calls"][1]["function"]["arguments"] == "not json");  // left as sent
}
