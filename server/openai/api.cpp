#include "server/openai/api.h"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <random>
#include <thread>

#include <spdlog/spdlog.h>

#include "server/auth.h"
#include "server/metrics.h"
#include "server/openai/request_parse.h"
#include "server/openai/response_json.h"
#include "server/openai/tokenizer_api.h"

namespace radial::server::openai {
namespace {

using Clock = std::chrono::steady_clock;

std::string sse(const Json& j) { return "data: " + j.dump() + "\n\n"; }

const char* code_name(int status) {
  switch (status) {
    case 400:
    case 413:
      return "INVALID_ARGUMENT";
    case 401:
      return "UNAUTHENTICATED";
    case 404:
      return "NOT_FOUND";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 503:
      return "UNAVAILABLE";
    case 499:
      return "CANCELLED";
    default:
      return "INTERNAL";
  }
}

HttpReply json_reply(int status, const Json& body) {
  HttpReply r;
  r.status = status;
  r.body = body.dump();
  return r;
}

// All the choices of one accepted request.
class ChoicesGeneration final : public Generation {
 public:
  ChoicesGeneration(std::shared_ptr<const ParsedRequest> req, const EngineService* service,
                    std::string id, std::string model, Clock::time_point cap)
      : req_(std::move(req)), cap_(cap) {
    ctx_.req = req_.get();
    ctx_.service = service;
    ctx_.id = std::move(id);
    ctx_.created = static_cast<int64_t>(std::time(nullptr));
    ctx_.model = std::move(model);
    choices_.resize(req_->choices.size());
    for (size_t i = 0; i < choices_.size(); ++i) {
      const auto& p = req_->choices[i].prompt;
      choices_[i].prev = p.empty() ? -1 : p.back();
    }
  }

  // Takes the streams (one per choice, in order) once they are submitted.
  void add_stream(std::unique_ptr<RequestStream> s) {
    std::lock_guard<std::mutex> lock(mu_);
    streams_.push_back(std::move(s));
  }

  bool streaming() const override { return req_->stream; }
  int status() const override { return status_; }
  Clock::time_point cap() const { return cap_; }
  const std::string& id() const { return ctx_.id; }

  void set_notify(std::function<void()> fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& s : streams_) s->set_notify(fn);
  }

