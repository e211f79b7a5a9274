// The engine: a model, an optional router, a backend and the KV block
// manager, advancing batches of passes from many sequences node by node
// through one entry point, run(NodeRun). Callers hold each sequence's KV
// blocks and slots through a SequenceKv (RAII) and never touch the pool.
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

class Engine;

// One sequence's hold on the engine's resources, given back when it is
// destroyed: its KV blocks at every layer (a KvBlockManager sequence; passes
// carry id() as Pass::kv_seq) and the hidden-state slots its passes hold.
// Made by Engine::open_sequence; must not outlive the engine.
class SequenceKv {
 public:
  ~SequenceKv();
  SequenceKv(const SequenceKv&) = delete;
  SequenceKv& operator=(const SequenceKv&) = delete;

  int id() const { return id_; }
  // A free slot, held until release_slot() or destruction. Throws
  // Error(kResourceExhausted) when the engine has none free.
  int acquire_slot();
  // Gives back a slot this sequence holds (Error(kInternal) otherwise).
  void release_slot(int slot);
  int slots_held() const { return static_cast<int>(slots_.size()); }

  // Prefix caching (engine/kv_cache.h), for passes routed by `r`; nothing
  // happens when Engine::prefix_cache_key(r) is 0. `tokens` are the
  // sequence's ids from position 0.
  // Attaches the longest cached prefix of at most `max_tokens` tokens to
  // this sequence, which must have no KV entries yet; returns its length
  // (whole blocks): its passes need not run.
  int attach_cached_prefix(std::span<const int> tokens, const RoutingParams& r, int max_tokens);
  // Offers the blocks of positions below `complete` to the cache: every
  // pass of this sequence at those positions must have finished.
  void publish_prefix(std::span<const int> tokens, const RoutingParams& r, int complete);

 private:
  friend class Engine;
  SequenceKv(Engine& engine, int id) : engine_(engine), id_(id) {}
  Engine& engine_;
  int id_;
  std::vector<int> slots_;
};

// One step of the node graph, the engine's one entry point: every pass of
// `batch` waits at `node` and advances one routed node.
struct NodeRun {
  NodeRun() = default;
  NodeRun(int node_, std::span<Pass* const> batch_) : node(node_), batch(batch_) {}
  int node = kNodeEmbed;  // kNodeEmbed, a layer 0..L-1, or head_node()
  std::span<Pass* const> batch;
  // At the head only: with `tokens` set, each pass's token is drawn on the
  // backend under sampling[i] (engine/token_sampling.h; only ids come back);
  // otherwise the logits, [batch.size(), vocab] row-major, go to `logits`.
  std::span<const TokenSampling> sampling;
  int* tokens = nullptr;
  float* logits = nullptr;
};

class Engine {
 public:
  // Runs on `backend`, made for the same weights, router and options; the
  // backend factory (kernels/backend_factory.h, make_engine) is the way to
  // get one. opts.kv_blocks and opts.max_slots must be the backend's.
  // `router` may be null (only full mode is then available).
  Engine(std::shared_ptr<const ModelWeights> weights, std::shared_ptr<const RouterWeights> router,
         const BackendOptions& opts, std::unique_ptr<Backend> backend);
  ~Engine();

  const ModelConfig& config() const { return weights_->config; }
  const ModelWeights& weights() const { return *weights_; }
  const RouterWeights* router() const { return router_.get(); }
  int num_layers() const { return config().num_layers; }
  int head_node() const { return num_layers(); }
  int done_node() const { return num_layers() + 1; }
  Backend& backend() { return *backend_; }
  // The KV pool's bookkeeping, to read (sizes, entries); sequences change
  // it only through SequenceKv and run().
  const KvBlockManager& kv() const { return kv_; }

  // The routing a request gets: the router file's settings (or full mode
  // when there is no router), with the request's overrides. Throws
  // Error(kInvalidArgument) for a mode the model cannot run or a threshold
  // outside [0, 1].
  RoutingParams resolve_routing(std::optional<RouteMode> mode,
                                std::optional<float> threshold) const;

  // A new sequence with no KV entries and no slots.
  std::unique_ptr<SequenceKv> open_sequence();
  // Prefix caching: the key under which passes routed by `r` share KV
  // blocks, or 0 when they cannot share them. A prefix's entries are a
  // function of its tokens and the routing only when every layer holds an
  // entry per position: full mode, and forward mode under `propagate`
  // (keyed by its threshold). Radial mode and the `sparse` policy: 0.
  static uint64_t prefix_cache_key(const RoutingParams& r);
  // The longest cached prefix of `tokens` (at most `max_tokens`) that
  // SequenceKv::attach_cached_prefix would attach, and the free blocks it
  // would take.
  KvBlockManager::PrefixMatch match_cached_prefix(std::span<const int> tokens,
                                                  const RoutingParams& r, int max_tokens) const;
  // Drops the cached blocks no sequence holds.
  void clear_prefix_cache() { kv_.clear_prefix_cache(); }
  // Hidden-state slots (one per pass in flight).
  int free_slots() const { return static_cast<int>(free_slots_.size()); }
  int total_slots() const { return opts_.max_slots; }

  // Prepares `p` for the embed step (resets its routing state).
  void start_pass(Pass& p) const;
  // KV blocks that running layer `layer` on `batch` would take from the pool.
  int blocks_needed(int layer, std::span<Pass* const> batch) const;

  // Advances r.batch one routed node (see NodeRun). After it each pass's
  // `node` says where it goes next: a layer's passes are routed (their
  // target set, evaluating the router where the mode needs it), the head's
  // move to done. Throws Error(kInternal) if a pass does not wait at
  // r.node, Error(kResourceExhausted) if the KV pool runs out.
  void run(const NodeRun& r);

  // Router work since the last call (evaluations, seconds, backend calls:
  // on a GPU each call is a host round trip), then reset.
  struct RouterWork {
    int evals = 0;
    double seconds = 0;
    int calls = 0;
  };
  RouterWork take_router_work();

  // Profiling hook: while `probe` is set (not null), every full row of every
  // layer reports its BlockNorms to it (see backend.h). Off by default; the
  // hot path then computes nothing extra.
  void set_block_probe(BlockProbe* probe) { backend_->set_block_probe(probe); }

 private:
  friend class SequenceKv;
  int acquire_slot();  // throws Error(kResourceExhausted) when none is free
  void release_slot(int slot);
  void close_sequence(SequenceKv& s);

  void embed(std::span<Pass* const> batch);
  void forward_layer(int layer, std::span<Pass* const> batch);
  void head(std::span<Pass* const> batch, float* logits);
  void head_sample(std::span<Pass* const> batch, std::span<const TokenSampling> params,
                   int* tokens);
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
  int open_sequences_ = 0;
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
