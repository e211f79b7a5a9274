// Shared-token authentication of radiald (no gRPC here). A client presents
// the token as the call metadata `authorization: Bearer <token>`; the
// comparison takes the same time whatever the presented value shares with
// the token (it depends only on the token's own length).
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace radial::server {

// Reads the token from `path`: the file's contents without trailing
// whitespace (a final newline is usual). Throws std::runtime_error naming
// the path when the file cannot be read, is empty, or the token holds a byte
// outside printable ASCII 0x21..0x7e (gRPC metadata values must be
// printable; spaces would split the header). `warning` (may be null) gets a
// message when the token is shorter than 16 bytes or the file is readable by
// group or others; "" otherwise.
std::string load_token_file(const std::string& path, std::string* warning = nullptr);

// a == b in time that depends only on b's length (b: the secret).
bool constant_time_equal(std::string_view a, std::string_view b);

enum class AuthResult { kOk, kMissing, kMalformed, kWrongToken, kRepeated };

// Checks one `authorization` metadata value (nullptr: the call has none)
// against `token`: the scheme "Bearer" (any case), one space, the token.
AuthResult check_bearer(const std::string_view* header, const std::string& token);

// Checks every `authorization` value a call carries: none is kMissing, more
// than one kRepeated (whichever of them is right: a proxy that adds its own
// value, or a client that sends two, must not be let through by the order of
// the values), one is check_bearer's answer.
AuthResult check_bearer_values(std::span<const std::string_view> values, const std::string& token);

// The UNAUTHENTICATED message for a failed check (never echoes the value).
const char* auth_error_message(AuthResult r);

}  // namespace radial::server
