#include "scheduler/engine_service.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/error.h"

namespace radial {

// The engine loop: one thread owns the engine and the scheduler. Front-end
// threads validate their requests themselves (the scheduler's validator is
// const and reads nothing that changes) and post valid ones, with their ids
// and stream sinks, to the inbox; the loop moves them into the scheduler
// between steps and sleeps when idle.
struct EngineService::Loop {
  struct Submission {
    uint64_t id;
    ValidatedRequest req;
    SequenceCallbacks cb;
  };

  Loop(const ModelBundle& b, const ServiceOptions& opts, SchedulerObserver* observer)
      : engine(build_engine(b, opts)),
        scheduler(*engine, b.tokenizer.get(), opts.scheduler, observer, opts.limits),
        max_queued(opts.limits.max_queued) {
    snapshot = scheduler.stats();
    thread = std::thread([this] { run(); });
  }

  ~Loop() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stopping = true;
    }
    cv.notify_all();
    thread.join();
  }

  void run() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return stopping || !inbox.empty() || !cancels.empty() || busy; });
      std::deque<Submission> subs;
      subs.swap(inbox);
      std::vector<uint64_t> cancel_ids;
      cancel_ids.swap(cancels);
      const bool stop = stopping;
      lock.unlock();

      for (Submission& s : subs) scheduler.enqueue(s.id, std::move(s.req), std::move(s.cb));
      for (uint64_t id : cancel_ids) scheduler.cancel(id);
      if (stop) scheduler.cancel_all();
      const bool worked = scheduler.step();
      const SchedulerStats st = scheduler.stats();

      lock.lock();
      snapshot = st;
      busy = worked || !scheduler.idle();
      if (scheduler.idle()) idle_cv.notify_all();
      if (stop && scheduler.idle() && inbox.empty()) return;
    }
  }

  // The engine on the backend the options ask for (the factory may size the
  // KV pool, so the Engine gets the options the backend was made with).
  static std::unique_ptr<Engine> build_engine(const ModelBundle& b, const ServiceOptions& opts) {
    BackendOptions bo = opts.backend;
    auto backend = opts.backend_factory ? opts.backend_factory(*b.weights, b.router.get(), bo)
                                        : make_cpu_backend(*b.weights, b.router.get(), bo);
    return std::make_unique<Engine>(b.weights, b.router, bo, std::move(backend));
  }

  std::unique_ptr<Engine> engine;
  Scheduler scheduler;
  int max_queued;
  std::thread thread;
  mutable std::mutex mu;
  std::condition_variable cv, idle_cv;
  std::deque<Submission> inbox;
  std::vector<uint64_t> cancels;
  SchedulerStats snapshot;
  uint64_t next_id = 1;
  int outstanding = 0;  // accepted requests whose final result has not been delivered
  bool busy = false, stopping = false, draining = false;
};

namespace {

ModelInfo describe(const ModelBundle& b) {
  ModelInfo m;
  const ModelConfig& c = b.weights->config;
  m.name = b.description;
  m.model_type = c.model_type;
  m.num_layers = c.num_layers;
  m.hidden_size = c.hidden_size;
  m.context_length = c.max_position_embeddings;
  m.vocab_size = c.vocab_size;
  m.has_tokenizer = b.tokenizer != nullptr;
  if (b.tokenizer) {
    m.tokenizer_kind = std::string(b.tokenizer->kind());
    m.tokenizer_vocab_size = b.tokenizer->vocab_size();
  }
  m.has_chat_template = b.chat_template != nullptr;
  m.has_router = b.router != nullptr;
  m.bos_token_id = c.bos_token_id;
  m.eos_token_ids = c.eos_token_ids;
  if (b.tokenizer) {
    auto text = [&](int id) {
      return id >= 0 && id < b.tokenizer->vocab_size() ? b.tokenizer->decode({id}, false)
                                                       : std::string();
    };
    m.bos_token = text(c.bos_token_id);
    m.eos_token = c.eos_token_ids.empty() ? std::string() : text(c.eos_token_ids.front());
  }
  if (b.chat_template) {
    m.chat_template = b.chat_template->source();
    const ChatSpecialTokens& t = b.chat_template->special_tokens();
    if (t.bos_token) m.bos_token = *t.bos_token;
    if (t.eos_token) m.eos_token = *t.eos_token;
    if (t.pad_token) m.pad_token = *t.pad_token;
  }
  m.routing_modes = {"full"};
  if (b.router) {
    const RouterConfig& rc = b.router->config;
    m.routing_mode = route_mode_name(rc.mode);
    m.routing_modes.push_back(m.routing_mode);
    m.kv_policy = kv_policy_name(rc.kv_policy);
    m.threshold = rc.threshold;
    m.max_steps = rc.max_steps;
  } else {
    m.routing_mode = "full";
    m.kv_policy = kv_policy_name(KvPolicy::kPropagate);
  }
  return m;
}

}  // namespace

EngineService::EngineService(const ServiceOptions& opts, SchedulerObserver* observer)
    : limits_(opts.limits), bundle_(load_bundle(opts.model)), info_(describe(bundle_)) {
  // A server always states its prompt limit: the context unless lower.
  if (limits_.max_prompt_tokens <= 0 || limits_.max_prompt_tokens > info_.context_length)
    limits_.max_prompt_tokens = info_.context_length;
  if (limits_.max_text_bytes <= 0) limits_.max_text_bytes = 32LL * limits_.max_prompt_tokens;
  ServiceOptions o = opts;
  o.limits = limits_;
  loop_ = std::make_unique<Loop>(bundle_, o, observer);
}

