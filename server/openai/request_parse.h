// OpenAI request bodies -> engine requests, for POST /v1/completions and
// POST /v1/chat/completions. Transport-free (no HTTP library): the HTTP
// server passes the body bytes; unit tests call it directly.
//
// Field rules: unknown fields are ignored (clients send many); known fields
// that radiald does not support (legacy functions, suffix, best_of > 1,
// non-text message parts) are a 400 naming the
// field, never silently dropped; a wrong type or an out-of-range value is a
// 400 naming the field. presence_penalty, frequency_penalty and logit_bias
// follow OpenAI (engine/sampler.h).
// Extensions, as vLLM's extra body fields: top_k, repetition_penalty,
// ignore_eos, and radial's routing_mode ("full" | "forward" | "radial"),
// threshold and radial_path (per-token layer paths in the response).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "scheduler/engine_service.h"
#include "server/openai/api_error.h"
#include "server/openai/tool_calls.h"

namespace radial::server::openai {

enum class Endpoint { kCompletions, kChat };

struct ParsedRequest {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string model;  // as sent
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  int n = 1;                   // choices per prompt
  int num_prompts = 1;
  // Log-probabilities: completions' `logprobs: N` (N alternatives), chat's
  // `logprobs: true` with `top_logprobs: N`.
  bool logprobs = false;
  int top_logprobs = 0;
  bool radial_path = false;
  // Completions' `echo`: each choice's text (and, with logprobs, its
  // log-probabilities) starts with its prompt, the first prompt token's
  // logprob null. `max_tokens: 0` is allowed with echo (scoring a text):
  // the engine still samples one token, which the response leaves out.
  bool echo = false;
  bool score_only = false;  // echo with max_tokens 0
  // One engine request per choice: prompt p's choices are
  // [p * n, (p + 1) * n), in the order of the response's `index`.
  std::vector<GenerateRequest> choices;
  std::vector<int> prompt_tokens;  // per prompt (usage counts each prompt once)
  // Chat: the tools, tool_choice and the model's tool-call format
  // (server/openai/tool_calls.h); a forced call's schema is in each choice.
  ToolRequest tools;
};

// The body as JSON: a 400 for malformed JSON, a non-object, or nesting
// deeper than 64 levels (no recursion on hostile input).
nlohmann::ordered_json parse_json_body(std::string_view body);

// Validates and translates a body. `served_model` is the id /v1/models
// lists: a different `model` is a 404 model_not_found. Text is tokenized
// through the service (its size limit and concurrency bound; `cancelled`
// lets a waiting caller give up). Chat messages go through the model's chat
// template with the generation prompt, and the rendering is tokenized with
// its special tokens parsed and nothing added (the template writes BOS).
// The engine's own checks (limits, context, KV) come later, at submit.
ParsedRequest parse_request(Endpoint endpoint, const nlohmann::ordered_json& body,
                            const EngineService& service, const std::string& served_model,
                            const std::function<bool()>& cancelled = nullptr);

// A chat body's prompt: its `messages` (with add_generation_prompt,
// chat_template_kwargs and the tools) through the model's chat template,
// tokenized with the special tokens in the rendering parsed and nothing
// added. ApiError 400 naming the field on a bad message or tool or a model
// without a template. `tools`: the body's, already parsed (null: parsed here).
std::vector<int> chat_prompt_tokens(const nlohmann::ordered_json& body,
                                    const EngineService& service,
                                    const std::function<bool()>& cancelled = nullptr,
                                    const ToolRequest* tools = nullptr);

}  // namespace radial::server::openai
