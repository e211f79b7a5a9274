// OpenAI response objects from engine results, transport-free:
//   completions: "text_completion" (and its stream chunks),
//   chat:        "chat.completion" and "chat.completion.chunk",
//   errors:      {"error": {"message", "type", "param", "code"}},
// with radial's additions, as vLLM adds its own fields: per choice a
// `radial` object (each token's depth, its layer path with radial_path, the
// choice's mean depth and compute fraction) and, beside `usage`, the whole
// response's mean depth and compute fraction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scheduler/engine_service.h"
#include "server/openai/api_error.h"
#include "server/openai/request_parse.h"

namespace radial::server::openai {

using Json = nlohmann::ordered_json;

Json error_body(const ApiError& e);

// "stop" (EOS or a stop string), "length" (max_tokens or the context);
// cancelled and error requests never get a normal response.
const char* finish_reason(FinishReason r);

// What every object of one response shares.
struct ResponseContext {
  const ParsedRequest* req = nullptr;
  const EngineService* service = nullptr;  // token pieces for log-probabilities
  std::string id;                          // "cmpl-..." / "chatcmpl-..."
  int64_t created = 0;                     // Unix seconds
  std::string model;                       // the served id
};

// The whole non-streamed response: results[i] is choice i (ParsedRequest order).
Json full_response(const ResponseContext& ctx, const std::vector<SequenceResult>& results);

// Streaming. Per choice: its role chunk (chat only, first), a chunk per
// batch of tokens (`text` is what they made available), a last chunk with
// the finish reason (and any text held back until the end); then, with
// include_usage, one chunk with no choices and the usage. `prev_token` is
// the token before tokens[0] (the prompt's last for the first), for the
// log-probabilities' token text; `text_offset` the bytes of the choice's
// text before them (completions' text_offset).
Json role_chunk(const ResponseContext& ctx, int index);
Json token_chunk(const ResponseContext& ctx, int index, const std::string& text,
                 const std::vector<GeneratedToken>& tokens, int prev_token, size_t text_offset);
Json finish_chunk(const ResponseContext& ctx, int index, const std::string& tail,
                  const SequenceResult& result);
// Chat with tools whose calls are read back (ToolRequest::reads_calls): the
// calls in a finished choice (nullopt: none; a choice cut by max_tokens
// has none); streaming sends them in one chunk before finish_chunk, whose
// finish_reason is then "tool_calls".
std::optional<ToolReply> choice_tool_calls(const ResponseContext& ctx, const SequenceResult& r);
Json tool_calls_chunk(const ResponseContext& ctx, int index, const std::string& content,
                      const ToolReply& calls);
// Completions with echo: the first chunk of choice `index`, its prompt's
// text (streaming with echo has no logprobs; parse_request sees to it).
Json echo_chunk(const ResponseContext& ctx, int index);
Json usage_chunk(const ResponseContext& ctx, const std::vector<SequenceResult>& results);

}  // namespace radial::server::openai
