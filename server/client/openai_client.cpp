#include "server/client/openai_client.h"

#include <chrono>
#include <mutex>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace radial::client {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

StatusCode from_http(int status) {
  switch (status) {
    case 400:
    case 413:
      return StatusCode::kInvalidArgument;
    case 401:
      return StatusCode::kUnauthenticated;
    case 404:
      return StatusCode::kNotFound;
    case 429:
      return StatusCode::kResourceExhausted;
    case 503:
      return StatusCode::kUnavailable;
    default:
      return StatusCode::kInternal;
  }
}

Status http_error(int status, const std::string& body) {
  std::string message = "HTTP " + std::to_string(status);
  try {
    message += ": " + Json::parse(body)["error"]["message"].get<std::string>();
  } catch (...) {
  }
  return Status{from_http(status), message};
}

// One keep-alive connection.
struct Connection {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool open = false;
};

}  // namespace

struct OpenAiClient::Impl {
  std::string host, port, token;
  std::mutex mu;
  std::vector<std::unique_ptr<Connection>> idle;

  std::unique_ptr<Connection> take() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!idle.empty()) {
        auto c = std::move(idle.back());
        idle.pop_back();
        return c;
      }
    }
    return std::make_unique<Connection>();
  }
  void give_back(std::unique_ptr<Connection> c) {
    std::lock_guard<std::mutex> lock(mu);
    idle.push_back(std::move(c));
  }

  void connect(Connection& c, const CallOptions& call) {
    if (call.timeout) {
      c.stream.expires_after(*call.timeout);
    } else {
      c.stream.expires_never();
    }
    if (c.open) return;
    tcp::resolver resolver(c.ioc);
    c.stream.connect(resolver.resolve(host, port));
    c.stream.socket().set_option(tcp::no_delay(true));
    c.open = true;
  }

  http::request<http::string_body> request(http::verb verb, const std::string& target,
                                           std::string body) const {
    http::request<http::string_body> r(verb, target, 11);
    r.set(http::field::host, host);
    r.set(http::field::user_agent, "radial-bench");
    if (!token.empty()) r.set(http::field::authorization, "Bearer " + token);
    if (!body.empty()) r.set(http::field::content_type, "application/json");
    r.keep_alive(true);
    r.body() = std::move(body);
    r.prepare_payload();
    return r;
  }
};

OpenAiClient::OpenAiClient(std::string address, std::string token)
    : impl_(std::make_unique<Impl>()) {
  const size_t colon = address.rfind(':');
  impl_->host = colon == std::string::npos ? address : address.substr(0, colon);
  impl_->port = colon == std::string::npos ? "80" : address.substr(colon + 1);
  impl_->token = std::move(token);
}

OpenAiClient::~OpenAiClient() = default;

Result<ModelInfo> OpenAiClient::model_info(const CallOptions& call) {
  Result<ModelInfo> out;
  auto c = impl_->take();
  try {
    impl_->connect(*c, call);
    auto req = impl_->request(http::verb::get, "/v1/models", "");
    if (call.timeout) c->stream.expires_after(*call.timeout);
    http::write(c->stream, req);
    http::response<http::string_body> res;
    http::read(c->stream, c->buffer, res);
    if (res.result_int() != 200) {
      out.status = http_error(res.result_int(), res.body());
      return out;
    }
    const Json m = Json::parse(res.body())["data"].at(0);
    const Json& r = m.at("radial");
    ModelInfo& v = out.value;
    v.name = m.at("id").get<std::string>();
    v.context_length = m.value("max_model_len", 0u);
    v.num_layers = r.value("num_layers", 0u);
    v.vocab_size = r.value("vocab_size", 0u);
    v.bos_token_id = r.value("bos_token_id", 0u);
    for (const auto& e : r.value("eos_token_ids", Json::array())) v.eos_token_ids.push_back(e);
    v.max_prompt_tokens = r.value("max_prompt_tokens", 0u);
    v.max_tokens = r.value("max_tokens", 0u);
    v.routing_mode = parse_routing_mode(r.value("routing_mode", std::string("full")))
                         .value_or(RoutingMode::kFull);
    impl_->give_back(std::move(c));
  } catch (const std::exception& e) {
    out.status = Status{StatusCode::kUnavailable, e.what()};
  }
  return out;
}

