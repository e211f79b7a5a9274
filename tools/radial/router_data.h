// Data and runners shared by the router tools (`radial profile`, `distill`,
// `eval`): the token sequences they run on, and a runner that pushes whole
// sequences through an Engine the way the scheduler runs a prompt, while
// letting the caller look at every pass's hidden state and logits.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/model_weights.h"
#include "engine/router.h"
#include "engine/tokenizer.h"
#include "kernels/backend_factory.h"

namespace radial::tools {

// Where the router tools compute: the backend (--backend, --dtype, ...)
// and, on the CPU, its threads (--threads; 0: all cores).
struct Compute {
  BackendChoice backend;
  int threads = 0;
};

// A corpus: token sequences, each starting with BOS, of length >= 2 and at
// most the model's context.
using Corpus = std::vector<std::vector<int>>;

struct CorpusOptions {
  std::string data_file;    // plain text, one document per line; empty: self-samples
  int self_samples = 64;    // without data_file: sequences sampled from the model itself
  int sample_tokens = 256;  // self-samples: at most this many tokens each (BOS included)
  int max_tokens = 256;     // data_file: documents are cut to this many tokens (BOS included)
  uint64_t seed = 0;        // self-samples: sequence i uses sampling seed mix64(seed + i)
  Compute compute;          // the backend self-sampling runs on
};

// Reads `data_file` (tokenized with `tokenizer`, blank lines skipped) or
// samples `self_samples` sequences from the model in full mode at
// temperature 1 (each ends at an end id or at sample_tokens). Throws
// Error(kInvalidArgument) for an empty or unreadable file, a file without a
// tokenizer, or options out of range.
Corpus load_corpus(std::shared_ptr<const ModelWeights> weights, const Tokenizer* tokenizer,
                   const CorpusOptions& opts);

// Number of positions in `c`.
long corpus_positions(const Corpus& c);

// Splits `c` deterministically: every k-th sequence (k = round(1 / fraction))
// goes to `held_out`, the rest to `train`. Both are non-empty when c has at
// least two sequences and 0 < fraction < 1.
void split_corpus(const Corpus& c, double fraction, Corpus* train, Corpus* held_out);

// Callbacks of WaveRunner::run. `seq` indexes the sequences of the run.
struct WaveVisitor {
  // Before the embed step: may set the pass's analysis fields (force_skip).
  std::function<void(int seq, Pass& p)> on_start;
  // A pass's hidden state h ([d]) right after the embedding (p.last == -1)
  // or right after it executed layer p.last fully: the state the router
  // sees at that point.
  std::function<void(int seq, const Pass& p, const float* h)> on_state;
  // A pass's logits ([vocab]) at the head; the pass carries its final
  // depth, path, K/V-only rows and router evaluations.
  std::function<void(int seq, const Pass& p, const float* logits)> on_logits;
};

// Runs token sequences through an Engine as prompt waves: every position is
// a pass; each step runs the lowest node any pass waits for, over every
// pass waiting there (so a sequence's passes advance together, layer by
// layer, in position order: the ordering rule of the design note), and
// the head computes every position's logits. Results equal the scheduler's
// prompt logits (the CPU backend is batch-invariant).
class WaveRunner {
 public:
  // `router` may be null (full mode only). Sized for waves of up to
  // `max_positions` positions in at most `max_sequences` sequences.
  WaveRunner(std::shared_ptr<const ModelWeights> weights,
             std::shared_ptr<const RouterWeights> router, int max_positions, int max_sequences,
             const Compute& compute);

  Engine& engine() { return *engine_; }

  // Runs sequences [begin, end) of `corpus` as one wave with `routing` (they
  // must fit the runner's size); `seq` in the callbacks indexes `corpus`.
  void run(const Corpus& corpus, int begin, int end, const RoutingParams& routing,
           const WaveVisitor& visitor);

  // Runs the whole corpus in the waves plan_waves() gives for this size.
  void run_all(const Corpus& corpus, const RoutingParams& routing, const WaveVisitor& visitor);

 private:
  std::unique_ptr<Engine> engine_;
  int max_positions_, max_sequences_;
  std::vector<float> h_, logits_;
};

// Waves [begin, end) of consecutive sequences with at most `max_positions`
// positions and `max_sequences` sequences each. Throws Error if a single
// sequence is longer than max_positions.
std::vector<std::pair<int, int>> plan_waves(const Corpus& corpus, int max_positions,
                                            int max_sequences);

// Wave sizes that keep the head's logits buffer near 64 MB and the KV pool
// small: positions, and sequences (at most positions / 16 + 16).
int default_wave_positions(const ModelConfig& c);
int default_wave_sequences(int max_positions);

// Routing params for `mode` with the given threshold and policy.
RoutingParams routing_params(RouteMode mode, float threshold, KvPolicy policy, int max_steps);

}  // namespace radial::tools
