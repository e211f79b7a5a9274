#include "scheduler/scheduler.h"

#include <algorithm>
#include <string>

#include "engine/error.h"
#include "engine/flops.h"

namespace radial {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kLength:
      return "length";
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kStopString:
      return "stop_string";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kError:
      return "error";
  }
  return "?";
}

const char* node_kind_name(NodeKind k) {
  switch (k) {
    case NodeKind::kEmbed:
      return "embed";
    case NodeKind::kLayer:
      return "layer";
    case NodeKind::kHead:
      return "head";
  }
  return "?";
}

struct Scheduler::Sequence {
  uint64_t id = 0;
  GenerateRequest req;
  RoutingParams routing;
  SequenceCallbacks cb;
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<StreamDetokenizer> detok;
  std::unique_ptr<StopMatcher> stop;
  int kv_seq = -1;           // -1 while waiting
  std::vector<int> history;  // prompt + generated ids
  std::vector<int> feed;     // ids to run as prompt passes (prompt, or history after preemption)
  int next_feed = 0;         // next feed position without a pass
  std::vector<std::unique_ptr<Pass>> passes;  // in flight, in position order
  bool finished = false;
  SequenceResult result;
  long depth_sum = 0;
  Clock::time_point submitted, last_token;
  bool admitted_once = false;

  int prompt_len() const { return static_cast<int>(req.prompt.size()); }
};

Scheduler::Scheduler(Engine& engine, const Tokenizer* tokenizer, const SchedulerOptions& opts,
                     SchedulerObserver* observer)
    : engine_(engine),
      tokenizer_(tokenizer),
      opts_(opts),
      observer_(observer),
      policy_(make_node_policy(opts.policy, engine.num_layers() + 2, opts.max_wait_steps)) {
  require(opts.max_batch_tokens >= 1, ErrorCode::kInvalidArgument, "max_batch_tokens must be >= 1");
  require(opts.prefill_chunk >= 1, ErrorCode::kInvalidArgument, "prefill_chunk must be >= 1");
}

Scheduler::~Scheduler() = default;

RoutingParams Scheduler::validate(GenerateRequest& req) const {
  const ModelConfig& c = engine_.config();
  if (req.prompt.empty()) req.prompt.push_back(c.bos_token_id);
  for (int t : req.prompt)
    require(t >= 0 && t < c.vocab_size, ErrorCode::kInvalidArgument,
            "prompt token id " + std::to_string(t) + " is outside the vocabulary [0, " +
                std::to_string(c.vocab_size) + ")");
  const int n = static_cast<int>(req.prompt.size());
  require(n <= c.max_position_embeddings, ErrorCode::kInvalidArgument,
          "prompt of " + std::to_string(n) + " tokens is longer than the context (" +
              std::to_string(c.max_position_embeddings) + ")");
  require(req.max_tokens >= 1, ErrorCode::kInvalidArgument,
          "max_tokens must be at least 1, got " + std::to_string(req.max_tokens));
  req.sampling.validate();
  require(req.stop.empty() || tokenizer_ != nullptr, ErrorCode::kInvalidArgument,
          "stop strings need a tokenizer");
  for (const auto& s : req.stop)
    require(!s.empty(), ErrorCode::kInvalidArgument, "stop strings must not be empty");

  // Worst case: every position up to the last one fed back, at every layer.
  const int entries = std::min(n + req.max_tokens - 1, c.max_position_embeddings);
  const int worst = engine_.kv().blocks_for(entries, c.num_layers);
  require(worst <= engine_.kv().num_blocks(), ErrorCode::kInvalidArgument,
          "request needs up to " + std::to_string(worst) + " KV blocks; the whole pool has " +
              std::to_string(engine_.kv().num_blocks()) +
              " (lower max_tokens or the prompt length)");
  return engine_.resolve_routing(req.mode, req.threshold);  // a bad mode or threshold throws
}

uint64_t Scheduler::submit(GenerateRequest req, SequenceCallbacks callbacks) {
  const RoutingParams routing = validate(req);
  auto s = std::make_unique<Sequence>();
  s->routing = routing;
  s->id = next_id_++;
  s->req = std::move(req);
  s->cb = std::move(callbacks);
  s->sampler = std::make_unique<Sampler>(s->req.sampling);
  s->history = s->req.prompt;
  s->feed = s->req.prompt;
  if (tokenizer_) {
    s->detok = std::make_unique<StreamDetokenizer>(*tokenizer_, s->req.prompt.back());
    s->stop = std::make_unique<StopMatcher>(s->req.stop);
  }
  s->result.usage.prompt_tokens = static_cast<int>(s->req.prompt.size());
  s->submitted = Clock::now();
  const uint64_t id = s->id;
  waiting_.push_back(std::move(s));
  return id;
}

