// Subcommands of the `radial` command-line tool. Each takes argv with
// argv[0] = the subcommand name, prints errors as "radial <cmd>: <message>"
// on stderr, and returns the process exit code (0 ok, 1 runtime/load error,
// 2 usage error).
#pragma once

namespace radial::cli {

int cmd_generate(int argc, char** argv);
int cmd_convert(int argc, char** argv);
// Router tools: residual-ratio profiling, router distillation, evaluation.
int cmd_profile(int argc, char** argv);
int cmd_distill(int argc, char** argv);
int cmd_eval(int argc, char** argv);
// Engine-only throughput and latency (CPU or CUDA backend), beside floors.
int cmd_bench_engine(int argc, char** argv);

#ifdef RADIAL_WITH_CLIENT
// Clients of a running radiald (built with the gRPC client only).
int cmd_bench(int argc, char** argv);
int cmd_health(int argc, char** argv);
#endif

}  // namespace radial::cli
