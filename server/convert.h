// Translation between the radial.v1 protobuf messages and the serving core's
// types (scheduler/request.h, scheduler/engine_service.h). No gRPC here.
#pragma once

#include <functional>

#include <string>

#include "scheduler/engine_service.h"
#include "scheduler/request.h"

namespace radial::v1 {
class GenerateRequest;
class GenerateResponse;
class ModelInfoResponse;
class TokenInfo;
}  // namespace radial::v1

namespace radial::server {

// Builds the engine request: a text prompt is tokenized with BOS (no
// tokenizer: Error kInvalidArgument), token ids are checked against the
// vocabulary (Error kInvalidArgument naming the index and id), max_tokens 0
// becomes 16, unset top_p / repetition_penalty become 1, ROUTING_MODE_DEFAULT
// leaves the mode to the model. Value checks (temperature, top_p, threshold,
// limits, modes the model cannot run) are EngineService::submit's.
// Text goes through EngineService::tokenize (size limit, bounded
// concurrency; `cancelled` lets a caller waiting for its turn give up).
radial::GenerateRequest to_engine_request(const radial::v1::GenerateRequest& in,
                                          const radial::EngineService& service,
                                          const std::function<bool()>& cancelled = nullptr);

// The client's request_id: empty (the server makes one) or at most 128
// printable ASCII bytes without spaces; else Error kInvalidArgument.
void check_request_id(const std::string& request_id);

// One generated token's routing record, and with `logprobs` (the request
// asked for them) its log-probability and the likeliest tokens'.
void fill_token_info(const radial::GeneratedToken& t, radial::v1::TokenInfo* out,
                     bool logprobs = false);

// The final fields of a generation: finish_reason, usage (mean compute
// fraction over the generated tokens; 0 when there are none) and the prompt
// tokens' log-probabilities when the request asked for them.
void fill_final(const radial::SequenceResult& r, radial::v1::GenerateResponse* out);

void fill_model_info(const radial::ModelInfo& info, const radial::ServingLimits& limits,
                     const std::string& served_name, radial::v1::ModelInfoResponse* out);

}  // namespace radial::server