GenerateResult OpenAiClient::generate(const GenerateRequest& req, const CallOptions& call) {
  GenerateResult out;
  const auto t0 = Clock::now();
  auto since = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  Json body = {{"max_tokens", req.max_tokens ? req.max_tokens : 16},
               {"temperature", req.temperature},
               {"seed", req.seed},
               {"ignore_eos", req.ignore_eos},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}}};
  if (req.token_ids) {
    body["prompt"] = *req.token_ids;
  } else {
    body["prompt"] = req.text;
  }
  if (req.top_k) body["top_k"] = req.top_k;
  if (req.top_p) body["top_p"] = *req.top_p;
  if (req.repetition_penalty) body["repetition_penalty"] = *req.repetition_penalty;
  if (req.presence_penalty != 0) body["presence_penalty"] = req.presence_penalty;
  if (req.frequency_penalty != 0) body["frequency_penalty"] = req.frequency_penalty;
  if (!req.logit_bias.empty()) {
    Json biases = Json::object();
    for (const auto& [token, bias] : req.logit_bias) biases[std::to_string(token)] = bias;
    body["logit_bias"] = biases;
  }
  if (!req.stop_strings.empty()) body["stop"] = req.stop_strings;
  if (req.routing_mode != RoutingMode::kDefault)
    body["routing_mode"] = routing_mode_name(req.routing_mode);
  if (req.threshold) body["threshold"] = *req.threshold;

  auto c = impl_->take();
  try {
    // A pooled connection the server has since closed fails at once: retry
    // on a fresh one.
    for (int attempt = 0;; ++attempt) {
      const bool reused = c->open;
      try {
        impl_->connect(*c, call);
        http::write(c->stream, impl_->request(http::verb::post, "/v1/completions", body.dump()));
        break;
      } catch (const beast::system_error&) {
        if (!reused || attempt > 0) throw;
        c = std::make_unique<Connection>();
      }
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(1ull << 30);
    std::string pending;  // SSE bytes not yet a whole event
    bool done = false;
    auto on_event = [&](const std::string& data) {
      if (data == "[DONE]") {
        done = true;
        return;
      }
      const Json j = Json::parse(data);
      if (j.contains("error")) {
        out.status = Status{StatusCode::kInternal, j["error"].value("message", "")};
        return;
      }
      if (j.contains("usage") && j["usage"].is_object()) {
        Usage u;
        u.prompt_tokens = j["usage"].value("prompt_tokens", 0u);
        u.generated_tokens = j["usage"].value("completion_tokens", 0u);
        const Json& details = j["usage"].value("prompt_tokens_details", Json::object());
        if (details.is_object()) u.cached_prompt_tokens = details.value("cached_tokens", 0u);
        if (j.contains("radial")) {
          u.mean_depth = j["radial"].value("mean_depth", 0.f);
          u.compute_fraction = j["radial"].value("compute_fraction", 0.f);
        }
        out.usage = u;
        for (TokenInfo& ti : out.tokens) ti.compute_fraction = u.compute_fraction;  // (the mean)
      }
      for (const auto& ch : j.value("choices", Json::array())) {
        out.text += ch.value("text", std::string());
        const double t = since();
        if (ch.contains("radial") && ch["radial"].contains("depth")) {
          for (const auto& d : ch["radial"]["depth"]) {
            TokenInfo ti;
            ti.depth = d.get<uint32_t>();
            out.tokens.push_back(ti);
            out.token_seconds.push_back(t);
            if (out.first_token_seconds < 0) out.first_token_seconds = t;
          }
        }
        const auto fr = ch.value("finish_reason", Json());
        if (fr.is_string())
          out.finish_reason = fr == "length" ? FinishReason::kLength : FinishReason::kStop;
      }
    };
    auto on_chunk = [&](std::uint64_t, beast::string_view data, beast::error_code&) {
      pending.append(data.data(), data.size());
      for (size_t end; (end = pending.find("\n\n")) != std::string::npos;) {
        const std::string event = pending.substr(0, end);
        pending.erase(0, end + 2);
        if (event.rfind("data: ", 0) == 0) on_event(event.substr(6));
      }
      return data.size();
    };
    parser.on_chunk_body(on_chunk);  // (must outlive the reads below)
    try {
      http::read_header(c->stream, c->buffer, parser);
    } catch (const beast::system_error& e) {
      if (e.code() != http::error::end_of_stream) throw;
      throw beast::system_error(e.code(), "the server closed the connection");
    }
    const int status = parser.get().result_int();
    http::read(c->stream, c->buffer, parser);
    if (status != 200) {
      out.status = http_error(status, parser.get().body());
    } else if (!done && out.status.ok()) {
      out.status = Status{StatusCode::kInternal, "the event stream ended without [DONE]"};
    }
    if (parser.get().keep_alive()) impl_->give_back(std::move(c));
  } catch (const beast::system_error& e) {
    out.status = Status{e.code() == beast::error::timeout ? StatusCode::kDeadlineExceeded
                                                          : StatusCode::kUnavailable,
                        e.what()};
  } catch (const std::exception& e) {
    out.status = Status{StatusCode::kInternal, e.what()};
  }
  out.seconds = since();
  return out;
}

}  // namespace radial::client
