// A fixed-workload driver of the Engine for benchmarks (no scheduler, no
// gRPC): the passes given run through one ascending sweep (embed,
// layer_0 .. layer_{L-1}, head), each node once on every pass waiting
// there, which keeps the ordering rule of the design note (routing only
// moves passes up, so every earlier pass of a sequence has left a layer
// before a later one runs it). The head samples on the backend.
//
// It also counts what a roofline needs: the bytes of weights and KV
// entries the backend must read and the FLOPs it must do (attention at the
// pass's context length, entry i = position i: full mode and propagate).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/engine.h"

namespace radial::cli {

struct SweepCost {
  double weight_bytes = 0;  // projections read (each layer call once), LM head, router
  double kv_bytes = 0;      // K and V entries read by attention, and written
  double flops = 0;
  // Backend calls: layer calls (forward_layer), and the calls the host waits
  // for (routing decisions and the head's tokens: on a GPU, round trips).
  double layer_calls = 0, host_waits = 0;
  void add(const SweepCost& o) {
    weight_bytes += o.weight_bytes;
    kv_bytes += o.kv_bytes;
    flops += o.flops;
    layer_calls += o.layer_calls;
    host_waits += o.host_waits;
  }
};

class SweepDriver {
 public:
  // Bytes per weight-matrix element and per KV element on the backend.
  SweepDriver(Engine& engine, double weight_element_bytes, double kv_element_bytes)
      : engine_(engine), es_(weight_element_bytes), kv_es_(kv_element_bytes) {}

  // Runs `passes` (kv_seq, slot, position, token, routing and wants_logits
  // set; adjacent per sequence, in position order) through one sweep. The
  // tokens drawn for the passes that want logits are appended to `tokens`
  // (in the order of `passes`) under `sampling`.
  void sweep(std::vector<Pass>& passes, const TokenSampling& sampling, std::vector<int>& tokens);

  const SweepCost& cost() const { return cost_; }
  void reset_cost() { cost_ = SweepCost{}; }

 private:
  Engine& engine_;
  double es_, kv_es_;
  SweepCost cost_;
  std::vector<Pass*> batch_;
  std::vector<TokenSampling> params_;
  std::vector<int> drawn_;
};

}  // namespace radial::cli
