// The gRPC front end of radiald: the radial.v1.Radial service (sync API; the
// gRPC threads only post to EngineService and wait), the standard health
// service and server reflection. This header keeps gRPC out of its users.
//
// Lifecycle:
//   GrpcServer server(opts, &metrics);   // listening; health NOT_SERVING,
//                                        // Radial RPCs -> UNAVAILABLE "loading"
//   server.attach(&service, name);       // health SERVING
//   server.begin_drain();                // health NOT_SERVING, new generations
//                                        // -> UNAVAILABLE; running ones go on
//   server.shutdown(deadline);           // no handler runs after it returns
//   (destroy the EngineService)
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "scheduler/engine_service.h"

namespace radial::server {

class Metrics;

struct GrpcServerOptions {
  std::string listen = "127.0.0.1:50051";  // host:port; port 0 picks a free one
  int max_message_bytes = 1 << 20;         // max receive message size
  int max_streams_per_connection = 256;    // HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS
  double max_connection_age_s = 0;         // > 0: GOAWAY after this age (transport.h)
  // gRPC core's memory for this server's connections and calls (transport.h).
  int64_t memory_quota_bytes = 64 << 20;
  // Generations running longer are cancelled and end with DEADLINE_EXCEEDED
  // (a stalled streaming reader: the call is cancelled 2 s later); 0: none.
  double max_deadline_s = 600;
  // TLS (PEM contents): cert chain and key both empty = plaintext; client_ca
  // set = client certificates required and verified.
  std::string tls_cert_chain, tls_private_key, tls_client_ca;
  // Non-empty: every radial.v1.Radial call must carry the metadata
  // `authorization: Bearer <auth_token>` (else UNAUTHENTICATED) and server
  // reflection is off. The health service never needs it.
  std::string auth_token;
  // Non-empty: a second, plaintext server there with only the health
  // service (same statuses), e.g. for Kubernetes probes when TLS is on.
  std::string health_listen;
};

class GrpcServer {
 public:
  // Builds and starts the server. `metrics` (may be null) must outlive it.
  // Throws std::runtime_error when it cannot listen on opts.listen.
  GrpcServer(const GrpcServerOptions& opts, Metrics* metrics);
  // Calls shutdown(0) unless it already ran.
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // The bound ports (health_port: 0 without health_listen).
  int port() const;
  int health_port() const;

  // Serves `service` from now on (it must stay alive until shutdown()
  // returns) and marks the health status SERVING.
  void attach(radial::EngineService* service, const std::string& model_name);

  // Health NOT_SERVING; new Generate / GenerateUnary calls get UNAVAILABLE.
  // Calls in flight go on; Tokenize and ModelInfo still answer.
  void begin_drain();

  // Cancels every generation in flight: each ends with a final message whose
  // finish_reason is FINISH_REASON_CANCELLED. Returns how many it cancelled.
  int cancel_all();

  // Stops the server: calls in flight get `deadline` to finish, then they are
  // cancelled (each cancels its sequence and waits for its final callback).
  // When it returns no handler runs and the service is detached.
  void shutdown(std::chrono::milliseconds deadline);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace radial::server
