// The compute interface the engine drives. A backend holds the model's
// weights (and the router's, if any), an activation buffer of `max_slots`
// hidden-state rows (one per pass in flight, addressed by slot), and the
// storage of the paged KV pool whose bookkeeping is KvBlockManager's.
//
// Contracts shared by every backend:
//  - Each call advances a batch of rows gathered from many sequences; the
//    result for a row depends only on that row's inputs and the KV entries
//    it may see, never on which other rows share the batch (the CPU backend
//    is bit-exact in this; GPU backends up to GEMM algorithm rounding).
//  - forward_layer writes every row's K/V entry before any row's attention
//    reads, so rows of one sequence in one batch (a prompt chunk) see each
//    other causally: a row attends to entries [0, entry] of its block table.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/model_weights.h"
#include "engine/router.h"

namespace radial {

struct LayerRow {
  int slot = 0;                      // hidden-state row of the pass
  int position = 0;                  // token position (RoPE angle)
  const int* block_table = nullptr;  // this (sequence, layer)'s KV blocks
  int entry = 0;                     // entry index this row writes; attends [0, entry]
  bool kv_only = false;              // propagate policy: write K/V, leave h unchanged
};

// Norms of one row's residual blocks in a full layer (profiling and router
// distillation): with x the row's hidden state entering the layer,
// a = attn(rmsnorm(x)) (after o_proj), h = x + a, m = mlp(rmsnorm(h)):
// the residual ratios of design note section 1 are attn_out / after_attn and
// mlp_out / after_mlp.
struct BlockNorms {
  float attn_out = 0;    // ||a||
  float after_attn = 0;  // ||x + a||
  float mlp_out = 0;     // ||m||
  float after_mlp = 0;   // ||h + m||
};

// Receives the BlockNorms of every full (not kv_only) row of every
// forward_layer call while it is installed. Called on the thread that calls
// forward_layer, after the layer has updated the row's hidden state.
class BlockProbe {
 public:
  virtual ~BlockProbe() = default;
  virtual void on_block(int layer, const LayerRow& row, const BlockNorms& norms) = 0;
};

struct BackendOptions {
  int max_slots = 1024;  // hidden-state rows
  int kv_blocks = 1024;  // pool blocks (each block_size entries of one layer)
  int kv_block_size = 16;
  int threads = 0;  // CPU: worker threads (0: all cores)
  // Most rows one call may take (forward_layer, router, head); 0: max_slots.
  // The CPU backend grows its scratch as needed; the CUDA backend sizes its
  // device workspace from it once.
  int max_batch_rows = 0;
  int batch_rows() const { return max_batch_rows > 0 ? max_batch_rows : max_slots; }
};

// How the head draws one row's token (see engine/token_sampling.h for the
// exact rule, which every backend follows).
struct TokenSampling {
  float temperature = 0.f;  // 0: greedy (argmax, ties to the lowest id)
  int top_k = 0;            // 0: off
  float top_p = 1.f;        // (0, 1]; 1: off
  float uniform = 0.f;      // the row's draw in [0, 1), from its sequence's stream
};

// One routing decision's inputs (forward or radial mode; see route_next).
struct RouteQuery {
  int last = -1;           // last layer executed fully (-1 after the embedding)
  float threshold = 0.5f;  // forward mode
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // The model and the router (null: none) the backend was made with.
  virtual const ModelConfig& model_config() const = 0;
  virtual const RouterWeights* router() const = 0;

  // h[slots[i]] = embedding[tokens[i]].
  virtual void embed(std::span<const int> tokens, std::span<const int> slots) = 0;

  // Advances rows through layer `layer`: for every row, K/V of
  // rmsnorm(h) at `position` are written to its entry; for rows that are not
  // kv_only, h += attn(h), h += mlp(h) (pre-norm Llama block).
  virtual void forward_layer(int layer, std::span<const LayerRow> rows) = 0;

  // Router gate logits of each slot's h: out is [n, L + 1] row-major.
  virtual void router_logits(std::span<const int> slots, float* out) = 0;

  // Final norm + LM head of each slot's h: out is [n, vocab] row-major.
  virtual void head_logits(std::span<const int> slots, float* out) = 0;

  // Final norm + LM head + sampling: tokens[i] is drawn from slot i's
  // distribution by sample_token (engine/token_sampling.h). GPU backends keep
  // the logits on the device; the default goes through head_logits.
  virtual void head_sample(std::span<const int> slots, std::span<const TokenSampling> params,
                           int* tokens);

  // Router evaluation and decision (mode and pins from the router's config,
  // route_next's rule) for each slot: targets[i] is the next layer, or L to
  // exit. GPU backends decide on the device and read back only the targets;
  // the default goes through router_logits and route_next.
  virtual void route(std::span<const int> slots, std::span<const RouteQuery> queries, int* targets);

  // Debug/test access: copies h of `slot` ([d]) and the K and V rows
  // ([kv_dim] each) stored at (block, offset) of the KV pool.
  virtual void read_hidden(int slot, float* out) = 0;
  virtual void read_kv(int block, int offset, float* k, float* v) = 0;

  // Installs (or, with nullptr, removes) a BlockProbe; it must outlive its
  // installation. Without one, forward_layer computes no norms. Backends
  // that cannot report norms throw Error(kUnsupported) for a non-null probe.
  virtual void set_block_probe(BlockProbe* probe);
};

// The CPU reference backend (fp32, batch-invariant bit for bit). `weights`
// must be F32; `router` may be null. Both must outlive the backend.
std::unique_ptr<Backend> make_cpu_backend(const ModelWeights& weights, const RouterWeights* router,
                                          const BackendOptions& opts);

// Makes a backend for `weights` and `router` (both must outlive it). May
// change opts.kv_blocks (a GPU pool sized from a memory budget); the Engine
// must then be given the updated options. kernels/backend_factory.h makes
// one from a backend choice; front ends pass it down, so the scheduler
// never links a GPU backend.
using BackendFactory = std::function<std::unique_ptr<Backend>(
    const ModelWeights& weights, const RouterWeights* router, BackendOptions& opts)>;

}  // namespace radial
