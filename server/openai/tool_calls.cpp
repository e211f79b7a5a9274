#include "server/openai/tool_calls.h"

#include <algorithm>
#include <cstdio>
#include <random>

#include "engine/error.h"
#include "scheduler/json_schema.h"
#include "server/openai/api_error.h"

namespace radial::server::openai {

namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kHermesOpen = "<tool_call>";
constexpr const char* kHermesClose = "</tool_call>";
constexpr size_t kMaxTools = 128;

bool valid_name(const std::string& n) {  // OpenAI: [a-zA-Z0-9_-]{1,64}
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

std::string call_id() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[32];
  std::snprintf(buf, sizeof buf, "call_%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

// The key a format's call object holds the arguments under.
const char* arguments_key(ToolFormat f) {
  return f == ToolFormat::kLlama3Json ? "parameters" : "arguments";
}

// Every string-valued "$ref" "#<ptr>" under `v` becomes "#<prefix><ptr>"
// (the schema moves to `prefix` inside a larger document).
void move_refs(Json* v, const std::string& prefix) {
  if (v->is_object()) {
    for (auto& [key, value] : v->items()) {
      if (key == "$ref" && value.is_string()) {
        const std::string r = value.get<std::string>();
        if (!r.empty() && r[0] == '#') value = "#" + prefix + r.substr(1);
      } else {
        move_refs(&value, prefix);
      }
    }
  } else if (v->is_array()) {
    for (Json& e : *v) move_refs(&e, prefix);
  }
}

// One call object {"name": ..., "arguments": {...}} (or "parameters") of
// the request's tools, as a ToolCall; nullopt otherwise.
std::optional<ToolCall> call_of(const Json& v, const ToolRequest& t) {
  if (!v.is_object() || !v.contains("name") || !v["name"].is_string()) return std::nullopt;
  const std::string name = v["name"].get<std::string>();
  if (std::find(t.names.begin(), t.names.end(), name) == t.names.end()) return std::nullopt;
  const Json* args = nullptr;
  for (const char* key : {"arguments", "parameters"})
    if (v.contains(key)) args = &v[key];
  ToolCall c{call_id(), name, "{}"};
  if (args != nullptr) {
    if (args->is_string()) {  // (some models write the arguments as JSON text)
      const Json parsed = Json::parse(args->get<std::string>(), nullptr, false);
      if (!parsed.is_object()) return std::nullopt;
      c.arguments = parsed.dump();
    } else if (args->is_object()) {
      c.arguments = args->dump();
    } else {
      return std::nullopt;
    }
  }
  return c;
}

std::optional<Json> parse_json(const std::string& s) {
  Json v = Json::parse(s, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded()) return std::nullopt;
  return v;
}

// Hermes: <tool_call>{...}</tool_call> blocks after the content.
std::optional<ToolReply> read_hermes(const std::string& text, const ToolRequest& t) {
  const size_t first = text.find(kHermesOpen);
  if (first == std::string::npos) return std::nullopt;
  ToolReply r;
  // The text before the calls as written (what streaming sent), null when blank.
  if (!trim(text.substr(0, first)).empty()) r.content = text.substr(0, first);
  size_t at = first;
  while (at != std::string::npos) {
    const size_t body = at + std::string(kHermesOpen).size();
    size_t end = text.find(kHermesClose, body);
    const std::string inner = text.substr(body, end == std::string::npos ? end : end - body);
    const auto v = parse_json(trim(inner));
    if (!v) return std::nullopt;
    auto c = call_of(*v, t);
    if (!c) return std::nullopt;
    r.calls.push_back(std::move(*c));
    if (end == std::string::npos) break;  // (a reply that ended inside its last block)
    end += std::string(kHermesClose).size();
    at = text.find(kHermesOpen, end);
    if (at == std::string::npos && !trim(text.substr(end)).empty()) return std::nullopt;
    if (at != std::string::npos && !trim(text.substr(end, at - end)).empty()) return std::nullopt;
  }
  return r;
}

// Llama 3: the whole reply is a call object, or several separated by ";".
std::optional<ToolReply> read_llama3(const std::string& text, const ToolRequest& t) {
  std::string s = trim(text);
  if (s.rfind("<|python_tag|>", 0) == 0) s = trim(s.substr(14));
  if (s.empty() || s[0] != '{') return std::nullopt;
  ToolReply r;
  if (auto whole = parse_json(s)) {
    auto c = call_of(*whole, t);
    if (!c) return std::nullopt;
    r.calls.push_back(std::move(*c));
    return r;
  }
  // "{...}; {...}": split at the ';'s outside strings and brackets (one
  // pass, so a long reply costs linear time), each part one call.
  std::vector<std::string> parts(1);
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char ch : s) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (ch == '\\') {
        escaped = true;
      } else if (ch == '"') {
        in_string = false;
      }
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '{' || ch == '[') {
      ++depth;
    } else if (ch == '}' || ch == ']') {
      --depth;
    } else if (ch == ';' && depth == 0) {
      parts.emplace_back();
      continue;
    }
    parts.back() += ch;
  }
  if (parts.size() < 2) return std::nullopt;
  for (const std::string& part : parts) {
    const auto v = parse_json(trim(part));
    if (!v) return std::nullopt;
    auto c = call_of(*v, t);
    if (!c) return std::nullopt;
    r.calls.push_back(std::move(*c));
  }
  return r;
}

}  // namespace

