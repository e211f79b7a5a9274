// `radial health`: the gRPC health status of a running radiald, as an exit code
// (for Docker HEALTHCHECK, readiness probes and scripts).
#ifdef RADIAL_WITH_CLIENT

#include <cstdio>

#include "tools/radial/args.h"
#include "tools/radial/commands.h"
#include "tools/radial/remote.h"

namespace radial::cli {
namespace {

const char* kUsage =
    "usage: radial health --server HOST:PORT [--service NAME] [--timeout SECONDS]\n"
    "                     [--tls-ca FILE [--tls-cert FILE --tls-key FILE]] [--token-file FILE]\n"
    "\n"
    "Asks the server's grpc.health.v1.Health/Check about NAME and prints the status\n"
    "(SERVING, NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN). The default NAME,\n"
    "\"radial.v1.Radial\", is SERVING once the model is loaded and until shutdown\n"
    "begins (readiness); --service \"\" asks about the server as a whole. Exits 0 when\n"
    "SERVING, 1 otherwise, including when the server cannot be reached within\n"
    "--timeout (default 5 s), which prints 'radial health: CODE: message' on stderr;\n"
    "2 on a usage error.\n";

}  // namespace

int cmd_health(int argc, char** argv) {
  try {
    Args args(argc, argv, with_connection_options({"server", "service", "timeout"}), {"help"});
    if (args.flag("help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    client::Client client(server_channel(args));
    client::CallOptions call;
    call.timeout = seconds_option(args, "timeout", 5.0);
    const auto r = client.health(args.str("service", "radial.v1.Radial"), call);
    if (!r.ok()) {
      std::fprintf(stderr, "radial health: %s\n", r.status.to_string().c_str());
      return 1;
    }
    std::printf("%s\n", client::health_status_name(r.value));
    return r.value == client::HealthStatus::kServing ? 0 : 1;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "radial health: %s\n%s", e.message.c_str(), kUsage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "radial health: %s\n", e.what());
    return 1;
  }
}

}  // namespace radial::cli

#endif  // RADIAL_WITH_CLIENT
