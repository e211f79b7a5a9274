#include "tools/radial/engine_sweep.h"

#include "engine/error.h"
#include "engine/flops.h"

namespace radial::cli {

void SweepDriver::sweep(std::vector<Pass>& passes, const TokenSampling& sampling,
                        std::vector<int>& tokens) {
  const ModelConfig& c = engine_.config();
  const int L = c.num_layers;
  const double d = c.hidden_size, qd = c.q_dim(), kvd = c.kv_dim(), ff = c.intermediate_size;
  const double layer_weights = es_ * (d * (qd + 2 * kvd) + qd * d + 3 * d * ff);
  const double kv_weights = es_ * d * 2 * kvd;
  const int router_hidden = engine_.router() ? engine_.router()->config.router_hidden : 0;
  const double router_weights = 4.0 * router_hidden * (d + L + 1);
  const int router_evals_before = [&] {
    int n = 0;
    for (const Pass& p : passes) n += p.router_evals;
    return n;
  }();
  auto gather = [&](int node) {
    batch_.clear();
    for (Pass& p : passes)
      if (p.node == node) batch_.push_back(&p);
  };

  engine_.take_router_work();  // count this sweep's routing calls only
  for (Pass& p : passes) engine_.start_pass(p);
  gather(kNodeEmbed);
  engine_.run(NodeRun{kNodeEmbed, batch_});
  for (int j = 0; j < L; ++j) {
    gather(j);
    if (batch_.empty()) continue;
    require(engine_.blocks_needed(j, batch_) <= engine_.kv().free_blocks(),
            ErrorCode::kResourceExhausted, "bench: the KV pool is too small for the workload");
    int full = 0;
    for (Pass* p : batch_) {
      if (p->target == j) {
        ++full;
        cost_.kv_bytes += kv_es_ * 2 * kvd * (p->position + 1);
        cost_.flops += layer_flops(c, p->position + 1);
      } else {
        cost_.flops += kv_only_flops(c);
      }
      cost_.kv_bytes += kv_es_ * 2 * kvd;  // its own entry written
    }
    cost_.weight_bytes += full > 0 ? layer_weights : kv_weights;
    cost_.layer_calls += 1;
    engine_.run(NodeRun{j, batch_});
  }
  int evals = -router_evals_before;
  for (const Pass& p : passes) evals += p.router_evals;
  if (evals > 0) {
    cost_.weight_bytes += router_weights;
    cost_.flops += evals * router_flops(c, router_hidden);
  }
  gather(L);
  if (!batch_.empty()) {
    params_.assign(batch_.size(), sampling);
    drawn_.resize(batch_.size());
    NodeRun head{L, batch_};
    head.sampling = params_;
    head.tokens = drawn_.data();
    engine_.run(head);
    cost_.host_waits += 1;
    tokens.insert(tokens.end(), drawn_.begin(), drawn_.end());
    cost_.weight_bytes += es_ * c.vocab_size * d;
    cost_.flops += 2.0 * batch_.size() * c.vocab_size * d;
  }
  cost_.host_waits += engine_.take_router_work().calls;
  for (const Pass& p : passes)
    require(p.node == engine_.done_node(), ErrorCode::kInternal, "bench: a pass did not finish");
}

}  // namespace radial::cli
