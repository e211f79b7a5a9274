#include "server/grpc_server.h"
// Before any gRPC header that could instantiate the request types traits.
#include "server/wire_request_traits.h"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "engine/error.h"
#include "engine/router.h"
#include "radial/v1/radial.grpc.pb.h"
#include "server/auth.h"
#include "server/convert.h"
#include "server/log_limiter.h"
#include "server/metrics.h"
#include "server/transport.h"
#include "server/watchdog.h"

namespace radial::server {
namespace {

namespace pb = radial::v1;
using Clock = std::chrono::steady_clock;

// How often a generation whose stream is quiet checks that its client is
// still there and the deadline cap has not passed. Tokens never wait for
// it: the stream wakes the handler as soon as one arrives.
constexpr auto kLivenessInterval = std::chrono::milliseconds(50);
// A streaming call still blocked (a client that stopped reading) this long
// after the deadline cap is cancelled by the watchdog.
constexpr auto kCapGrace = std::chrono::seconds(2);
const char* const kServiceName = "radial.v1.Radial";

grpc::StatusCode to_grpc_code(radial::ErrorCode c) {
  switch (c) {
    case radial::ErrorCode::kInvalidArgument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case radial::ErrorCode::kResourceExhausted:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case radial::ErrorCode::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    case radial::ErrorCode::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case radial::ErrorCode::kCancelled:
      return grpc::StatusCode::CANCELLED;
    default:
      return grpc::StatusCode::INTERNAL;
  }
}

const char* code_name(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

// The text token ids[i] adds after ids[i - 1] (with its leading space, which
// decoding a piece on its own drops): decode(prev, id) minus decode(prev),
// or decode(id) when that is not a clean extension.
std::string piece_text(const radial::EngineService& service, const std::vector<int>& ids,
                       size_t i) {
  if (i > 0) {
    const std::string before = service.detokenize({ids[i - 1]});
    const std::string both = service.detokenize({ids[i - 1], ids[i]});
    if (both.size() >= before.size() && both.compare(0, before.size(), before) == 0)
      return both.substr(before.size());
  }
  return service.detokenize({ids[i]});
}

}  // namespace

class RadialService final : public pb::Radial::Service {
 public:
  RadialService(Metrics* metrics, std::string auth_token, double max_deadline_s)
      : metrics_(metrics),
        auth_token_(std::move(auth_token)),
        max_duration_(max_deadline_s > 0 ? std::chrono::duration_cast<Clock::duration>(
                                               std::chrono::duration<double>(max_deadline_s))
                                         : Clock::duration(0)),
        watchdog_(max_duration_.count() > 0 ? max_duration_ + kCapGrace : Clock::duration(0)) {
    std::random_device rd;
    id_prefix_ = std::uniform_int_distribution<uint32_t>()(rd);
  }

  void attach(radial::EngineService* service, const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    service_ = service;
    model_name_ = name;
  }

  void begin_drain() {
    std::lock_guard<std::mutex> lock(mu_);
    draining_ = true;
  }

  int cancel_all() {
    std::lock_guard<std::mutex> lock(mu_);
    if (service_ == nullptr) return 0;
    for (uint64_t id : active_) service_->cancel(id);
    return static_cast<int>(active_.size());
  }

  // Waits until no handler holds the service, then forgets it.
  void detach() {
    std::unique_lock<std::mutex> lock(mu_);
    draining_ = true;
    idle_cv_.wait(lock, [&] { return in_flight_ == 0; });
    service_ = nullptr;
  }

  grpc::Status Generate(grpc::ServerContext* ctx, const pb::GenerateRequest* req,
                        grpc::ServerWriter<pb::GenerateResponse>* writer) override {
    bool first = true;
    std::string request_id;
    auto write_token = [&](const radial::GeneratedToken& t) {
      pb::GenerateResponse msg;
      msg.set_text(t.text);
      fill_token_info(t, msg.add_tokens(), req->has_logprobs());
      if (first) msg.set_request_id(request_id);
      first = false;
      return writer->Write(msg);
    };
    if (grpc::Status st = authorize(ctx); !st.ok()) return finish_status("Generate", st);
    // Still running kCapGrace after the cap: blocked in Write; cancelled.
    CallWatchdog::Registration watched(watchdog_, ctx);
    pb::GenerateResponse last;
    std::string end_line;
    grpc::Status st = generate(ctx, *req, write_token, &request_id, &last, &end_line);
    if (st.ok() && !writer->Write(last))
      st = grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
    log_end(request_id, end_line, st);
    return finish_status("Generate", st);
  }

