// radial_client: the gRPC side of remote_client.h. The only file of the client
// that includes gRPC and protobuf headers.
#include "server/client/remote_client.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "health.grpc.pb.h"
#include "radial/v1/radial.grpc.pb.h"

namespace radial::client {

namespace pb = ::radial::v1;
namespace hpb = ::grpc::health::v1;

// ---------------------------------------------------------------------------
// Names

const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kCancelled:
      return "CANCELLED";
    case StatusCode::kUnknown:
      return "UNKNOWN";
    case StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case StatusCode::kNotFound:
      return "NOT_FOUND";
    case StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case StatusCode::kAborted:
      return "ABORTED";
    case StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    case StatusCode::kInternal:
      return "INTERNAL";
    case StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case StatusCode::kDataLoss:
      return "DATA_LOSS";
    case StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
  }
  return "CODE_UNKNOWN";
}

std::string Status::to_string() const {
  std::string s = status_code_name(code);
  if (!ok() && !message.empty() && message != s) s += ": " + message;
  return s;
}

const char* routing_mode_name(RoutingMode mode) {
  switch (mode) {
    case RoutingMode::kDefault:
      return "default";
    case RoutingMode::kFull:
      return "full";
    case RoutingMode::kForward:
      return "forward";
    case RoutingMode::kRadial:
      return "radial";
  }
  return "?";
}

std::optional<RoutingMode> parse_routing_mode(std::string_view name) {
  for (RoutingMode m :
       {RoutingMode::kDefault, RoutingMode::kFull, RoutingMode::kForward, RoutingMode::kRadial}) {
    if (name == routing_mode_name(m)) return m;
  }
  return std::nullopt;
}

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kUnspecified:
      return "unspecified";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kStopString:
      return "stop_string";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kError:
      return "error";
  }
  return "?";
}

const char* health_status_name(HealthStatus status) {
  switch (status) {
    case HealthStatus::kUnknown:
      return "UNKNOWN";
    case HealthStatus::kServing:
      return "SERVING";
    case HealthStatus::kNotServing:
      return "NOT_SERVING";
    case HealthStatus::kServiceUnknown:
      return "SERVICE_UNKNOWN";
  }
  return "UNKNOWN";
}

// ---------------------------------------------------------------------------
// Cancellation

// The contexts of the calls in flight that a handle (and its copies) cancels.
struct CancelHandle::State {
  std::mutex mu;
  bool cancelled = false;
  std::vector<grpc::ClientContext*> active;
};

CancelHandle::CancelHandle() : state_(std::make_shared<State>()) {}

void CancelHandle::cancel() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->cancelled = true;
  for (grpc::ClientContext* ctx : state_->active) ctx->TryCancel();
}

bool CancelHandle::cancelled() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->cancelled;
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

Status from_grpc(const grpc::Status& s) {
  return Status{static_cast<StatusCode>(s.error_code()), s.error_message()};
}

Status cancelled_before_start() {
  return Status{StatusCode::kCancelled, "cancelled before the call started"};
}

}  // namespace

namespace internal {

// One call's context, configured from CallOptions and registered with its
// cancel handle for its lifetime. Construct it before the call starts and
// check started() first: false means the handle was already cancelled.
class CallContext {
 public:
  CallContext(const CallOptions& options, const std::string& bearer_token) {
    if (!bearer_token.empty()) ctx_.AddMetadata("authorization", "Bearer " + bearer_token);
    if (options.timeout) ctx_.set_deadline(std::chrono::system_clock::now() + *options.timeout);
    ctx_.set_wait_for_ready(options.wait_for_ready);
    if (options.cancel) {
      state_ = state_of(*options.cancel);
      std::lock_guard<std::mutex> lock(state_->mu);
      if (state_->cancelled) {
        started_ = false;
      } else {
        state_->active.push_back(&ctx_);
      }
    }
  }
  ~CallContext() {
    if (state_ && started_) {
      std::lock_guard<std::mutex> lock(state_->mu);
      auto& a = state_->active;
      a.erase(std::find(a.begin(), a.end(), &ctx_));
    }
  }
  CallContext(const CallContext&) = delete;
  CallContext& operator=(const CallContext&) = delete;

  bool started() const { return started_; }
  grpc::ClientContext* get() { return &ctx_; }

  static std::shared_ptr<CancelHandle::State> state_of(const CancelHandle& h) { return h.state_; }

 private:
  grpc::ClientContext ctx_;
  std::shared_ptr<CancelHandle::State> state_;
  bool started_ = true;
};

}  // namespace internal