ToolFormat tool_format_of(const std::string& tpl) {
  if (tpl.find(kHermesOpen) != std::string::npos) return ToolFormat::kHermes;
  if (tpl.find("<|python_tag|>") != std::string::npos ||
      tpl.find("\"parameters\": dictionary of argument name") != std::string::npos)
    return ToolFormat::kLlama3Json;
  return ToolFormat::kNone;
}

const char* tool_format_name(ToolFormat f) {
  switch (f) {
    case ToolFormat::kHermes:
      return "hermes";
    case ToolFormat::kLlama3Json:
      return "llama3_json";
    case ToolFormat::kNone:
      break;
  }
  return "none";
}

ToolRequest parse_tools(const Json& body, ToolFormat format) {
  ToolRequest t;
  t.format = format;
  const auto tools = body.find("tools");
  const bool any =
      tools != body.end() && !tools->is_null() && !(tools->is_array() && tools->empty());
  if (any) {
    if (!tools->is_array()) throw bad_request("tools", "tools must be a list of function tools");
    if (tools->size() > kMaxTools)
      throw bad_request("tools", "more than " + std::to_string(kMaxTools) + " tools");
    for (size_t i = 0; i < tools->size(); ++i) {
      const Json& tool = (*tools)[i];
      const std::string at = "tools[" + std::to_string(i) + "]";
      if (!tool.is_object() || tool.value("type", std::string()) != "function")
        throw bad_request(at + ".type", at + ": only {\"type\": \"function\"} tools are supported");
      const auto fn = tool.find("function");
      if (fn == tool.end() || !fn->is_object())
        throw bad_request(at + ".function", at + ".function must be an object");
      const auto name = fn->find("name");
      if (name == fn->end() || !name->is_string() || !valid_name(name->get<std::string>()))
        throw bad_request(at + ".function.name",
                          at + ".function.name must be 1 to 64 letters, digits, '_' or '-'");
      const std::string n = name->get<std::string>();
      if (std::find(t.names.begin(), t.names.end(), n) != t.names.end())
        throw bad_request(at + ".function.name", "two tools are named '" + n + "'");
      // No parameters: the call's arguments are {}.
      Json params = Json(
          {{"type", "object"}, {"properties", Json::object()}, {"additionalProperties", false}});
      if (const auto p = fn->find("parameters"); p != fn->end() && !p->is_null()) {
        if (!p->is_object())
          throw bad_request(at + ".function.parameters",
                            at + ".function.parameters must be a JSON Schema object");
        params = *p;
      }
      // A strict tool's schema is held to exactly (what cannot be is refused).
      const auto strict = fn->find("strict");
      try {
        JsonSchema::compile(params.dump(), /*relaxed=*/!(strict != fn->end() && *strict == true));
      } catch (const Error& e) {
        throw bad_request(at + ".function.parameters", at + ".function.parameters: " + e.what());
      }
      t.names.push_back(n);
      t.parameters.push_back(std::move(params));
    }
    t.tools = *tools;
  }
  const auto choice = body.find("tool_choice");
  if (choice == body.end() || choice->is_null()) {
    t.choice = any ? ToolRequest::Choice::kAuto : ToolRequest::Choice::kNone;
  } else if (choice->is_string()) {
    const std::string c = choice->get<std::string>();
    if (c == "none") {
      t.choice = ToolRequest::Choice::kNone;
    } else if (c == "auto") {
      t.choice = any ? ToolRequest::Choice::kAuto : ToolRequest::Choice::kNone;
    } else if (c == "required") {
      t.choice = ToolRequest::Choice::kRequired;
    } else {
      throw bad_request("tool_choice",
                        "tool_choice must be \"none\", \"auto\", \"required\" or a function");
    }
  } else if (choice->is_object() && choice->value("type", std::string()) == "function" &&
             choice->contains("function") && (*choice)["function"].is_object() &&
             (*choice)["function"].contains("name") && (*choice)["function"]["name"].is_string()) {
    t.choice = ToolRequest::Choice::kNamed;
    t.named = (*choice)["function"]["name"].get<std::string>();
    if (std::find(t.names.begin(), t.names.end(), t.named) == t.names.end())
      throw bad_request("tool_choice",
                        "tool_choice names '" + t.named + "', which is not in tools");
  } else {
    throw bad_request("tool_choice",
                      "tool_choice must be \"none\", \"auto\", \"required\" or "
                      "{\"type\": \"function\", \"function\": {\"name\": ...}}");
  }
  if (t.forced() && !any) throw bad_request("tool_choice", "tool_choice needs tools");
  return t;
}

