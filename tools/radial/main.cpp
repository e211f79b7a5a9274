// `radial`: the command-line tool. Subcommands live in cmd_*.cpp.
#include <cstdio>
#include <cstring>
#include <string>

#include "tools/radial/commands.h"

#ifdef RADIAL_WITH_CLIENT
#include <chrono>

#include "server/client/remote_client.h"
#endif

namespace {

void usage(FILE* out) {
  std::fprintf(out,
               "usage: radial <command> [options]\n"
               "\n"
               "commands:\n"
               "  generate   generate text with a model (routed or full depth)\n"
               "  convert    convert a model to a Hugging Face directory or a GGUF file\n"
               "  profile    measure the residual ratios of a model's blocks per layer\n"
               "  distill    train a router for a sequential model (post-training)\n"
               "  eval       quality against compute of a router over thresholds\n"
               "  bench-engine  engine-only throughput and latency (cpu or cuda backend)\n"
#ifdef RADIAL_WITH_CLIENT
               "  bench      load-test a running radiald (latency, throughput, depth)\n"
               "  health     check a running radiald's gRPC health status\n"
#endif
               "\n"
               "Run 'radial <command> --help' for the options of a command.\n");
}

int run(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    usage(stdout);
    return 0;
  }
  if (cmd == "generate") return radial::cli::cmd_generate(argc - 1, argv + 1);
  if (cmd == "convert") return radial::cli::cmd_convert(argc - 1, argv + 1);
  if (cmd == "profile") return radial::cli::cmd_profile(argc - 1, argv + 1);
  if (cmd == "distill") return radial::cli::cmd_distill(argc - 1, argv + 1);
  if (cmd == "eval") return radial::cli::cmd_eval(argc - 1, argv + 1);
  if (cmd == "bench-engine") return radial::cli::cmd_bench_engine(argc - 1, argv + 1);
#ifdef RADIAL_WITH_CLIENT
  if (cmd == "bench") return radial::cli::cmd_bench(argc - 1, argv + 1);
  if (cmd == "health") return radial::cli::cmd_health(argc - 1, argv + 1);
#endif
  std::fprintf(stderr, "radial: unknown command '%s'\n", cmd.c_str());
  usage(stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const int rc = run(argc, argv);
#ifdef RADIAL_WITH_CLIENT
  // The --server commands' gRPC threads finish before exit (remote_client.h).
  radial::client::wait_for_grpc_shutdown(std::chrono::seconds(2));
#endif
  return rc;
}
