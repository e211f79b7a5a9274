// Continuous batching over the node graph embed -> layer_k -> head.
//
// Admission: sequences are admitted first come, first served while the KV
// pool has room for their prompt chunk at every layer beyond a growth
// reserve for the running ones, and hidden-state slots are free. A request
// whose worst case (every position at every layer) exceeds the whole pool is
// rejected at submit, so the oldest running sequence can always finish.
//
// Steps (plan -> run -> apply): each step picks a node (NodePolicy), gathers up to
// `max_batch_tokens` runnable passes from all running sequences (oldest
// sequence first), makes room in the KV pool for them by preempting the
// youngest running sequences if it must (preemption by recompute: the
// sequence's KV and slots are freed, and it re-enters the queue at the front
// with its prompt and generated tokens as the text to recompute; its output
// so far is kept and nothing is emitted twice), runs the node once, samples
// the passes that reached the head and starts their sequences' next passes.
//
// Prefix caching (engine/kv_cache.h): at admission a sequence attaches the
// longest cached prefix of what it must feed (whole KV blocks, never its
// last token, whose pass yields the next one) and feeds only the rest; after
// each step it publishes the blocks its finished passes completed, so that
// later sequences (and itself, after a preemption) find them. A sequence
// whose next uncached block a running sequence is computing (the `n`
// choices of one prompt, a burst of requests with one system prompt) waits
// at the head of the queue until it is published, rather than compute it
// again.
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
#include <span>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/tokenizer.h"
#include "scheduler/admission.h"
#include "scheduler/node_policy.h"
#include "scheduler/observer.h"
#include "scheduler/request.h"
#include "scheduler/request_validator.h"

namespace radial {

struct Sequence;
class JsonVocab;

struct SchedulerOptions {
  std::string policy = "ascending";  // ascending | largest
  uint64_t max_wait_steps = 0;       // largest: wait bound in steps (0: 2 * nodes)
  int max_batch_tokens = 1024;       // passes per step
  int prefill_chunk = 512;           // prompt passes of one sequence in flight at once
  // Share the KV blocks of equal token prefixes between sequences (full
  // mode and forward mode under `propagate`; engine/kv_cache.h).
  bool prefix_caching = true;
};

struct SchedulerStats {
  int waiting = 0;
  int running = 0;
  int kv_blocks_used = 0;
  int kv_blocks_total = 0;
  int kv_blocks_cached = 0;  // in the prefix cache (held by sequences or not)
  uint64_t steps = 0;
  uint64_t preemptions = 0;
};

// One step's decision (plan), what the engine produced (run), and what the
// scheduler then does with it (apply).
struct StepPlan {
  int node = kNodeEmbed - 1;            // the node to run; below kNodeEmbed: nothing to do
  std::vector<Pass*> batch;             // the passes waiting there, oldest sequence first
  std::vector<Sequence*> owners;        // batch[i]'s sequence
  bool sample_on_backend = false;       // head: every row greedy, drawn on the backend
  int full_rows = 0, kv_only_rows = 0;  // a layer's batch: rows that run it fully, K/V-only
  bool empty() const { return node < kNodeEmbed; }
};
struct StepOutput {
  std::vector<int> tokens;  // head on the backend: one per pass
  // Head on the host: [batch, vocab], in the scheduler's own buffer (valid
  // until its next run(); reused, so a step allocates and zeroes nothing).
  std::span<const float> logits;
  std::string error;   // the engine failed the step (every sequence in it fails)
  double seconds = 0;  // wall time of the engine call
};

class Scheduler {
 public:
  // `tokenizer` may be null: then tokens carry no text and stop strings are
  // rejected. `observer` may be null. All must outlive the scheduler.
  // `limits` apply to submit(); local tools take none.
  Scheduler(Engine& engine, const Tokenizer* tokenizer, const SchedulerOptions& opts = {},
            SchedulerObserver* observer = nullptr,
            const ServingLimits& limits = ServingLimits::none());
  ~Scheduler();

  // Validates and queues a request; returns its id. Throws
  // Error(kInvalidArgument) naming the problem (nothing is queued then).
  uint64_t submit(GenerateRequest req, SequenceCallbacks callbacks);
  // Queues a request someone validated already (the serving core validates
  // on its front ends' threads) under the caller's id, which must be new.
  void enqueue(uint64_t id, ValidatedRequest req, SequenceCallbacks callbacks);
  const RequestValidator& validator() const { return validator_; }

  // Finishes the sequence with kCancelled at the next step (no-op if unknown).
  void cancel(uint64_t id);
  void cancel_all();

  // One step: plan (cancellations, admission, next prompt chunks, the node
  // and its batch, preemption until it fits), run (the engine advances the
  // batch one node), apply (sampling, the output processor, next passes).
  // Returns false when there was nothing to do.
  bool step();
  void run_until_idle();
  bool idle() const { return waiting_.empty() && running_.empty(); }
  SchedulerStats stats() const;

  // The three parts of step(), for tests of each.
  StepPlan plan();
  StepOutput run(const StepPlan& plan);
  void apply(const StepPlan& plan, StepOutput& out);

 private:
  using Clock = std::chrono::steady_clock;
  void take_cancellations();
  void admit();
  // Whether a running sequence with the same routing key is computing the
  // token block of s.feed at [from, from + block) (from: what s found
  // cached; the block must end by `limit`), so that s, waiting for it, will
  // find it cached instead of computing it too.
  bool computing_next_block(const Sequence& s, int from, int limit) const;
  void start_chunk(Sequence& s);
  void preempt(Sequence& s);
  bool make_room(StepPlan& plan);
  void gather(StepPlan& plan) const;
  void on_token(Sequence& s, Pass& p, int tok, const float* logits = nullptr);
  void finish(Sequence& s, FinishReason reason, const std::string& error = "");
  void retire_done_passes(Sequence& s);
  void publish_prefix(Sequence& s);
  void reap();

  Engine& engine_;
  const Tokenizer* tokenizer_;
  std::shared_ptr<const JsonVocab> json_vocab_;  // built at the first JSON-mode request
  SchedulerOptions opts_;
  SchedulerObserver* observer_;
  RequestValidator validator_;
  std::unique_ptr<NodePolicy> policy_;
  GrowthReserveAdmission admission_;
  YoungestFirstPreemption preemption_;
  uint64_t next_id_ = 1;
  std::list<std::unique_ptr<Sequence>> waiting_;
  std::list<std::unique_ptr<Sequence>> running_;  // admission order (oldest first)
  std::vector<uint64_t> cancel_requests_;
  uint64_t steps_ = 0;
  uint64_t preemptions_ = 0;
  // Scratch.
  std::vector<NodeQueue> queues_;
  std::vector<float> work_;
  std::vector<float> logits_;  // StepOutput::logits (grows, never shrinks)
  std::vector<TokenSampling> head_params_;
};

}  // namespace radial
