#include "tools/radial/remote.h"

#ifdef RADIAL_WITH_CLIENT

#include <cmath>

namespace radial::cli {

client::ChannelOptions server_channel(const Args& args) {
  client::ChannelOptions o;
  o.target = args.str("server", "");
  if (o.target.empty()) throw UsageError{"--server HOST:PORT is required"};
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
