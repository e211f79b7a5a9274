#include "server/openai/request_parse.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <random>

#include "engine/router.h"
#include "engine/tokenizer/utf8.h"

namespace radial::server::openai {
namespace {

using Json = nlohmann::ordered_json;

constexpr int kMaxDepth = 64;
constexpr int kMaxChoices = 16;
constexpr int kMaxPrompts = 64;

// Typed reads of optional fields: absent or null means "not given".
const Json* field(const Json& body, const char* key) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<double> number(const Json& body, const char* key, double lo, double hi) {
  const Json* v = field(body, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) throw bad_request(key, std::string(key) + " must be a number");
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    throw bad_request(key, std::string(key) + " must be in [" + std::to_string(lo) + ", " +
                               std::to_string(hi) + "]");
  return x;
}

std::optional<long long> integer(const Json& body, const char* key, long long lo, long long hi) {
  const Json* v = field(body, key);
  if (!v) return std::nullopt;
  // JSON numbers like 5.0 are integers to OpenAI's Python server too.
  if (!v->is_number() || (v->is_number_float() && std::trunc(v->get<double>()) != v->get<double>()))
    throw bad_request(key, std::string(key) + " must be an integer");
  const double x = v->get<double>();
  if (x < static_cast<double>(lo) || x > static_cast<double>(hi))
    throw bad_request(key, std::string(key) + " must be in [" + std::to_string(lo) + ", " +
                               std::to_string(hi) + "]");
  return static_cast<long long>(x);
}

std::optional<bool> boolean(const Json& body, const char* key) {
  const Json* v = field(body, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) throw bad_request(key, std::string(key) + " must be true or false");
  return v->get<bool>();
}

std::optional<std::string> string(const Json& body, const char* key) {
  const Json* v = field(body, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw bad_request(key, std::string(key) + " must be a string");
  return v->get<std::string>();
}

[[noreturn]] void unsupported(const std::string& key, const std::string& why) {
  throw bad_request(key, key + " is not supported by radiald: " + why);
}

// `logit_bias`: an object from token ids (decimal strings, as JSON keys
// must be) in [0, vocab_size) to biases in [-100, 100], sorted by id.
std::vector<LogitBias> logit_biases(const Json& body, int vocab_size) {
  const Json* v = field(body, "logit_bias");
  if (!v) return {};
  if (!v->is_object())
    throw bad_request("logit_bias", "logit_bias must be an object from token ids to biases");
  std::vector<LogitBias> out;
  for (const auto& [key, bias] : v->items()) {
    const bool digits =
        !key.empty() && key.size() <= 9 &&
        std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits)
      throw bad_request("logit_bias", "logit_bias key \"" + key.substr(0, 32) +
                                          "\" must be a token id (a non-negative integer)");
    if (!bias.is_number() || !std::isfinite(bias.get<double>()) || bias.get<double>() < -100 ||
        bias.get<double>() > 100)
      throw bad_request("logit_bias",
                        "logit_bias[\"" + key + "\"] must be a number in [-100, 100]");
    const int token = std::stoi(key);
    if (token >= vocab_size)
      throw bad_request("logit_bias", "logit_bias token id " + std::to_string(token) +
                                          " is outside the vocabulary [0, " +
                                          std::to_string(vocab_size) + ")");
    out.push_back({token, static_cast<float>(bias.get<double>())});
  }
  // (Keys are unique strings, but "7" and "07" name one token.)
  std::sort(out.begin(), out.end(),
            [](const LogitBias& a, const LogitBias& b) { return a.token < b.token; });
  for (size_t i = 1; i < out.size(); ++i)
    if (out[i].token == out[i - 1].token)
      throw bad_request("logit_bias",
                        "logit_bias names token " + std::to_string(out[i].token) + " twice");
  return out;
}

// response_format: {"type": "text"} (or none): nothing; {"type":
// "json_object"}: JSON mode; {"type": "json_schema", "json_schema": {"name":
// ..., "schema": {...}, "strict": ...}}: JSON Schema mode (the schema is the
// serving core's to check: scheduler/json_schema.h).
void response_format(const Json& body, GenerateRequest* req) {
  const Json* v = field(body, "response_format");
  if (v == nullptr) return;
  const Json* type = v->is_object() ? field(*v, "type") : nullptr;
  if (type == nullptr || !type->is_string())
    throw bad_request("response_format", "response_format must be an object with a string type");
  const std::string t = type->get<std::string>();
  if (t == "text") return;
  if (t == "json_object") {
    req->json_object = true;
    return;
  }
  if (t != "json_schema")
    unsupported("response_format",
                "type \"" + t + "\" (only \"text\", \"json_object\" and \"json_schema\")");
  const Json* js = field(*v, "json_schema");
  if (js == nullptr || !js->is_object())
    throw bad_request("response_format",
                      "response_format json_schema needs a \"json_schema\" object");
  if (const Json* name = field(*js, "name"); name != nullptr && !name->is_string())
    throw bad_request("response_format", "response_format json_schema.name must be a string");
  if (const Json* strict = field(*js, "strict");
      strict != nullptr && !strict->is_boolean() && !strict->is_null())
    throw bad_request("response_format", "response_format json_schema.strict must be a boolean");
  const Json* schema = field(*js, "schema");
  if (schema == nullptr || !schema->is_object())
    throw bad_request("response_format",
                      "response_format json_schema.schema must be a JSON Schema object");
  req->json_schema = schema->dump();
}

// Fields whose non-default values radiald does not implement.
void refuse_unsupported(const Json& body, Endpoint ep) {
  if (auto v = integer(body, "best_of", 1, 1 << 10); v && *v > 1)
    unsupported("best_of", "only 1 (ask for n choices instead)");
  if (ep == Endpoint::kCompletions) {
    if (field(body, "suffix")) unsupported("suffix", "no insertion");
  } else {
    if (const Json* v = field(body, "functions"); v && !(v->is_array() && v->empty()))
      unsupported("functions", "no function calls");
    if (auto v = boolean(body, "audio"); v && *v) unsupported("audio", "text only");
  }
}

std::vector<std::string> stops(const Json& body) {
  const Json* v = field(body, "stop");
  if (!v) return {};
  if (v->is_string()) return {v->get<std::string>()};
  if (!v->is_array()) throw bad_request("stop", "stop must be a string or a list of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string())
      throw bad_request("stop", "stop[" + std::to_string(i) + "] must be a string");
    out.push_back((*v)[i].get<std::string>());
  }
  return out;
}

// Completions' `prompt`: a string, a list of strings, a list of token ids,
// or a list of lists of token ids. Returns the prompts' token ids.
std::vector<std::vector<int>> completion_prompts(const Json& body, const EngineService& svc,
                                                 const std::function<bool()>& cancelled) {
  const Json* p = field(body, "prompt");
  if (!p) throw bad_request("prompt", "prompt is required");
  auto text = [&](const Json& s, const std::string& name) {
    try {
      return svc.tokenize(s.get<std::string>(), /*add_bos=*/true, cancelled);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kInvalidArgument) throw bad_request(name, name + ": " + e.what());
      throw;
    }
  };
  auto ids = [&](const Json& a, const std::string& name) {
    std::vector<int> out;
    for (size_t i = 0; i < a.size(); ++i) {
      const Json& x = a[i];
      if (!x.is_number_integer() || x.get<long long>() < 0 || x.get<long long>() > (1 << 30))
        throw bad_request(name, name + "[" + std::to_string(i) + "] must be a token id");
      out.push_back(static_cast<int>(x.get<long long>()));
    }
    return out;
  };
  if (p->is_string()) return {text(*p, "prompt")};
  if (!p->is_array() || p->empty())
    throw bad_request("prompt", "prompt must be a string, a list of strings or of token ids");
  if ((*p)[0].is_number()) return {ids(*p, "prompt")};
  if (p->size() > kMaxPrompts)
    throw bad_request("prompt", "at most " + std::to_string(kMaxPrompts) + " prompts at once");
  std::vector<std::vector<int>> out;
  for (size_t i = 0; i < p->size(); ++i) {
    const Json& e = (*p)[i];
    const std::string name = "prompt[" + std::to_string(i) + "]";
    if (e.is_string()) {
      out.push_back(text(e, name));
    } else if (e.is_array() && !e.empty()) {
      out.push_back(ids(e, name));
    } else {
      throw bad_request("prompt", name + " must be a string or a list of token ids");
    }
  }
  return out;
}

// Chat messages -> the template's messages (text parts joined by newlines).
Json template_messages(const Json& body) {
  const Json* m = field(body, "messages");
  if (!m || !m->is_array() || m->empty())
    throw bad_request("messages", "messages must be a non-empty list");
  Json out = Json::array();
  for (size_t i = 0; i < m->size(); ++i) {
    const Json& msg = (*m)[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!msg.is_object()) throw bad_request(at, at + " must be an object");
    const auto role = msg.find("role");
    if (role == msg.end() || !role->is_string())
      throw bad_request(at + ".role", at + ".role must be a string");
    const std::string r = role->get<std::string>();
    if (r != "system" && r != "user" && r != "assistant" && r != "developer" && r != "tool")
      throw bad_request(
          at + ".role",
          at + ".role must be system, developer, user, assistant or tool, got '" + r + "'");
    if (msg.contains("tool_calls") && !msg["tool_calls"].is_null() && !msg["tool_calls"].is_array())
      throw bad_request(at + ".tool_calls", at + ".tool_calls must be a list");
    Json copy = msg;
    const auto content = msg.find("content");
    if (content == msg.end() || content->is_null()) {
      copy["content"] = "";
    } else if (content->is_array()) {
      std::string joined;
      for (size_t j = 0; j < content->size(); ++j) {
        const Json& part = (*content)[j];
        const std::string pat = at + ".content[" + std::to_string(j) + "]";
        if (!part.is_object() || part.value("type", std::string()) != "text" ||
            !part.contains("text") || !part["text"].is_string())
          throw bad_request(pat + ".type", pat +
                                               ": only text parts ({\"type\": \"text\", "
                                               "\"text\": ...}) are supported");
        if (j) joined += "\n";
        joined += part["text"].get<std::string>();
      }
      copy["content"] = joined;
    } else if (!content->is_string()) {
      throw bad_request(at + ".content", at + ".content must be a string or a list of parts");
    }
    out.push_back(std::move(copy));
  }
  return out;
}

}  // namespace