void Scheduler::cancel(uint64_t id) { cancel_requests_.push_back(id); }

void Scheduler::cancel_all() {
  for (auto* list : {&running_, &waiting_})
    for (auto& s : *list) cancel_requests_.push_back(s->id);
}

SchedulerStats Scheduler::stats() const {
  SchedulerStats st;
  st.waiting = static_cast<int>(waiting_.size());
  st.running = static_cast<int>(running_.size());
  st.kv_blocks_used = engine_.kv().used_blocks();
  st.kv_blocks_total = engine_.kv().num_blocks();
  st.steps = steps_;
  st.preemptions = preemptions_;
  return st;
}

int Scheduler::lowest_node(const Sequence& s) const {
  int m = engine_.done_node();
  for (const auto& p : s.passes) m = std::min(m, p->node);
  return m;
}

void Scheduler::admit() {
  const int L = engine_.num_layers();
  while (!waiting_.empty()) {
    Sequence& s = *waiting_.front();
    const int chunk = std::min<int>(static_cast<int>(s.feed.size()),
                                    s.routing.mode == RouteMode::kRadial ? 1 : opts_.prefill_chunk);
    // Room for this chunk at every layer, beyond a reserve of one block per
    // layer for each running sequence to grow into.
    const int need = engine_.kv().blocks_for(chunk, L);
    const int reserve = static_cast<int>(running_.size()) * L;
    if (!running_.empty() && engine_.kv().free_blocks() - reserve < need) return;
    if (engine_.free_slots() < chunk) return;
    s.kv_seq = engine_.kv().create_sequence();
    s.next_feed = 0;
    start_chunk(s);
    if (!s.admitted_once && observer_)
      observer_->on_admitted(s.id,
                             std::chrono::duration<double>(Clock::now() - s.submitted).count());
    s.admitted_once = true;
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
}

void Scheduler::start_chunk(Sequence& s) {
  const int total = static_cast<int>(s.feed.size());
  const int limit = s.routing.mode == RouteMode::kRadial ? 1 : opts_.prefill_chunk;
  const int end = std::min({total, s.next_feed + limit, s.next_feed + engine_.free_slots()});
  for (int pos = s.next_feed; pos < end; ++pos) {
    auto p = std::make_unique<Pass>();
    p->kv_seq = s.kv_seq;
    p->slot = engine_.acquire_slot();
    p->position = pos;
    p->token = s.feed[pos];
    p->routing = s.routing;
    const bool recorded = static_cast<int>(s.result.prompt_logits.size()) > pos;
    p->wants_logits =
        pos + 1 == total || (s.req.keep_prompt_logits && pos < s.prompt_len() && !recorded);
    p->ready_step = steps_;
    engine_.start_pass(*p);
    s.passes.push_back(std::move(p));
  }
  s.next_feed = end;
}

void Scheduler::preempt(Sequence& s) {
  for (auto& p : s.passes)
    if (p->slot >= 0) engine_.release_slot(p->slot);
  s.passes.clear();
  engine_.kv().free_sequence(s.kv_seq);
  s.kv_seq = -1;
  s.feed = s.history;  // recompute prompt + generated; the last one yields the next token
  s.next_feed = 0;
  ++preemptions_;
  if (observer_) observer_->on_preempted(s.id);
}

void Scheduler::finish(Sequence& s, FinishReason reason, const std::string& error) {
  if (s.finished) return;
  s.finished = true;
  for (auto& p : s.passes)
    if (p->slot >= 0) engine_.release_slot(p->slot);
  s.passes.clear();
  if (s.kv_seq >= 0) {
    engine_.kv().free_sequence(s.kv_seq);
    s.kv_seq = -1;
  }
  if (s.stop && reason != FinishReason::kStopString) {
    std::string out = s.stop->feed(s.detok->flush()) + s.stop->flush();
    s.result.text += out;
    if (!out.empty() && !s.result.tokens.empty()) s.result.tokens.back().text += out;
  }
  s.result.finish = reason;
  s.result.error = error;
  Usage& u = s.result.usage;
  u.generated_tokens = static_cast<int>(s.result.tokens.size());
  u.mean_depth = u.generated_tokens ? static_cast<double>(s.depth_sum) / u.generated_tokens : 0.0;
  if (observer_)
    observer_->on_finished(s.id, s.result,
                           std::chrono::duration<double>(Clock::now() - s.submitted).count());
  if (s.cb.on_finish) s.cb.on_finish(s.result);
}

void Scheduler::on_head(Sequence& s, Pass& p, const float* logits) {
  const ModelConfig& c = engine_.config();
  const int V = c.vocab_size;
  if (s.req.keep_prompt_logits && p.position < s.prompt_len() &&
      p.position == static_cast<int>(s.result.prompt_logits.size())) {
    s.result.prompt_logits.emplace_back(logits, logits + V);
    s.result.prompt_depth.push_back(p.depth());
    const int prh = engine_.router() ? engine_.router()->config.router_hidden : 0;
    s.result.prompt_compute_fraction.push_back(pass_compute_fraction(c, p, prh));
  }
  if (p.position + 1 < static_cast<int>(s.history.size())) return;  // not the newest position

  work_.assign(logits, logits + V);
  on_token(s, p, s.sampler->sample(work_, s.history));
}

bool Scheduler::samples_on_backend(const Sequence& s) {
  return s.req.sampling.temperature == 0.f && s.req.sampling.repetition_penalty == 1.f &&
         !s.req.keep_prompt_logits;
}

void Scheduler::on_token(Sequence& s, Pass& p, int tok) {
  const ModelConfig& c = engine_.config();
  if (p.position + 1 < static_cast<int>(s.history.size())) return;  // not the newest position
  const bool eos =
      std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), tok) != c.eos_token_ids.end() ||
      (c.bos_ends_sequence && tok == c.bos_token_id);
  if (eos && !s.req.ignore_eos) return finish(s, FinishReason::kStop);
  GeneratedToken g;
  g.token = tok;
  g.depth = p.depth();
  g.path = p.path;
  const int rh = engine_.router() ? engine_.router()->config.router_hidden : 0;
  g.compute_fraction = pass_compute_fraction(c, p, rh);
  s.history.push_back(tok);
  s.depth_sum += g.depth;
  s.result.usage.layer_steps_skipped += c.num_layers - g.depth;
  bool stopped = false;
  if (s.detok) {
    g.text = s.stop->feed(s.detok->push(tok));
    stopped = s.stop->stopped();
    s.result.text += g.text;
  }
  s.result.tokens.push_back(std::move(g));
  const auto now = Clock::now();
  const bool first = s.result.tokens.size() == 1;
  if (observer_)
    observer_->on_token(
        s.id, s.result.tokens.back(), first,
        std::chrono::duration<double>(now - (first ? s.submitted : s.last_token)).count());
  s.last_token = now;
  if (s.cb.on_token) s.cb.on_token(s.result.tokens.back());
  const int generated = static_cast<int>(s.result.tokens.size());
  const int next_pos = p.position + 1;
  if (stopped) return finish(s, FinishReason::kStopString);
  if (generated >= s.req.max_tokens || next_pos >= c.max_position_embeddings)
    return finish(s, FinishReason::kLength);
  // The next pass takes over this pass's slot (its hidden state is spent),
  // so a running sequence never needs a slot it does not already hold.
  auto np = std::make_unique<Pass>();
  np->kv_seq = s.kv_seq;
  np->slot = p.slot;
  p.slot = -1;
  np->position = next_pos;
  np->token = tok;
  np->routing = s.routing;
  np->wants_logits = true;
  np->ready_step = steps_;
  engine_.start_pass(*np);
  s.passes.push_back(std::move(np));
  s.feed.push_back(tok);  // keeps feed == history for a later recompute
  s.next_feed = static_cast<int>(s.feed.size());
}

