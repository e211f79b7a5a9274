// The engine: a model, an optional router, a backend and the KV block
// manager, advancing batches of passes from many sequences node by node.
// It implements the routing semantics of the design note (section 2); which
// passes go together in a batch, and in what order nodes run, is the
// scheduler's business (scheduler/), subject to the ordering rule: a pass
// may run layer j only when every earlier pass of its sequence has written,
// or definitively skipped, its entry at layer j.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "engine/backend.h"
#include "engine/kv_cache.h"
#include "engine/model_weights.h"
#include "engine/pass.h"
#include "engine/router.h"

namespace radial {

class Engine {
 public:
  // `router` may be null (only full mode is then available). This one runs
  // on the CPU backend.
  Engine(std::shared_ptr<const ModelWeights> weights, std::shared_ptr<const RouterWeights> router,
         const BackendOptions& opts);
  // Runs on `backend`, made for the same weights, router and options (the
  // CUDA backend: kernels/cuda_backend.h); opts.kv_blocks and
  // opts.max_slots must be the backend's.
  Engine(std::shared_ptr<const ModelWeights> weights, std::shared_ptr<const RouterWeights> router,
         const BackendOptions& opts, std::unique_ptr<Backend> backend);

  const ModelConfig& config() const { return weights_->config; }
  const ModelWeights& weights() const { return *weights_; }
  const RouterWeights* router() const { return router_.get(); }
  int num_layers() const { return config().num_layers; }
  int head_node() const { return num_layers(); }
  int done_node() const { return num_layers() + 1; }
  Backend& backend() { return *backend_; }
  KvBlockManager& kv() { return kv_; }
  const KvBlockManager& kv() const { return kv_; }

  // The routing a request gets: the router file's settings (or full mode
  // when there is no router), with the request's overrides. Throws
  // Error(kInvalidArgument) for a mode the model cannot run or a threshold
  // outside [0, 1].
  RoutingParams resolve_routing(std::optional<RouteMode> mode,
                                std::optional<float> threshold) const;

  // Hidden-state slots (one per pass in flight).
  int free_slots() const { return static_cast<int>(free_slots_.size()); }
  int total_slots() const { return opts_.max_slots; }
  int acquire_slot();  // throws Error(kResourceExhausted) when none is free
  void release_slot(int slot);

  // Prepares `p` for the embed step (resets its routing state).
  void start_pass(Pass& p) const;

  // KV blocks that forward_layer(layer, batch) would take from the pool.
  int blocks_needed(int layer, std::span<Pass* const> batch) const;

  // Node steps. Every pass in a batch must wait at that node. After a step
  // each pass's `node` says where it goes next.
  void embed(std::span<Pass* const> batch);
  // Advances the batch one routed layer: passes whose target is `layer` run
  // it fully; the others (propagate policy) write K/V-only rows.
  void forward_layer(int layer, std::span<Pass* const> batch);
  // Final norm + LM head: logits is [batch.size(), vocab]. Passes move to done.
  void head(std::span<Pass* const> batch, float* logits);
  // Final norm + LM head + sampling on the backend (engine/token_sampling.h):
  // tokens[i] for batch[i] under params[i]. Passes move to done.
  void head_sample(std::span<Pass* const> batch, std::span<const TokenSampling> params,
                   int* tokens);

  // Router work since the last call (evaluations, seconds), then reset.
  struct RouterWork {
    int evals = 0;
    double seconds = 0;
  };
  RouterWork take_router_work();

  // Profiling hook: while `probe` is set (not null), every full row of every
  // forward_layer reports its BlockNorms to it (see backend.h). Off by
  // default; the hot path then computes nothing extra.
  void set_block_probe(BlockProbe* probe) { backend_->set_block_probe(probe); }

 private:
  // Sets target (evaluating the router where the mode needs it) after the
  // embedding or a full layer, then the next node.
  void route(std::span<Pass* const> passes);
  void set_node(Pass& p) const;

  std::shared_ptr<const ModelWeights> weights_;
  std::shared_ptr<const RouterWeights> router_;
  BackendOptions opts_;
  std::unique_ptr<Backend> backend_;
  KvBlockManager kv_;
  std::vector<int> free_slots_;
  // Scratch for batches.
  std::vector<int> ids_, slots_;
  std::vector<LayerRow> rows_;
  std::vector<Pass*> to_route_;
  std::vector<float> gates_;
  std::vector<Pass*> need_;
  std::vector<RouteQuery> queries_;
  std::vector<int> targets_;
  RouterWork router_work_;
};

}  // namespace radial
