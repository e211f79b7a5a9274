// Helpers of the radiald end-to-end tests that need no gRPC: a temporary
// directory, free loopback ports, the radiald subprocess, running a command,
// a minimal HTTP GET and reading samples out of the Prometheus text format.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace radial::e2e {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A loopback TCP port that was free a moment ago (bound to port 0, closed).
int free_port();

// A child process whose stdout and stderr go to a log file. The destructor
// kills (SIGKILL) and reaps it if it is still running.
class Subprocess {
 public:
  // Starts argv[0] with argv; throws std::runtime_error when it cannot.
  Subprocess(const std::vector<std::string>& argv, const std::string& log_path);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  // True while the process has not exited (reaps it when it has).
  bool running();
  void signal(int sig);
  // Waits up to `timeout` for the exit; returns the exit code (128 + signal
  // when killed by one) or nullopt on timeout (the process keeps running).
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // What the process has written so far.
  std::string log() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string log_path_;
};

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed; -1 on timeout
  std::string output;  // stdout and stderr
};

// Runs argv to completion (killed after `timeout`).
CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_path,
                          std::chrono::seconds timeout);

// Sends `request` to 127.0.0.1:port and reads until the server closes (or
// 5 s pass); what came back ("" when the connection failed). A send the
// server cut short is not an error.
std::string raw_http(int port, const std::string& request);
// The status code of an HTTP response ("HTTP/1.1 401 ..."); 0 if none.
int http_status(const std::string& resp);

// GET http://127.0.0.1:port/path (HTTP/1.0); the body, or nullopt when the
// connection fails or the status is not 200.
std::optional<std::string> http_get(int port, const std::string& path);

// The value of the first sample of `name` whose labels include `labels`
// (Prometheus text format); nullopt when there is none.
std::optional<double> metric_value(const std::string& text, const std::string& name,
                                   const std::map<std::string, std::string>& labels = {});

// Writes `text` to `path`; throws std::runtime_error on failure.
void write_file(const std::string& path, const std::string& text);

}  // namespace radial::e2e
