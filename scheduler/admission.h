// The scheduler's capacity policies, small and separately testable:
// whether a waiting sequence may be admitted now, and which running
// sequence gives way when a step's batch does not fit in the KV pool.
#pragma once

#include <cstddef>

namespace radial {

// What admission sees of the engine's capacity.
struct Capacity {
  int free_blocks = 0;  // KV pool blocks free
  int free_slots = 0;   // hidden-state slots free
  int running = 0;      // sequences admitted
  int num_layers = 0;
};

// First come, first served, with a growth reserve: a sequence is admitted
// when its first prompt chunk (`chunk` passes, `need_blocks` blocks at
// every layer) fits beyond a reserve of one block per layer for each
// running sequence to grow into, and there are slots for the chunk. With
// nothing running, only the slots are checked: the pool always fits one
// request (the validator rejects any whose worst case exceeds it), so the
// queue cannot stall.
class GrowthReserveAdmission {
 public:
  bool admit(const Capacity& cap, int need_blocks, int chunk) const {
    const int reserve = cap.running * cap.num_layers;
    if (cap.running > 0 && cap.free_blocks - reserve < need_blocks) return false;
    return cap.free_slots >= chunk;
  }
};

// Preemption by recompute takes the youngest running sequence (the last
// admitted), so the oldest always progresses and finishes.
class YoungestFirstPreemption {
 public:
  // Index into the running list (admission order) of the sequence to
  // preempt, or -1 when only one runs (it must not be preempted: it alone
  // fits in the pool).
  int victim(size_t running) const { return running > 1 ? static_cast<int>(running) - 1 : -1; }
};

}  // namespace radial