  void cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    for (auto& s : streams_) s->cancel();
  }
  bool cancelled() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }

  bool pump(std::string* out) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return true;
    bool all_done = true;
    for (size_t i = 0; i < streams_.size(); ++i) {
      Choice& c = choices_[i];
      if (c.done) continue;
      if (req_->stream && !c.role_sent) {  // chat: the role; completions: the echo
        if (req_->endpoint == Endpoint::kChat) *out += sse(role_chunk(ctx_, static_cast<int>(i)));
        if (req_->echo) *out += sse(echo_chunk(ctx_, static_cast<int>(i)));
        c.role_sent = true;
      }
      for (;;) {
        std::vector<GeneratedToken> tokens;
        const auto next = streams_[i]->poll(&tokens, &c.result);  // (never waits)
        if (next == RequestStream::Next::kTimeout) break;
        if (next == RequestStream::Next::kFinished) {
          c.done = true;
          if (req_->stream) finish_stream_choice(static_cast<int>(i), out);
          break;
        }
        if (req_->stream && !req_->score_only) {
          std::string text;
          for (const auto& t : tokens) text += t.text;
          if (req_->tools.reads_calls()) {  // content only up to where a call may start
            c.text += text;
            const size_t ok = streamable_content(c.text, req_->tools, c.streamed);
            text = ok > c.streamed ? c.text.substr(c.streamed, ok - c.streamed) : "";
          }
          *out += sse(token_chunk(ctx_, static_cast<int>(i), text, tokens, c.prev, c.streamed));
          c.streamed += text.size();
          c.prev = tokens.back().token;
        }
      }
      all_done = all_done && c.done;
    }
    if (!all_done || streams_.size() < choices_.size()) return false;
    finished_ = true;
    std::vector<SequenceResult> results;
    for (const Choice& c : choices_) results.push_back(c.result);
    if (req_->stream) {
      if (req_->include_usage) *out += sse(usage_chunk(ctx_, results));
      *out += "data: [DONE]\n\n";
      return true;
    }
    for (const auto& r : results)
      if (r.finish == FinishReason::kError || r.finish == FinishReason::kCancelled) {
        status_ = r.finish == FinishReason::kError ? 500 : 499;
        const ApiError e(status_, r.finish == FinishReason::kError ? "internal_error" : "cancelled",
                         r.error.empty() ? "generation failed" : r.error);
        *out += error_body(e).dump();
        return true;
      }
    *out += full_response(ctx_, results).dump();
    return true;
  }

  std::string end_line() const override {
    std::lock_guard<std::mutex> lock(mu_);
    long tokens = 0;
    std::string reasons;
    for (const Choice& c : choices_) {
      tokens += c.result.usage.generated_tokens;
      reasons += (reasons.empty() ? "" : ",") + std::string(finish_reason(c.result.finish));
    }
    return "[" + ctx_.id + "] end: status=" + std::to_string(status_) + " finish=" + reasons +
           " tokens=" + std::to_string(tokens) + (cancelled_ ? " (cancelled)" : "");
  }

 private:
  struct Choice {
    bool role_sent = false, done = false;  // role_sent: the role or echo chunk
    size_t streamed = 0;                   // text bytes sent
    std::string text;                      // with tool calls to read: the text so far
    int prev = -1;                         // last token sent (log-probabilities' text)
    SequenceResult result;
  };

  void finish_stream_choice(int i, std::string* out) {
    const Choice& c = choices_[i];
    if (c.result.finish == FinishReason::kError) {
      *out += sse(error_body(ApiError(
          500, "internal_error", c.result.error.empty() ? "generation failed" : c.result.error)));
      return;
    }
    // Text held back until the end (a possible stop string's start, an
    // incomplete character) comes with the last chunk.
    std::string tail = c.result.text.size() > c.streamed && !req_->score_only
                           ? c.result.text.substr(c.streamed)
                           : "";
    if (const auto calls = choice_tool_calls(ctx_, c.result)) {
      // The content before the calls not sent yet, then the calls.
      const size_t ok = streamable_content(c.result.text, req_->tools);
      tail = ok > c.streamed ? c.result.text.substr(c.streamed, ok - c.streamed) : "";
      *out += sse(tool_calls_chunk(ctx_, i, tail, *calls));
      tail.clear();
    }
    *out += sse(finish_chunk(ctx_, i, tail, c.result));
  }

  std::shared_ptr<const ParsedRequest> req_;
  Clock::time_point cap_;
  ResponseContext ctx_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<RequestStream>> streams_;
  std::vector<Choice> choices_;
  bool cancelled_ = false, finished_ = false;
  int status_ = 200;
};

std::string random_id(const char* prefix) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s%016llx", prefix, static_cast<unsigned long long>(rng()));
  return buf;
}

std::string path_of(const std::string& target) { return target.substr(0, target.find('?')); }

}  // namespace

struct OpenAiApi::Impl {
  ApiOptions opts;
  Metrics* metrics;
  std::mutex mu;
  std::condition_variable idle_cv;
  EngineService* service = nullptr;
  std::string model_name;
  int64_t created = static_cast<int64_t>(std::time(nullptr));
  bool draining = false;
  int in_flight = 0;  // handle() calls using the service
  std::vector<std::weak_ptr<ChoicesGeneration>> live;
  // The deadline cap: a watchdog cancels generations past it.
  std::thread watchdog;
  std::condition_variable stop_cv;
  bool stopping = false;

