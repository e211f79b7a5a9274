// `radial`: the command-line tool. Subcommands live in cmd_*.cpp.
#include <cstdio>
#include <cstring>
#include <string>

#include "tools/radial/commands.h"

namespace {

void usage(FILE* out) {
  std::fprintf(out,
               "usage: radial <command> [options]\n"
               "\n"
               "commands:\n"
               "  generate   generate text with a model (routed or full depth)\n"
               "  convert    convert a llama2.c checkpoint to a Hugging Face directory\n"
               "\n"
               "Run 'radial <command> --help' for the options of a command.\n");
}

}  // namespace

int main(int argc, char** argv) {
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
  std::fprintf(stderr, "radial: unknown command '%s'\n", cmd.c_str());
  usage(stderr);
  return 2;
}