  grpc::Status GenerateUnary(grpc::ServerContext* ctx, const pb::GenerateRequest* req,
                             pb::GenerateResponse* resp) override {
    if (grpc::Status st = authorize(ctx); !st.ok()) return finish_status("GenerateUnary", st);
    std::string request_id;
    std::string end_line;
    grpc::Status st = generate(ctx, *req, nullptr, &request_id, resp, &end_line);
    log_end(request_id, end_line, st);
    return finish_status("GenerateUnary", st);
  }

  grpc::Status Tokenize(grpc::ServerContext* ctx, const pb::TokenizeRequest* req,
                        pb::TokenizeResponse* resp) override {
    if (grpc::Status st = authorize(ctx); !st.ok()) return finish_status("Tokenize", st);
    Lease lease(this);
    grpc::Status st = lease.open(/*generation=*/false);
    if (st.ok()) {
      try {
        const std::vector<int> ids = lease.service->tokenize(req->text(), req->add_bos(),
                                                             [ctx] { return ctx->IsCancelled(); });
        for (size_t i = 0; i < ids.size(); ++i) {
          resp->add_ids(ids[i]);
          resp->add_pieces(piece_text(*lease.service, ids, i));
        }
      } catch (const radial::Error& e) {
        st = grpc::Status(to_grpc_code(e.code()), e.what());
      } catch (const std::exception& e) {
        st = grpc::Status(grpc::StatusCode::INTERNAL, e.what());
      }
    }
    return finish_status("Tokenize", st);
  }

  grpc::Status ModelInfo(grpc::ServerContext* ctx, const pb::ModelInfoRequest*,
                         pb::ModelInfoResponse* resp) override {
    if (grpc::Status st = authorize(ctx); !st.ok()) return finish_status("ModelInfo", st);
    Lease lease(this);
    grpc::Status st = lease.open(/*generation=*/false);
    if (st.ok())
      fill_model_info(lease.service->model_info(), lease.service->limits(), lease.model_name, resp);
    return finish_status("ModelInfo", st);
  }

 private:
  // OK when no token is configured or the call carries one
  // `authorization: Bearer <token>` (and no other authorization value);
  // UNAUTHENTICATED otherwise.
  grpc::Status authorize(grpc::ServerContext* ctx) const {
    if (auth_token_.empty()) return grpc::Status::OK;
    const auto [first, last] = ctx->client_metadata().equal_range("authorization");
    std::vector<std::string_view> values;
    for (auto it = first; it != last; ++it)
      values.emplace_back(it->second.data(), it->second.size());
    const AuthResult r = check_bearer_values(values, auth_token_);
    if (r == AuthResult::kOk) return grpc::Status::OK;
    spdlog::debug("unauthenticated call from {}: {}", ctx->peer(), auth_error_message(r));
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, auth_error_message(r));
  }

  // Holds the service for one handler; detach() waits for every lease.
  struct Lease {
    explicit Lease(RadialService* s) : owner(s) {}
    ~Lease() {
      if (service == nullptr) return;
      std::lock_guard<std::mutex> lock(owner->mu_);
      if (--owner->in_flight_ == 0) owner->idle_cv_.notify_all();
    }
    grpc::Status open(bool generation) {
      std::lock_guard<std::mutex> lock(owner->mu_);
      if (owner->service_ == nullptr)
        return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            owner->draining_ ? "the server is shutting down"
                                             : "the model is loading; try again shortly");
      if (generation && owner->draining_)
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is draining");
      service = owner->service_;
      model_name = owner->model_name_;
      ++owner->in_flight_;
      return grpc::Status::OK;
    }
    RadialService* owner;
    radial::EngineService* service = nullptr;
    std::string model_name;
  };

  // "[id] end: status=<CODE> finish=...": one line per accepted request,
  // with the status the call really ends with.
  static void log_end(const std::string& request_id, const std::string& end_line,
                      const grpc::Status& st) {
    if (!end_line.empty())
      spdlog::info("[{}] end: status={} {}", request_id, code_name(st.error_code()), end_line);
  }

  grpc::Status finish_status(const char* method, const grpc::Status& st) {
    if (!st.ok()) {
      if (metrics_ != nullptr) metrics_->count_error(code_name(st.error_code()));
      spdlog::debug("{}: {} {}", method, code_name(st.error_code()), st.error_message());
    }
    return st;
  }

