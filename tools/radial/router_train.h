// Training the router MLP of design note section 2 on the CPU:
//   g = W2 * act(W1 * rmsnorm(h) + b1) + b2   (g in R^{L+1})
// with a per-gate binary cross-entropy against targets in [0, 1]
// (1: run the layer), an Adam optimiser, deterministic for a seed
// (single-threaded, fixed summation order, engine/random.h's Rng).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "engine/random.h"
#include "engine/router.h"

namespace radial::tools {

// Examples: a router input state h (the hidden state after layer `last`,
// -1 for the embedding) with targets for the gates that forward mode can
// consult from that state: layers j > last up to (not including) the first
// pinned layer above `last`.
struct GateDataset {
  int hidden = 0, num_layers = 0;
  std::vector<float> states;   // [n, hidden]
  std::vector<int> last;       // [n]
  std::vector<float> targets;  // [n, num_layers]; only consulted gates are used

  size_t size() const { return last.size(); }
  // Appends an example; `y` is [num_layers].
  void add(const float* h, int last_layer, const float* y);
};

// The gates forward mode may consult after `last` under `rc`'s pins:
// [last + 1, end) with end the first pinned layer above last (or L).
int consulted_end(const RouterConfig& rc, int last);

struct AdamOptions {
  double lr = 3e-3;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0;  // decoupled (AdamW), on W1 and W2 only
};

class RouterTrainer {
 public:
  // Initialises `rc`'s router: norm = 1, W1 ~ N(0, 1/d), b1 = 0,
  // W2 ~ N(0, 0.1/r), b2 = 0 (see init_bias), from Rng(seed).
  RouterTrainer(const RouterConfig& rc, uint64_t seed, const AdamOptions& adam = {});

  // Sets b2[j] to the logit of the mean target of gate j over `data`
  // (clamped to [0.02, 0.98]): the best constant router, a good start.
  void init_bias(const GateDataset& data);

  // One epoch of minibatch Adam over `data` in an order shuffled by the
  // trainer's Rng. Returns the mean loss. `on_batch(fraction, running
  // loss)` (may be null) is called after every batch.
  double epoch(const GateDataset& data, int batch_size,
               const std::function<void(double, double)>& on_batch = nullptr);

  // Mean loss over `data` without training.
  double loss(const GateDataset& data) const;

  // Gate logits g ([L + 1]) for the state h ([d]).
  void gates(const float* h, float* g) const;

  RouterWeights weights() const;
  const RouterConfig& config() const { return rc_; }

 private:
  struct Params {
    std::vector<float> norm, w1, b1, w2, b2;
  };
  // Forward + (optionally) backward of one example; returns its loss sum
  // and the number of gates it counted.
  double example(const GateDataset& data, size_t i, Params* grad, int* count) const;
  void adam_step(const Params& grad, double scale);

  RouterConfig rc_;
  int d_, r_, g_;
  AdamOptions adam_;
  Params p_, m_, v_;
  long step_ = 0;
  Rng rng_;
  std::vector<size_t> order_;
};

}  // namespace radial::tools
