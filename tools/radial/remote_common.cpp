#include "tools/radial/remote.h"

namespace radial::cli {

std::set<std::string> with_connection_options(std::set<std::string> options) {
  options.insert({"tls-ca", "tls-cert", "tls-key", "tls-server-name", "token-file"});
  return options;
}

}  // namespace radial::cli

#ifdef RADIAL_WITH_CLIENT

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "engine/error.h"
#include "engine/input_file.h"

namespace radial::cli {
namespace {

std::string read_option_file(const std::string& option, const std::string& path) {
  try {
    return read_input_file(path, 1 << 20);  // never blocks on a FIFO
  } catch (const Error& e) {
    throw UsageError{"--" + option + ": " + e.what()};
  }
}

std::string trim_right(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

}  // namespace

client::ChannelOptions server_channel(const Args& args) {
  client::ChannelOptions o;
  o.target = args.str("server", "");
  if (o.target.empty()) throw UsageError{"--server HOST:PORT is required"};
  if (args.has("tls-cert") != args.has("tls-key"))
    throw UsageError{"--tls-cert and --tls-key go together"};
  if (auto ca = args.get("tls-ca")) {
    o.tls = true;
    o.tls_root_certs = read_option_file("tls-ca", *ca);
  }
  if (auto cert = args.get("tls-cert")) {
    o.tls = true;
    o.tls_cert_chain = read_option_file("tls-cert", *cert);
    o.tls_private_key = read_option_file("tls-key", *args.get("tls-key"));
  }
  if (auto name = args.get("tls-server-name")) {
    if (!o.tls) throw UsageError{"--tls-server-name needs --tls-ca or --tls-cert"};
    o.tls_server_name = *name;
  }
  if (auto file = args.get("token-file")) {
    o.bearer_token = trim_right(read_option_file("token-file", *file));
    if (o.bearer_token.empty()) throw UsageError{"--token-file: " + *file + " holds no token"};
  } else if (const char* env = std::getenv("RADIAL_TOKEN"); env != nullptr && *env != '\0') {
    o.bearer_token = trim_right(env);
  }
  return o;
}

std::optional<std::chrono::milliseconds> seconds_option(const Args& args, const std::string& name,
                                                        std::optional<double> fallback) {
  std::optional<double> s = args.number(name);
  if (!s) s = fallback;
  if (!s) return std::nullopt;
  if (!(*s > 0) || *s > 1e7) throw UsageError{"--" + name + " expects seconds > 0"};
  return std::chrono::milliseconds(static_cast<long long>(std::ceil(*s * 1000)));
}

}  // namespace radial::cli

#endif  // RADIAL_WITH_CLIENT
