// Every check a request gets before it is queued, in one place, for every
// front end and tool. It reads only what is fixed once the engine is made
// (the model's config, the KV pool's size, the router, whether there is a
// tokenizer, the limits), so validate() is const and safe to call on any
// thread: front ends call it on their own thread, and only valid requests
// ever reach the engine loop.
#pragma once

#include <memory>

#include "engine/engine.h"
#include "engine/tokenizer.h"
#include "scheduler/json_schema.h"
#include "scheduler/request.h"

namespace radial {

// Per-request limits of a server; a 0 means no limit beyond the model's.
// The defaults are radiald's; none() is what local tools use.
struct ServingLimits {
  int max_prompt_tokens = 0;  // 0: none (the context still bounds the prompt)
  int max_tokens = 4096;      // per request
  int max_queued = 256;       // requests waiting for admission; beyond: kResourceExhausted
  int max_stop_strings = 8;
  int max_stop_length = 256;  // bytes per stop string
  // Text a request may ask to tokenize, in bytes; 0: 32 bytes per position of
  // max_prompt_tokens (no tokenizer here needs more than 32 bytes a token
  // for text that fits the context, so nothing valid is refused).
  int64_t max_text_bytes = 0;
  static ServingLimits none() { return ServingLimits{0, 0, 0, 0, 0, 0}; }
};

// A request that passed validate(), with its routing resolved. Only the
// validator makes one, so the scheduler can trust it.
class ValidatedRequest {
 public:
  const GenerateRequest& request() const { return req_; }
  GenerateRequest& request() { return req_; }
  const RoutingParams& routing() const { return routing_; }
  // JSON Schema mode: the request's schema, compiled (null when off).
  const std::shared_ptr<const JsonSchema>& schema() const { return schema_; }

 private:
  friend class RequestValidator;
  ValidatedRequest(GenerateRequest req, RoutingParams routing)
      : req_(std::move(req)), routing_(routing) {}
  GenerateRequest req_;
  RoutingParams routing_;
  std::shared_ptr<const JsonSchema> schema_;
};

class RequestValidator {
 public:
  // `tokenizer` may be null. Engine and tokenizer must outlive it.
  RequestValidator(const Engine& engine, const Tokenizer* tokenizer, const ServingLimits& limits);

  // Checks `req` (an empty prompt becomes [BOS]) against the model, the KV
  // pool, the router and the limits; throws Error(kInvalidArgument) naming
  // the first problem.
  ValidatedRequest validate(GenerateRequest req) const;

  const ServingLimits& limits() const { return limits_; }

 private:
  const Engine& engine_;
  const Tokenizer* tokenizer_;
  ServingLimits limits_;
};

}  // namespace radial
