// The radiald daemon's settings: a JSON file (--config FILE) and flags that
// override it. Parsing is strict: unknown keys or flags, wrong JSON types,
// malformed numbers and out-of-range values are errors naming the key.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "scheduler/engine_service.h"

namespace radial::server {

// Bad command line or config file; main() prints it and exits with code 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DaemonConfig {
  // Model source, backend sizing, scheduler options and request limits, as
  // handed to EngineService. backend.kv_blocks / backend.max_slots 0 mean
  // "auto" until resolve_backend_defaults() has run.
  radial::ServiceOptions service;
  std::string model_name;       // the `model` label; "" = derived
  std::string backend = "cpu";  // cpu | cuda
  std::string dtype;  // auto | f32 | bf16 | f16 | q8_0 (cpu); "" = auto (cpu), bf16 (cuda)
  double gpu_memory_fraction = 0.9;               // cuda: KV pool budget (kv_blocks 0)
  std::string listen = "127.0.0.1:50051";         // gRPC address
  std::string metrics_listen = "127.0.0.1:9090";  // "" = no metrics endpoint
  std::string health_listen;                      // plaintext health-only gRPC; "" = none
  std::string http_listen;                        // OpenAI-compatible HTTP API; "" = none
  int http_max_body_bytes = 4 << 20;              // HTTP request body limit (413 beyond)
  double http_io_timeout_s = 30;                  // reading a request / writing a response part
  int http_max_connections = 1024;                // beyond: 503 and close
  std::string tls_cert_file;                      // PEM server certificate chain ("" = plaintext)
  std::string tls_key_file;                       // PEM private key of tls_cert_file
  std::string tls_client_ca_file;                 // PEM CA: client certificates required
  std::string auth_token_file;                    // file holding the shared bearer token
  int max_message_bytes = 1 << 20;                // gRPC max receive message size
  int max_streams_per_connection = 256;           // HTTP/2 concurrent streams per connection
  int64_t grpc_memory_quota_bytes = 64 << 20;     // gRPC core's memory (ResourceQuota)
  double max_connection_age_s = 0;                // > 0: clients reconnect after this age
  double max_deadline_s = 600;                    // cap on a generation's duration; 0 = none
  double drain_timeout_s = 30;                    // SIGTERM: wait this long for requests
  std::string log_level = "info";                 // trace|debug|info|warn|error|critical|off
  bool help = false;                              // --help was given
};

// Parses argv: --config FILE first (wherever it appears), then every other
// flag in order, then checks the combination (tls_cert_file and
// tls_key_file come together; tls_client_ca_file needs them; the backend
// choice is valid in this build) and sets service.backend_factory. Throws
// ConfigError. Fills model_name when empty. Files are read later (radiald
// main), so that their contents never sit in this struct.
DaemonConfig parse_daemon_config(int argc, char** argv);

// Applies the JSON object `text` (the contents of a config file) to `cfg`.
// Throws ConfigError naming `origin` and the key.
void apply_config_json(const std::string& text, const std::string& origin, DaemonConfig& cfg);

// Resolves kv_blocks / max_slots left at 0 (auto): enough KV blocks for 64
// sequences of the full context at every layer, capped at 4 GiB of F32 K/V
// (but at least one full-context sequence), read from the model's
// config.json (or the dummy config); 4096 blocks when the model has no
// config.json (llama2.c checkpoints). max_slots: max(1024, prefill_chunk,
// max_batch_tokens). Returns a line describing the choice for the log.
std::string resolve_backend_defaults(DaemonConfig& cfg);

// The served model name: basename of the model path without a ".bin" /
// ".json" extension, or of the dummy config ("config.json" -> its
// directory's name).
std::string derive_model_name(const radial::ModelSource& src);

// The --help text.
std::string usage();

}  // namespace radial::server
