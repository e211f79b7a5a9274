#include "engine/engine.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>

#include "engine/error.h"

namespace radial {

Engine::Engine(std::shared_ptr<const ModelWeights> weights,
               std::shared_ptr<const RouterWeights> router, const BackendOptions& opts,
               std::unique_ptr<Backend> backend)
    : weights_(std::move(weights)),
      router_(std::move(router)),
      opts_(opts),
      backend_(std::move(backend)),
      kv_(opts.kv_blocks, opts.kv_block_size, weights_->config.num_layers) {
  require(backend_ != nullptr, ErrorCode::kInternal, "Engine without a backend");
  if (router_) router_->config.validate(config());
  free_slots_.reserve(opts.max_slots);
  for (int s = opts.max_slots - 1; s >= 0; --s) free_slots_.push_back(s);
}

RoutingParams Engine::resolve_routing(std::optional<RouteMode> mode,
                                      std::optional<float> threshold) const {
  RoutingParams p;
  if (router_) {
    const RouterConfig& rc = router_->config;
    p.mode = rc.mode;
    p.threshold = rc.threshold;
    p.kv_policy = rc.kv_policy;
    p.max_steps = rc.max_steps;
  } else {
    p.mode = RouteMode::kFull;
  }
  if (mode) {
    if (*mode != RouteMode::kFull) {
      require(router_ != nullptr, ErrorCode::kInvalidArgument,
              std::string("routing mode '") + route_mode_name(*mode) +
                  "' needs a router; this model has none (only 'full' is available)");
      require(*mode == router_->config.mode, ErrorCode::kInvalidArgument,
              std::string("routing mode '") + route_mode_name(*mode) +
                  "' is not supported by this router (it is a '" +
                  route_mode_name(router_->config.mode) + "' router)");
    }
    p.mode = *mode;
  }
  if (threshold) {
    require(*threshold >= 0.f && *threshold <= 1.f, ErrorCode::kInvalidArgument,
            "threshold must be in [0, 1], got " + std::to_string(*threshold));
    p.threshold = *threshold;
  }
  if (p.mode == RouteMode::kFull) p.kv_policy = KvPolicy::kPropagate;  // every layer written
  return p;
}

Engine::~Engine() = default;

std::unique_ptr<SequenceKv> Engine::open_sequence() {
  ++open_sequences_;
  return std::unique_ptr<SequenceKv>(new SequenceKv(*this, kv_.create_sequence()));
}

void Engine::close_sequence(SequenceKv& s) {
  for (int slot : s.slots_) release_slot(slot);
  s.slots_.clear();
  kv_.free_sequence(s.id_);
  --open_sequences_;
}

int Engine::acquire_slot() {
  require(!free_slots_.empty(), ErrorCode::kResourceExhausted, "no free hidden-state slot");
  int s = free_slots_.back();
  free_slots_.pop_back();
  return s;
}

void Engine::release_slot(int slot) { free_slots_.push_back(slot); }

SequenceKv::~SequenceKv() { engine_.close_sequence(*this); }

int SequenceKv::acquire_slot() {
  const int slot = engine_.acquire_slot();
  slots_.push_back(slot);
  return slot;
}

uint64_t Engine::prefix_cache_key(const RoutingParams& r) {
  if (r.mode == RouteMode::kFull) return 1;
  if (r.mode == RouteMode::kForward && r.kv_policy == KvPolicy::kPropagate) {
    uint32_t bits;
    std::memcpy(&bits, &r.threshold, sizeof bits);
    return (uint64_t{2} << 32) | bits;
  }
  return 0;
}

KvBlockManager::PrefixMatch Engine::match_cached_prefix(std::span<const int> tokens,
                                                        const RoutingParams& r,
                                                        int max_tokens) const {
  const uint64_t key = prefix_cache_key(r);
  if (key == 0) return {};
  return kv_.match_prefix(tokens, key, max_tokens);
}

int SequenceKv::attach_cached_prefix(std::span<const int> tokens, const RoutingParams& r,
                                     int max_tokens) {
  const uint64_t key = Engine::prefix_cache_key(r);
  if (key == 0) return 0;
  return engine_.kv_.attach_prefix(id_, tokens, key, max_tokens);
}

void SequenceKv::publish_prefix(std::span<const int> tokens, const RoutingParams& r, int complete) {
  const uint64_t key = Engine::prefix_cache_key(r);
  if (key != 0) engine_.kv_.publish_prefix(id_, tokens, key, complete);
}

void SequenceKv::release_slot(int slot) {
  const auto it = std::find(slots_.begin(), slots_.end(), slot);
  require(it != slots_.end(), ErrorCode::kInternal,
          "slot " + std::to_string(slot) + " is not held by this sequence");
  *it = slots_.back();
  slots_.pop_back();
  engine_.release_slot(slot);
}

void Engine::run(const NodeRun& r) {
  if (r.node == kNodeEmbed) return embed(r.batch);
  if (r.node >= 0 && r.node < num_layers()) return forward_layer(r.node, r.batch);
  require(r.node == head_node(), ErrorCode::kInternal,
          "no node " + std::to_string(r.node) + " in the graph");
  if (r.tokens != nullptr) {
    require(r.sampling.size() == r.batch.size(), ErrorCode::kInternal,
            "head: one sampling rule per pass");
    return head_sample(r.batch, r.sampling, r.tokens);
  }
  require(r.logits != nullptr, ErrorCode::kInternal, "head: neither tokens nor logits asked for");
  head(r.batch, r.logits);
}

void Engine::start_pass(Pass& p) const {
  p.node = kNodeEmbed;
  p.last = -1;
  p.steps = 0;
  p.target = 0;
  p.kv_written = -1;
  p.path.clear();
  p.kv_only_rows = 0;
  p.router_evals = 0;
}

void Engine::embed(std::span<Pass* const> batch) {
  ids_.clear();
  slots_.clear();
  for (Pass* p : batch) {
    require(p->node == kNodeEmbed, ErrorCode::kInternal, "pass is not waiting for embed");
    ids_.push_back(p->token);
    slots_.push_back(p->slot);
  }
  backend_->embed(ids_, slots_);
  route(batch);
}

int Engine::blocks_needed(int layer, std::span<Pass* const> batch) const {
  int needed = 0;
  int prev_seq = -1, entries = 0, last_pos = -1;
  for (Pass* p : batch) {  // passes of one sequence are adjacent, in position order
    if (p->kv_seq != prev_seq) {
      prev_seq = p->kv_seq;
      entries = kv_.num_entries(p->kv_seq, layer);
      const auto& pos = kv_.positions(p->kv_seq, layer);
      last_pos = pos.empty() ? -1 : pos.back();
    }
    if (p->position == last_pos) continue;  // a revisit overwrites its entry
    if (entries % kv_.block_size() == 0) ++needed;
    ++entries;
    last_pos = p->position;
  }
  return needed;
}

void Engine::forward_layer(int layer, std::span<Pass* const> batch) {
  rows_.clear();
  for (Pass* p : batch) {
    require(p->node == layer, ErrorCode::kInternal,
            "pass is not waiting for layer " + std::to_string(layer));
    LayerRow r;
    r.slot = p->slot;
    r.position = p->position;
    r.kv_only = p->target != layer;
    r.entry = kv_.write_entry(p->kv_seq, layer, p->position);
    rows_.push_back(r);
  }
  // Block tables only once every entry is placed: a later write of the same
  // sequence may have grown (moved) the table.
  for (size_t i = 0; i < batch.size(); ++i)
    rows_[i].block_table = kv_.blocks(batch[i]->kv_seq, layer).data();
  backend_->forward_layer(layer, rows_);
  to_route_.clear();
  for (Pass* p : batch) {
    p->kv_written = layer;
    if (p->target != layer) {
      ++p->kv_only_rows;
      set_node(*p);
      continue;
    }
    p->last = layer;
    ++p->steps;
    p->path.push_back(layer);
    to_route_.push_back(p);
  }
  route(to_route_);
}

void Engine::route(std::span<Pass* const> passes) {
  const int L = num_layers();
  // Passes whose next step needs the router.
  std::vector<Pass*>& need = need_;
  need.clear();
  for (Pass* p : passes) {
    const RoutingParams& rp = p->routing;
    if (rp.mode == RouteMode::kFull) {
      p->target = p->last + 1;  // == L after the last layer: exit
    } else if (rp.mode == RouteMode::kForward && p->last == L - 1) {
      p->target = L;  // no layer above: exit without evaluating
    } else if (rp.mode == RouteMode::kRadial && p->steps >= rp.max_steps) {
      p->target = L;  // at max_steps the pass must exit
    } else {
      need.push_back(p);
      continue;
    }
    set_node(*p);
  }
  if (need.empty()) return;
  const int g = L + 1;
  slots_.clear();
  for (Pass* p : need) slots_.push_back(p->slot);
  const auto t0 = std::chrono::steady_clock::now();
  bool forced = false;
  for (Pass* p : need) forced = forced || !p->force_skip.empty();
  if (!forced) {  // the backend decides (on a GPU: only the targets come back)
    queries_.clear();
    for (Pass* p : need) queries_.push_back(RouteQuery{p->last, p->routing.threshold});
    targets_.resize(need.size());
    backend_->route(slots_, queries_, targets_.data());
    router_work_.seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    router_work_.evals += static_cast<int>(need.size());
    ++router_work_.calls;
    for (size_t i = 0; i < need.size(); ++i) {
      ++need[i]->router_evals;
      need[i]->target = targets_[i];
      set_node(*need[i]);
    }
    return;
  }
  gates_.resize(need.size() * g);
  backend_->router_logits(slots_, gates_.data());
  router_work_.seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  router_work_.evals += static_cast<int>(need.size());
  ++router_work_.calls;
  for (size_t i = 0; i < need.size(); ++i) {
    Pass* p = need[i];
    ++p->router_evals;
    p->target = route_next(router_->config, p->routing, p->last, gates_.data() + i * g);
    if (!p->force_skip.empty() && p->routing.mode == RouteMode::kForward) {
      const int n = static_cast<int>(p->force_skip.size());
      while (p->target < std::min(L, n) && p->force_skip[p->target])
        p->target = route_next(router_->config, p->routing, p->target, gates_.data() + i * g);
    }
    set_node(*p);
  }
}

void Engine::set_node(Pass& p) const {
  const int L = num_layers();
  const bool propagate =
      p.routing.mode == RouteMode::kForward && p.routing.kv_policy == KvPolicy::kPropagate;
  if (propagate && p.kv_written + 1 < L) {
    // Every layer gets K/V: visit the next one (fully if it is the target).
    p.node = p.kv_written + 1;
    return;
  }
  if (p.target < L) {
    p.node = p.target;
    return;
  }
  p.node = p.wants_logits ? L : L + 1;
}

Engine::RouterWork Engine::take_router_work() {
  RouterWork w = router_work_;
  router_work_ = RouterWork{};
  return w;
}

void Engine::head(std::span<Pass* const> batch, float* logits) {
  slots_.clear();
  for (Pass* p : batch) {
    require(p->node == head_node(), ErrorCode::kInternal, "pass is not waiting for the head");
    slots_.push_back(p->slot);
  }
  backend_->head_logits(slots_, logits);
  for (Pass* p : batch) p->node = done_node();
}

void Engine::head_sample(std::span<Pass* const> batch, std::span<const TokenSampling> params,
                         int* tokens) {
  slots_.clear();
  for (Pass* p : batch) {
    require(p->node == head_node(), ErrorCode::kInternal, "pass is not waiting for the head");
    slots_.push_back(p->slot);
  }
  backend_->head_sample(slots_, params, tokens);
  for (Pass* p : batch) p->node = done_node();
}

}  // namespace radial
