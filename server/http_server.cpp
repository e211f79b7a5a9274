#include "server/http_server.h"

#include <sys/socket.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <unordered_set>

#include <spdlog/spdlog.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace radial::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr size_t kHeaderLimit = 16 * 1024;
constexpr int kSendBufferBytes = 256 * 1024;  // (Linux doubles it)

struct Shared {
  openai::OpenAiApi& api;
  HttpServerOptions opts;
  asio::thread_pool& workers;
  std::atomic<int> connections{0};
  std::atomic<int> busy{0};  // connections with a request in progress
  std::atomic<bool> stopping{false};
  // Sessions with a generation in flight, kept alive until it ends even when
  // no I/O of theirs is pending (a client gone mid-stream: the session waits
  // for the cancelled generation's final status). Cleared at shutdown.
  std::mutex held_mu;
  std::unordered_set<std::shared_ptr<void>> held;
  void hold(std::shared_ptr<void> s) {
    std::lock_guard<std::mutex> lock(held_mu);
    held.insert(std::move(s));
  }
  void release(const std::shared_ptr<void>& s) {
    std::lock_guard<std::mutex> lock(held_mu);
    held.erase(s);
  }
  std::chrono::milliseconds io_timeout() const {
    return std::chrono::milliseconds(static_cast<int64_t>(opts.io_timeout_s * 1000));
  }
};

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  template <class... Args>
  Session(Shared& sh, bool reject, Args&&... stream_args)
      : stream_(std::forward<Args>(stream_args)...), sh_(sh), reject_(reject) {}
  ~Session() {
    set_busy(false);
    --sh_.connections;
  }

  void start() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(sh_.io_timeout());
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return;  // (a failed handshake just closes)
                                self->first();
                              });
    } else {
      first();
    }
  }

 private:
  void first() {
    if (!reject_) return read();
    keep_alive_ = false;
    write_reply(openai::OpenAiApi::error_reply(503, "service_unavailable",
                                               "too many connections; try again later"));
  }

  void set_busy(bool b) {
    if (b == busy_) return;
    busy_ = b;
    b ? ++sh_.busy : --sh_.busy;
  }

  void read() {
    set_busy(false);
    // The previous exchange's state (a keep-alive connection's next request).
    gen_.reset();
    gen_done_ = failed_ = false;
    body_.clear();
    head_.reset();
    head_sr_.reset();
    if (sh_.stopping) return close();
    parser_.emplace();
    parser_->body_limit(sh_.opts.max_body_bytes);
    parser_->header_limit(kHeaderLimit);
    beast::get_lowest_layer(stream_).expires_after(sh_.io_timeout());
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof)
      return close();
    set_busy(true);
    keep_alive_ = !ec && parser_->get().keep_alive();
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return write_reply(openai::OpenAiApi::error_reply(
          413, "invalid_request_error",
          "the request body exceeds " + std::to_string(sh_.opts.max_body_bytes) + " bytes"));
    }
    if (ec == http::error::header_limit) {
      keep_alive_ = false;
      return write_reply(openai::OpenAiApi::error_reply(431, "invalid_request_error",
                                                        "the request headers exceed 16 KiB"));
    }
    if (ec) {
      keep_alive_ = false;
      return write_reply(openai::OpenAiApi::error_reply(400, "invalid_request_error",
                                                        "malformed HTTP request: " + ec.message()));
    }
    auto req = parser_->release();
    openai::HttpRequestView view;
    view.method = std::string(req.method_string());
    view.target = std::string(req.target());
    for (auto [it, end] = req.equal_range(http::field::authorization); it != end; ++it)
      view.authorization.emplace_back(it->value());
    view.body = std::move(req.body());
    // The API may tokenize: off the I/O threads.
    asio::post(sh_.workers, [self = this->shared_from_this(), view = std::move(view)] {
      auto res = self->sh_.api.handle(view, [&sh = self->sh_] { return sh.stopping.load(); });
      asio::post(self->stream_.get_executor(),
                 [self, res = std::move(res)]() mutable { self->on_handled(std::move(res)); });
    });
  }

  void on_handled(openai::OpenAiApi::Result res) {
    if (!res.generation) return write_reply(res.reply);
    gen_ = std::move(res.generation);
    sh_.hold(this->shared_from_this());
    std::weak_ptr<Session> weak = this->shared_from_this();
    // One pending wake-up at a time (the engine calls this per token): the
    // handler drains whatever arrived by then; a token after its drain posts
    // the next one.
    gen_->set_notify([weak] {
      if (auto self = weak.lock())
        if (!self->notify_pending_.exchange(true))
          asio::post(self->stream_.get_executor(), [self] {
            self->notify_pending_ = false;
            self->on_notify();
          });
    });
    watch_close();
    if (gen_->streaming()) {
      auto res_head = std::make_shared<http::response<http::empty_body>>(http::status::ok, 11);
      res_head->set(http::field::server, "radiald");
      res_head->set(http::field::content_type, "text/event-stream");
      res_head->set(http::field::cache_control, "no-cache");
      res_head->set("X-Accel-Buffering", "no");  // proxies: pass events through at once
      res_head->keep_alive(keep_alive_);
      res_head->chunked(true);
      head_ = res_head;
      head_sr_ = std::make_shared<http::response_serializer<http::empty_body>>(*res_head);
      writing_ = true;
      beast::get_lowest_layer(stream_).expires_after(sh_.io_timeout());
      http::async_write_header(stream_, *head_sr_,
                               [self = this->shared_from_this()](beast::error_code ec, size_t) {
                                 self->writing_ = false;
                                 if (ec) return self->client_gone();
                                 self->on_notify();
                               });
    } else {
      on_notify();
    }
  }

  // Watches the socket while a generation runs: a peer that closes (EOF)
  // cancels it at once. (Pipelined bytes end the watch; writes still fail.)
  void watch_close() {
    auto& sock = beast::get_lowest_layer(stream_).socket();
    sock.async_wait(
        tcp::socket::wait_read, [self = this->shared_from_this()](beast::error_code ec) {
          if (ec || !self->gen_ || self->gen_done_) return;
          char c;
          const ssize_t n = ::recv(beast::get_lowest_layer(self->stream_).socket().native_handle(),
                                   &c, 1, MSG_PEEK | MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) self->client_gone();
        });
  }

  void client_gone() {
    if (gen_ && !gen_done_) {
      gen_->cancel();
      spdlog::debug("http client gone; generation cancelled");
    }
    keep_alive_ = false;
    failed_ = true;
    // Keep pumping (discarding) so the generation ends; the session closes then.
    on_notify();
  }

  void on_notify() {
    if (!gen_ || gen_done_ || writing_) return;
    std::string out;
    const bool done = gen_->pump(&out);
    if (failed_) {
      if (done) finish_generation();
      return;
    }
    if (gen_->streaming()) {
      if (!out.empty()) {
        auto buf = std::make_shared<std::string>(std::move(out));
        writing_ = true;
        beast::get_lowest_layer(stream_).expires_after(sh_.io_timeout());
        asio::async_write(
            stream_, http::make_chunk(asio::buffer(*buf)),
            [self = this->shared_from_this(), buf, done](beast::error_code ec, size_t) {
              self->writing_ = false;
              if (ec) return self->client_gone();
              if (done) return self->end_stream();
              self->on_notify();
            });
        return;
      }
      if (done) end_stream();
      return;
    }
    body_ += out;
    if (!done) return;
    openai::HttpReply r;
    r.status = gen_->status();
    r.body = std::move(body_);
    finish_generation();
    write_reply(r);
  }

  void end_stream() {
    writing_ = true;
    beast::get_lowest_layer(stream_).expires_after(sh_.io_timeout());
    asio::async_write(stream_, http::make_chunk_last(),
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        self->writing_ = false;
                        self->finish_generation();
                        if (ec || !self->keep_alive_) return self->close();
                        self->read();
                      });
  }

  void finish_generation() {
    if (gen_done_) return;
    gen_done_ = true;
    spdlog::info("{}", gen_->end_line());
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().cancel(ignored);  // the close watch
    if (failed_) close();
    sh_.release(this->shared_from_this());  // (the caller holds one: not the last)
  }

  void write_reply(const openai::HttpReply& reply) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(reply.status), 11);
    res->set(http::field::server, "radiald");
    res->set(http::field::content_type, reply.content_type);
    res->keep_alive(keep_alive_);
    res->body() = reply.body;
    res->prepare_payload();
    writing_ = true;
    beast::get_lowest_layer(stream_).expires_after(sh_.io_timeout());
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
                        self->writing_ = false;
                        if (ec || !self->keep_alive_) return self->close();
                        self->read();
                      });
  }

  void close() {
    set_busy(false);
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code ignored;
        beast::get_lowest_layer(self->stream_).socket().close(ignored);
      });
    } else {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      stream_.socket().close(ec);
    }
  }

  Stream stream_;
  Shared& sh_;
  bool reject_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<openai::Generation> gen_;
  std::shared_ptr<http::response<http::empty_body>> head_;
  std::shared_ptr<http::response_serializer<http::empty_body>> head_sr_;
  std::string body_;
  bool keep_alive_ = true, writing_ = false, gen_done_ = false, failed_ = false, closed_ = false;
  bool busy_ = false;
  std::atomic<bool> notify_pending_{false};
};

