// Continuous batching over the node graph embed -> layer_k -> head.
//
// Admission: sequences are admitted first come, first served while the KV
// pool has room for their prompt chunk at every layer beyond a growth
// reserve for the running ones, and hidden-state slots are free. A request
// whose worst case (every position at every layer) exceeds the whole pool is
// rejected at submit, so the oldest running sequence can always finish.
//
// Steps: each step picks a node (NodePolicy), gathers up to
// `max_batch_tokens` runnable passes from all running sequences (oldest
// sequence first), makes room in the KV pool for them by preempting the
// youngest running sequences if it must (preemption by recompute: the
// sequence's KV and slots are freed, and it re-enters the queue at the front
// with its prompt and generated tokens as the text to recompute; its output
// so far is kept and nothing is emitted twice), runs the node once, samples
// the passes that reached the head and starts their sequences' next passes.
//
// Ordering rule (design note, section 3): a sequence's passes may run node j
// only when j is the lowest node any of its in-flight passes waits for, and
// they enter the batch in position order. Prompts are fed in chunks of at
// most `prefill_chunk` passes (1 in radial mode); a chunk starts once the
// previous one is done, so forward-mode prompt passes advance together layer
// by layer and radial-mode prompt passes run one after another.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <vector>

#include "engine/engine.h"
#include "engine/tokenizer.h"
#include "scheduler/node_policy.h"
#include "scheduler/observer.h"
#include "scheduler/request.h"

namespace radial {

struct SchedulerOptions {
  std::string policy = "ascending";  // ascending | largest
  uint64_t max_wait_steps = 0;       // largest: wait bound in steps (0: 2 * nodes)
  int max_batch_tokens = 1024;       // passes per step
  int prefill_chunk = 512;           // prompt passes of one sequence in flight at once
};

struct SchedulerStats {
  int waiting = 0;
  int running = 0;
  int kv_blocks_used = 0;
  int kv_blocks_total = 0;
  uint64_t steps = 0;
  uint64_t preemptions = 0;
};

class Scheduler {
 public:
  // `tokenizer` may be null: then tokens carry no text and stop strings are
  // rejected. `observer` may be null. All must outlive the scheduler.
  Scheduler(Engine& engine, const Tokenizer* tokenizer, const SchedulerOptions& opts = {},
            SchedulerObserver* observer = nullptr);
  ~Scheduler();

  // Validates and queues a request; returns its id. Throws
  // Error(kInvalidArgument) naming the problem (nothing is queued then).
  uint64_t submit(GenerateRequest req, SequenceCallbacks callbacks);
  // submit's checks alone (an empty prompt becomes [BOS]); throws as submit.
  // Returns the request's resolved routing.
  RoutingParams validate(GenerateRequest& req) const;
  // Finishes the sequence with kCancelled at the next step (no-op if unknown).
  void cancel(uint64_t id);
  void cancel_all();
  // Runs one node step (admitting waiting sequences first). Returns false
  // when there was nothing to do.
  bool step();
  void run_until_idle();
  bool idle() const { return waiting_.empty() && running_.empty(); }
  SchedulerStats stats() const;

 private:
  struct Sequence;
  using Clock = std::chrono::steady_clock;
  void admit();
  void start_chunk(Sequence& s);
  void preempt(Sequence& s);
  bool make_room(int node);
  void gather(int node);
  // Head results: on_head takes the logits (records prompt logits when asked,
  // samples with the sequence's Sampler), on_token the sampled token.
  void on_head(Sequence& s, Pass& p, const float* logits);
  void on_token(Sequence& s, Pass& p, int tok);
  // Whether the backend may sample `s`'s tokens (Engine::head_sample, so
  // logits stay on a GPU): greedy, no repetition penalty, no prompt logits
  // kept; the rule is the same argmax as Sampler's.
  static bool samples_on_backend(const Sequence& s);
  void finish(Sequence& s, FinishReason reason, const std::string& error = "");
  void retire_done_passes(Sequence& s);
  void reap();
  int lowest_node(const Sequence& s) const;

  Engine& engine_;
  const Tokenizer* tokenizer_;
  SchedulerOptions opts_;
  SchedulerObserver* observer_;
  std::unique_ptr<NodePolicy> policy_;
  uint64_t next_id_ = 1;
  std::list<std::unique_ptr<Sequence>> waiting_;
  std::list<std::unique_ptr<Sequence>> running_;  // admission order (oldest first)
  std::vector<uint64_t> cancel_requests_;
  uint64_t steps_ = 0;
  uint64_t preemptions_ = 0;
  // Scratch.
  std::vector<NodeQueue> queues_;
  std::vector<Pass*> batch_;
  std::vector<Sequence*> batch_seqs_;
  std::vector<float> logits_, work_;
  std::vector<TokenSampling> head_params_;
  std::vector<int> head_tokens_;
};

}  // namespace radial