  void watch() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      stop_cv.wait_for(lock, std::chrono::milliseconds(500));
      const auto now = Clock::now();
      std::vector<std::shared_ptr<ChoicesGeneration>> over;
      for (auto it = live.begin(); it != live.end();) {
        auto g = it->lock();
        if (!g) {
          it = live.erase(it);
          continue;
        }
        if (now >= g->cap() && !g->cancelled()) over.push_back(g);
        ++it;
      }
      lock.unlock();
      for (auto& g : over) {
        spdlog::info("[{}] deadline cap reached (max_deadline_s); cancelling", g->id());
        g->cancel();
      }
      lock.lock();
    }
  }

  HttpReply error(const ApiError& e) {
    if (metrics) metrics->count_error(code_name(e.status()));
    return json_reply(e.status(), error_body(e));
  }

  bool authorized(const HttpRequestView& r, ApiError* why) const {
    if (opts.auth_token.empty()) return true;
    const std::vector<std::string_view> values(r.authorization.begin(), r.authorization.end());
    const AuthResult a = check_bearer_values(values, opts.auth_token);
    if (a == AuthResult::kOk) return true;
    *why = ApiError(401, "invalid_request_error", auth_error_message(a), "", "invalid_api_key");
    return false;
  }

  Json model_object() const {
    const ModelInfo& info = service->model_info();
    return {{"id", model_name},
            {"object", "model"},
            {"created", created},
            {"owned_by", "radiald"},
            {"max_model_len", info.context_length},
            {"radial",
             {{"num_layers", info.num_layers},
              {"routing_mode", info.routing_mode},
              {"routing_modes", info.routing_modes},
              {"vocab_size", info.vocab_size},
              {"bos_token_id", info.bos_token_id},
              {"eos_token_ids", info.eos_token_ids},
              {"has_chat_template", info.has_chat_template},
              {"max_prompt_tokens", service->limits().max_prompt_tokens},
              {"max_tokens", service->limits().max_tokens}}}};
  }
};

OpenAiApi::OpenAiApi(const ApiOptions& opts, Metrics* metrics) : impl_(std::make_unique<Impl>()) {
  impl_->opts = opts;
  impl_->metrics = metrics;
  impl_->watchdog = std::thread([this] { impl_->watch(); });
}

OpenAiApi::~OpenAiApi() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->stop_cv.notify_all();
  impl_->watchdog.join();
}

void OpenAiApi::attach(EngineService* service, const std::string& model_name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->service = service;
  impl_->model_name = model_name;
}

void OpenAiApi::begin_drain() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->draining = true;
}

int OpenAiApi::cancel_all() {
  std::vector<std::shared_ptr<ChoicesGeneration>> gens;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (auto& w : impl_->live)
      if (auto g = w.lock()) gens.push_back(g);
  }
  for (auto& g : gens) g->cancel();
  return static_cast<int>(gens.size());
}

void OpenAiApi::detach() {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->draining = true;
  impl_->idle_cv.wait(lock, [&] { return impl_->in_flight == 0; });
  impl_->service = nullptr;
}

HttpReply OpenAiApi::error_reply(int status, const std::string& type, const std::string& message) {
  return json_reply(status, error_body(ApiError(status, type, message)));
}

