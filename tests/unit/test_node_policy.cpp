// Node policies under a fake step loop: passes move from node i to node i+1
// when node i runs; new passes arrive at node 0 on a skewed schedule.
#include <catch2/catch.hpp>

#include <deque>

#include "engine/error.h"
#include "scheduler/node_policy.h"

using namespace radial;

namespace {

// A fake graph of `n` nodes: queues of pass arrival steps.
struct FakeLoop {
  explicit FakeLoop(int n) : queues(n) {}
  std::vector<std::deque<uint64_t>> queues;
  uint64_t step = 0;
  uint64_t worst_wait = 0;

  std::vector<NodeQueue> view() const {
    std::vector<NodeQueue> v(queues.size());
    for (size_t i = 0; i < queues.size(); ++i) {
      v[i].runnable = static_cast<int>(queues[i].size());
      if (!queues[i].empty()) v[i].oldest_wait = step - queues[i].front();
    }
    return v;
  }
  // Runs node `i`: every pass there moves on (leaves after the last node).
  void run(int i) {
    for (uint64_t arrived : queues[i]) worst_wait = std::max(worst_wait, step - arrived);
    std::deque<uint64_t> moved;
    moved.swap(queues[i]);
    ++step;
    if (i + 1 < static_cast<int>(queues.size()))
      for (size_t k = 0; k < moved.size(); ++k) queues[i + 1].push_back(step);
  }
};

}  // namespace

TEST_CASE("ascending sweep visits nodes in order and skips empty ones", "[policy]") {
  AscendingSweepPolicy p;
  std::vector<NodeQueue> q(5);
  q[1].runnable = 2;
  q[3].runnable = 1;
  CHECK(p.pick(q) == 1);
  CHECK(p.pick(q) == 3);
  CHECK(p.pick(q) == 1);  // wraps around
  CHECK(p.pick(std::vector<NodeQueue>(5)) == -1);
}

TEST_CASE("largest queue picks the fullest node unless a pass waited too long", "[policy]") {
  LargestQueuePolicy p(10);
  std::vector<NodeQueue> q(4);
  q[0] = {3, 2};
  q[2] = {9, 1};
  q[3] = {1, 4};
  CHECK(p.pick(q) == 2);
  q[3].oldest_wait = 10;
  CHECK(p.pick(q) == 3);
  q[0].oldest_wait = 12;
  CHECK(p.pick(q) == 0);  // the longest wait wins among overdue nodes
}

TEST_CASE("no starvation under a skewed load (fake step loop)", "[policy]") {
  const int nodes = 7;
  for (const char* name : {"ascending", "largest"}) {
    auto policy = make_node_policy(name, nodes, 12);
    FakeLoop loop(nodes);
    // Skew: a flood arrives at node 0 every step, while a single pass sits at
    // node 5; with "always the largest queue" it would wait forever.
    loop.queues[5].push_back(0);
    for (int s = 0; s < 500; ++s) {
      for (int k = 0; k < 8; ++k) loop.queues[0].push_back(loop.step);
      const int pick = policy->pick(loop.view());
      REQUIRE(pick >= 0);
      REQUIRE(!loop.queues[pick].empty());
      loop.run(pick);
    }
    INFO(name << ": worst wait " << loop.worst_wait);
    // Bound: max_wait + number of nodes for "largest"; one sweep for "ascending".
    CHECK(loop.worst_wait <= (std::string(name) == "largest" ? 12u + nodes : static_cast<uint64_t>(nodes)));
  }
  CHECK_THROWS_AS(make_node_policy("random", nodes), Error);
}