void Scheduler::retire_done_passes(Sequence& s) {
  const int done = engine_.done_node();
  auto it = std::remove_if(s.passes.begin(), s.passes.end(), [&](const std::unique_ptr<Pass>& p) {
    if (p->node != done) return false;
    if (p->slot >= 0) engine_.release_slot(p->slot);
    return true;
  });
  s.passes.erase(it, s.passes.end());
}

void Scheduler::reap() {
  for (auto it = running_.begin(); it != running_.end();)
    it = (*it)->finished ? running_.erase(it) : std::next(it);
  for (auto it = waiting_.begin(); it != waiting_.end();)
    it = (*it)->finished ? waiting_.erase(it) : std::next(it);
}

void Scheduler::gather(int node) {
  batch_.clear();
  batch_seqs_.clear();
  for (auto& s : running_) {
    if (static_cast<int>(batch_.size()) >= opts_.max_batch_tokens) break;
    if (lowest_node(*s) != node) continue;
    for (auto& p : s->passes) {
      if (p->node != node) continue;
      if (static_cast<int>(batch_.size()) >= opts_.max_batch_tokens) break;
      batch_.push_back(p.get());
      batch_seqs_.push_back(s.get());
    }
  }
}

// Preempts the youngest running sequences until the batch of `node` fits in
// the KV pool. Returns false if the batch became empty.
bool Scheduler::make_room(int node) {
  if (node < 0 || node >= engine_.num_layers()) return true;
  while (engine_.blocks_needed(node, batch_) > engine_.kv().free_blocks()) {
    if (running_.size() <= 1) {
      // Cannot happen: submit() rejects requests whose worst case exceeds the pool.
      finish(*running_.front(), FinishReason::kError, "KV pool too small for this request");
      reap();
      return false;
    }
    auto victim = std::prev(running_.end());
    preempt(**victim);
    waiting_.push_front(std::move(*victim));
    running_.erase(victim);
    gather(node);
    if (batch_.empty()) return false;
  }
  return true;
}

