// Error type used across the engine. Engine code throws radial::Error on bad
// input (files, configs, requests); boundaries (the CLI, the server) catch it
// and turn it into an exit code + stderr line or a gRPC status.
#pragma once

#include <stdexcept>
#include <string>

namespace radial {

enum class ErrorCode {
  kInvalidArgument,    // a request or option is out of range
  kNotFound,           // a file or tensor is missing
  kCorrupt,            // a file's bytes do not match its own description
  kUnsupported,        // a valid but unsupported feature (e.g. rope_scaling type)
  kResourceExhausted,  // KV pool, queue or another bounded resource is full
  kUnavailable,        // the service is loading or draining
  kCancelled,          // the caller gave up (a client went away)
  kInternal,           // a bug
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// Throws Error(code, message) when `cond` is false.
inline void require(bool cond, ErrorCode code, const std::string& message) {
  if (!cond) throw Error(code, message);
}

}  // namespace radial
