// radiald: serves a Radial Network over gRPC with Prometheus metrics.
//
// Startup: parse the config (errors: exit 2), start the metrics endpoint and
// the gRPC server (health NOT_SERVING), load the model (EngineService), then
// health SERVING. SIGTERM / SIGINT (handled by a sigwait thread, never in a
// signal handler): health NOT_SERVING, new generations -> UNAVAILABLE, wait
// up to --drain-timeout-s for requests in flight, stop the gRPC server with a
// short deadline, destroy the service (cancelling leftovers; each gets its
// final status) and exit 0. A second signal cuts the drain short. A signal
// during the model load exits at once.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "engine/error.h"
#include "engine/input_file.h"
#include "kernels/backend_factory.h"
#include "scheduler/engine_service.h"
#include "server/auth.h"
#include "server/config.h"
#include "server/grpc_server.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/openai/api.h"

namespace {

using radial::server::DaemonConfig;

constexpr auto kShutdownGrace = std::chrono::seconds(2);

// Signals arrive here through sigwait() on a dedicated thread.
class SignalWatcher {
 public:
  // Blocks SIGTERM / SIGINT in the calling thread; call before any other
  // thread starts so that every thread inherits the mask.
  SignalWatcher() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
  }

  ~SignalWatcher() {
    if (thread_.joinable()) stop();
  }

  void start() {
    thread_ = std::thread([this] {
      for (;;) {
        int sig = 0;
        if (sigwait(&set_, &sig) != 0) continue;
        std::unique_lock<std::mutex> lock(mu_);
        if (stop_) return;
        ++count_;
        if (loading_) {
          spdlog::warn("signal {} while loading the model; exiting", sig);
          spdlog::default_logger()->flush();
          std::_Exit(0);
        }
        spdlog::info("signal {} received{}", sig,
                     count_ > 1 ? " again: cutting the drain short" : "");
        cv_.notify_all();
      }
    });
  }

  void set_loading(bool loading) {
    std::lock_guard<std::mutex> lock(mu_);
    loading_ = loading;
    if (loading_ && count_ > 0) std::_Exit(0);
  }

  // Waits until a signal arrived.
  void wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return count_ > 0; });
  }
  int count() {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
  }

 private:
  sigset_t set_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
  bool loading_ = true;
  bool stop_ = false;
};

// The contents of the file named by config key `key`; throws ConfigError.
std::string read_config_file(const char* key, const std::string& path) {
  std::string text;
  try {
    text = radial::read_input_file(path, 1 << 20);  // never blocks on a FIFO
  } catch (const radial::Error& e) {
    throw radial::server::ConfigError(std::string(key) + ": " + e.what());
  }
  if (text.empty()) throw radial::server::ConfigError(std::string(key) + ": " + path + " is empty");
  return text;
}

// The gRPC server's options: files read, the token loaded. Throws ConfigError.
radial::server::GrpcServerOptions grpc_options(const DaemonConfig& cfg) {
  radial::server::GrpcServerOptions o;
  o.listen = cfg.listen;
  o.max_message_bytes = cfg.max_message_bytes;
  o.max_streams_per_connection = cfg.max_streams_per_connection;
  o.max_connection_age_s = cfg.max_connection_age_s;
  o.memory_quota_bytes = cfg.grpc_memory_quota_bytes;
  o.max_deadline_s = cfg.max_deadline_s;
  o.health_listen = cfg.health_listen;
  if (!cfg.tls_cert_file.empty()) {
    o.tls_cert_chain = read_config_file("tls_cert_file", cfg.tls_cert_file);
    o.tls_private_key = read_config_file("tls_key_file", cfg.tls_key_file);
  }
  if (!cfg.tls_client_ca_file.empty())
    o.tls_client_ca = read_config_file("tls_client_ca_file", cfg.tls_client_ca_file);
  if (!cfg.auth_token_file.empty()) {
    std::string warning;
    try {
      o.auth_token = radial::server::load_token_file(cfg.auth_token_file, &warning);
    } catch (const std::runtime_error& e) {
      throw radial::server::ConfigError(e.what());
    }
    if (!warning.empty()) spdlog::warn("{}", warning);
  }
  return o;
}

// True for "127.x.x.x:port", "localhost:port" and "[::1]:port".
bool is_loopback(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address.rfind("localhost:", 0) == 0 ||
         address.rfind("[::1]:", 0) == 0;
}

// Start-up warnings about an open configuration.
void warn_about_security(const DaemonConfig& cfg) {
  if (cfg.auth_token_file.empty() && cfg.tls_client_ca_file.empty())
    spdlog::warn(
        "no client authentication configured (auth_token_file, tls_client_ca_file): anyone who "
        "can connect to {} can use the model",
        cfg.listen);
  if (cfg.tls_cert_file.empty() && !is_loopback(cfg.listen))
    spdlog::warn("gRPC on {} is plaintext (no tls_cert_file): requests{} travel unencrypted",
                 cfg.listen, cfg.auth_token_file.empty() ? "" : " and the auth token");
  if (cfg.max_deadline_s == 0)
    spdlog::warn("max_deadline_s is 0: a client that stops reading can hold a call forever");
}

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("radiald");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v");
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::info);
}