namespace {

using internal::CallContext;

// ---------------------------------------------------------------------------
// Conversions

pb::GenerateRequest to_proto(const GenerateRequest& r) {
  pb::GenerateRequest p;
  if (r.token_ids) {
    auto* ids = p.mutable_token_ids()->mutable_ids();
    ids->Add(r.token_ids->begin(), r.token_ids->end());
  } else {
    p.set_text(r.text);
  }
  p.set_max_tokens(r.max_tokens);
  p.set_temperature(r.temperature);
  p.set_top_k(r.top_k);
  if (r.top_p) p.set_top_p(*r.top_p);
  if (r.repetition_penalty) p.set_repetition_penalty(*r.repetition_penalty);
  p.set_presence_penalty(r.presence_penalty);
  p.set_frequency_penalty(r.frequency_penalty);
  for (const auto& [token, bias] : r.logit_bias) (*p.mutable_logit_bias())[token] = bias;
  p.set_seed(r.seed);
  for (const auto& s : r.stop_strings) p.add_stop_strings(s);
  p.set_routing_mode(static_cast<pb::RoutingMode>(r.routing_mode));
  if (r.threshold) p.set_threshold(*r.threshold);
  p.set_ignore_eos(r.ignore_eos);
  p.set_request_id(r.request_id);
  if (r.logprobs) p.set_logprobs(*r.logprobs);
  if (r.prompt_logprobs) p.set_prompt_logprobs(*r.prompt_logprobs);
  p.set_json_object(r.json_object);
  p.set_json_schema(r.json_schema);
  return p;
}

RoutingMode from_proto(pb::RoutingMode m) {
  const int v = static_cast<int>(m);
  return v >= 0 && v <= 3 ? static_cast<RoutingMode>(v) : RoutingMode::kDefault;
}

FinishReason from_proto(pb::FinishReason f) {
  const int v = static_cast<int>(f);
  return v >= 0 && v <= 5 ? static_cast<FinishReason>(v) : FinishReason::kUnspecified;
}

Usage from_proto(const pb::Usage& u) {
  return Usage{u.prompt_tokens(),       u.generated_tokens(), u.mean_depth(),
               u.layer_steps_skipped(), u.compute_fraction(), u.cached_prompt_tokens()};
}

TokenInfo from_proto(const pb::TokenInfo& t) {
  TokenInfo out{t.id(), t.depth(), {t.path().begin(), t.path().end()}, t.compute_fraction(),
                {},     {}};
  if (t.has_logprob()) out.logprob = t.logprob();
  for (const auto& lp : t.top_logprobs()) out.top_logprobs.emplace_back(lp.id(), lp.logprob());
  return out;
}

void from_proto(const pb::GenerateResponse& m, GenerateChunk* c) {
  c->text = m.text();
  c->tokens.clear();
  c->tokens.reserve(m.tokens_size());
  for (const auto& t : m.tokens()) c->tokens.push_back(from_proto(t));
  c->prompt_tokens.clear();
  for (const auto& t : m.prompt_tokens()) c->prompt_tokens.push_back(from_proto(t));
  c->finish_reason = from_proto(m.finish_reason());
  c->usage = m.has_usage() ? std::optional<Usage>(from_proto(m.usage())) : std::nullopt;
  c->request_id = m.request_id();
}

// Appends one message to the result; `t` is its arrival time.
void accumulate(const GenerateChunk& c, double t, GenerateResult* r) {
  r->text += c.text;
  if (!c.tokens.empty() && r->first_token_seconds < 0) r->first_token_seconds = t;
  r->tokens.insert(r->tokens.end(), c.tokens.begin(), c.tokens.end());
  r->token_seconds.insert(r->token_seconds.end(), c.tokens.size(), t);
  if (c.finish_reason != FinishReason::kUnspecified) r->finish_reason = c.finish_reason;
  if (c.usage) r->usage = c.usage;
  if (!c.request_id.empty()) r->request_id = c.request_id;
  if (!c.prompt_tokens.empty()) r->prompt_tokens = c.prompt_tokens;
}

}  // namespace

// ---------------------------------------------------------------------------
// Client

struct Client::Impl {
  ChannelOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::Radial::Stub> stub;
  std::unique_ptr<hpb::Health::Stub> health;
};

namespace {
std::atomic<bool> g_client_made{false};
}  // namespace

Client::Client(ChannelOptions options) : impl_(std::make_unique<Impl>()) {
  g_client_made = true;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  if (!options.user_agent_prefix.empty()) args.SetUserAgentPrefix(options.user_agent_prefix);
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls_root_certs;
    ssl.pem_cert_chain = options.tls_cert_chain;
    ssl.pem_private_key = options.tls_private_key;
    creds = grpc::SslCredentials(ssl);
    if (!options.tls_server_name.empty()) args.SetSslTargetNameOverride(options.tls_server_name);
  }
  impl_->channel = grpc::CreateCustomChannel(options.target, creds, args);
  impl_->stub = pb::Radial::NewStub(impl_->channel);
  impl_->health = hpb::Health::NewStub(impl_->channel);
  impl_->options = std::move(options);
}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

const ChannelOptions& Client::options() const { return impl_->options; }

bool Client::wait_connected(std::chrono::milliseconds timeout) {
  return impl_->channel->WaitForConnected(std::chrono::system_clock::now() + timeout);
}