std::vector<int> chat_prompt_tokens(const Json& body, const EngineService& svc,
                                    const std::function<bool()>& cancelled,
                                    const ToolRequest* tools) {
  Json messages = template_messages(body);
  arguments_as_objects(&messages);  // (an assistant's earlier calls, as templates read them)
  ChatRenderOptions o;
  // The tools go to the template whatever tool_choice says, as vLLM's do.
  o.tools = tools != nullptr ? tools->tools : parse_tools(body, ToolFormat::kNone).tools;
  if (auto g = boolean(body, "add_generation_prompt")) o.add_generation_prompt = *g;
  if (const Json* k = field(body, "chat_template_kwargs")) {
    if (!k->is_object())
      throw bad_request("chat_template_kwargs", "chat_template_kwargs must be an object");
    o.extra = *k;
  }
  std::string rendered;
  try {
    rendered = svc.render_chat(messages, o);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInvalidArgument) throw bad_request("messages", e.what());
    throw;
  }
  try {
    // The rendering holds its special tokens as text (BOS among them).
    return svc.tokenize(rendered, /*add_bos=*/false, cancelled);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInvalidArgument) throw bad_request("messages", e.what());
    throw;
  }
}

namespace {

// The key of the JSON member holding byte `at` of `body` (the nearest
// "name": before it), for naming a field whose text is not UTF-8.
std::string key_before(std::string_view body, size_t at) {
  size_t colon = body.rfind(':', at);
  while (colon != std::string_view::npos && colon > 0) {
    size_t end = colon;
    while (end > 0 && (body[end - 1] == ' ' || body[end - 1] == '\t')) --end;
    if (end > 0 && body[end - 1] == '"') {
      const size_t begin = body.rfind('"', end - 2);
      if (begin != std::string_view::npos)
        return std::string(body.substr(begin + 1, end - 2 - begin));
    }
    if (colon == 0) break;
    colon = body.rfind(':', colon - 1);
  }
  return "";
}

}  // namespace