  std::string make_request_id() {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%08x-%06llu", id_prefix_,
                  static_cast<unsigned long long>(++id_counter_));
    return buf;
  }

  // Runs one generation. `write_token` (streaming; null for unary) sends a
  // token and returns false when the client is gone. On success `out` holds
  // the final message (unary: every token and the whole text as well).
  // Exactly one Status comes back for every call. For an accepted request
  // `end_line` gets the details of its log line ("finish=... seconds=...");
  // log_end() writes the line once the call's final status is known.
  grpc::Status generate(grpc::ServerContext* ctx, const pb::GenerateRequest& in,
                        const std::function<bool(const radial::GeneratedToken&)>& write_token,
                        std::string* request_id, pb::GenerateResponse* out, std::string* end_line) {
    const Clock::time_point start = Clock::now();
    Lease lease(this);
    if (grpc::Status st = lease.open(/*generation=*/true); !st.ok()) return st;
    try {
      check_request_id(in.request_id());
    } catch (const radial::Error& e) {
      spdlog::info("[{}] rejected: INVALID_ARGUMENT: {}", make_request_id(), e.what());
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, e.what());
    }
    *request_id = in.request_id().empty() ? make_request_id() : in.request_id();
    const std::string& rid = *request_id;

    std::unique_ptr<radial::RequestStream> stream;
    const bool streaming = static_cast<bool>(write_token);
    std::string mode;
    try {
      radial::GenerateRequest req =
          to_engine_request(in, *lease.service, [ctx] { return ctx->IsCancelled(); });
      mode = req.mode ? radial::route_mode_name(*req.mode)
                      : lease.service->model_info().routing_mode + " (default)";
      const size_t prompt_tokens = req.prompt.empty() ? 1 : req.prompt.size();
      const int max_tokens = req.max_tokens;
      stream = lease.service->submit(std::move(req));
      track(stream->id(), true);
      spdlog::info("[{}] start: prompt_tokens={} max_tokens={} mode={} temperature={} stream={}",
                   rid, prompt_tokens, max_tokens, mode, in.temperature(), streaming);
    } catch (const radial::Error& e) {
      spdlog::info("[{}] rejected: {}: {}", rid, code_name(to_grpc_code(e.code())), e.what());
      return grpc::Status(to_grpc_code(e.code()), e.what());
    } catch (const std::exception& e) {
      spdlog::error("[{}] rejected: {}", rid, e.what());
      return grpc::Status(grpc::StatusCode::INTERNAL, e.what());
    }
    const uint64_t id = stream->id();

    // Relay tokens until the final result; on client cancel, deadline, a
    // failed write or the server's deadline cap, cancel the request and
    // still wait for its final result so that its KV blocks are free before
    // the call ends.
    const Clock::time_point cap =
        max_duration_.count() > 0 ? start + max_duration_ : Clock::time_point::max();
    bool capped = false;
    bool client_gone = false;
    std::vector<radial::GeneratedToken> batch;
    radial::SequenceResult result;
    size_t streamed_bytes = 0;  // text sent with the tokens so far
    for (;;) {
      batch.clear();
      const auto next = stream->next(&batch, &result, Clock::now() + kLivenessInterval);
      if (next == radial::RequestStream::Next::kFinished) break;
      if (!client_gone && streaming) {
        for (const auto& t : batch) {
          if (!write_token(t)) {
            client_gone = true;
            break;
          }
          streamed_bytes += t.text.size();
        }
      }
      if (!client_gone && ctx->IsCancelled()) client_gone = true;
      if (!client_gone && Clock::now() >= cap) capped = client_gone = true;
      if (client_gone) stream->cancel();
    }

    track(id, false);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    *end_line =
        fmt::format("finish={} prompt_tokens={} tokens={} mean_depth={:.2f} seconds={:.3f}{}",
                    radial::finish_reason_name(result.finish), result.usage.prompt_tokens,
                    result.usage.generated_tokens, result.usage.mean_depth, seconds,
                    capped        ? " (deadline cap)"
                    : client_gone ? " (client gone)"
                                  : "");
    if (capped || (client_gone && Clock::now() >= cap))
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          "the generation ran past the server's max_deadline_s");
    if (client_gone || ctx->IsCancelled()) {
      if (ctx->deadline() <= std::chrono::system_clock::now())
        return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline exceeded");
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
    }
    if (result.finish == radial::FinishReason::kError)
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          result.error.empty() ? "generation failed" : result.error);
    if (!streaming) {
      out->set_text(result.text);
      for (const auto& t : result.tokens) fill_token_info(t, out->add_tokens(), in.has_logprobs());
    } else if (result.text.size() > streamed_bytes) {
      // Text held back until the end (a possible stop string's start, an
      // incomplete character) comes with the final message.
      out->set_text(result.text.substr(streamed_bytes));
    }
    fill_final(result, out);
    out->set_request_id(rid);
    return grpc::Status::OK;
  }

  void track(uint64_t id, bool active) {
    std::lock_guard<std::mutex> lock(mu_);
    if (active) {
      active_.insert(id);
    } else {
      active_.erase(id);
    }
  }

  Metrics* metrics_;
  const std::string auth_token_;
  const Clock::duration max_duration_;  // the deadline cap; 0: none
  CallWatchdog watchdog_;               // streaming calls blocked past the cap
  uint32_t id_prefix_ = 0;
  std::atomic<uint64_t> id_counter_{0};
  std::mutex mu_;
  std::condition_variable idle_cv_;
  radial::EngineService* service_ = nullptr;
  std::string model_name_;
  bool draining_ = false;
  int in_flight_ = 0;
  std::set<uint64_t> active_;  // engine ids of generations in flight
};

