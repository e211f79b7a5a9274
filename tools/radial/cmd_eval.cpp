// `radial eval`: quality against compute of a router, per threshold and KV
// policy, against full depth (teacher-forced).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "tools/radial/commands.h"
#include "tools/radial/common.h"
#include "tools/radial/router_cli.h"
#include "tools/radial/router_eval.h"

namespace radial::cli {
namespace {

const std::string kUsage =
    std::string(
        "usage: radial eval [--model PATH | --dummy-config CONFIG.json [--dummy-seed N]]\n"
        "                   [--tokenizer FILE] [--router DIR] [--data FILE | --self-samples N]\n"
        "                   [--thresholds 0,0.3,0.5,0.7] [--kv-policy both|propagate|sparse]\n"
        "                   [--tie-margin N]\n"
        "                   [--json FILE] [--csv FILE] [--plot FILE.png]\n"
        "\n"
        "Teacher-forces every sequence through the scheduler at full depth and routed: a\n"
        "forward-mode router at each threshold, for each KV policy; a radial-mode router\n"
        "in radial mode (its max_steps, sparse K/V). Reports per configuration: mean depth\n"
        "and its histogram, compute fraction (layer FLOPs incl. router evaluations and\n"
        "K/V-only rows, engine/flops.h) and what it saves, perplexity, mean KL(full ||\n"
        "routed), top-1 agreement with full depth (in all, and \"clear\": on the positions\n"
        "that are not near ties at full depth), and reuse: the share of executed\n"
        "layers that revisit a layer the pass already ran (radial mode). The router\n"
        "defaults to the model directory's.\n"
        "\n") +
    kCorpusUsage +
    "  --seed S             self-sampling seed (default 1000, unlike distill's 0, so that\n"
    "                       the default samples are held out from a default distillation)\n"
    "  --thresholds LIST    forward-mode thresholds in [0, 1] (default 0,0.3,0.5,0.7)\n"
    "  --kv-policy P        both | propagate | sparse (default both; forward mode)\n"
    "  --tie-margin N       a position is a near tie when full depth's two most probable\n"
    "                       tokens differ by less than N in log-probability (nats;\n"
    "                       default 0.1); the table gives their share and the top-1\n"
    "                       agreement on the other positions (\"clear\")\n"
    "  --json FILE          write the results as JSON\n"
    "  --csv FILE           write the results as CSV (one row per configuration)\n"
    "  --plot FILE.png      write top-1 agreement and KL against compute\n";

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  require(out.good(), ErrorCode::kInvalidArgument, "cannot write " + path);
}

}  // namespace

int cmd_eval(int argc, char** argv) {
  return run_command("eval", kUsage.c_str(), [&] {
    Args args(argc, argv,
              with_corpus_options({"thresholds", "kv-policy", "tie-margin", "json", "csv", "plot"}),
              {"help"});
    if (args.flag("help")) {
      std::fputs(kUsage.c_str(), stdout);
      return 0;
    }
    tools::CorpusOptions co = corpus_options(args, 1000);
    tools::EvalOptions eo;
    eo.compute = co.compute;
    if (auto t = args.get("thresholds")) eo.thresholds = tools::parse_thresholds(*t);
    if (auto m = args.number("tie-margin")) {
      if (!(*m >= 0 && std::isfinite(*m))) throw UsageError{"--tie-margin must be a number >= 0"};
      eo.tie_margin = *m;
    }
    const std::string pol = args.str("kv-policy", "both");
    if (pol != "both") eo.policies = {parse_kv_policy(pol)};
    ModelSource src = model_source(args);
    if (!src.dummy_config.empty() && src.router.empty())
      throw UsageError{"--dummy-config needs --router DIR (a distilled router to evaluate)"};
    ModelBundle b = load_bundle(src);
    require(b.router != nullptr, ErrorCode::kInvalidArgument,
            "no router to evaluate: give --router DIR (radial.json + router.safetensors)");
    if (b.router->config.mode == RouteMode::kRadial &&
        (args.get("thresholds") || args.get("kv-policy")))
      throw UsageError{
          "--thresholds and --kv-policy are for forward-mode routers; this one is "
          "radial (sparse K/V, no threshold)"};
    const tools::Corpus corpus = tools::load_corpus(b.weights, b.tokenizer.get(), co);
    Progress bar("eval");
    const tools::EvalResult r = tools::evaluate_router(b.weights, b.router, corpus, eo,
                                                       [&](double f) { bar.update(f, ""); });
    bar.done("");
    std::cout << "model: " << b.description << "\n" << tools::eval_table(r);
    std::cout.flush();
    if (auto f = args.get("json")) write_file(*f, tools::to_json(r).dump(2) + "\n");
    if (auto f = args.get("csv")) write_file(*f, tools::eval_csv(r));
    if (auto f = args.get("plot"))
      tools::plot_eval(r, *f, "Quality against compute: " + b.description);
    return 0;
  });
}

}  // namespace radial::cli
