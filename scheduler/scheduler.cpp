#include "scheduler/scheduler.h"

#include <algorithm>
#include <string>

#include "engine/error.h"
#include "scheduler/json_constraint.h"
#include "scheduler/schema_state.h"
#include "scheduler/sequence.h"

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

Scheduler::Scheduler(Engine& engine, const Tokenizer* tokenizer, const SchedulerOptions& opts,
                     SchedulerObserver* observer, const ServingLimits& limits)
    : engine_(engine),
      tokenizer_(tokenizer),
      opts_(opts),
      observer_(observer),
      validator_(engine, tokenizer, limits),
      policy_(make_node_policy(opts.policy, engine.num_layers() + 2, opts.max_wait_steps)) {
  require(opts.max_batch_tokens >= 1, ErrorCode::kInvalidArgument, "max_batch_tokens must be >= 1");
  require(opts.prefill_chunk >= 1, ErrorCode::kInvalidArgument, "prefill_chunk must be >= 1");
}

Scheduler::~Scheduler() = default;

uint64_t Scheduler::submit(GenerateRequest req, SequenceCallbacks callbacks) {
  ValidatedRequest v = validator_.validate(std::move(req));
  const uint64_t id = next_id_++;
  enqueue(id, std::move(v), std::move(callbacks));
  return id;
}

void Scheduler::enqueue(uint64_t id, ValidatedRequest v, SequenceCallbacks callbacks) {
  auto s = std::make_unique<Sequence>();
  s->id = id;
  next_id_ = std::max(next_id_, id + 1);
  s->routing = v.routing();
  s->req = std::move(v.request());
  s->cb = std::move(callbacks);
  s->sampler = std::make_unique<Sampler>(s->req.sampling);
  const int router_hidden = engine_.router() ? engine_.router()->config.router_hidden : 0;
  s->output =
      std::make_unique<OutputProcessor>(engine_.config(), tokenizer_, router_hidden, s->req);
  if (s->req.constrained()) {  // (the validator made sure of a tokenizer)
    if (!json_vocab_)
      json_vocab_ = std::make_shared<const JsonVocab>(*tokenizer_, engine_.config().vocab_size);
    if (v.schema()) {
      s->json = std::make_unique<SchemaConstraint>(json_vocab_, v.schema());
    } else {
      s->json = std::make_unique<JsonConstraint>(json_vocab_);
    }
  }
  s->history = s->req.prompt;
  s->feed = s->req.prompt;
  s->submitted = Clock::now();
  waiting_.push_back(std::move(s));
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
  st.kv_blocks_cached = engine_.kv().cached_blocks();
  st.steps = steps_;
  st.preemptions = preemptions_;
  return st;
}

// ---------------------------------------------------------------- plan ----

void Scheduler::take_cancellations() {
  if (cancel_requests_.empty()) return;
  for (uint64_t id : cancel_requests_)
    for (auto* list : {&running_, &waiting_})
      for (auto& s : *list)
        if (s->id == id) finish(*s, FinishReason::kCancelled);
  cancel_requests_.clear();
  reap();
}

