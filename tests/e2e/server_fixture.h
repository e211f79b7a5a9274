// gRPC side of the radiald end-to-end tests: starting a radiald subprocess
// on free loopback ports and waiting for it to serve, health and reflection
// calls (hand-encoded over the generic stub), and generation helpers that
// collect what a Generate / GenerateUnary call returned.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "radial/v1/radial.grpc.pb.h"
#include "tests/e2e/server_process.h"

namespace radial::e2e {

namespace pb = radial::v1;

// Paths given by the build.
std::string radiald_binary();
std::string source_dir();
std::string model_dir();  // models/stories260K
// config.json of a random 8-layer model (d = 256, context 2048) for tests
// that need slow generations: ~10 s for 2000 tokens on one thread.
extern const char* const kSlowModelConfig;

// Generate requests: prompt text or token ids, and max_tokens.
pb::GenerateRequest text_request(const std::string& text, uint32_t max_tokens);
pb::GenerateRequest ids_request(const std::vector<int>& ids, uint32_t max_tokens);
// "CODE message" of a status, for test output.
std::string describe(const grpc::Status& st);

struct Server {
  std::unique_ptr<Subprocess> proc;
  int grpc_port = 0;
  int metrics_port = 0;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::Radial::Stub> stub;

  std::string address() const { return "127.0.0.1:" + std::to_string(grpc_port); }
  // GET /metrics; "" when it fails.
  std::string metrics() const;
};

// Starts radiald with `args` (plus --listen / --metrics-listen on free
// loopback ports and --threads 1) and waits until "radial.v1.Radial" is
// SERVING. Retries on a port clash; throws std::runtime_error (with the
// server's log) otherwise. Logs go to `dir`/`name`.log. With `grpc_port` and
// `metrics_port` (both non-zero) it listens there and does not retry.
std::unique_ptr<Server> start_server(const std::string& name, const std::vector<std::string>& args,
                                     const std::string& dir, int grpc_port = 0,
                                     int metrics_port = 0);

// grpc.health.v1.Health/Check: 1 SERVING, 2 NOT_SERVING, 0 UNKNOWN; -1 when
// the call fails (its status in *status).
int health(const std::shared_ptr<grpc::Channel>& ch, const std::string& service,
           grpc::Status* status = nullptr);

// The raw bytes of the reflection service's answer to list_services.
std::string reflection_list_services(const std::shared_ptr<grpc::Channel>& ch);

// What one generation returned.
struct Generation {
  grpc::Status status;
  std::vector<int> ids;
  std::vector<std::vector<uint32_t>> paths;
  std::vector<uint32_t> depths;
  std::string text;              // concatenated
  pb::GenerateResponse last;     // the final message (stream) or the response (unary)
  int messages = 0;              // stream: messages received
  std::string first_request_id;  // stream: request_id of the first message
  bool one_token_per_message = true;
};

Generation generate_stream(pb::Radial::Stub& stub, const pb::GenerateRequest& req,
                           std::chrono::milliseconds timeout = std::chrono::seconds(120));
Generation generate_unary(pb::Radial::Stub& stub, const pb::GenerateRequest& req,
                          std::chrono::milliseconds timeout = std::chrono::seconds(120));

// Each request's streamed generation, all started at once (a thread each,
// released together).
std::vector<Generation> generate_together(pb::Radial::Stub& stub,
                                          const std::vector<pb::GenerateRequest>& reqs);
// Catch checks that `got`, generated among others, equals `solo`, the same
// request generated alone: status OK, the same ids, layer paths, text,
// finish reason and skipped layer steps.
void check_same_as_solo(const Generation& got, const Generation& solo);

// Polls /metrics until `name{labels}` equals `want` or `timeout` passes;
// returns the last value seen (nullopt when absent).
std::optional<double> wait_metric(const Server& s, const std::string& name,
                                  const std::map<std::string, std::string>& labels, double want,
                                  std::chrono::milliseconds timeout);

}  // namespace radial::e2e
