// Cancels streaming calls that outlive the deadline cap by a grace period.
// A handler blocked in ServerWriter::Write (the client stopped reading and
// the HTTP/2 window is full) cannot check the cap itself; cancelling its
// call from here makes the Write return false. Internal to server/.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <grpcpp/server_context.h>

namespace radial::server {

class CallWatchdog {
 public:
  using Clock = std::chrono::steady_clock;

  // `limit` <= 0: no thread, registrations do nothing.
  explicit CallWatchdog(Clock::duration limit);
  ~CallWatchdog();  // joins the thread
  CallWatchdog(const CallWatchdog&) = delete;
  CallWatchdog& operator=(const CallWatchdog&) = delete;

  // Watches `ctx` for the registration's lifetime (create it when the
  // handler starts, destroy it before the handler returns): after `limit`
  // the watchdog calls ctx->TryCancel() once and logs a warning.
  class Registration {
   public:
    Registration(CallWatchdog& w, grpc::ServerContext* ctx);
    ~Registration();
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;

   private:
    CallWatchdog& w_;
    grpc::ServerContext* ctx_;
  };

 private:
  void run();

  const Clock::duration limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<grpc::ServerContext*, Clock::time_point> calls_;  // when to cancel each
  std::thread thread_;                                       // last: reads the members above
};

}  // namespace radial::server
