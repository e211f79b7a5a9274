// A small client of radiald's OpenAI-compatible HTTP API for `radial bench
// --api openai`: streamed POST /v1/completions with token-id prompts over
// keep-alive HTTP/1.1 connections (plaintext), each token timed as its
// server-sent event arrives, results in the gRPC client's structs so the
// bench treats both APIs alike. Plain C++ header (Beast stays in the .cpp).
#pragma once

#include <memory>
#include <string>

#include "server/client/remote_client.h"

namespace radial::client {

class OpenAiClient {
 public:
  // `address`: HOST:PORT of radiald's http_listen; `token`: "" or the bearer token.
  OpenAiClient(std::string address, std::string token);
  ~OpenAiClient();

  // GET /v1/models: the served model's name, context, vocabulary and limits
  // (radiald's `radial` extension of the model object).
  Result<ModelInfo> model_info(const CallOptions& call = {});
  // A streamed completion of req.token_ids (or req.text); thread-safe. HTTP
  // errors map to gRPC codes: 400 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 404
  // NOT_FOUND, 429 RESOURCE_EXHAUSTED, 503 UNAVAILABLE, timeouts
  // DEADLINE_EXCEEDED, connection failures UNAVAILABLE.
  GenerateResult generate(const GenerateRequest& req, const CallOptions& call = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace radial::client
