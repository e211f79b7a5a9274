#include "server/watchdog.h"

#include <spdlog/spdlog.h>

namespace radial::server {

CallWatchdog::CallWatchdog(Clock::duration limit) : limit_(limit) {
  if (limit_.count() > 0) thread_ = std::thread([this] { run(); });
}

CallWatchdog::~CallWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

CallWatchdog::Registration::Registration(CallWatchdog& w, grpc::ServerContext* ctx)
    : w_(w), ctx_(ctx) {
  if (!w_.thread_.joinable()) return;
  std::lock_guard<std::mutex> lock(w_.mu_);
  w_.calls_[ctx_] = Clock::now() + w_.limit_;
}

CallWatchdog::Registration::~Registration() {
  if (!w_.thread_.joinable()) return;
  std::lock_guard<std::mutex> lock(w_.mu_);
  w_.calls_.erase(ctx_);
}

void CallWatchdog::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(200));
    const Clock::time_point now = Clock::now();
    for (auto& [ctx, when] : calls_) {
      if (now < when) continue;
      spdlog::warn("cancelling a stream blocked past the deadline cap (client {} not reading)",
                   ctx->peer());
      ctx->TryCancel();                 // thread-safe; unblocks a Write in progress
      when = Clock::time_point::max();  // once
    }
  }
}

}  // namespace radial::server
