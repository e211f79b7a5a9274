#include "scheduler/engine_service.h"

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/error.h"

namespace radial {

// The engine loop: one thread owns the engine and the scheduler. Other
// threads post submissions and cancellations to the inbox and wait on
// futures; the loop drains the inbox between steps and sleeps when idle.
struct EngineService::Loop {
  // The loop's answer to a submission: an id, or the error to rethrow on
  // the submitting thread (plain data: no exception object crosses threads).
  struct Answer {
    uint64_t id = 0;
    std::optional<ErrorCode> code;
    std::string message;
  };
  struct Submission {
    GenerateRequest req;
    SequenceCallbacks cb;
    std::promise<Answer> accepted;
  };

  Loop(const ModelBundle& b, const ServiceOptions& opts, SchedulerObserver* observer)
      : engine(build_engine(b, opts)),
        scheduler(*engine, b.tokenizer.get(), opts.scheduler, observer),
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

      for (Submission& s : subs) {
        Answer a;
        try {
          if (stop) throw Error(ErrorCode::kUnavailable, "the server is shutting down");
          scheduler.validate(
              s.req);  // a bad request is INVALID_ARGUMENT even when the queue is full
          if (scheduler.stats().waiting >= max_queued)
            throw Error(
                ErrorCode::kResourceExhausted,
                "too many queued requests (" + std::to_string(max_queued) + "); try again later");
          // Count the request as outstanding until its final callback, so
          // drain() never mistakes an accepted request for idleness.
          SequenceCallbacks cb = std::move(s.cb);
          cb.on_finish = [this, user = std::move(cb.on_finish)](const SequenceResult& r) {
            if (user) user(r);
            std::lock_guard<std::mutex> guard(mu);
            --outstanding;
            idle_cv.notify_all();
          };
          a.id = scheduler.submit(std::move(s.req), std::move(cb));
          std::lock_guard<std::mutex> guard(mu);
          ++outstanding;
        } catch (const Error& e) {
          a.code = e.code();
          a.message = e.what();
        } catch (const std::exception& e) {
          a.code = ErrorCode::kInternal;
          a.message = e.what();
        }
        s.accepted.set_value(std::move(a));
      }
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
    if (!opts.backend_factory) return std::make_unique<Engine>(b.weights, b.router, bo);
    auto backend = opts.backend_factory(*b.weights, b.router.get(), bo);
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
  int outstanding = 0;  // accepted requests whose final callback has not run
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
  m.has_router = b.router != nullptr;
  m.bos_token_id = c.bos_token_id;
  m.eos_token_ids = c.eos_token_ids;
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
  if (limits_.max_prompt_tokens <= 0 || limits_.max_prompt_tokens > info_.context_length)
    limits_.max_prompt_tokens = info_.context_length;
  require(limits_.max_tokens >= 1, ErrorCode::kInvalidArgument, "limits.max_tokens must be >= 1");
  require(limits_.max_queued >= 0, ErrorCode::kInvalidArgument, "limits.max_queued must be >= 0");
  loop_ = std::make_unique<Loop>(bundle_, opts, observer);
}

EngineService::~EngineService() = default;

std::vector<int> EngineService::tokenize(std::string_view text, bool add_bos) const {
  require(bundle_.tokenizer != nullptr, ErrorCode::kInvalidArgument,
          "this model has no tokenizer; send token ids");
  return bundle_.tokenizer->encode(text, add_bos);
}

std::string EngineService::detokenize(const std::vector<int>& ids) const {
  require(bundle_.tokenizer != nullptr, ErrorCode::kInvalidArgument, "this model has no tokenizer");
  return bundle_.tokenizer->decode(ids);
}

uint64_t EngineService::submit(GenerateRequest req, SequenceCallbacks callbacks) {
  const size_t n = req.prompt.empty() ? 1 : req.prompt.size();
  require(static_cast<int>(n) <= limits_.max_prompt_tokens, ErrorCode::kInvalidArgument,
          "prompt of " + std::to_string(n) + " tokens exceeds the limit of " +
              std::to_string(limits_.max_prompt_tokens));
  require(req.max_tokens <= limits_.max_tokens, ErrorCode::kInvalidArgument,
          "max_tokens " + std::to_string(req.max_tokens) + " exceeds the limit of " +
              std::to_string(limits_.max_tokens));
  require(static_cast<int>(req.stop.size()) <= limits_.max_stop_strings,
          ErrorCode::kInvalidArgument,
          std::to_string(req.stop.size()) + " stop strings exceed the limit of " +
              std::to_string(limits_.max_stop_strings));
  for (const auto& s : req.stop)
    require(static_cast<int>(s.size()) <= limits_.max_stop_length, ErrorCode::kInvalidArgument,
            "a stop string of " + std::to_string(s.size()) + " bytes exceeds the limit of " +
                std::to_string(limits_.max_stop_length));
  std::future<Loop::Answer> accepted;
  {
    std::lock_guard<std::mutex> lock(loop_->mu);
    require(!loop_->draining && !loop_->stopping, ErrorCode::kUnavailable,
            "the server is draining");
    Loop::Submission s{std::move(req), std::move(callbacks), {}};
    accepted = s.accepted.get_future();
    loop_->inbox.push_back(std::move(s));
  }
  loop_->cv.notify_all();
  Loop::Answer a = accepted.get();
  if (a.code) throw Error(*a.code, a.message);  // the scheduler's validation error
  return a.id;
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
  s.steps = loop_->snapshot.steps;
  s.draining = loop_->draining;
  return s;
}

bool EngineService::drain(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(loop_->mu);
  loop_->draining = true;
  return loop_->idle_cv.wait_for(lock, timeout,
                                 [&] { return loop_->inbox.empty() && loop_->outstanding == 0; });
}

}  // namespace radial