bool Scheduler::step() {
  if (!cancel_requests_.empty()) {
    for (uint64_t id : cancel_requests_)
      for (auto* list : {&running_, &waiting_})
        for (auto& s : *list)
          if (s->id == id) finish(*s, FinishReason::kCancelled);
    cancel_requests_.clear();
    reap();
  }
  admit();
  // Sequences between prompt chunks start their next chunk.
  for (auto& s : running_)
    if (s->passes.empty() && s->next_feed < static_cast<int>(s->feed.size())) start_chunk(*s);

  const int L = engine_.num_layers();
  queues_.assign(L + 2, NodeQueue{});
  for (const auto& s : running_) {
    const int m = lowest_node(*s);
    if (m == engine_.done_node()) continue;
    for (const auto& p : s->passes)
      if (p->node == m) {
        NodeQueue& q = queues_[m + 1];
        ++q.runnable;
        q.oldest_wait = std::max(q.oldest_wait, steps_ - p->ready_step);
      }
  }
  const int pick = policy_->pick(queues_);
  if (pick < 0) return false;
  const int node = pick - 1;
  gather(node);
  ++steps_;
  if (!make_room(node)) return true;

  StepInfo info;
  info.kind = node == kNodeEmbed ? NodeKind::kEmbed : node < L ? NodeKind::kLayer : NodeKind::kHead;
  info.layer = info.kind == NodeKind::kLayer ? node : -1;
  info.batch_size = static_cast<int>(batch_.size());
  if (info.kind == NodeKind::kLayer)
    for (Pass* p : batch_) (p->target == node ? info.full_rows : info.kv_only_rows)++;
  const auto t0 = Clock::now();
  try {
    if (info.kind == NodeKind::kEmbed) {
      engine_.embed(batch_);
    } else if (info.kind == NodeKind::kLayer) {
      engine_.forward_layer(node, batch_);
    } else {
      // Greedy batches sample on the backend (only token ids come back);
      // any other row needs the logits on the host (Sampler).
      const bool on_backend = std::all_of(batch_seqs_.begin(), batch_seqs_.end(),
                                          [](const Sequence* q) { return samples_on_backend(*q); });
      if (on_backend) {
        head_params_.assign(batch_.size(), TokenSampling{});  // temperature 0: argmax
        head_tokens_.resize(batch_.size());
        engine_.head_sample(batch_, head_params_, head_tokens_.data());
        for (size_t i = 0; i < batch_.size(); ++i)
          if (!batch_seqs_[i]->finished) on_token(*batch_seqs_[i], *batch_[i], head_tokens_[i]);
      } else {
        const int V = engine_.config().vocab_size;
        logits_.resize(batch_.size() * static_cast<size_t>(V));
        engine_.head(batch_, logits_.data());
        for (size_t i = 0; i < batch_.size(); ++i)
          if (!batch_seqs_[i]->finished)
            on_head(*batch_seqs_[i], *batch_[i], logits_.data() + i * V);
      }
    }
  } catch (const Error& e) {
    for (Sequence* s : batch_seqs_) finish(*s, FinishReason::kError, e.what());
  }
  const Engine::RouterWork rw = engine_.take_router_work();
  info.router_evals = rw.evals;
  info.router_seconds = rw.seconds;
  info.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  for (size_t i = 0; i < batch_.size(); ++i)
    if (!batch_seqs_[i]->finished) batch_[i]->ready_step = steps_;
  for (Sequence* s : batch_seqs_)
    if (!s->finished) retire_done_passes(*s);
  reap();
  if (observer_) observer_->on_step(info);
  return true;
}

void Scheduler::run_until_idle() {
  while (step()) {
  }
}

}  // namespace radial
