#include "server/auth.h"

#include <sys/stat.h>

#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "engine/error.h"
#include "engine/input_file.h"

namespace radial::server {

std::string load_token_file(const std::string& path, std::string* warning) {
  if (warning != nullptr) warning->clear();
  std::string token;
  try {
    token = radial::read_input_file(path, 64 << 10);  // never blocks on a FIFO
  } catch (const radial::Error& e) {
    throw std::runtime_error(std::string("auth_token_file: ") + e.what());
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) throw std::runtime_error("auth_token_file: " + path + " holds no token");
  for (unsigned char c : token)
    if (c < 0x21 || c > 0x7e)
      throw std::runtime_error("auth_token_file: " + path +
                               ": the token must be printable ASCII without spaces");
  std::string warn;
  if (token.size() < 16) warn = "the auth token is shorter than 16 bytes; use a long random one";
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    warn += std::string(warn.empty() ? "" : "; ") + path +
            " is accessible by group or others (chmod 600 it)";
  if (warning != nullptr) *warning = warn;
  return token;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < b.size(); ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ static_cast<unsigned char>(b[i]));
  }
  return diff == 0;
}

AuthResult check_bearer(const std::string_view* header, const std::string& token) {
  if (header == nullptr) return AuthResult::kMissing;
  constexpr std::string_view kScheme = "bearer ";
  if (header->size() <= kScheme.size()) return AuthResult::kMalformed;
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>((*header)[i])) != kScheme[i])
      return AuthResult::kMalformed;
  return constant_time_equal(header->substr(kScheme.size()), token) ? AuthResult::kOk
                                                                    : AuthResult::kWrongToken;
}

AuthResult check_bearer_values(std::span<const std::string_view> values, const std::string& token) {
  if (values.size() > 1) return AuthResult::kRepeated;
  return check_bearer(values.empty() ? nullptr : &values.front(), token);
}

const char* auth_error_message(AuthResult r) {
  switch (r) {
    case AuthResult::kOk:
      return "";
    case AuthResult::kMissing:
      return "missing credentials: send the metadata \"authorization: Bearer <token>\"";
    case AuthResult::kMalformed:
      return "malformed authorization metadata: expected \"Bearer <token>\"";
    case AuthResult::kWrongToken:
      return "invalid token";
    case AuthResult::kRepeated:
      return "more than one authorization value: send exactly one \"Bearer <token>\"";
  }
  return "unauthenticated";
}

}  // namespace radial::server