std::string forced_call_schema(const ToolRequest& t) {
  // Each tool's parameters go to $defs/tool<i> (their own $refs moved with
  // them); the call object names the tool by const.
  Json doc = Json::object();
  Json defs = Json::object(), calls = Json::array();
  const char* key = arguments_key(t.format);
  for (size_t i = 0; i < t.names.size(); ++i) {
    if (t.choice == ToolRequest::Choice::kNamed && t.names[i] != t.named) continue;
    const std::string def = "tool" + std::to_string(i);
    Json params = t.parameters[i];
    move_refs(&params, "/$defs/" + def);
    defs[def] = std::move(params);
    calls.push_back(
        {{"type", "object"},
         {"properties", {{"name", {{"const", t.names[i]}}}, {key, {{"$ref", "#/$defs/" + def}}}}},
         {"required", {"name", key}},
         {"additionalProperties", false}});
  }
  if (calls.size() == 1) {
    doc = calls[0];
  } else {
    doc["anyOf"] = calls;
  }
  doc["$defs"] = defs;
  return doc.dump();
}

std::optional<ToolReply> read_tool_calls(const std::string& text, const ToolRequest& t) {
  if (!t.reads_calls()) return std::nullopt;
  if (t.forced()) {
    const auto v = parse_json(trim(text));
    if (!v) return std::nullopt;
    auto c = call_of(*v, t);
    if (!c) return std::nullopt;
    ToolReply r;
    r.calls.push_back(std::move(*c));
    return r;
  }
  return t.format == ToolFormat::kHermes ? read_hermes(text, t) : read_llama3(text, t);
}

size_t streamable_content(const std::string& text, const ToolRequest& t, size_t from) {
  if (!t.reads_calls()) return text.size();
  if (t.forced()) return 0;
  if (t.format == ToolFormat::kLlama3Json) {
    // A reply that starts with '{' (or is blank so far) may be a call.
    const size_t a = text.find_first_not_of(" \t\r\n");
    return a == std::string::npos || text[a] == '{' ? 0 : text.size();
  }
  const std::string open = kHermesOpen;
  const size_t at = text.find(open, std::min(from, text.size()));
  if (at != std::string::npos) return at;
  // Hold back a tail that may be the start of "<tool_call>".
  for (size_t k = std::min(open.size() - 1, text.size()); k > 0; --k)
    if (text.compare(text.size() - k, k, open, 0, k) == 0) return text.size() - k;
  return text.size();
}

void arguments_as_objects(Json* messages) {
  for (Json& m : *messages) {
    if (!m.is_object() || !m.contains("tool_calls") || !m["tool_calls"].is_array()) continue;
    for (Json& call : m["tool_calls"]) {
      if (!call.is_object() || !call.contains("function") || !call["function"].is_object())
        continue;
      Json& fn = call["function"];
      if (fn.contains("arguments") && fn["arguments"].is_string()) {
        Json parsed = Json::parse(fn["arguments"].get<std::string>(), nullptr, false);
        if (parsed.is_object()) fn["arguments"] = std::move(parsed);
      }
    }
  }
}

}  // namespace radial::server::openai
