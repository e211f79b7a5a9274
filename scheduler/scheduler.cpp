#include "scheduler/scheduler.h"

#include <algorithm>
#include <string>

#include "engine/error.h"
#include "engine/flops.h"

namespace radial {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kLength: return "length";
    case FinishReason::kStop: return "stop";
    case FinishReason::kStopString: return "stop_string";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kError: return "error";
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
  int kv_seq = -1;
  int reserved_blocks = 0;
  int slots_needed = 0;            // slots taken at admission
  std::vector<int> history;        // prompt + generated ids (repetition penalty)
  std::vector<std::unique_ptr<Pass>> passes;  // in flight, in position order
  int next_prompt = 0;             // next prompt position without a pass
  bool finished = false;
  SequenceResult result;
  long depth_sum = 0;
};

Scheduler::Scheduler(Engine& engine, const Tokenizer* tokenizer, const SchedulerOptions& opts)
    : engine_(engine), tokenizer_(tokenizer), opts_(opts), policy_(make_node_policy(opts.policy)) {
  require(opts.max_batch_tokens >= 1, ErrorCode::kInvalidArgument, "max_batch_tokens must be >= 1");
}

Scheduler::~Scheduler() = default;

uint64_t Scheduler::submit(GenerateRequest req, SequenceCallbacks callbacks) {
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

  auto s = std::make_unique<Sequence>();
  s->routing = engine_.resolve_routing(req.mode, req.threshold);
  // Worst case: every position up to the last one fed back, at every layer.
  const int entries = std::min(n + req.max_tokens - 1, c.max_position_embeddings);
  s->reserved_blocks = engine_.kv().blocks_for(entries, c.num_layers);
  require(s->reserved_blocks <= engine_.kv().num_blocks(), ErrorCode::kInvalidArgument,
          "request needs " + std::to_string(s->reserved_blocks) + " KV blocks; the pool has " +
              std::to_string(engine_.kv().num_blocks()));
  s->slots_needed = s->routing.mode == RouteMode::kRadial ? 1 : n;
  require(s->slots_needed <= engine_.total_slots(), ErrorCode::kInvalidArgument,
          "prompt of " + std::to_string(n) + " tokens needs more hidden-state slots than the engine has (" +
              std::to_string(engine_.total_slots()) + ")");
  s->id = next_id_++;
  s->req = std::move(req);
  s->cb = std::move(callbacks);
  s->sampler = std::make_unique<Sampler>(s->req.sampling);
  s->history = s->req.prompt;
  if (tokenizer_) {
    s->detok = std::make_unique<StreamDetokenizer>(*tokenizer_, s->req.prompt.back());
    s->stop = std::make_unique<StopMatcher>(s->req.stop);
  }
  s->result.usage.prompt_tokens = n;
  const uint64_t id = s->id;
  waiting_.push_back(std::move(s));
  return id;
}

void Scheduler::cancel(uint64_t id) { cancel_requests_.push_back(id); }

SchedulerStats Scheduler::stats() const {
  SchedulerStats st;
  st.waiting = static_cast<int>(waiting_.size());
  st.running = static_cast<int>(running_.size());
  st.kv_blocks_used = engine_.kv().used_blocks();
  st.kv_blocks_total = engine_.kv().num_blocks();
  st.steps = steps_;
  return st;
}

void Scheduler::admit() {
  while (!waiting_.empty()) {
    Sequence& s = *waiting_.front();
    if (reserved_blocks_ + s.reserved_blocks > engine_.kv().num_blocks()) return;
    if (engine_.free_slots() < s.slots_needed) return;
    reserved_blocks_ += s.reserved_blocks;
    s.kv_seq = engine_.kv().create_sequence();
    const int n = static_cast<int>(s.req.prompt.size());
    if (s.routing.mode == RouteMode::kRadial) {
      start_prompt_pass(s, 0);
    } else {
      for (int pos = 0; pos < n; ++pos) start_prompt_pass(s, pos);
    }
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
}

void Scheduler::start_prompt_pass(Sequence& s, int position) {
  auto p = std::make_unique<Pass>();
  p->kv_seq = s.kv_seq;
  p->slot = engine_.acquire_slot();
  p->position = position;
  p->token = s.req.prompt[position];
  p->routing = s.routing;
  const bool last = position + 1 == static_cast<int>(s.req.prompt.size());
  p->wants_logits = last || s.req.keep_prompt_logits;
  engine_.start_pass(*p);
  s.passes.push_back(std::move(p));
  s.next_prompt = position + 1;
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
    reserved_blocks_ -= s.reserved_blocks;
  }
  if (s.stop && reason != FinishReason::kStopString) {
    std::string tail = s.detok->flush();
    std::string out = s.stop->feed(tail) + s.stop->flush();
    s.result.text += out;
    if (!out.empty() && !s.result.tokens.empty()) s.result.tokens.back().text += out;
  }
  s.result.finish = reason;
  s.result.error = error;
  Usage& u = s.result.usage;
  u.generated_tokens = static_cast<int>(s.result.tokens.size());
  u.mean_depth = u.generated_tokens ? static_cast<double>(s.depth_sum) / u.generated_tokens : 0.0;
  if (s.cb.on_finish) s.cb.on_finish(s.result);
}

