// Helpers of the subcommands that talk to a running radiald over gRPC
// (`generate --server`, `bench`, `health`). The client side lives in
// server/client (radial_client); this header and the tools include only its
// plain C++ header, never gRPC's.
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>

#include "tools/radial/args.h"

#ifdef RADIAL_WITH_CLIENT
#include "server/client/remote_client.h"
#endif

namespace radial::cli {

// `options` plus the connection options every --server subcommand takes:
// --tls-ca FILE (TLS, verifying the server against this CA bundle),
// --tls-cert FILE --tls-key FILE (a client certificate: mutual TLS),
// --tls-server-name NAME (the name to verify instead of the target's host),
// --token-file FILE (a bearer token; else the environment's RADIAL_TOKEN).
std::set<std::string> with_connection_options(std::set<std::string> options);

// `radial generate --server HOST:PORT ...`: the same request options and the
// same output as local generation, on the server's model. `args` are
// cmd_generate's (exactly one of --prompt / --prompt-ids is present). Throws
// UsageError on a usage error; prints gRPC errors as
// "radial generate: CODE: message" and returns 1; returns 0 on success.
// Without the gRPC client it prints that it was built without it and returns 1.
int generate_remote(const Args& args);

#ifdef RADIAL_WITH_CLIENT
// The channel to --server HOST:PORT with the connection options above
// (files read here); throws UsageError when --server is missing or empty, a
// file cannot be read, --tls-cert comes without --tls-key (or the reverse),
// or the token is empty.
client::ChannelOptions server_channel(const Args& args);

// Option `name` in seconds (> 0) as a deadline; `fallback` when absent
// (nullopt: no deadline). Throws UsageError on a value <= 0.
std::optional<std::chrono::milliseconds> seconds_option(const Args& args, const std::string& name,
                                                        std::optional<double> fallback);
#endif

}  // namespace radial::cli
