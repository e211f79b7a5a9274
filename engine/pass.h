// A *pass*: the journey of one input token from the embedding through the
// layers it is routed to, to the head (design note, section 2). The engine
// moves passes between the nodes of the graph
//   embed (-1) -> layer_0 .. layer_{L-1} -> head (L),  done (L + 1)
// and `node` says which node a pass waits for next.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/router.h"

namespace radial {

inline constexpr int kNodeEmbed = -1;

struct Pass {
  // Set by the owner before the embed step.
  int kv_seq = -1;            // KvBlockManager sequence id
  int slot = -1;              // hidden-state row in the backend
  int position = 0;           // token position in the sequence
  int token = 0;              // input token id
  RoutingParams routing;      // resolved routing of the request
  bool wants_logits = false;  // visit the head after the last layer (else: done)
  // Analysis hook (router distillation), forward mode only: layers this
  // pass skips whatever its gates and pins say (force_skip[j]: layer j).
  // Empty (the default): none.
  std::vector<bool> force_skip;

  // Routing state, maintained by the engine.
  int node = kNodeEmbed;  // next node: -1 embed, 0..L-1 a layer, L head, L+1 done
  int last = -1;          // last layer executed fully (-1 before any)
  int steps = 0;          // layers executed fully
  int target = 0;         // next layer to execute fully; L: exit
  int kv_written = -1;    // propagate: highest layer whose K/V this pass wrote
  std::vector<int> path;  // layers executed fully, in order
  int kv_only_rows = 0;   // propagate: K/V-only rows written
  int router_evals = 0;   // router evaluations

  // Scheduler bookkeeping: the step count when the pass arrived at `node`.
  uint64_t ready_step = 0;

  int depth() const { return steps; }
};

}  // namespace radial