std::pair<std::string, int> split_host_port(const std::string& hp) {
  const size_t colon = hp.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("http_listen: expected HOST:PORT");
  std::string host = hp.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(hp.substr(colon + 1));
  } catch (...) {
    throw std::runtime_error("http_listen: bad port in '" + hp + "'");
  }
  if (port < 0 || port > 65535) throw std::runtime_error("http_listen: bad port in '" + hp + "'");
  return {host.empty() ? "0.0.0.0" : host, port};
}

}  // namespace

struct HttpServer::Impl {
  // Destroyed in reverse order: the I/O context (and the sessions its
  // pending handlers hold) before what the sessions use (shared, tls).
  asio::thread_pool workers;
  Shared shared;
  std::optional<ssl::context> tls;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  int port = 0;
  bool stopped = false;

  Impl(const HttpServerOptions& o, openai::OpenAiApi& api)
      : workers(std::max(1, o.worker_threads)), shared{api, o, workers}, acceptor(ioc) {}
  ~Impl() {
    ioc.stop();
    for (auto& t : threads)
      if (t.joinable()) t.join();
  }

  void accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec) {
        if (ec == asio::error::operation_aborted || shared.stopping) return;
        accept();
        return;
      }
      // Each event is written as soon as it exists: no Nagle delay (with the
      // client's delayed ACK it held small writes up to 40 ms).
      beast::error_code ignored;
      s.set_option(tcp::no_delay(true), ignored);
      // A bounded send buffer (the kernel's autotuning grows it to 4 MB): a
      // client that stops reading blocks our writes after about 0.5 MB, so
      // the write time-out finds it and cancels its generation, and each
      // stalled connection pins little kernel memory.
      s.set_option(asio::socket_base::send_buffer_size(kSendBufferBytes), ignored);
      const bool reject = ++shared.connections > shared.opts.max_connections || shared.stopping;
      if (tls) {
        std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(shared, reject,
                                                                        std::move(s), *tls)
            ->start();
      } else {
        std::make_shared<Session<beast::tcp_stream>>(shared, reject, std::move(s))->start();
      }
      accept();
    });
  }
};