void Scheduler::admit() {
  const int L = engine_.num_layers();
  while (!waiting_.empty()) {
    Sequence& s = *waiting_.front();
    const int total = static_cast<int>(s.feed.size());
    // The cached prefix: never the last token (its pass yields the next
    // one), nor prompt positions whose logits are still to be reported.
    int cache_limit = total - 1;
    if (s.req.reports_prompt())
      cache_limit = std::min(cache_limit, s.output->prompt_positions_recorded());
    const KvBlockManager::PrefixMatch hit =
        opts_.prefix_caching ? engine_.match_cached_prefix(s.feed, s.routing, cache_limit)
                             : KvBlockManager::PrefixMatch{};
    if (opts_.prefix_caching && computing_next_block(s, hit.tokens, cache_limit)) return;
    const int chunk = std::min<int>(total - hit.tokens,
                                    s.routing.mode == RouteMode::kRadial ? 1 : opts_.prefill_chunk);
    const Capacity cap{engine_.kv().free_blocks(), engine_.free_slots(),
                       static_cast<int>(running_.size()), L};
    if (!admission_.admit(cap, engine_.kv().blocks_for(chunk, L) + hit.revived_blocks, chunk))
      return;
    s.kv = engine_.open_sequence();
    s.next_feed = hit.tokens > 0 ? s.kv->attach_cached_prefix(s.feed, s.routing, hit.tokens) : 0;
    if (opts_.prefix_caching && Engine::prefix_cache_key(s.routing) != 0 && observer_)
      observer_->on_prefix_lookup(total, s.next_feed);
    if (!s.admitted_once) s.output->set_cached_prompt_tokens(std::min(s.next_feed, s.prompt_len()));
    start_chunk(s);
    if (!s.admitted_once && observer_)
      observer_->on_admitted(s.id,
                             std::chrono::duration<double>(Clock::now() - s.submitted).count());
    s.admitted_once = true;
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
}

bool Scheduler::computing_next_block(const Sequence& s, int from, int limit) const {
  const uint64_t key = Engine::prefix_cache_key(s.routing);
  const int B = engine_.kv().block_size();
  if (key == 0 || from + B > limit) return false;
  // The block after the cached prefix is not cached (the match stopped
  // there): a running sequence with the same tokens up to its end has it
  // still to compute or to finish, and will publish it.
  const auto end = s.feed.begin() + from + B;
  for (const auto& r : running_)
    if (!r->finished && Engine::prefix_cache_key(r->routing) == key &&
        static_cast<int>(r->feed.size()) >= from + B &&
        std::equal(s.feed.begin(), end, r->feed.begin()))
      return true;
  return false;
}

void Scheduler::start_chunk(Sequence& s) {
  const int total = static_cast<int>(s.feed.size());
  const int limit = s.routing.mode == RouteMode::kRadial ? 1 : opts_.prefill_chunk;
  const int end = std::min({total, s.next_feed + limit, s.next_feed + engine_.free_slots()});
  for (int pos = s.next_feed; pos < end; ++pos) {
    auto p = std::make_unique<Pass>();
    p->kv_seq = s.kv->id();
    p->slot = s.kv->acquire_slot();
    p->position = pos;
    p->token = s.feed[pos];
    p->routing = s.routing;
    p->wants_logits = pos + 1 == total || (s.req.reports_prompt() && pos < s.prompt_len() &&
                                           pos >= s.output->prompt_positions_recorded());
    p->ready_step = steps_;
    engine_.start_pass(*p);
    s.passes.push_back(std::move(p));
  }
  s.next_feed = end;
}

void Scheduler::preempt(Sequence& s) {
  s.passes.clear();
  s.kv.reset();        // frees its KV blocks and slots
  s.feed = s.history;  // recompute prompt + generated; the last one yields the next token
  s.next_feed = 0;
  ++preemptions_;
  if (observer_) observer_->on_preempted(s.id);
}

void Scheduler::gather(StepPlan& plan) const {
  plan.batch.clear();
  plan.owners.clear();
  const int done = engine_.done_node();
  for (const auto& s : running_) {
    if (static_cast<int>(plan.batch.size()) >= opts_.max_batch_tokens) break;
    if (s->lowest_node(done) != plan.node) continue;
    for (auto& p : s->passes) {
      if (p->node != plan.node) continue;
      if (static_cast<int>(plan.batch.size()) >= opts_.max_batch_tokens) break;
      plan.batch.push_back(p.get());
      plan.owners.push_back(s.get());
    }
  }
}

// Preempts running sequences (the preemption policy's choice) until the
// batch of a layer fits in the KV pool. Returns false if nothing is left
// to run.
bool Scheduler::make_room(StepPlan& plan) {
  if (plan.node < 0 || plan.node >= engine_.num_layers()) return true;
  while (engine_.blocks_needed(plan.node, plan.batch) > engine_.kv().free_blocks()) {
    const int v = preemption_.victim(running_.size());
    if (v < 0) {
      // Cannot happen: the validator rejects requests whose worst case exceeds the pool.
      finish(*running_.front(), FinishReason::kError, "KV pool too small for this request");
      reap();
      return false;
    }
    auto victim = std::next(running_.begin(), v);
    preempt(**victim);
    waiting_.push_front(std::move(*victim));
    running_.erase(victim);
    gather(plan);
    if (plan.batch.empty()) return false;
  }
  return true;
}

StepPlan Scheduler::plan() {
  StepPlan plan;
  take_cancellations();
  admit();
  // Sequences between prompt chunks start their next chunk.
  for (auto& s : running_)
    if (s->passes.empty() && s->next_feed < static_cast<int>(s->feed.size())) start_chunk(*s);

  const int L = engine_.num_layers(), done = engine_.done_node();
  queues_.assign(L + 2, NodeQueue{});
  for (const auto& s : running_) {
    const int m = s->lowest_node(done);
    if (m == done) continue;
    for (const auto& p : s->passes)
      if (p->node == m) {
        NodeQueue& q = queues_[m + 1];
        ++q.runnable;
        q.oldest_wait = std::max(q.oldest_wait, steps_ - p->ready_step);
      }
  }
  const int pick = policy_->pick(queues_);
  if (pick < 0) return plan;
  plan.node = pick - 1;
  gather(plan);
  ++steps_;
  if (!make_room(plan)) {
    plan.batch.clear();
    plan.owners.clear();
    return plan;  // (node set, batch empty: a step was taken, nothing runs)
  }
  if (plan.node >= 0 && plan.node < L)
    for (const Pass* p : plan.batch)
      (p->target == plan.node ? plan.full_rows : plan.kv_only_rows)++;
  plan.sample_on_backend = plan.node == engine_.head_node() &&
                           std::all_of(plan.owners.begin(), plan.owners.end(),
                                       [](const Sequence* s) { return s->samples_on_backend(); });
  return plan;
}

// ----------------------------------------------------------------- run ----

StepOutput Scheduler::run(const StepPlan& plan) {
  StepOutput out;
  if (plan.empty() || plan.batch.empty()) return out;
  NodeRun r;
  r.node = plan.node;
  r.batch = plan.batch;
  if (plan.node == engine_.head_node()) {
    if (plan.sample_on_backend) {
      head_params_.assign(plan.batch.size(), TokenSampling{});  // temperature 0: argmax
      out.tokens.resize(plan.batch.size());
      r.sampling = head_params_;
      r.tokens = out.tokens.data();
    } else {
      const size_t n = plan.batch.size() * static_cast<size_t>(engine_.config().vocab_size);
      if (logits_.size() < n) logits_.resize(n);
      r.logits = logits_.data();
      out.logits = std::span<const float>(logits_.data(), n);
    }
  }
  const auto t0 = Clock::now();
  try {
    engine_.run(r);
  } catch (const Error& e) {
    out.error = e.what();
  }
  out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return out;
}

// --------------------------------------------------------------- apply ----

void Scheduler::on_token(Sequence& s, Pass& p, int tok, const float* logits) {
  if (p.position + 1 < static_cast<int>(s.history.size())) return;  // not the newest position
  const OutputProcessor::Verdict v = s.output->on_token(tok, p, logits);
  // JSON (Schema) mode: the object closed with this token ends the sequence.
  const bool json_done = v.token != nullptr && s.json && s.json->accept(tok) && s.json->complete();
  if (v.token != nullptr) {
    s.history.push_back(tok);
    const auto now = Clock::now();
    const bool first = s.output->generated() == 1;
    if (observer_)
      observer_->on_token(
          s.id, *v.token, first,
          std::chrono::duration<double>(now - (first ? s.submitted : s.last_token)).count());
    s.last_token = now;
    if (s.cb.on_token) s.cb.on_token(*v.token);
  }
  if (v.finish) return finish(s, *v.finish);
  if (json_done) return finish(s, FinishReason::kStop);
  // The next pass takes over this pass's slot (its hidden state is spent),
  // so a running sequence never needs a slot it does not already hold.
  auto np = std::make_unique<Pass>();
  np->kv_seq = s.kv->id();
  np->slot = p.slot;
  p.slot = -1;
  np->position = p.position + 1;
  np->token = tok;
  np->routing = s.routing;
  np->wants_logits = true;
  np->ready_step = steps_;
  engine_.start_pass(*np);
  s.passes.push_back(std::move(np));
  s.feed.push_back(tok);  // keeps feed == history for a later recompute
  s.next_feed = static_cast<int>(s.feed.size());
}

void Scheduler::publish_prefix(Sequence& s) {
  if (!opts_.prefix_caching || !s.kv) return;
  // Positions below the lowest one in flight have finished (every pass
  // writes its entries at all layers before it is done).
  const int done = engine_.done_node();
  int complete = s.next_feed;
  for (const auto& p : s.passes)
    if (p->node != done) complete = std::min(complete, p->position);
  s.kv->publish_prefix(s.feed, s.routing, complete);
}

void Scheduler::finish(Sequence& s, FinishReason reason, const std::string& error) {
  if (s.finished) return;
  s.finished = true;
  if (reason != FinishReason::kError)
    publish_prefix(s);  // (a failed step's entries are not trusted)
  s.passes.clear();
  s.kv.reset();  // frees its KV blocks and slots
  const SequenceResult& result = s.output->finish(reason, error);
  if (observer_)
    observer_->on_finished(s.id, result,
                           std::chrono::duration<double>(Clock::now() - s.submitted).count());
  if (s.cb.on_finish) s.cb.on_finish(result);
}

void Scheduler::retire_done_passes(Sequence& s) {
  const int done = engine_.done_node();
  auto it = std::remove_if(s.passes.begin(), s.passes.end(), [&](const std::unique_ptr<Pass>& p) {
    if (p->node != done) return false;
    if (p->slot >= 0) s.kv->release_slot(p->slot);
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

void Scheduler::apply(const StepPlan& plan, StepOutput& out) {
  if (plan.empty()) return;
  const int L = engine_.num_layers();
  StepInfo info;
  info.kind = plan.node == kNodeEmbed ? NodeKind::kEmbed
              : plan.node < L         ? NodeKind::kLayer
                                      : NodeKind::kHead;
  info.layer = info.kind == NodeKind::kLayer ? plan.node : -1;
  info.batch_size = static_cast<int>(plan.batch.size());
  info.seconds = out.seconds;
  info.full_rows = plan.full_rows;
  info.kv_only_rows = plan.kv_only_rows;

  if (!out.error.empty()) {
    for (Sequence* s : plan.owners) finish(*s, FinishReason::kError, out.error);
  } else if (info.kind == NodeKind::kHead) {
    const size_t V = static_cast<size_t>(engine_.config().vocab_size);
    for (size_t i = 0; i < plan.batch.size(); ++i) {
      Sequence& s = *plan.owners[i];
      if (s.finished) continue;
      Pass& p = *plan.batch[i];
      if (plan.sample_on_backend) {
        on_token(s, p, out.tokens[i]);
        continue;
      }
      const float* logits = out.logits.data() + i * V;
      s.output->record_prompt_position(p, logits);
      if (p.position + 1 < static_cast<int>(s.history.size())) continue;  // not the newest
      work_.assign(logits, logits + V);
      // JSON (Schema) mode: -inf for the tokens that cannot continue the object (the
      // bias and penalties keep -inf; the reported distribution is the masked one).
      if (s.json && !s.json->mask(work_)) {
        finish(s, FinishReason::kError,
               "JSON mode: no token of the vocabulary continues the generated JSON");
        continue;
      }
      const int tok =
          s.sampler->sample(work_, s.history, s.req.prompt.size());  // (work_: adjusted)
      on_token(s, p, tok, work_.data());
    }
  }
  const Engine::RouterWork rw = engine_.take_router_work();
  info.router_evals = rw.evals;
  info.router_seconds = rw.seconds;
  for (size_t i = 0; i < plan.batch.size(); ++i)
    if (!plan.owners[i]->finished) plan.batch[i]->ready_step = steps_;
  for (Sequence* s : plan.owners)
    if (!s->finished) retire_done_passes(*s);
  for (size_t i = 0; i < plan.owners.size(); ++i)  // (owners: each sequence's passes adjacent)
    if ((i == 0 || plan.owners[i] != plan.owners[i - 1]) && !plan.owners[i]->finished)
      publish_prefix(*plan.owners[i]);
  reap();
  if (observer_ && !plan.batch.empty()) observer_->on_step(info);
}

bool Scheduler::step() {
  StepPlan p = plan();
  if (p.empty()) return false;
  StepOutput out = run(p);
  apply(p, out);
  return true;
}

void Scheduler::run_until_idle() {
  while (step()) {
  }
}

}  // namespace radial
