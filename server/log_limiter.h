// At most one log line per interval for a kind of event a client can cause
// at will (so a flood of bad requests cannot flood the log); the lines in
// between are counted and the next line says how many were left out.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace radial::server {

class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::milliseconds interval = std::chrono::seconds(1))
      : interval_(interval) {}

  // True when a line may be written now; `*suppressed` gets the number of
  // events left out since the last line written.
  bool allow(int64_t* suppressed) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (written_ && now - last_ < interval_) {
      ++suppressed_;
      return false;
    }
    written_ = true;
    last_ = now;
    *suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  std::mutex mu_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point last_{};
  bool written_ = false;
  int64_t suppressed_ = 0;
};

}  // namespace radial::server