EngineService::~EngineService() = default;

std::vector<int> EngineService::tokenize(std::string_view text, bool add_bos,
                                         const std::function<bool()>& cancelled) const {
  require(bundle_.tokenizer != nullptr, ErrorCode::kInvalidArgument,
          "this model has no tokenizer; send token ids");
  require(static_cast<int64_t>(text.size()) <= limits_.max_text_bytes, ErrorCode::kInvalidArgument,
          "text of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
              std::to_string(limits_.max_text_bytes) +
              " (more than the context holds; max_text_bytes)");
  // At most kMaxConcurrentTokenize at once: a burst of long texts cannot
  // take every core and a gigabyte. Waiters check `cancelled` as they wait.
  {
    std::unique_lock<std::mutex> lock(tokenize_mu_);
    while (tokenizing_ >= kMaxConcurrentTokenize) {
      if (cancelled && cancelled())
        throw Error(ErrorCode::kCancelled, "cancelled while waiting to tokenize");
      tokenize_cv_.wait_for(lock, std::chrono::milliseconds(20));
    }
    ++tokenizing_;
  }
  struct Release {
    const EngineService* s;
    ~Release() {
      {
        std::lock_guard<std::mutex> lock(s->tokenize_mu_);
        --s->tokenizing_;
      }
      s->tokenize_cv_.notify_one();
    }
  } release{this};
  if (cancelled && cancelled()) throw Error(ErrorCode::kCancelled, "cancelled");
  return bundle_.tokenizer->encode(text, add_bos);
}

std::string EngineService::detokenize(const std::vector<int>& ids, bool skip_special) const {
  require(bundle_.tokenizer != nullptr, ErrorCode::kInvalidArgument, "this model has no tokenizer");
  return bundle_.tokenizer->decode(ids, skip_special);
}

std::string EngineService::token_piece(int prev, int id) const {
  require(bundle_.tokenizer != nullptr, ErrorCode::kInvalidArgument, "this model has no tokenizer");
  return bundle_.tokenizer->piece_bytes(prev, id);
}

std::string EngineService::render_chat(const nlohmann::ordered_json& messages,
                                       const ChatRenderOptions& options) const {
  require(bundle_.chat_template != nullptr, ErrorCode::kInvalidArgument,
          "this model has no chat template (tokenizer_config.json's chat_template); use "
          "completions");
  return bundle_.chat_template->render(messages, options);
}

std::unique_ptr<RequestStream> EngineService::submit(GenerateRequest req) {
  // On the caller's thread: a bad request is INVALID_ARGUMENT even at overload.
  ValidatedRequest valid = loop_->scheduler.validator().validate(std::move(req));
  std::unique_ptr<RequestStream> stream;
  {
    std::lock_guard<std::mutex> lock(loop_->mu);
    require(!loop_->draining && !loop_->stopping, ErrorCode::kUnavailable,
            "the server is draining");
    const int queued = static_cast<int>(loop_->inbox.size()) + loop_->snapshot.waiting;
    require(
        queued < loop_->max_queued, ErrorCode::kResourceExhausted,
        "too many queued requests (" + std::to_string(loop_->max_queued) + "); try again later");
    const uint64_t id = loop_->next_id++;
    stream = std::make_unique<RequestStream>(id, [this](uint64_t i) { cancel(i); });
    // Outstanding until its final result, so drain() never mistakes an
    // accepted request for idleness.
    SequenceCallbacks cb = stream->sink();
    cb.on_finish = [loop = loop_.get(), user = std::move(cb.on_finish)](const SequenceResult& r) {
      user(r);
      std::lock_guard<std::mutex> guard(loop->mu);
      --loop->outstanding;
      loop->idle_cv.notify_all();
    };
    ++loop_->outstanding;
    loop_->inbox.push_back(Loop::Submission{id, std::move(valid), std::move(cb)});
  }
  loop_->cv.notify_all();
  return stream;
}

void EngineService::cancel(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(loop_->mu);
    loop_->cancels.push_back(id);
  }
  loop_->cv.notify_all();
}

ServiceStats EngineService::stats() const {
  std::lock_guard<std::mutex> lock(loop_->mu);
  ServiceStats s;
  s.waiting = loop_->snapshot.waiting;
  s.running = loop_->snapshot.running;
  s.kv_blocks_used = loop_->snapshot.kv_blocks_used;
  s.kv_blocks_total = loop_->snapshot.kv_blocks_total;
  s.kv_blocks_cached = loop_->snapshot.kv_blocks_cached;
  s.steps = loop_->snapshot.steps;
  s.draining = loop_->draining;
  return s;
}

bool EngineService::drain(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(loop_->mu);
  loop_->draining = true;
  // Every final result delivered, and the loop has published the step that
  // delivered them (results go out mid-step, the snapshot at its end), so
  // stats() after a successful drain shows the freed sequences and blocks.
  return loop_->idle_cv.wait_for(lock, timeout, [&] {
    return loop_->outstanding == 0 && loop_->snapshot.running == 0 && loop_->snapshot.waiting == 0;
  });
}

}  // namespace radial