HttpServer::HttpServer(const HttpServerOptions& opts, openai::OpenAiApi& api)
    : impl_(std::make_unique<Impl>(opts, api)) {
  if (!opts.tls_cert_chain.empty()) {
    impl_->tls.emplace(ssl::context::tls_server);
    auto& ctx = *impl_->tls;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    try {
      ctx.use_certificate_chain(asio::buffer(opts.tls_cert_chain));
      ctx.use_private_key(asio::buffer(opts.tls_private_key), ssl::context::pem);
      if (!opts.tls_client_ca.empty()) {
        ctx.add_certificate_authority(asio::buffer(opts.tls_client_ca));
        ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      }
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("http TLS setup: ") + e.what());
    }
  }
  const auto [host, port] = split_host_port(opts.listen);
  beast::error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("http_listen: bad address '" + host + "'");
  const tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + opts.listen + ": " + ec.message());
  impl_->port = a.local_endpoint().port();
  impl_->accept();
  for (int i = 0; i < std::max(1, opts.io_threads); ++i)
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
}

HttpServer::~HttpServer() {
  if (!impl_->stopped) shutdown(std::chrono::milliseconds(0));
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::shutdown(std::chrono::milliseconds deadline) {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->shared.stopping = true;
  asio::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
  const auto end = Clock::now() + deadline;
  while (impl_->shared.busy > 0 && Clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->workers.join();
  // Sessions whose generations are still running: dropped (their streams cancel).
  std::unordered_set<std::shared_ptr<void>> held;
  {
    std::lock_guard<std::mutex> lock(impl_->shared.held_mu);
    held.swap(impl_->shared.held);
  }
}

}  // namespace radial::server
