// The HTTP/1.1 transport of radiald's OpenAI-compatible API (Boost.Beast,
// asynchronous): a small pool of I/O threads serves every connection, so
// an open server-sent-events stream holds no thread while it waits for
// tokens. Per connection: a request is read within io_timeout_s (headers at
// most 16 KiB, the body at most max_body_bytes: 413 beyond), handed to
// OpenAiApi on a worker thread (it may tokenize), and its reply or
// generation written; every write must finish within io_timeout_s, or the
// client is taken as stalled and its generation cancelled. A client that
// closes its connection while a generation runs cancels it at once. Beyond
// max_connections, new connections get a 503 and are closed. Beast stays
// inside this file's .cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "server/openai/api.h"

namespace radial::server {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free one
  // TLS (PEM contents): chain and key both empty = plaintext; client_ca set
  // = client certificates required.
  std::string tls_cert_chain, tls_private_key, tls_client_ca;
  size_t max_body_bytes = 4u << 20;
  double io_timeout_s = 30;
  int max_connections = 1024;
  int io_threads = 2;      // event loop threads
  int worker_threads = 4;  // request parsing and tokenization
};

class HttpServer {
 public:
  // Listening when it returns; throws std::runtime_error when it cannot.
  // `api` must outlive the server.
  HttpServer(const HttpServerOptions& opts, openai::OpenAiApi& api);
  ~HttpServer();  // shutdown(0) unless it ran
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;
  // Stops accepting; connections still busy get `deadline` to finish, then
  // every connection is closed (closing cancels its generation). When it
  // returns no handler runs.
  void shutdown(std::chrono::milliseconds deadline);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace radial::server
