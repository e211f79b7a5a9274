// Helpers of the subcommands that talk to a running radiald over gRPC
// (`generate --server`, `bench`, `health`). The client side lives in
// server/client (radial_client); this header and the tools include only its
// plain C++ header, never gRPC's.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "tools/radial/args.h"

#ifdef RADIAL_WITH_CLIENT
#include "server/client/remote_client.h"
#endif

namespace radial::cli {

// `radial generate --server HOST:PORT ...`: the same request options and the
// same output as local generation, on the server's model. `args` are
// cmd_generate's (exactly one of --prompt / --prompt-ids is present). Throws
// UsageError on a usage error; prints gRPC errors as
// "radial generate: CODE: message" and returns 1; returns 0 on success.
// Without the gRPC client it prints that it was built without it and returns 1.
int generate_remote(const Args& args);

#ifdef RADIAL_WITH_CLIENT
// The channel to --server HOST:PORT; throws UsageError when --server is
// missing or empty.
client::ChannelOptions server_channel(const Args& args);

// Option `name` in seconds (> 0) as a deadline; `fallback` when absent
// (nullopt: no deadline). Throws UsageError on a value <= 0.
std::optional<std::chrono::milliseconds> seconds_option(const Args& args, const std::string& name,
                                                        std::optional<double> fallback);
#endif

}  // namespace radial::cli
