// radial_client: a C++ client for the radiald gRPC API (proto/radial/v1/radial.proto)
// and the standard gRPC health check (grpc.health.v1.Health/Check).
//
// This header is plain C++: it includes no gRPC or protobuf headers, so the
// code that uses it compiles quickly and without them. The request and
// response structs mirror the proto messages field for field.
//
// Errors are never thrown for RPC failures: every call returns a Status with
// the gRPC status code and message (OK on success). All methods of Client are
// thread-safe and may run concurrently on one Client (they share one channel).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace radial::client {

namespace internal {
class CallContext;
}  // namespace internal

// gRPC status codes; the numeric values are grpc::StatusCode's.
enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// The canonical upper-case name: "OK", "INVALID_ARGUMENT", ... ("CODE_<n>" for
// a value outside the enum).
const char* status_code_name(StatusCode code);

// The outcome of an RPC.
struct Status {
  StatusCode code = StatusCode::kOk;
  std::string message;

  bool ok() const { return code == StatusCode::kOk; }
  // "OK", or "<CODE>: <message>" (just "<CODE>" when the message is empty or
  // only repeats the code's name).
  std::string to_string() const;
};

// A call's result: `value` is meaningful only when status.ok().
template <typename T>
struct Result {
  Status status;
  T value{};

  bool ok() const { return status.ok(); }
};

// How the client connects: plaintext unless `tls`; PEM contents, not paths.
struct ChannelOptions {
  std::string target;                                // "host:port" or any gRPC target URI
  int max_receive_message_bytes = 64 * 1024 * 1024;  // GenerateUnary responses can be large
  std::string user_agent_prefix = "radial-client";
  bool tls = false;            // TLS; the server's certificate is verified
  std::string tls_root_certs;  // CA bundle that signs the server's certificate
                               // ("": gRPC's default roots)
  std::string tls_cert_chain;  // client certificate (mutual TLS; with tls_private_key)
  std::string tls_private_key;
  std::string tls_server_name;  // "": the target's host (override for tests)
  // Non-empty: every call carries `authorization: Bearer <bearer_token>`.
  std::string bearer_token;
};

// Cancels the calls it is attached to (CallOptions::cancel), from any thread.
// Copies share one state: cancelling one copy cancels every call started with
// any copy, including calls that start after cancel() (they end at once with
// CANCELLED without reaching the server). A cancelled call reports CANCELLED.
class CancelHandle {
 public:
  CancelHandle();
  void cancel() const;
  bool cancelled() const;

  struct State;  // defined in remote_client.cpp

 private:
  friend class internal::CallContext;
  std::shared_ptr<State> state_;
};

// Per-call options.
struct CallOptions {
  // The call's deadline, measured from its start; unset: none. A call past
  // its deadline ends with DEADLINE_EXCEEDED.
  std::optional<std::chrono::milliseconds> timeout;
  // false: fail at once with UNAVAILABLE when the server cannot be reached.
  // true: wait for the channel to become ready (until the deadline).
  bool wait_for_ready = false;
  std::optional<CancelHandle> cancel;
};

enum class RoutingMode { kDefault = 0, kFull = 1, kForward = 2, kRadial = 3 };
// "default", "full", "forward", "radial".
const char* routing_mode_name(RoutingMode mode);
// The inverse of routing_mode_name; nullopt for any other string.
std::optional<RoutingMode> parse_routing_mode(std::string_view name);

enum class FinishReason {
  kUnspecified = 0,
  kLength = 1,      // max_tokens or the context length
  kStop = 2,        // an end-of-sequence token
  kStopString = 3,  // one of stop_strings
  kCancelled = 4,   // cancelled by the server (shutdown)
  kError = 5,
};
// "unspecified", "length", "stop", "stop_string", "cancelled", "error" (the
// names `radial generate --json` uses).
const char* finish_reason_name(FinishReason reason);

// radial.v1.GenerateRequest. The prompt is `token_ids` when set (used as
// given, BOS not added; empty means BOS alone), else `text` (tokenized by the
// server with BOS; "" means BOS alone). Unset optionals are left unset on the
// wire, so the server applies its defaults and validation.
struct GenerateRequest {
  std::string text;
  std::optional<std::vector<int32_t>> token_ids;
  uint32_t max_tokens = 0;  // 0: the server's default (16)
  float temperature = 0;    // 0: greedy
  uint32_t top_k = 0;       // 0: off
  std::optional<float> top_p;
  std::optional<float> repetition_penalty;
  float presence_penalty = 0;                         // [-2, 2]; 0: off
  float frequency_penalty = 0;                        // [-2, 2]; 0: off
  std::vector<std::pair<int32_t, float>> logit_bias;  // (token id, bias in [-100, 100])
  uint64_t seed = 0;
  std::vector<std::string> stop_strings;
  RoutingMode routing_mode = RoutingMode::kDefault;
  std::optional<float> threshold;
  bool ignore_eos = false;
  std::string request_id;  // "": the server makes one
  // Set: each token's log-probability and this many likeliest tokens' (0 to 20).
  std::optional<uint32_t> logprobs;
  // Set: the prompt tokens' log-probabilities (GenerateResult::prompt_tokens),
  // with this many likeliest tokens at each position (0 to 20).
  std::optional<uint32_t> prompt_logprobs;
  bool json_object = false;  // JSON mode: the text is held to one JSON object
  // JSON Schema mode: the schema's JSON text ("": off); the text is held to
  // one JSON object valid against it.
  std::string json_schema;
};

