#include "engine/flops.h"

namespace radial {

double layer_flops(const ModelConfig& c, int context) {
  const double d = c.hidden_size, q = c.q_dim(), kv = c.kv_dim(), ff = c.intermediate_size;
  const double proj = 2 * d * (q + 2 * kv) + 2 * q * d;      // Q, K, V, O
  const double mlp = 2 * 3 * d * ff;                          // gate, up, down
  const double attn = 2.0 * 2.0 * context * c.num_heads * c.head_dim;  // QK^T and PV
  return proj + mlp + attn;
}

double kv_only_flops(const ModelConfig& c) {
  return 2.0 * c.hidden_size * 2 * c.kv_dim();
}

double router_flops(const ModelConfig& c, int router_hidden) {
  return 2.0 * router_hidden * (c.hidden_size + c.num_layers + 1);
}

double pass_compute_fraction(const ModelConfig& c, const Pass& p, int router_hidden) {
  const double per_layer = layer_flops(c, p.position + 1);
  const double spent = per_layer * p.steps + kv_only_flops(c) * p.kv_only_rows +
                       router_flops(c, router_hidden) * p.router_evals;
  return spent / (per_layer * c.num_layers);
}

}  // namespace radial
