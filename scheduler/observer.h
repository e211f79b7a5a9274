// Hooks through which the scheduler reports what it does, for metrics and
// logs. Every hook is called on the engine loop thread, between steps or at
// the end of one; implementations must be quick and must not call back into
// the scheduler. Times are seconds.
#pragma once

#include <cstdint>

#include "scheduler/request.h"

namespace radial {

enum class NodeKind { kEmbed, kLayer, kHead };
const char* node_kind_name(NodeKind k);

struct StepInfo {
  NodeKind kind = NodeKind::kLayer;
  int layer = -1;             // with kLayer: which layer
  int batch_size = 0;         // passes in the batch
  int full_rows = 0;          // kLayer: passes that executed the layer fully
  int kv_only_rows = 0;       // kLayer: K/V-only rows (propagate policy)
  int router_evals = 0;       // router evaluations done in this step
  double seconds = 0;         // wall time of the step
  double router_seconds = 0;  // part of it spent in the router
};

class SchedulerObserver {
 public:
  virtual ~SchedulerObserver() = default;
  virtual void on_step(const StepInfo&) {}
  // A sequence left the queue; queue_seconds since submit().
  virtual void on_admitted(uint64_t id, double queue_seconds) {}
  // A generated token; `since_previous` is the time since the previous token
  // of this sequence, or since submit() for the first token (TTFT).
  virtual void on_token(uint64_t id, const GeneratedToken& t, bool first, double since_previous) {}
  // Prefix caching at an admission (a first one, or after a preemption):
  // `looked_up` tokens were looked up in the cache, `hit` of them found.
  virtual void on_prefix_lookup(int looked_up, int hit) {}
  // A running sequence was preempted (its KV freed, to be recomputed).
  virtual void on_preempted(uint64_t id) {}
  // Final: e2e_seconds since submit().
  virtual void on_finished(uint64_t id, const SequenceResult& r, double e2e_seconds) {}
};

}  // namespace radial