OpenAiApi::Result OpenAiApi::handle(const HttpRequestView& req,
                                    const std::function<bool()>& cancelled) {
  Impl& m = *impl_;
  Result res;
  const std::string path = path_of(req.target);
  if (path == "/health") {
    std::lock_guard<std::mutex> lock(m.mu);
    const bool ok = m.service != nullptr && !m.draining;
    res.reply = json_reply(ok ? 200 : 503, {{"status", ok          ? "ok"
                                                       : m.service ? "draining"
                                                                   : "loading"}});
    return res;
  }
  const bool models = path == "/v1/models" || path.rfind("/v1/models/", 0) == 0;
  const bool completions = path == "/v1/completions";
  const bool chat = path == "/v1/chat/completions";
  // vLLM's tokenizer routes (tokenizer_api.h); GET like /v1/models: tokenizer_info.
  const bool info = path == "/tokenizer_info";
  const bool tokenizer = info || path == "/tokenize" || path == "/detokenize";
  if (!models && !completions && !chat && !tokenizer) {
    res.reply =
        m.error(ApiError(404, "invalid_request_error", "no route " + path, "", "not_found"));
    return res;
  }
  const bool get = models || info;
  if ((get && req.method != "GET") || (!get && req.method != "POST")) {
    res.reply =
        m.error(ApiError(405, "invalid_request_error", req.method + " is not allowed on " + path,
                         "", "method_not_allowed"));
    return res;
  }
  ApiError why(401, "", "");
  if (!m.authorized(req, &why)) {
    res.reply = m.error(why);
    return res;
  }

  // Hold the service for this call (detach() waits for it).
  EngineService* svc = nullptr;
  std::string name;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.service == nullptr) {
      res.reply = m.error(ApiError(
          503, "service_unavailable",
          m.draining ? "the server is shutting down" : "the model is loading; try again shortly"));
      return res;
    }
    if (!models && !tokenizer && m.draining) {
      res.reply = m.error(ApiError(503, "service_unavailable", "the server is draining"));
      return res;
    }
    svc = m.service;
    name = m.model_name;
    ++m.in_flight;
  }
  struct Release {
    Impl& m;
    ~Release() {
      std::lock_guard<std::mutex> lock(m.mu);
      if (--m.in_flight == 0) m.idle_cv.notify_all();
    }
  } release{m};

  if (models) {
    if (path == "/v1/models") {
      res.reply = json_reply(200, {{"object", "list"}, {"data", Json::array({m.model_object()})}});
    } else if (path.substr(std::string("/v1/models/").size()) == name) {
      res.reply = json_reply(200, m.model_object());
    } else {
      res.reply = m.error(ApiError(404, "invalid_request_error",
                                   "the model '" + path.substr(11) + "' does not exist", "model",
                                   "model_not_found"));
    }
    return res;
  }

  if (tokenizer) {
    try {
      if (info) {
        res.reply = json_reply(200, tokenizer_info(*svc));
      } else {
        const Json body = parse_json_body(req.body);
        res.reply = json_reply(200, path == "/tokenize" ? tokenize_response(body, *svc, cancelled)
                                                        : detokenize_response(body, *svc));
      }
    } catch (const ApiError& e) {
      res.reply = m.error(e);
    } catch (const Error& e) {
      res.reply = m.error(from_core_error(e));
    }
    return res;
  }

  const Endpoint ep = chat ? Endpoint::kChat : Endpoint::kCompletions;
  const std::string id = random_id(chat ? "chatcmpl-" : "cmpl-");
  try {
    auto parsed = std::make_shared<ParsedRequest>(
        parse_request(ep, parse_json_body(req.body), *svc, name, cancelled));
    const Clock::time_point cap =
        m.opts.max_deadline_s > 0
            ? Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(m.opts.max_deadline_s))
            : Clock::time_point::max();
    auto gen = std::make_shared<ChoicesGeneration>(parsed, svc, id, name, cap);
    // All choices or none: a choice refused (queue full, a limit) cancels
    // the ones already submitted.
    for (const GenerateRequest& r : parsed->choices) {
      try {
        gen->add_stream(svc->submit(r));
      } catch (...) {
        gen->cancel();
        throw;
      }
    }
    spdlog::info("[{}] start: {} prompt_tokens={} choices={} stream={}", id,
                 chat ? "chat" : "completion", parsed->prompt_tokens.front(),
                 parsed->choices.size(), parsed->stream);
    {
      std::lock_guard<std::mutex> lock(m.mu);
      m.live.push_back(gen);
    }
    res.generation = gen;
  } catch (const ApiError& e) {
    spdlog::info("[{}] rejected: {} {}", id, e.status(), e.what());
    res.reply = m.error(e);
  } catch (const Error& e) {
    const ApiError a = from_core_error(e);
    spdlog::info("[{}] rejected: {} {}", id, a.status(), a.what());
    res.reply = m.error(a);
  } catch (const std::exception& e) {
    spdlog::error("[{}] rejected: {}", id, e.what());
    res.reply = m.error(ApiError(500, "internal_error", e.what()));
  }
  return res;
}

}  // namespace radial::server::openai
