// An error of the OpenAI-compatible HTTP API, in OpenAI's shape:
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
// with its HTTP status. Plain C++ (no HTTP library): the request
// translation throws it, the transport writes it.
#pragma once

#include <stdexcept>
#include <string>

#include "engine/error.h"

namespace radial::server::openai {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, const std::string& message, std::string param = "",
           std::string code = "")
      : std::runtime_error(message),
        status_(status),
        type_(std::move(type)),
        param_(std::move(param)),
        code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }  // the request field, "" if none
  const std::string& code() const { return code_; }

 private:
  int status_;
  std::string type_, param_, code_;
};

// 400 invalid_request_error naming `param`.
inline ApiError bad_request(const std::string& param, const std::string& message) {
  return ApiError(400, "invalid_request_error", message, param);
}

// The API error of a serving-core error: kInvalidArgument 400,
// kResourceExhausted 429, kUnavailable 503, kNotFound 404, kCancelled 499
// (nginx's "client closed request"; never seen by a client), else 500.
inline ApiError from_core_error(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kUnsupported:
      return ApiError(400, "invalid_request_error", e.what());
    case ErrorCode::kResourceExhausted:
      return ApiError(429, "rate_limit_error", e.what(), "", "queue_full");
    case ErrorCode::kUnavailable:
      return ApiError(503, "service_unavailable", e.what());
    case ErrorCode::kNotFound:
      return ApiError(404, "not_found_error", e.what());
    case ErrorCode::kCancelled:
      return ApiError(499, "cancelled", e.what());
    default:
      return ApiError(500, "internal_error", e.what());
  }
}

}  // namespace radial::server::openai
