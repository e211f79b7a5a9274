// Node-selection policies: which node of the graph the next scheduler step
// runs. Nodes are indexed 0 = embed, 1..L = layer_0..layer_{L-1}, L+1 = head.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace radial {

struct NodeQueue {
  int runnable = 0;          // passes that may run the node now
  uint64_t oldest_wait = 0;  // steps the longest-waiting of them has waited
};

class NodePolicy {
 public:
  virtual ~NodePolicy() = default;
  virtual const char* name() const = 0;
  // Returns the node to run (one with runnable > 0), or -1 if there is none.
  virtual int pick(const std::vector<NodeQueue>& nodes) = 0;
};

// Sweeps the nodes in ascending order (embed, layer_0, ..., head, embed,
// ...), running the next node at or after the cursor that has work. Every
// waiting pass runs within one sweep, so no pass waits more than L + 2 steps.
class AscendingSweepPolicy final : public NodePolicy {
 public:
  const char* name() const override { return "ascending"; }
  int pick(const std::vector<NodeQueue>& nodes) override;

 private:
  size_t cursor_ = 0;
};

// Runs the node with the most runnable passes (the largest batch, so each
// weight read serves the most tokens), unless some node's oldest pass has
// waited `max_wait` steps or more: then the node whose pass waited longest.
// So no pass waits more than max_wait + (number of nodes) steps.
class LargestQueuePolicy final : public NodePolicy {
 public:
  explicit LargestQueuePolicy(uint64_t max_wait) : max_wait_(max_wait) {}
  const char* name() const override { return "largest"; }
  int pick(const std::vector<NodeQueue>& nodes) override;

 private:
  uint64_t max_wait_;
};

// "ascending" or "largest" (max_wait in steps; 0: 2 * number of nodes).
// Throws Error(kInvalidArgument) for an unknown name.
std::unique_ptr<NodePolicy> make_node_policy(const std::string& name, int num_nodes,
                                             uint64_t max_wait = 0);

}  // namespace radial
