#include "scheduler/request_stream.h"

namespace radial {

RequestStream::RequestStream(uint64_t id, std::function<void(uint64_t)> cancel)
    : id_(id), cancel_(std::move(cancel)), ch_(std::make_shared<Channel>()) {}

RequestStream::~RequestStream() {
  if (!finished()) cancel();
}

SequenceCallbacks RequestStream::sink() {
  SequenceCallbacks cb;
  std::weak_ptr<Channel> weak = ch_;
  cb.on_token = [weak](const GeneratedToken& t) {
    if (auto ch = weak.lock()) {
      std::function<void()> notify;
      {
        std::lock_guard<std::mutex> lock(ch->mu);
        ch->tokens.push_back(t);
        notify = ch->notify;
      }
      ch->cv.notify_all();
      if (notify) notify();
    }
  };
  cb.on_finish = [weak](const SequenceResult& r) {
    if (auto ch = weak.lock()) {
      std::function<void()> notify;
      {
        std::lock_guard<std::mutex> lock(ch->mu);
        ch->result = r;
        notify = ch->notify;
      }
      ch->cv.notify_all();
      if (notify) notify();
    }
  };
  return cb;
}

RequestStream::Next RequestStream::next(std::vector<GeneratedToken>* tokens, SequenceResult* result,
                                        Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(ch_->mu);
  ch_->cv.wait_until(lock, deadline, [&] { return !ch_->tokens.empty() || ch_->result; });
  return take(tokens, result);
}

RequestStream::Next RequestStream::poll(std::vector<GeneratedToken>* tokens,
                                        SequenceResult* result) {
  std::lock_guard<std::mutex> lock(ch_->mu);
  return take(tokens, result);
}

RequestStream::Next RequestStream::take(std::vector<GeneratedToken>* tokens,
                                        SequenceResult* result) {
  if (!ch_->tokens.empty()) {
    for (auto& t : ch_->tokens) tokens->push_back(std::move(t));
    ch_->tokens.clear();
    return Next::kTokens;
  }
  if (ch_->result) {
    *result = *ch_->result;
    return Next::kFinished;
  }
  return Next::kTimeout;
}

void RequestStream::cancel() {
  if (cancelled_) return;
  cancelled_ = true;
  if (cancel_) cancel_(id_);
}

void RequestStream::set_notify(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(ch_->mu);
  ch_->notify = std::move(fn);
}

bool RequestStream::finished() const {
  std::lock_guard<std::mutex> lock(ch_->mu);
  return ch_->result.has_value();
}

}  // namespace radial
