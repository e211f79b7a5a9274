// OpenAI tool calls for chat, transport-free: the request's `tools` and
// `tool_choice`, how the model writes a call, and reading calls back out of
// its reply.
//
// - The tools go to the chat template (its `tools` variable), which tells
//   the model about them in the model's own way.
// - tool_choice "required" or a named function: the reply is held (JSON
//   Schema mode, relaxed: scheduler/json_schema.h) to one call object,
//   {"name": <a tool's name>, "arguments": <its parameters>} ("parameters"
//   for Llama 3's format), and is always returned as a tool call.
// - tool_choice "auto" (the default with tools): the model writes freely;
//   calls it writes in its chat template's format are read back: Hermes'
//   <tool_call>{...}</tool_call> blocks (Qwen2.5, Qwen3, Hermes) or Llama
//   3.1 / 3.2's bare JSON object(s) {"name": ..., "parameters": {...}}. A
//   model whose template shows neither format gets its reply as content.
// - "none": the tools are shown, nothing is read back.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace radial::server::openai {

// How a model writes tool calls (from its chat template).
enum class ToolFormat { kNone, kHermes, kLlama3Json };
ToolFormat tool_format_of(const std::string& chat_template);
const char* tool_format_name(ToolFormat f);

struct ToolRequest {
  enum class Choice { kNone, kAuto, kRequired, kNamed };
  Choice choice = Choice::kNone;
  nlohmann::ordered_json tools = nullptr;          // as sent (null: none), for the template
  std::vector<std::string> names;                  // the functions' names, in order
  std::vector<nlohmann::ordered_json> parameters;  // their parameters' schemas
  std::string named;                               // kNamed: the function
  ToolFormat format = ToolFormat::kNone;
  // Calls are read back from the reply (auto with a known format, or forced).
  bool reads_calls() const {
    return forced() || (choice == Choice::kAuto && format != ToolFormat::kNone);
  }
  bool forced() const { return choice == Choice::kRequired || choice == Choice::kNamed; }
};

// `tools` and `tool_choice` of a chat body; ApiError 400 naming the field.
// Strict tools' parameters must compile as JSON Schema mode's schemas.
ToolRequest parse_tools(const nlohmann::ordered_json& body, ToolFormat format);

// The JSON Schema a forced reply is held to (one call object).
std::string forced_call_schema(const ToolRequest& t);

struct ToolCall {
  std::string id;  // "call_..."
  std::string name;
  std::string arguments;  // JSON text of an object
};
struct ToolReply {
  std::optional<std::string> content;  // the text before the calls (blank: null)
  std::vector<ToolCall> calls;
};

// The calls in a finished reply; nullopt when it holds none (then the whole
// text is content). Only calls to the request's tools count.
std::optional<ToolReply> read_tool_calls(const std::string& text, const ToolRequest& t);

// Streaming: how many bytes of `text` (the reply so far) may go out as
// content now: everything without tools to read; none for a forced call;
// the text before a call's start, holding back what may begin one. `from`:
// bytes already let out (no call starts before them: the search resumes
// there, so a long stream is scanned once).
size_t streamable_content(const std::string& text, const ToolRequest& t, size_t from = 0);

// Chat messages as the templates want them: an assistant's
// tool_calls[].function.arguments, sent as JSON text, become objects.
void arguments_as_objects(nlohmann::ordered_json* messages);

}  // namespace radial::server::openai
