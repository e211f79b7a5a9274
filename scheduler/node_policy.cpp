#include "scheduler/node_policy.h"

#include "engine/error.h"

namespace radial {

int AscendingSweepPolicy::pick(const std::vector<int>& runnable) {
  const size_t n = runnable.size();
  for (size_t i = 0; i < n; ++i) {
    const size_t node = (cursor_ + i) % n;
    if (runnable[node] > 0) {
      cursor_ = (node + 1) % n;
      return static_cast<int>(node);
    }
  }
  return -1;
}

std::unique_ptr<NodePolicy> make_node_policy(const std::string& name) {
  if (name == "ascending") return std::make_unique<AscendingSweepPolicy>();
  throw Error(ErrorCode::kInvalidArgument, "unknown scheduling policy '" + name + "' (expected ascending)");
}

}  // namespace radial