// Requests refused while deserializing (before any handler runs: a string
// field that is not UTF-8): counted like other errors, logged at most once
// a second.
static std::atomic<Metrics*> g_wire_metrics{nullptr};

static void on_wire_rejection(const grpc::Status& st) {
  if (Metrics* m = g_wire_metrics.load()) m->count_error(code_name(st.error_code()));
  static LogLimiter limiter;
  if (int64_t suppressed = 0; limiter.allow(&suppressed))
    spdlog::info("rejected on the wire: {}: {}{}", code_name(st.error_code()), st.error_message(),
                 suppressed > 0 ? fmt::format(" ({} more since the last such line)", suppressed)
                                : std::string());
}

struct GrpcServer::Impl {
  Impl(Metrics* m, const GrpcServerOptions& o) : service(m, o.auth_token, o.max_deadline_s) {}
  RadialService service;
  std::unique_ptr<grpc::Server> server;
  grpc::CallbackGenericService unimplemented;   // the health server's other methods
  std::unique_ptr<grpc::Server> health_server;  // health_listen: health only, plaintext
  int port = 0;
  int health_port = 0;
  bool stopped = false;

  void set_health(bool serving) {
    for (grpc::Server* s : {server.get(), health_server.get()}) {
      if (s == nullptr) continue;
      if (auto* h = s->GetHealthCheckService()) {
        h->SetServingStatus("", serving);
        h->SetServingStatus(kServiceName, serving);
      }
    }
  }
};

GrpcServer::GrpcServer(const GrpcServerOptions& opts, Metrics* metrics)
    : impl_(std::make_unique<Impl>(metrics, opts)) {
  grpc::EnableDefaultHealthCheckService(true);  // every server built from now on
  g_wire_metrics.store(metrics);
  set_wire_rejection_hook(&on_wire_rejection);
  grpc::ServerBuilder builder;
  configure_main_builder(builder, opts.max_message_bytes, opts.max_streams_per_connection,
                         opts.memory_quota_bytes, opts.max_connection_age_s,
                         // Calls in flight at GOAWAY may run to the deadline cap (and a margin).
                         opts.max_deadline_s > 0 ? opts.max_deadline_s + 5 : 0,
                         /*reflection=*/opts.auth_token.empty());
  builder.AddListeningPort(
      opts.listen,
      server_credentials(TlsPem{opts.tls_cert_chain, opts.tls_private_key, opts.tls_client_ca}),
      &impl_->port);
  builder.RegisterService(&impl_->service);
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || impl_->port == 0)
    throw std::runtime_error("cannot listen on " + opts.listen);
  if (!opts.health_listen.empty()) {
    try {
      impl_->health_server =
          start_health_server(opts.health_listen, &impl_->unimplemented, &impl_->health_port);
    } catch (...) {
      impl_->server->Shutdown();
      impl_->server->Wait();
      throw;
    }
  }
  impl_->set_health(false);
}

GrpcServer::~GrpcServer() {
  if (!impl_->stopped) shutdown(std::chrono::milliseconds(0));
}

int GrpcServer::port() const { return impl_->port; }
int GrpcServer::health_port() const { return impl_->health_port; }

void GrpcServer::attach(radial::EngineService* service, const std::string& model_name) {
  impl_->service.attach(service, model_name);
  impl_->set_health(true);
}

void GrpcServer::begin_drain() {
  impl_->set_health(false);
  impl_->service.begin_drain();
}

int GrpcServer::cancel_all() { return impl_->service.cancel_all(); }

void GrpcServer::shutdown(std::chrono::milliseconds deadline) {
  if (impl_->stopped) return;
  impl_->stopped = true;
  begin_drain();
  impl_->server->Shutdown(std::chrono::system_clock::now() + deadline);
  impl_->server->Wait();
  if (impl_->health_server) {
    impl_->health_server->Shutdown(std::chrono::system_clock::now());
    impl_->health_server->Wait();
  }
  impl_->service.detach();
}

}  // namespace radial::server