// radial.v1.TokenInfo: what the router did for the pass that produced a token.
struct TokenInfo {
  int32_t id = 0;
  uint32_t depth = 0;            // layers executed fully
  std::vector<uint32_t> path;    // those layers, in order
  float compute_fraction = 0;    // of a full-depth pass's layer FLOPs
  std::optional<float> logprob;  // with GenerateRequest::logprobs (prompt_logprobs)
  std::vector<std::pair<int32_t, float>> top_logprobs;  // (id, logprob), best first
};

// radial.v1.Usage.
struct Usage {
  uint32_t prompt_tokens = 0;
  uint32_t generated_tokens = 0;
  float mean_depth = 0;
  uint64_t layer_steps_skipped = 0;
  float compute_fraction = 0;
  uint32_t cached_prompt_tokens = 0;
};

// One radial.v1.GenerateResponse of the stream.
struct GenerateChunk {
  std::string text;
  std::vector<TokenInfo> tokens;
  FinishReason finish_reason = FinishReason::kUnspecified;  // the last message only
  std::optional<Usage> usage;                               // the last message only
  std::string request_id;                                   // first and last message
  std::vector<TokenInfo> prompt_tokens;  // the last message, with prompt_logprobs
};

// A whole generation: the chunks put together, the final status, and the
// client's timing. When !status.ok() the fields hold what arrived before the
// error.
struct GenerateResult {
  Status status;
  std::string text;               // all chunks' text, concatenated
  std::vector<TokenInfo> tokens;  // all chunks' tokens
  FinishReason finish_reason = FinishReason::kUnspecified;
  std::optional<Usage> usage;
  std::string request_id;
  // With GenerateRequest::prompt_logprobs: entry i - 1 for prompt position i >= 1.
  std::vector<TokenInfo> prompt_tokens;
  // Seconds from the start of the call (on the client's steady clock):
  double first_token_seconds = -1;    // first message carrying a token; -1 if none came
  double seconds = 0;                 // until the call's status arrived
  std::vector<double> token_seconds;  // arrival of each token (one entry per token)
};

// radial.v1.TokenizeResponse.
struct TokenizeResult {
  std::vector<int32_t> ids;
  std::vector<std::string> pieces;
};

// radial.v1.ModelInfoResponse.
struct ModelInfo {
  std::string name;
  std::string model_type;
  uint32_t num_layers = 0;
  uint32_t hidden_size = 0;
  uint32_t context_length = 0;
  uint32_t vocab_size = 0;
  RoutingMode routing_mode = RoutingMode::kDefault;
  std::vector<RoutingMode> routing_modes;
  std::string kv_policy;
  float threshold = 0;
  uint32_t max_steps = 0;
  bool has_tokenizer = false;
  uint32_t max_prompt_tokens = 0;
  uint32_t max_tokens = 0;
  uint32_t max_stop_strings = 0;
  uint32_t bos_token_id = 0;
  std::vector<uint32_t> eos_token_ids;
};

// grpc.health.v1.HealthCheckResponse.ServingStatus.
enum class HealthStatus { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };
// "UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN".
const char* health_status_name(HealthStatus status);

// Called with each streamed message, on the calling thread, in order.
using ChunkCallback = std::function<void(const GenerateChunk&)>;

class Client {
 public:
  // Creates the channel; it connects lazily, on the first call.
  explicit Client(ChannelOptions options);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  const ChannelOptions& options() const;

  // Waits up to `timeout` for the channel to connect; true when it is ready.
  bool wait_connected(std::chrono::milliseconds timeout);

  // Radial/Generate: streams the generation, calling `on_chunk` (may be empty)
  // with each message as it arrives; returns when the stream ends. If
  // `on_chunk` throws, the call is cancelled and the exception propagates.
  GenerateResult generate(const GenerateRequest& request, const ChunkCallback& on_chunk = {},
                          const CallOptions& options = {});
  // Radial/GenerateUnary: the whole generation in one response (the timing
  // fields treat it as one message).
  GenerateResult generate_unary(const GenerateRequest& request, const CallOptions& options = {});
  // Radial/Tokenize.
  Result<TokenizeResult> tokenize(const std::string& text, bool add_bos,
                                  const CallOptions& options = {});
  // Radial/ModelInfo.
  Result<ModelInfo> model_info(const CallOptions& options = {});
  // grpc.health.v1.Health/Check for `service` ("": the server as a whole).
  Result<HealthStatus> health(const std::string& service = "", const CallOptions& options = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// For a program about to exit, after its last Client is gone: waits (at most
// `limit`) until the gRPC library has shut down and joined its threads, and
// returns whether it has (true at once when no Client was ever made). The
// last channel's clean-up can fall on a gRPC thread, and the library then
// shuts down on a detached thread; a process that exits meanwhile ends with
// gRPC threads mid-exit (LeakSanitizer then reports the 904 bytes of OpenSSL's
// per-thread error state of a TLS handshake thread: 2-5% of `radial health
// --tls-ca` runs under ASan; grpc/grpc#38539 describes the same).
bool wait_for_grpc_shutdown(std::chrono::milliseconds limit);

}  // namespace radial::client
