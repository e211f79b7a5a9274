// KvBlockManager alone (no model, no backend): block allocation at block
// boundaries, entries in position order per (sequence, layer), revisits that
// overwrite, exhaustion, and blocks coming back when a sequence is freed;
// and SequenceKv, the engine's RAII owner of a sequence's blocks and slots.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "engine/kv_cache.h"
#include "fake_backend.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;

TEST_CASE("kv: entries fill blocks in position order, one block per block_size entries", "[kv]") {
  KvBlockManager kv(10, 4, 2);
  CHECK(kv.blocks_for(0, 2) == 0);
  CHECK(kv.blocks_for(1, 2) == 2);
  CHECK(kv.blocks_for(4, 2) == 2);
  CHECK(kv.blocks_for(5, 3) == 6);
  const int s = kv.create_sequence();
  CHECK(kv.alive(s));
  for (int pos = 0; pos < 9; ++pos) CHECK(kv.write_entry(s, 0, pos) == pos);
  CHECK(kv.num_entries(s, 0) == 9);
  CHECK(kv.num_entries(s, 1) == 0);
  CHECK(kv.blocks(s, 0).size() == 3);  // ceil(9 / 4)
  CHECK(kv.used_blocks() == 3);
  CHECK(kv.free_blocks() == 7);
  // Entry i lives at block i / 4, offset i % 4 of the sequence's table.
  for (int e = 0; e < 9; ++e) {
    const KvSlot slot = kv.slot(s, 0, e);
    CHECK(slot.block == kv.blocks(s, 0)[e / 4]);
    CHECK(slot.offset == e % 4);
  }
  // Distinct blocks.
  const auto& b = kv.blocks(s, 0);
  CHECK(std::set<int>(b.begin(), b.end()).size() == b.size());
}

TEST_CASE("kv: sparse positions, revisits overwrite, order is enforced", "[kv]") {
  KvBlockManager kv(8, 2, 1);
  const int s = kv.create_sequence();
  CHECK(kv.write_entry(s, 0, 3) == 0);  // sparse: position 3 is entry 0
  CHECK(kv.write_entry(s, 0, 7) == 1);
  CHECK(kv.write_entry(s, 0, 7) == 1);  // a revisit (radial mode) overwrites
  CHECK(kv.num_entries(s, 0) == 2);
  CHECK(kv.positions(s, 0) == std::vector<int32_t>{3, 7});
  expect_error([&] { kv.write_entry(s, 0, 5); }, ErrorCode::kInternal, {"position order"});
  CHECK(kv.num_entries(s, 0) == 2);  // nothing written by the failed call
}

TEST_CASE("kv: exhaustion is kResourceExhausted and freeing returns every block", "[kv]") {
  KvBlockManager kv(3, 2, 2);
  const int a = kv.create_sequence();
  kv.write_entry(a, 0, 0);
  kv.write_entry(a, 0, 1);
  kv.write_entry(a, 1, 0);
  const int b = kv.create_sequence();
  kv.write_entry(b, 0, 0);  // the third block
  CHECK(kv.free_blocks() == 0);
  expect_error([&] { kv.write_entry(a, 0, 2); }, ErrorCode::kResourceExhausted, {"exhausted"});
  kv.free_sequence(a);
  CHECK_FALSE(kv.alive(a));
  CHECK(kv.free_blocks() == 2);
  expect_error([&] { kv.num_entries(a, 0); }, ErrorCode::kInternal, {"not alive"});
  // Ids are reused; a new sequence starts empty.
  const int c = kv.create_sequence();
  CHECK(c == a);
  CHECK(kv.num_entries(c, 0) == 0);
  kv.write_entry(c, 0, 0);
  kv.write_entry(c, 1, 0);
  CHECK(kv.free_blocks() == 0);
  kv.free_sequence(b);
  kv.free_sequence(c);
  CHECK(kv.free_blocks() == 3);
  expect_error([] { KvBlockManager(0, 16, 1); }, ErrorCode::kInvalidArgument, {"at least one"});
}

TEST_CASE("kv: SequenceKv gives back its blocks and slots when it goes away", "[kv]") {
  FakeModel m(3, 64);
  BackendOptions o;
  o.kv_blocks = 8;
  o.kv_block_size = 4;
  o.max_slots = 6;
  auto engine = m.engine(o);
  {
    auto a = engine->open_sequence();
    auto b = engine->open_sequence();
    CHECK(a->id() != b->id());
    const int s1 = a->acquire_slot(), s2 = a->acquire_slot(), s3 = b->acquire_slot();
    CHECK(std::set<int>{s1, s2, s3}.size() == 3);
    CHECK(engine->free_slots() == 3);
    a->release_slot(s1);
    CHECK(a->slots_held() == 1);
    CHECK(engine->free_slots() == 4);
    expect_error([&] { a->release_slot(s3); }, ErrorCode::kInternal, {"not held"});
    // Fill some KV through the engine's one entry point.
    std::vector<Pass> passes(5);
    std::vector<Pass*> batch;
    for (int i = 0; i < 5; ++i) {
      passes[i].kv_seq = a->id();
      passes[i].slot = i == 0 ? s2 : a->acquire_slot();
      passes[i].position = i;
      passes[i].token = 7 + i;
      engine->start_pass(passes[i]);
      batch.push_back(&passes[i]);
    }
    engine->run(NodeRun{kNodeEmbed, batch});
    engine->run(NodeRun{0, batch});
    CHECK(engine->kv().used_blocks() == 2);  // 5 entries of layer 0 in blocks of 4
    CHECK(engine->free_slots() == 0);
    expect_error([&] { b->acquire_slot(); }, ErrorCode::kResourceExhausted, {"slot"});
  }
  CHECK(engine->kv().used_blocks() == 0);
  CHECK(engine->free_slots() == 6);
}
