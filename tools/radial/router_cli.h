// Command-line plumbing shared by `radial profile`, `distill` and `eval`:
// the corpus options, the error-to-exit-code boundary and a progress bar.
#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <string>

#include "engine/model_bundle.h"
#include "tools/radial/args.h"
#include "tools/radial/router_data.h"

namespace radial::cli {

// Options of the corpus and of where it runs: --data --self-samples
// --sample-tokens --max-tokens --seed --threads, and the backend options
// (--backend cpu|cuda --dtype --gpu-memory-fraction --kv-blocks).
std::set<std::string> with_corpus_options(std::set<std::string> extra);

inline constexpr const char* kCorpusUsage =
    "  --data FILE          plain text, one document per line (tokenized with the model's\n"
    "                       tokenizer; documents cut to --max-tokens, default 256)\n"
    "  --self-samples N     without --data: sample N sequences from the model itself\n"
    "                       (full depth, temperature 1, seeded by --seed; default 64)\n"
    "  --sample-tokens N    self-samples: at most N tokens each, BOS included (default 256)\n"
    "  --threads N          CPU backend threads (default: all cores)\n"
    "  --backend cpu|cuda   where the model runs (default cpu); --dtype f32|bf16|f16\n"
    "                       (cuda; default bf16), --gpu-memory-fraction F | --kv-blocks N\n";

// The corpus options; --data and --self-samples exclude each other
// (UsageError). `default_seed` seeds self-sampling without --seed.
tools::CorpusOptions corpus_options(const Args& args, uint64_t default_seed);

// The model named by the model options, without any router.
ModelBundle load_model_only(const Args& args);

// Runs `body` and maps what it throws to the exit codes of commands.h:
// UsageError -> 2 (message + usage on stderr), radial::Error and other
// exceptions -> 1 ("radial <name>: <message>" on stderr).
int run_command(const char* name, const char* usage, const std::function<int()>& body);

// A progress bar on stderr: redrawn in place (at most 10 times a second)
// when stderr is a terminal, else one line every 10 seconds and at done().
class Progress {
 public:
  explicit Progress(std::string label, bool enabled = true);
  // `fraction` in [0, 1]; `status` follows the bar (e.g. "loss 0.31").
  void update(double fraction, const std::string& status);
  void done(const std::string& status);

 private:
  void draw(double fraction, const std::string& status, bool final);
  std::string label_;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point last_;
  bool drawn_ = false;
};

}  // namespace radial::cli
