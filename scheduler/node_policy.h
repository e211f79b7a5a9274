// Node-selection policies: which node of the graph the next scheduler step
// runs. Nodes are indexed 0 = embed, 1..L = layer_0..layer_{L-1}, L+1 = head.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace radial {

class NodePolicy {
 public:
  virtual ~NodePolicy() = default;
  virtual const char* name() const = 0;
  // `runnable[i]` is the number of passes that may run node i now. Returns
  // the node to run (one with runnable[i] > 0), or -1 if there is none.
  virtual int pick(const std::vector<int>& runnable) = 0;
};

// Sweeps the nodes in ascending order (embed, layer_0, ..., head, embed,
// ...), running the next node at or after the cursor that has work. Every
// waiting pass runs within one sweep, so no pass waits more than L + 2 steps.
class AscendingSweepPolicy final : public NodePolicy {
 public:
  const char* name() const override { return "ascending"; }
  int pick(const std::vector<int>& runnable) override;

 private:
  size_t cursor_ = 0;
};

// Throws Error(kInvalidArgument) for an unknown name.
std::unique_ptr<NodePolicy> make_node_policy(const std::string& name);

}  // namespace radial
