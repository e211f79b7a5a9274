// vLLM's tokenizer routes, beside the OpenAI API (transport-free, as
// request_parse.h): tools that tokenize through the server instead of
// loading the model's tokenizer themselves use them (the
// lm-evaluation-harness's "remote" tokenizer backend: GET /tokenizer_info,
// then POST /tokenize and /detokenize).
//   POST /tokenize    {"prompt": text, "add_special_tokens": true} or
//                     {"messages": [...], "add_generation_prompt": true,
//                      "chat_template_kwargs": {...}} (the chat template)
//                     -> {"count", "max_model_len", "tokens"}
//   POST /detokenize  {"tokens": [ids]} -> {"prompt": text} (special tokens
//                     kept as their text, as Hugging Face's decode())
//   GET /tokenizer_info -> {"tokenizer_class", "bos_token", "eos_token",
//                     "pad_token", "chat_template", "model_max_length",
//                     "vocab_size"} (null where the model has none)
// Errors are ApiError 400s naming the field; a model without a tokenizer
// is a 400 on every route.
#pragma once

#include <functional>

#include <nlohmann/json.hpp>

#include "scheduler/engine_service.h"
#include "server/openai/api_error.h"

namespace radial::server::openai {

nlohmann::ordered_json tokenize_response(const nlohmann::ordered_json& body,
                                         const EngineService& service,
                                         const std::function<bool()>& cancelled = nullptr);
nlohmann::ordered_json detokenize_response(const nlohmann::ordered_json& body,
                                           const EngineService& service);
nlohmann::ordered_json tokenizer_info(const EngineService& service);

}  // namespace radial::server::openai
