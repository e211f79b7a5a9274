#include <google/protobuf/stubs/logging.h>

#include <atomic>
#include <mutex>

#include "server/wire_request_traits.h"

namespace radial::server {

namespace {

std::atomic<WireRejectionHook> g_hook{nullptr};

// While a request parses on this thread, protobuf's complaint about a string
// field that is not UTF-8 is caught here instead of going to stderr.
thread_local bool t_parsing = false;
thread_local std::string t_utf8_field;  // "GenerateRequest.text"

// protobuf: "String field 'radial.v1.GenerateRequest.text' contains invalid
// UTF-8 data when parsing a protocol buffer. ..."
std::string field_of(const std::string& message) {
  const size_t open = message.find('\'');
  const size_t close = open == std::string::npos ? open : message.find('\'', open + 1);
  if (close == std::string::npos) return "a string field";
  std::string full = message.substr(open + 1, close - open - 1);
  // Keep Message.field: drop the package.
  const size_t last = full.rfind('.');
  const size_t before =
      last == std::string::npos || last == 0 ? std::string::npos : full.rfind('.', last - 1);
  return before == std::string::npos ? full : full.substr(before + 1);
}

google::protobuf::LogHandler* g_previous = nullptr;

void log_handler(google::protobuf::LogLevel level, const char* filename, int line,
                 const std::string& message) {
  if (t_parsing && message.find("invalid UTF-8") != std::string::npos) {
    if (t_utf8_field.empty()) t_utf8_field = field_of(message);
    return;
  }
  if (g_previous != nullptr) g_previous(level, filename, line, message);
}

void install_log_handler() {
  static std::once_flag once;
  std::call_once(once, [] { g_previous = google::protobuf::SetLogHandler(&log_handler); });
}

}  // namespace

void set_wire_rejection_hook(WireRejectionHook hook) {
  install_log_handler();
  g_hook.store(hook);
}

grpc::Status deserialize_request(grpc::ByteBuffer* buffer, grpc::protobuf::MessageLite* msg) {
  install_log_handler();
  t_parsing = true;
  t_utf8_field.clear();
  grpc::Status st =
      grpc::GenericDeserialize<grpc::ProtoBufferReader, grpc::protobuf::MessageLite>(buffer, msg);
  t_parsing = false;
  if (st.ok()) return st;
  if (st.error_code() == grpc::StatusCode::INTERNAL) {
    const std::string what = msg->GetTypeName();
    st = !t_utf8_field.empty()
             ? grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            t_utf8_field + " is not valid UTF-8 (string fields must be UTF-8)")
             : grpc::Status(grpc::StatusCode::INTERNAL,
                            what + ": the request does not parse as a protocol buffer");
  }
  if (WireRejectionHook hook = g_hook.load()) hook(st);
  return st;
}

}  // namespace radial::server