GenerateResult Client::generate(const GenerateRequest& request, const ChunkCallback& on_chunk,
                                const CallOptions& options) {
  GenerateResult result;
  CallContext ctx(options, impl_->options.bearer_token);
  if (!ctx.started()) {
    result.status = cancelled_before_start();
    return result;
  }
  const pb::GenerateRequest req = to_proto(request);
  const Clock::time_point t0 = Clock::now();
  std::unique_ptr<grpc::ClientReader<pb::GenerateResponse>> reader =
      impl_->stub->Generate(ctx.get(), req);
  pb::GenerateResponse msg;
  GenerateChunk chunk;
  while (reader->Read(&msg)) {
    const double t = seconds_since(t0);
    from_proto(msg, &chunk);
    accumulate(chunk, t, &result);
    if (!on_chunk) continue;
    try {
      on_chunk(chunk);
    } catch (...) {
      // Leave the call in a clean state (cancelled, drained, finished) first.
      ctx.get()->TryCancel();
      while (reader->Read(&msg)) {
      }
      reader->Finish();
      throw;
    }
  }
  result.status = from_grpc(reader->Finish());
  result.seconds = seconds_since(t0);
  return result;
}

GenerateResult Client::generate_unary(const GenerateRequest& request, const CallOptions& options) {
  GenerateResult result;
  CallContext ctx(options, impl_->options.bearer_token);
  if (!ctx.started()) {
    result.status = cancelled_before_start();
    return result;
  }
  const pb::GenerateRequest req = to_proto(request);
  pb::GenerateResponse resp;
  const Clock::time_point t0 = Clock::now();
  const grpc::Status s = impl_->stub->GenerateUnary(ctx.get(), req, &resp);
  result.seconds = seconds_since(t0);
  result.status = from_grpc(s);
  if (s.ok()) {
    GenerateChunk chunk;
    from_proto(resp, &chunk);
    accumulate(chunk, result.seconds, &result);
  }
  return result;
}

Result<TokenizeResult> Client::tokenize(const std::string& text, bool add_bos,
                                        const CallOptions& options) {
  Result<TokenizeResult> result;
  CallContext ctx(options, impl_->options.bearer_token);
  if (!ctx.started()) {
    result.status = cancelled_before_start();
    return result;
  }
  pb::TokenizeRequest req;
  req.set_text(text);
  req.set_add_bos(add_bos);
  pb::TokenizeResponse resp;
  result.status = from_grpc(impl_->stub->Tokenize(ctx.get(), req, &resp));
  if (result.ok()) {
    result.value.ids.assign(resp.ids().begin(), resp.ids().end());
    result.value.pieces.assign(resp.pieces().begin(), resp.pieces().end());
  }
  return result;
}

Result<ModelInfo> Client::model_info(const CallOptions& options) {
  Result<ModelInfo> result;
  CallContext ctx(options, impl_->options.bearer_token);
  if (!ctx.started()) {
    result.status = cancelled_before_start();
    return result;
  }
  pb::ModelInfoRequest req;
  pb::ModelInfoResponse r;
  result.status = from_grpc(impl_->stub->ModelInfo(ctx.get(), req, &r));
  if (result.ok()) {
    ModelInfo& m = result.value;
    m.name = r.name();
    m.model_type = r.model_type();
    m.num_layers = r.num_layers();
    m.hidden_size = r.hidden_size();
    m.context_length = r.context_length();
    m.vocab_size = r.vocab_size();
    m.routing_mode = from_proto(r.routing_mode());
    for (int mode : r.routing_modes()) m.routing_modes.push_back(from_proto(pb::RoutingMode(mode)));
    m.kv_policy = r.kv_policy();
    m.threshold = r.threshold();
    m.max_steps = r.max_steps();
    m.has_tokenizer = r.has_tokenizer();
    m.max_prompt_tokens = r.max_prompt_tokens();
    m.max_tokens = r.max_tokens();
    m.max_stop_strings = r.max_stop_strings();
    m.bos_token_id = r.bos_token_id();
    m.eos_token_ids.assign(r.eos_token_ids().begin(), r.eos_token_ids().end());
  }
  return result;
}

Result<HealthStatus> Client::health(const std::string& service, const CallOptions& options) {
  Result<HealthStatus> result;
  CallContext ctx(options, impl_->options.bearer_token);
  if (!ctx.started()) {
    result.status = cancelled_before_start();
    return result;
  }
  hpb::HealthCheckRequest req;
  req.set_service(service);
  hpb::HealthCheckResponse resp;
  result.status = from_grpc(impl_->health->Check(ctx.get(), req, &resp));
  if (result.ok()) {
    const int v = static_cast<int>(resp.status());
    result.value = v >= 0 && v <= 3 ? static_cast<HealthStatus>(v) : HealthStatus::kUnknown;
  }
  return result;
}

bool wait_for_grpc_shutdown(std::chrono::milliseconds limit) {
  if (!g_client_made) return true;
  // grpc_is_initialized() takes the library's init lock, which the shutdown
  // holds throughout, so false means the shutdown has finished.
  const auto end = std::chrono::steady_clock::now() + limit;
  while (grpc_is_initialized() != 0) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace radial::client