int run(const DaemonConfig& cfg_in) {
  DaemonConfig cfg = cfg_in;
  SignalWatcher signals;  // before any thread
  setup_logging(cfg.log_level);
  const std::string sizing = radial::server::resolve_backend_defaults(cfg);
  if (!sizing.empty()) spdlog::info("{}", sizing);
  spdlog::info("backend {} ({})", cfg.backend,
               !cfg.dtype.empty() ? cfg.dtype.c_str()
               : cfg.backend == "cpu"
                   ? "auto"
                   : radial::dtype_option_name(radial::default_dtype(cfg.backend)));
  signals.start();

  radial::server::Metrics metrics(cfg.model_name);
  if (!cfg.metrics_listen.empty()) {
    try {
      const int port = metrics.serve(cfg.metrics_listen);
      spdlog::info("metrics on http://{} (port {}) path /metrics", cfg.metrics_listen, port);
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 1;
    }
  }

  radial::server::GrpcServerOptions gopts;
  try {
    gopts = grpc_options(cfg);
  } catch (const radial::server::ConfigError& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  warn_about_security(cfg);
  std::unique_ptr<radial::server::GrpcServer> server;
  try {
    server = std::make_unique<radial::server::GrpcServer>(gopts, &metrics);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  spdlog::info("gRPC on {} (port {}, {}{}){}; loading model {}", cfg.listen, server->port(),
               cfg.tls_cert_file.empty() ? "plaintext" : "TLS",
               cfg.tls_client_ca_file.empty() ? "" : ", client certificates required",
               cfg.auth_token_file.empty() ? "" : ", bearer token required", cfg.model_name);
  if (server->health_port() != 0)
    spdlog::info("health service (plaintext) on {} (port {})", cfg.health_listen,
                 server->health_port());

  // The OpenAI-compatible HTTP API (same TLS, token and deadline cap).
  std::unique_ptr<radial::server::openai::OpenAiApi> api;
  std::unique_ptr<radial::server::HttpServer> http;
  if (!cfg.http_listen.empty()) {
    radial::server::openai::ApiOptions ao;
    ao.auth_token = gopts.auth_token;
    ao.max_deadline_s = cfg.max_deadline_s;
    api = std::make_unique<radial::server::openai::OpenAiApi>(ao, &metrics);
    radial::server::HttpServerOptions ho;
    ho.listen = cfg.http_listen;
    ho.tls_cert_chain = gopts.tls_cert_chain;
    ho.tls_private_key = gopts.tls_private_key;
    ho.tls_client_ca = gopts.tls_client_ca;
    ho.max_body_bytes = static_cast<size_t>(cfg.http_max_body_bytes);
    ho.io_timeout_s = cfg.http_io_timeout_s;
    ho.max_connections = cfg.http_max_connections;
    try {
      http = std::make_unique<radial::server::HttpServer>(ho, *api);
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      server->shutdown(std::chrono::milliseconds(0));
      return 1;
    }
    spdlog::info("OpenAI-compatible HTTP API on {} (port {}, {}{})", cfg.http_listen, http->port(),
                 cfg.tls_cert_file.empty() ? "plaintext" : "TLS",
                 cfg.auth_token_file.empty() ? "" : ", bearer token required");
  }

  std::unique_ptr<radial::EngineService> service;
  try {
    const auto t0 = std::chrono::steady_clock::now();
    service = std::make_unique<radial::EngineService>(cfg.service, &metrics);
    const radial::ModelInfo& info = service->model_info();
    std::string modes;
    for (const auto& m : info.routing_modes) modes += (modes.empty() ? "" : ", ") + m;
    spdlog::info("loaded {} in {:.2f} s: {} layers, context {}, default mode {} (modes: {}){}",
                 info.name,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                 info.num_layers, info.context_length, info.routing_mode, modes,
                 info.has_tokenizer ? "" : ", no tokenizer (token ids only)");
  } catch (const std::exception& e) {
    spdlog::error("cannot load the model: {}", e.what());
    server->shutdown(std::chrono::milliseconds(0));
    if (http) http->shutdown(std::chrono::milliseconds(0));
    return 1;
  }
  metrics.on_model_loaded(service->model_info());
  radial::EngineService* svc = service.get();
  metrics.set_stats_source([svc] { return svc->stats(); });
  signals.set_loading(false);
  server->attach(svc, cfg.model_name);
  if (api) api->attach(svc, cfg.model_name);
  spdlog::info("serving");

  signals.wait();
  spdlog::info("draining: up to {:.1f} s for requests in flight", cfg.drain_timeout_s);
  server->begin_drain();
  if (api) api->begin_drain();
  const auto drain_end =
      std::chrono::steady_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(cfg.drain_timeout_s * 1000));
  bool drained = false;
  while (!drained && signals.count() < 2 && std::chrono::steady_clock::now() < drain_end)
    drained = svc->drain(std::chrono::milliseconds(100));
  if (drained) {
    spdlog::info("drained");
  } else {
    // Each leftover ends with FINISH_REASON_CANCELLED within one engine step.
    spdlog::info("drain incomplete; cancelling {} requests",
                 server->cancel_all() + (api ? api->cancel_all() : 0));
  }
  server->shutdown(kShutdownGrace);
  if (http) {
    http->shutdown(kShutdownGrace);
    http.reset();  // closes every connection (a generation left is cancelled)
    api->detach();
  }
  metrics.set_stats_source(nullptr);
  service.reset();  // cancels leftovers; their calls already ended
  server.reset();
  signals.stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  DaemonConfig cfg;
  try {
    cfg = radial::server::parse_daemon_config(argc, argv);
  } catch (const radial::server::ConfigError& e) {
    std::fprintf(stderr, "radiald: error: %s\n", e.what());
    return 2;
  }
  if (cfg.help) {
    std::fputs(radial::server::usage().c_str(), stdout);
    return 0;
  }
  return run(cfg);
}
