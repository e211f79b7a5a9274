// Subcommands of the `radial` command-line tool. Each takes argv with
// argv[0] = the subcommand name, prints errors as "radial <cmd>: <message>"
// on stderr, and returns the process exit code (0 ok, 1 runtime/load error,
// 2 usage error).
#pragma once

namespace radial::cli {

int cmd_generate(int argc, char** argv);
int cmd_convert(int argc, char** argv);

}  // namespace radial::cli
