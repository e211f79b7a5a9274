#include "scheduler/node_policy.h"

#include "engine/error.h"

namespace radial {

int AscendingSweepPolicy::pick(const std::vector<NodeQueue>& nodes) {
  const size_t n = nodes.size();
  for (size_t i = 0; i < n; ++i) {
    const size_t node = (cursor_ + i) % n;
    if (nodes[node].runnable > 0) {
      cursor_ = (node + 1) % n;
      return static_cast<int>(node);
    }
  }
  return -1;
}

int LargestQueuePolicy::pick(const std::vector<NodeQueue>& nodes) {
  int largest = -1, oldest = -1;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const NodeQueue& q = nodes[i];
    if (q.runnable <= 0) continue;
    if (largest < 0 || q.runnable > nodes[largest].runnable) largest = static_cast<int>(i);
    if (q.oldest_wait >= max_wait_ && (oldest < 0 || q.oldest_wait > nodes[oldest].oldest_wait))
      oldest = static_cast<int>(i);
  }
  return oldest >= 0 ? oldest : largest;
}

std::unique_ptr<NodePolicy> make_node_policy(const std::string& name, int num_nodes,
                                             uint64_t max_wait) {
  if (name == "ascending") return std::make_unique<AscendingSweepPolicy>();
  if (name == "largest")
    return std::make_unique<LargestQueuePolicy>(max_wait ? max_wait
                                                         : 2 * static_cast<uint64_t>(num_nodes));
  throw Error(ErrorCode::kInvalidArgument,
              "unknown scheduling policy '" + name + "' (expected ascending or largest)");
}

}  // namespace radial