nlohmann::ordered_json parse_json_body(std::string_view body) {
  // Text that is not UTF-8: a 400 naming the field, before the JSON parser
  // (whose message would not).
  for (size_t at = 0; at < body.size();) {
    if (static_cast<unsigned char>(body[at]) < 0x80) {
      ++at;
      continue;
    }
    const size_t n = utf8::sequence_length(body.substr(at));
    if (n == 0) {
      const std::string key = key_before(body, at);
      char buf[64];
      std::snprintf(buf, sizeof buf, "byte 0x%02x at offset %zu",
                    static_cast<unsigned char>(body[at]), at);
      throw bad_request(
          key, (key.empty() ? std::string("the body") : key) + " is not valid UTF-8 (" + buf + ")");
    }
    at += n;
  }
  Json j;
  try {
    j = Json::parse(body, [](int depth, Json::parse_event_t, Json&) {
      if (depth > kMaxDepth)
        throw bad_request("", "the JSON body nests deeper than " + std::to_string(kMaxDepth));
      return true;
    });
  } catch (const Json::exception& e) {
    throw bad_request("", std::string("the body is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw bad_request("", "the body must be a JSON object");
  return j;
}

ParsedRequest parse_request(Endpoint ep, const nlohmann::ordered_json& body,
                            const EngineService& svc, const std::string& served_model,
                            const std::function<bool()>& cancelled) {
  ParsedRequest out;
  out.endpoint = ep;
  out.model = string(body, "model").value_or("");
  if (!out.model.empty() && out.model != served_model)
    throw ApiError(
        404, "invalid_request_error",
        "the model '" + out.model + "' does not exist; this server serves '" + served_model + "'",
        "model", "model_not_found");
  refuse_unsupported(body, ep);
  out.stream = boolean(body, "stream").value_or(false);
  if (const Json* so = field(body, "stream_options")) {
    if (!so->is_object()) throw bad_request("stream_options", "stream_options must be an object");
    if (!out.stream)
      throw bad_request("stream_options", "stream_options is only allowed with stream: true");
    out.include_usage = boolean(*so, "include_usage").value_or(false);
  }
  out.n = static_cast<int>(integer(body, "n", 1, kMaxChoices).value_or(1));
  if (ep == Endpoint::kCompletions) {
    if (auto lp = integer(body, "logprobs", 0, 20)) {
      out.logprobs = true;
      out.top_logprobs = static_cast<int>(*lp);
    }
  } else {
    out.logprobs = boolean(body, "logprobs").value_or(false);
    if (auto t = integer(body, "top_logprobs", 0, 20)) {
      if (!out.logprobs) throw bad_request("top_logprobs", "top_logprobs needs logprobs: true");
      out.top_logprobs = static_cast<int>(*t);
    }
  }
  out.radial_path = boolean(body, "radial_path").value_or(false);
  if (ep == Endpoint::kCompletions) out.echo = boolean(body, "echo").value_or(false);
  if (out.echo && out.stream && out.logprobs)
    throw bad_request("echo",
                      "echo with logprobs needs stream: false (the prompt's "
                      "log-probabilities come with the whole response)");

  // The sampling and routing every choice shares.
  GenerateRequest base;
  base.sampling.temperature = static_cast<float>(number(body, "temperature", 0, 2).value_or(1.0));
  base.sampling.top_p = static_cast<float>(number(body, "top_p", 0, 1).value_or(1.0));
  if (base.sampling.top_p <= 0.f) throw bad_request("top_p", "top_p must be in (0, 1]");
  base.sampling.top_k = static_cast<int>(integer(body, "top_k", -1, 1 << 20).value_or(0));
  if (base.sampling.top_k < 0) base.sampling.top_k = 0;  // vLLM's -1: off
  base.sampling.repetition_penalty =
      static_cast<float>(number(body, "repetition_penalty", 0, 100).value_or(1.0));
  base.sampling.presence_penalty =
      static_cast<float>(number(body, "presence_penalty", -2, 2).value_or(0.0));
  base.sampling.frequency_penalty =
      static_cast<float>(number(body, "frequency_penalty", -2, 2).value_or(0.0));
  base.sampling.logit_bias = logit_biases(body, svc.model_info().vocab_size);
  const std::optional<long long> seed = integer(body, "seed", std::numeric_limits<int64_t>::min(),
                                                std::numeric_limits<int64_t>::max());
  base.stop = stops(body);
  base.ignore_eos = boolean(body, "ignore_eos").value_or(false);
  base.logprobs = out.logprobs ? out.top_logprobs : -1;
  response_format(body, &base);
  if (ep == Endpoint::kChat) {
    out.tools = parse_tools(body, tool_format_of(svc.model_info().chat_template));
    if (out.tools.forced()) {  // the reply is held to one call
      if (base.constrained())
        throw bad_request("tool_choice",
                          "tool_choice \"required\" or a named function excludes response_format "
                          "json_object and json_schema");
      base.json_schema = forced_call_schema(out.tools);
      base.json_schema_relaxed = true;
    }
  }
  if (out.echo && out.logprobs) base.prompt_logprobs = out.top_logprobs;
  if (auto m = string(body, "routing_mode")) {
    try {
      base.mode = parse_route_mode(*m);
    } catch (const Error& e) {
      throw bad_request("routing_mode", std::string("routing_mode: ") + e.what());
    }
  }
  if (auto t = number(body, "threshold", 0, 1)) base.threshold = static_cast<float>(*t);

  std::optional<long long> max_tokens;
  if (ep == Endpoint::kChat) max_tokens = integer(body, "max_completion_tokens", 1, 1 << 30);
  if (!max_tokens) max_tokens = integer(body, "max_tokens", out.echo ? 0 : 1, 1 << 30);
  if (max_tokens && *max_tokens == 0) {  // scoring: one token runs, the response leaves it out
    out.score_only = true;
    max_tokens = 1;
  }

  std::vector<std::vector<int>> prompts;
  if (ep == Endpoint::kCompletions) {
    prompts = completion_prompts(body, svc, cancelled);
  } else {
    prompts.push_back(chat_prompt_tokens(body, svc, cancelled, &out.tools));
  }
  out.num_prompts = static_cast<int>(prompts.size());
  const ModelInfo& info = svc.model_info();
  std::random_device rd;
  for (auto& prompt : prompts) {
    if (out.echo && prompt.empty()) prompt = {info.bos_token_id};  // (what the engine runs)
    out.prompt_tokens.push_back(prompt.empty() ? 1 : static_cast<int>(prompt.size()));
    for (int j = 0; j < out.n; ++j) {
      GenerateRequest r = base;
      r.prompt = prompt;
      if (max_tokens) {
        r.max_tokens = static_cast<int>(*max_tokens);
      } else if (ep == Endpoint::kCompletions) {
        r.max_tokens = 16;  // OpenAI's default for completions
      } else {
        // Chat: until the model stops, within the context and the server's limit.
        const int room = info.context_length - static_cast<int>(r.prompt.size());
        const int cap = svc.limits().max_tokens > 0 ? svc.limits().max_tokens : room;
        r.max_tokens = std::max(1, std::min(room, cap));
      }
      // Seeded choices differ (seed + j); unseeded ones draw their own seed.
      r.sampling.seed = seed ? static_cast<uint64_t>(*seed) + static_cast<uint64_t>(j)
                             : (static_cast<uint64_t>(rd()) << 32) ^ rd();
      out.choices.push_back(std::move(r));
    }
  }
  return out;
}

}  // namespace radial::server::openai
