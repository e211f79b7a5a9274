// `radial distill`: trains a forward-mode router for a sequential model
// (layers frozen) and writes radial.json + router.safetensors.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include "engine/error.h"
#include "tools/radial/commands.h"
#include "tools/radial/router_cli.h"
#include "tools/radial/router_distill.h"

namespace radial::cli {
namespace {

const std::string kUsage =
    std::string(
        "usage: radial distill [--model PATH | --dummy-config CONFIG.json [--dummy-seed N]]\n"
        "                      [--tokenizer FILE] [--data FILE | --self-samples N] --out DIR\n"
        "                      [--seed S] [--epochs E] [--router-hidden R] [--pinned 0]\n"
        "                      [--kv-policy propagate|sparse] [--targets ablation|ratio]\n"
        "                      [--threshold X | --target-agreement A | --target-depth D] [...]\n"
        "\n"
        "Trains the router of a Radial Network (forward mode) from the sequential model\n"
        "alone, on the CPU, with the model's layers frozen, and writes DIR/radial.json and\n"
        "DIR/router.safetensors (give the model's own directory to have the CLI and the\n"
        "server pick it up by default). Recipe: docs/distill.md. Progress on stderr.\n"
        "\n") +
    kCorpusUsage +
    "  --out DIR            where to write the router (created if needed)\n"
    "  --seed S             seed of the samples and of the training (default 0)\n"
    "  --epochs E           phase-1 epochs on full-depth states (default 8)\n"
    "  --onpolicy-rounds N  rounds on states of routed passes (default 2)\n"
    "  --onpolicy-epochs E  epochs per round (default 4)\n"
    "  --router-hidden R    router MLP width (default 64)\n"
    "  --activation A       silu | gelu | relu (default silu)\n"
    "  --pinned LIST        layers always visited, e.g. 0 or 0,1; 'none' for none (default 0)\n"
    "  --kv-policy P        propagate | sparse (default propagate)\n"
    "  --targets T          ablation (KL of skipping each layer; K * L + 1 forward passes)\n"
    "                       | ratio (residual ratios; one pass) (default ablation)\n"
    "  --ablation-stride K  ablation: every K-th token skips the layer in one run, so each\n"
    "                       token is measured among tokens at full depth (K * L + 1\n"
    "                       passes; 1: all tokens at once, cheapest) (default 4)\n"
    "  --kl-scale S         ablation target 1 - exp(-KL / S); top-1 flips give 1 (default 0.25)\n"
    "  --ratio-scale S      ratio target 1 - exp(-ratio / S) (default 0.1)\n"
    "  --batch N            minibatch size (default 256)\n"
    "  --lr X               Adam learning rate (default 0.003)\n"
    "  --holdout F          fraction of sequences held out for calibration (default 0.2)\n"
    "  --threshold X        write this threshold (no calibration)\n"
    "  --target-agreement A calibrate: the highest threshold whose held-out top-1 agreement\n"
    "                       with full depth is at least A (default 0.9)\n"
    "  --target-depth D     calibrate: the lowest threshold whose held-out mean depth <= D\n"
    "  --quiet              no progress bar\n";

std::vector<int> parse_pinned(const std::string& s) {
  std::vector<int> out;
  if (s == "none" || s.empty()) return out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 0 || v > 1 << 20)
      throw UsageError{"--pinned expects comma-separated layer ids or 'none', got '" + s + "'"};
    out.push_back(static_cast<int>(v));
  }
  return out;
}

}  // namespace

