// One accepted request as a front end sees it: a stream of token events,
// then exactly one final result. The engine loop writes into it through
// the callbacks of sink(); the front end's thread reads with next(), which
// blocks until something arrives (no polling interval: a token wakes the
// reader at once) or the reader's own deadline passes (for its liveness
// checks). Either side may end it early: the front end with cancel(), the
// engine by finishing the sequence (an error, a shutdown); the final result
// always follows. The engine never waits for a reader: a slow reader's
// tokens queue here (at most max_tokens of them) and are delivered in order.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "scheduler/request.h"

namespace radial {

class RequestStream {
 public:
  using Clock = std::chrono::steady_clock;
  // `cancel` asks the engine loop to cancel request `id` (asynchronous).
  RequestStream(uint64_t id, std::function<void(uint64_t)> cancel);
  // Cancels the request if it has not finished (its final result is then
  // dropped), so a front end that gives up never leaks a running sequence.
  ~RequestStream();
  RequestStream(const RequestStream&) = delete;
  RequestStream& operator=(const RequestStream&) = delete;

  uint64_t id() const { return id_; }

  // The engine side: callbacks that push events (called on the engine loop
  // thread, exactly one on_finish after any number of on_token).
  SequenceCallbacks sink();

  enum class Next {
    kTokens,    // `tokens` got one or more new tokens (in order)
    kFinished,  // every token was delivered before; `result` holds the final result
    kTimeout,   // nothing new before `deadline`
  };
  // Appends the tokens that arrived to `tokens`; once none is left and the
  // request has ended, returns kFinished with the final result (once; later
  // calls return kFinished again with the same result).
  Next next(std::vector<GeneratedToken>* tokens, SequenceResult* result,
            Clock::time_point deadline);
  // next() without waiting: what has arrived now (kTimeout: nothing yet).
  // For event-driven readers (the notify callback says when to call it).
  Next poll(std::vector<GeneratedToken>* tokens, SequenceResult* result);
  // Asks the engine to stop this request; next() still delivers its final
  // result (kCancelled, unless it finished first). Idempotent.
  void cancel();
  bool finished() const;
  // For readers that cannot block (an event loop): `fn` is called, on the
  // engine loop thread and without any lock held, each time an event
  // arrives; it must only schedule a next() or poll() call elsewhere. Set it before
  // the first event can arrive, or call next() once after setting it.
  void set_notify(std::function<void()> fn);

 private:
  // Moves out what has arrived; ch_->mu held.
  Next take(std::vector<GeneratedToken>* tokens, SequenceResult* result);
  struct Channel {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<GeneratedToken> tokens;
    std::optional<SequenceResult> result;
    std::function<void()> notify;
  };
  uint64_t id_;
  std::function<void(uint64_t)> cancel_;
  std::shared_ptr<Channel> ch_;  // shared with the callbacks of sink()
  bool cancelled_ = false;
};

}  // namespace radial
