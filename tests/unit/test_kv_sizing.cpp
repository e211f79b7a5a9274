// Tests of the CPU KV pool's sizing and allocation (engine/kv_sizing.h,
// engine/cpu/cpu_backend.cpp): the automatic size's caps, and that an
// unused pool is allocated without touching its pages (start-up does not
// scale with it, nor does resident memory).
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <string>

#include "engine/backend.h"
#include "engine/kv_sizing.h"
#include "engine/model_config.h"
#include "engine/model_loader.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;

namespace {

// Resident memory of this process in bytes (/proc/self/statm).
int64_t resident_bytes() {
  std::ifstream f("/proc/self/statm");
  int64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * 4096;
}

}  // namespace

TEST_CASE("auto_cpu_kv_blocks: 64 sequences, at most 4 GiB and half the memory available", "[kv]") {
  ModelConfig c = load_hf_config(default_model_dir() + "/config.json");
  const int bs = 16;
  const int per_seq = (c.max_position_embeddings + bs - 1) / bs * c.num_layers;
  // stories260K: 64 whole sequences are far below either cap.
  CHECK(auto_cpu_kv_blocks(c, bs, nullptr, 0) == 64 * per_seq);
  // A big context: 4 GiB when memory is plentiful or unknown...
  c.max_position_embeddings = 1 << 16;
  c.num_kv_heads = c.num_heads;
  const int64_t big_block = kv_block_bytes(c, DType::kF32, bs);
  const int64_t four_gib = 4LL << 30;
  CHECK(auto_cpu_kv_blocks(c, bs, nullptr, 0) == four_gib / big_block);
  CHECK(auto_cpu_kv_blocks(c, bs, nullptr, 64LL << 30) == four_gib / big_block);
  // ... half of what is available when that is less...
  std::string note;
  CHECK(auto_cpu_kv_blocks(c, bs, &note, 2LL << 30) == (1LL << 30) / big_block);
  CHECK(note.find("half of the 2048 MiB available") != std::string::npos);
  // ... but never less than one whole sequence.
  const int one_seq = (1 << 16) / bs * c.num_layers;
  CHECK(auto_cpu_kv_blocks(c, bs, nullptr, 1 << 20) == one_seq);
  CHECK(host_available_bytes() > 0);
}

TEST_CASE("the CPU backend's KV pool costs no resident memory until it is used", "[kv]") {
  const ModelConfig c = load_hf_config(default_model_dir() + "/config.json");
  const ModelWeights w = make_random_model(c, 1);
  BackendOptions o;
  o.max_slots = 64;
  // 1 GiB of K and V (stories260K: 2 KiB per 16-entry block).
  o.kv_blocks = static_cast<int>((1LL << 30) / kv_block_bytes(c, DType::kF32, o.kv_block_size));
  const int64_t before = resident_bytes();
  auto backend = make_cpu_backend(w, nullptr, o);
  const int64_t grown = resident_bytes() - before;
  INFO("resident memory grew by " << (grown >> 20) << " MiB for a 1 GiB pool");
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The sanitizers' allocators write what calloc returns (TSan) or map
  // shadow memory for it: the property holds for the real allocator only.
  WARN("sanitizer build: the resident-memory bound is checked in release builds only");
#else
  CHECK(grown < (64LL << 20));
#endif
}
