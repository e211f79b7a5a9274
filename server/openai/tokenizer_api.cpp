#include "server/openai/tokenizer_api.h"

#include <string>
#include <vector>

#include "server/openai/request_parse.h"

namespace radial::server::openai {
namespace {

using Json = nlohmann::ordered_json;

void require_tokenizer(const EngineService& svc) {
  if (!svc.model_info().has_tokenizer)
    throw ApiError(400, "invalid_request_error",
                   "this model has no tokenizer (send token ids to /v1/completions)");
}

Json or_null(const std::string& s) { return s.empty() ? Json() : Json(s); }

}  // namespace

Json tokenize_response(const Json& body, const EngineService& svc,
                       const std::function<bool()>& cancelled) {
  require_tokenizer(svc);
  const bool has_prompt = body.contains("prompt") && !body["prompt"].is_null();
  const bool has_messages = body.contains("messages") && !body["messages"].is_null();
  if (has_prompt == has_messages)
    throw bad_request(has_prompt ? "messages" : "prompt",
                      "give exactly one of prompt (a string) or messages");
  std::vector<int> tokens;
  if (has_messages) {
    tokens = chat_prompt_tokens(body, svc, cancelled);
  } else {
    const Json& p = body["prompt"];
    if (!p.is_string()) throw bad_request("prompt", "prompt must be a string");
    bool add_special = true;
    if (body.contains("add_special_tokens") && !body["add_special_tokens"].is_null()) {
      if (!body["add_special_tokens"].is_boolean())
        throw bad_request("add_special_tokens", "add_special_tokens must be true or false");
      add_special = body["add_special_tokens"].get<bool>();
    }
    try {
      tokens = svc.tokenize(p.get<std::string>(), add_special, cancelled);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kInvalidArgument) throw bad_request("prompt", e.what());
      throw;
    }
  }
  return {{"count", tokens.size()},
          {"max_model_len", svc.model_info().context_length},
          {"tokens", tokens}};
}

Json detokenize_response(const Json& body, const EngineService& svc) {
  require_tokenizer(svc);
  if (!body.contains("tokens") || !body["tokens"].is_array())
    throw bad_request("tokens", "tokens must be a list of token ids");
  const int V = svc.model_info().tokenizer_vocab_size;
  std::vector<int> ids;
  for (size_t i = 0; i < body["tokens"].size(); ++i) {
    const Json& t = body["tokens"][i];
    if (!t.is_number_integer() || t.get<long long>() < 0 || t.get<long long>() >= V)
      throw bad_request("tokens", "tokens[" + std::to_string(i) + "] must be a token id in [0, " +
                                      std::to_string(V) + ")");
    ids.push_back(t.get<int>());
  }
  return {{"prompt", svc.detokenize(ids, /*skip_special=*/false)}};
}

Json tokenizer_info(const EngineService& svc) {
  require_tokenizer(svc);
  const ModelInfo& m = svc.model_info();
  return {{"tokenizer_class", m.tokenizer_kind},       {"bos_token", or_null(m.bos_token)},
          {"eos_token", or_null(m.eos_token)},         {"pad_token", or_null(m.pad_token)},
          {"chat_template", or_null(m.chat_template)}, {"model_max_length", m.context_length},
          {"vocab_size", m.tokenizer_vocab_size}};
}

}  // namespace radial::server::openai