void Scheduler::on_head(Sequence& s, Pass& p, const float* logits) {
  const ModelConfig& c = engine_.config();
  const int prompt_len = static_cast<int>(s.req.prompt.size());
  const bool prompt_pass = p.position < prompt_len - 1;
  if (s.req.keep_prompt_logits && p.position < prompt_len)
    s.result.prompt_logits.emplace_back(logits, logits + c.vocab_size);
  if (prompt_pass) return;

  std::vector<float> work(logits, logits + c.vocab_size);
  const int tok = s.sampler->sample(work, s.history);
  const bool eos = std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), tok) != c.eos_token_ids.end() ||
                   (c.bos_ends_sequence && tok == c.bos_token_id);
  if (eos && !s.req.ignore_eos) {
    finish(s, FinishReason::kStop);
    return;
  }
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
  s.result.tokens.push_back(g);
  if (s.cb.on_token) s.cb.on_token(s.result.tokens.back());
  const int generated = static_cast<int>(s.result.tokens.size());
  const int next_pos = prompt_len + generated - 1;
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
  engine_.start_pass(*np);
  s.passes.push_back(std::move(np));
}

void Scheduler::retire_done_passes(Sequence& s) {
  const int done = engine_.done_node();
  auto it = std::remove_if(s.passes.begin(), s.passes.end(), [&](const std::unique_ptr<Pass>& p) {
    if (p->node != done) return false;
    if (p->slot >= 0) engine_.release_slot(p->slot);
    return true;
  });
  s.passes.erase(it, s.passes.end());
  // Radial mode: the next prompt pass starts once the previous one is done.
  if (!s.finished && s.routing.mode == RouteMode::kRadial && s.passes.empty() &&
      s.next_prompt < static_cast<int>(s.req.prompt.size()))
    start_prompt_pass(s, s.next_prompt);
}

void Scheduler::reap() {
  for (auto it = running_.begin(); it != running_.end();)
    it = (*it)->finished ? running_.erase(it) : std::next(it);
  for (auto it = waiting_.begin(); it != waiting_.end();)
    it = (*it)->finished ? waiting_.erase(it) : std::next(it);
}

bool Scheduler::step() {
  if (!cancel_requests_.empty()) {
    for (uint64_t id : cancel_requests_) {
      for (auto* list : {&running_, &waiting_})
        for (auto& s : *list)
          if (s->id == id) finish(*s, FinishReason::kCancelled);
    }
    cancel_requests_.clear();
    reap();
  }
  admit();
  reap();
  const int L = engine_.num_layers();
  const int nodes = L + 2;  // embed, layers, head
  runnable_.assign(nodes, 0);
  auto lowest_node = [&](const Sequence& s) {
    int m = engine_.done_node();
    for (const auto& p : s.passes) m = std::min(m, p->node);
    return m;
  };
  for (const auto& s : running_) {
    const int m = lowest_node(*s);
    if (m == engine_.done_node()) continue;
    for (const auto& p : s->passes) runnable_[m + 1] += p->node == m;
  }
  const int pick = policy_->pick(runnable_);
  if (pick < 0) return false;
  const int node = pick - 1;
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
  ++steps_;
  try {
    if (node == kNodeEmbed) {
      engine_.embed(batch_);
    } else if (node < L) {
      engine_.forward_layer(node, batch_);
    } else {
      const int V = engine_.config().vocab_size;
      logits_.resize(batch_.size() * static_cast<size_t>(V));
      engine_.head(batch_, logits_.data());
      for (size_t i = 0; i < batch_.size(); ++i)
        if (!batch_seqs_[i]->finished) on_head(*batch_seqs_[i], *batch_[i], logits_.data() + i * V);
    }
  } catch (const Error& e) {
    for (Sequence* s : batch_seqs_) finish(*s, FinishReason::kError, e.what());
  }
  for (Sequence* s : batch_seqs_)
    if (!s->finished) retire_done_passes(*s);
  reap();
  return true;
}

void Scheduler::run_until_idle() {
  while (step()) {
  }
}

}  // namespace radial