int cmd_distill(int argc, char** argv) {
  return run_command("distill", kUsage.c_str(), [&] {
    Args args(argc, argv,
              with_corpus_options({"out", "epochs", "onpolicy-rounds", "onpolicy-epochs",
                                   "router-hidden", "activation", "pinned", "kv-policy", "targets",
                                   "ablation-stride", "kl-scale", "ratio-scale", "batch", "lr",
                                   "holdout", "threshold", "target-agreement", "target-depth"}),
              {"help", "quiet"});
    if (args.flag("help")) {
      std::fputs(kUsage.c_str(), stdout);
      return 0;
    }
    const std::string out = args.str("out", "");
    if (out.empty()) throw UsageError{"--out DIR is required"};
    if (args.has("threshold") && (args.has("target-agreement") || args.has("target-depth")))
      throw UsageError{"--threshold excludes --target-agreement and --target-depth"};
    if (args.has("target-agreement") && args.has("target-depth"))
      throw UsageError{"give --target-agreement or --target-depth, not both"};
    tools::CorpusOptions co = corpus_options(args, 0);
    tools::DistillOptions o;
    o.seed = co.seed;
    o.compute = co.compute;
    o.epochs = static_cast<int>(args.integer("epochs").value_or(o.epochs));
    o.onpolicy_rounds =
        static_cast<int>(args.integer("onpolicy-rounds").value_or(o.onpolicy_rounds));
    o.onpolicy_epochs =
        static_cast<int>(args.integer("onpolicy-epochs").value_or(o.onpolicy_epochs));
    o.router_hidden = static_cast<int>(args.integer("router-hidden").value_or(o.router_hidden));
    if (auto a = args.get("activation")) o.activation = parse_activation(*a);
    if (auto p = args.get("pinned")) o.pinned = parse_pinned(*p);
    if (auto p = args.get("kv-policy")) o.kv_policy = parse_kv_policy(*p);
    if (auto t = args.get("targets")) o.targets = tools::parse_target_kind(*t);
    o.ablation_stride =
        static_cast<int>(args.integer("ablation-stride").value_or(o.ablation_stride));
    o.kl_scale = args.number("kl-scale").value_or(o.kl_scale);
    o.ratio_scale = args.number("ratio-scale").value_or(o.ratio_scale);
    o.batch = static_cast<int>(args.integer("batch").value_or(o.batch));
    o.lr = args.number("lr").value_or(o.lr);
    o.holdout = args.number("holdout").value_or(o.holdout);
    if (auto t = args.number("threshold")) o.threshold = static_cast<float>(*t);
    o.target_agreement = args.number("target-agreement").value_or(o.target_agreement);
    if (auto d = args.number("target-depth")) o.target_depth = *d;

    const auto t0 = std::chrono::steady_clock::now();
    ModelBundle b = load_model_only(args);
    o.validate(b.weights->config);
    const int L = b.weights->config.num_layers;
    std::fprintf(stderr, "distill: model %s (%d layers, dim %d)\n", b.description.c_str(), L,
                 b.weights->config.hidden_size);
    const tools::Corpus corpus = tools::load_corpus(b.weights, b.tokenizer.get(), co);
    std::fprintf(stderr, "distill: %zu sequences, %ld tokens (%s)\n", corpus.size(),
                 tools::corpus_positions(corpus),
                 co.data_file.empty() ? "self-samples" : co.data_file.c_str());
    std::unique_ptr<Progress> bar;
    std::string bar_phase;
    auto progress = [&](const std::string& phase, double f, const std::string& status) {
      if (args.flag("quiet")) return;
      if (phase != bar_phase) {
        bar = std::make_unique<Progress>("distill: " + phase);
        bar_phase = phase;
      }
      if (f >= 1) {
        bar->done(status);
        bar_phase.clear();
      } else {
        bar->update(f, status);
      }
    };
    tools::DistillReport rep;
    RouterWeights r = tools::distill_router(b.weights, corpus, o, &rep, progress);
    save_router(r, out);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::printf("distilled a %s router for %s: %d -> %d -> %d, pinned [",
                route_mode_name(r.config.mode), b.description.c_str(), r.config.hidden_size,
                r.config.router_hidden, L + 1);
    for (size_t i = 0; i < r.config.pinned_layers.size(); ++i)
      std::printf("%s%d", i ? "," : "", r.config.pinned_layers[i]);
    std::printf("], kv_policy %s\n", kv_policy_name(r.config.kv_policy));
    std::printf(
        "train %ld tokens, held out %ld tokens, %ld gate examples, final loss %.4f, %.1f s\n",
        rep.train_tokens, rep.holdout_tokens, rep.examples, rep.loss, secs);
    std::printf("targets (%s) per layer:",
                o.targets == tools::TargetKind::kAblation ? "ablation" : "ratio");
    for (int j = 0; j < L; ++j)
      std::printf("%s L%d importance %.3f flips %.3f target %.3f", j ? ";" : "", j,
                  rep.layer_importance[j], rep.layer_flip_rate[j], rep.layer_target[j]);
    std::printf("\n");
    if (!rep.calibration.empty()) {
      std::printf(
          "held-out calibration (forward mode, %s):\n  threshold  top-1 agreement  mean depth\n",
          kv_policy_name(r.config.kv_policy));
      for (const auto& p : rep.calibration)
        std::printf("  %9.2f  %15.3f  %10.2f%s\n", p.threshold, p.agreement, p.mean_depth,
                    p.threshold == rep.chosen.threshold ? "  <- chosen" : "");
    }
    std::printf("threshold %.2f written to %s/radial.json (+ router.safetensors)\n",
                r.config.threshold, out.c_str());
    return 0;
  });
}

}  // namespace radial::cli
