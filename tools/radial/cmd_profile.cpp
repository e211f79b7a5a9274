// `radial profile`: the residual ratios of a sequential model's attention
// and MLP blocks, per layer, over every token of a corpus.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "tools/radial/commands.h"
#include "tools/radial/router_cli.h"
#include "tools/radial/router_profile.h"

namespace radial::cli {
namespace {

const std::string kUsage =
    std::string(
        "usage: radial profile [--model PATH | --dummy-config CONFIG.json [--dummy-seed N]]\n"
        "                      [--tokenizer FILE] [--data FILE | --self-samples N] [--seed S]\n"
        "                      [--json] [--plot FILE.png]\n"
        "\n"
        "Runs the model at full depth and measures, per layer, the residual ratio\n"
        "||f(x)|| / ||x + f(x)|| of its attention and MLP blocks over every token:\n"
        "median, p10, p90, and the share of tokens under 5% and 1%. Prints a table\n"
        "(or JSON with --json) on stdout; --plot writes a box plot per layer.\n"
        "\n") +
    kCorpusUsage +
    "  --seed S             self-sampling seed (default 0)\n"
    "  --json               print the profile as JSON instead of the table\n"
    "  --plot FILE.png      write a per-layer box plot (attention and MLP)\n";

}  // namespace

int cmd_profile(int argc, char** argv) {
  return run_command("profile", kUsage.c_str(), [&] {
    Args args(argc, argv, with_corpus_options({"plot"}), {"json", "help"});
    if (args.flag("help")) {
      std::fputs(kUsage.c_str(), stdout);
      return 0;
    }
    tools::CorpusOptions co = corpus_options(args, 0);
    ModelBundle b = load_model_only(args);
    const tools::Corpus corpus = tools::load_corpus(b.weights, b.tokenizer.get(), co);
    const tools::ProfileResult p = tools::profile_model(b.weights, corpus, co.compute);
    if (args.flag("json")) {
      std::cout << tools::to_json(p).dump(2) << "\n";
    } else {
      std::cout << "model: " << b.description << "\n" << tools::profile_table(p);
      std::cout.flush();
    }
    if (auto png = args.get("plot")) {
      tools::plot_profile(p, *png, "Residual ratios per layer: " + b.description);
      std::fprintf(stderr, "wrote %s\n", png->c_str());
    }
    return 0;
  });
}

}  // namespace radial::cli
