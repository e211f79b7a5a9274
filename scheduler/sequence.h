// The scheduler's record of one request (internal to scheduler/): its
// validated request, its hold on the engine (KV blocks and slots, while
// admitted), the positions to feed, the passes in flight and its output.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/engine.h"
#include "engine/sampler.h"
#include "scheduler/byte_constraint.h"
#include "scheduler/output_processor.h"
#include "scheduler/request.h"

namespace radial {

struct Sequence {
  using Clock = std::chrono::steady_clock;
  uint64_t id = 0;
  GenerateRequest req;
  RoutingParams routing;
  SequenceCallbacks cb;
  std::unique_ptr<Sampler> sampler;  // host sampling (the backend samples greedy rows)
  std::unique_ptr<OutputProcessor> output;
  std::unique_ptr<TokenConstraint> json;  // JSON (Schema) mode: the allowed tokens
  std::unique_ptr<SequenceKv> kv;         // null while waiting
  std::vector<int> history;               // prompt + generated ids
  std::vector<int> feed;  // ids to run as prompt passes (prompt, or history after preemption)
  int next_feed = 0;      // next feed position without a pass
  std::vector<std::unique_ptr<Pass>> passes;  // in flight, in position order
  bool finished = false;
  Clock::time_point submitted, last_token;
  bool admitted_once = false;

  int prompt_len() const { return static_cast<int>(req.prompt.size()); }
  // The lowest node any pass in flight waits for (done_node when none).
  int lowest_node(int done_node) const {
    int m = done_node;
    for (const auto& p : passes) m = std::min(m, p->node);
    return m;
  }
  // Greedy rows without a logit bias, a penalty, logprobs, prompt reports
  // or JSON mode may be sampled on the backend (only token ids come back
  // from a GPU): the same argmax as the host Sampler's.
  bool samples_on_backend() const {
    return req.sampling.temperature == 0.f && !req.sampling.modifies_logits() &&
           !req.reports_prompt() && req.logprobs < 0 && !req.constrained();
  }
};

}  // namespace radial
