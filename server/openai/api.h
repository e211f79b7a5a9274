// radiald's OpenAI-compatible HTTP API, without the HTTP transport: routes,
// authentication, and each generation as an object the transport pumps for
// bytes. The transport (server/http_server.h) reads requests, calls
// handle(), writes replies, and for a Generation writes whatever pump()
// yields each time the generation notifies it; it cancels the generation
// when the client goes away or stalls.
//
// Routes: GET /health (no token needed), GET /v1/models, GET
// /v1/models/{id}, POST /v1/completions, POST /v1/chat/completions.
// Lifecycle (as GrpcServer's): attach(service) -> begin_drain() (new
// generations 503, running ones go on) -> cancel_all() -> detach().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/engine_service.h"

namespace radial::server {

class Metrics;

namespace openai {

struct HttpRequestView {
  std::string method;                      // "GET", "POST", ...
  std::string target;                      // path and query
  std::vector<std::string> authorization;  // every Authorization header sent
  std::string body;
};

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// One accepted generation (all its choices).
class Generation {
 public:
  virtual ~Generation() = default;
  virtual bool streaming() const = 0;
  // Non-blocking: appends what is ready to `out` (streaming: SSE events
  // "data: {...}\n\n", and "data: [DONE]\n\n" last; otherwise the whole
  // body once every choice has ended) and returns true when nothing more
  // will come.
  virtual bool pump(std::string* out) = 0;
  // The HTTP status (streaming: 200, sent first; otherwise known once pump
  // returned true: 200, or 500 when the engine failed a choice).
  virtual int status() const = 0;
  // `fn` is called (from any thread, without locks held) whenever pump()
  // may have more; it must only schedule a pump() call.
  virtual void set_notify(std::function<void()> fn) = 0;
  // The client went away, stalled, or the server's deadline cap passed:
  // cancels every choice (pump() still finishes the exchange).
  virtual void cancel() = 0;
  // "[id] end: ..." details for the log, once pump() returned true.
  virtual std::string end_line() const = 0;
};

struct ApiOptions {
  std::string auth_token;       // non-empty: /v1 routes need "Authorization: Bearer <token>"
  double max_deadline_s = 600;  // generations running longer are cancelled; 0: none
};

class OpenAiApi {
 public:
  OpenAiApi(const ApiOptions& opts, Metrics* metrics);
  ~OpenAiApi();

  void attach(EngineService* service, const std::string& model_name);
  void begin_drain();
  int cancel_all();  // cancels every generation in flight; returns how many
  // Forgets the service once no handle() call uses it; generations still
  // alive must already be finished (the service's end finishes them).
  void detach();

  // Thread-safe. Either a complete reply or a generation to pump.
  struct Result {
    HttpReply reply;                         // when generation is null
    std::shared_ptr<Generation> generation;  // an accepted generation
  };
  // `cancelled` lets a request waiting to tokenize give up (client gone).
  Result handle(const HttpRequestView& req, const std::function<bool()>& cancelled = nullptr);

  // A JSON error reply in OpenAI's shape, for the transport's own errors
  // (413 body too large, 400 malformed HTTP, 503 too many connections).
  static HttpReply error_reply(int status, const std::string& type, const std::string& message);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace openai
}  // namespace radial::server
