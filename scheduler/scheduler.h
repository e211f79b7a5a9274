// Continuous batching over the node graph embed -> layer_k -> head.
//
// Sequences are admitted first come, first served when the KV pool can hold
// their worst case (prompt + max_tokens entries at every layer) and enough
// hidden-state slots are free for their prompt, so an admitted sequence never
// runs out of KV blocks and the scheduler never deadlocks. Each step picks a
// node (NodePolicy), gathers up to `max_batch_tokens` runnable passes from
// all running sequences (oldest sequence first), runs it once, samples the
// passes that reached the head and starts their sequences' next passes.
//
// Ordering rule (design note, section 3): a sequence's passes may run node j
// only when j is the lowest node any of its in-flight passes waits for, and
// they enter the batch in position order. Forward-mode prompt passes thus
// advance together layer by layer; radial-mode prompt passes run one after
// another.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "engine/engine.h"
#include "engine/tokenizer.h"
#include "scheduler/node_policy.h"
#include "scheduler/request.h"

namespace radial {

struct SchedulerOptions {
  std::string policy = "ascending";
  int max_batch_tokens = 4096;  // passes per step
};

struct SchedulerStats {
  int waiting = 0;
  int running = 0;
  int kv_blocks_used = 0;
  int kv_blocks_total = 0;
  uint64_t steps = 0;
};

class Scheduler {
 public:
  // `tokenizer` may be null: then tokens carry no text and stop strings are
  // rejected. Engine and tokenizer must outlive the scheduler.
  Scheduler(Engine& engine, const Tokenizer* tokenizer, const SchedulerOptions& opts = {});
  ~Scheduler();

  // Validates and queues a request; returns its id. Throws
  // Error(kInvalidArgument) naming the problem (nothing is queued then).
  uint64_t submit(GenerateRequest req, SequenceCallbacks callbacks);
  // Finishes the sequence with kCancelled at the next step (no-op if unknown).
  void cancel(uint64_t id);
  // Runs one node step (admitting waiting sequences first). Returns false
  // when there was nothing to do.
  bool step();
  void run_until_idle();
  SchedulerStats stats() const;

 private:
  struct Sequence;
  void admit();
  void start_prompt_pass(Sequence& s, int position);
  void on_head(Sequence& s, Pass& p, const float* logits);
  void finish(Sequence& s, FinishReason reason, const std::string& error = "");
  void retire_done_passes(Sequence& s);
  void reap();

  Engine& engine_;
  const Tokenizer* tokenizer_;
  SchedulerOptions opts_;
  std::unique_ptr<NodePolicy> policy_;
  uint64_t next_id_ = 1;
  std::list<std::unique_ptr<Sequence>> waiting_;
  std::list<std::unique_ptr<Sequence>> running_;  // admission order (oldest first)
  std::vector<uint64_t> cancel_requests_;
  int reserved_blocks_ = 0;
  uint64_t steps_ = 0;
  // Scratch.
  std::vector<int> runnable_;
  std::vector<Pass*> batch_;
  std::vector<Sequence*> batch_seqs_;
  std::vector<float> logits_;
};

}  // namespace radial
