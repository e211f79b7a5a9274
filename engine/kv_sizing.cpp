#include "engine/kv_sizing.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include <unistd.h>

#include <new>

#include "engine/error.h"

namespace radial {

int64_t kv_block_bytes(const ModelConfig& c, DType dtype, int block_size) {
  return 2LL * block_size * c.kv_dim() * static_cast<int64_t>(dtype_size(dtype));
}

BackendOptions backend_options_for(const ModelConfig& c, int prompt_len, int max_tokens,
                                   int sequences, int threads) {
  BackendOptions o;
  o.kv_block_size = 16;
  const int positions = std::min(prompt_len + max_tokens, c.max_position_embeddings);
  const int per_seq = (positions + o.kv_block_size - 1) / o.kv_block_size * c.num_layers;
  o.kv_blocks = std::max(1, per_seq * std::max(1, sequences));
  o.max_slots = std::max(64, prompt_len * std::max(1, sequences));
  o.threads = threads;
  return o;
}

int auto_cpu_kv_blocks(const ModelConfig& c, int block_size, std::string* note,
                       int64_t available_bytes) {
  if (available_bytes < 0) available_bytes = host_available_bytes();
  const double per_seq =
      std::ceil(static_cast<double>(c.max_position_embeddings) / block_size) * c.num_layers;
  const double block_bytes = static_cast<double>(kv_block_bytes(c, DType::kF32, block_size));
  double cap_bytes = 4.0 * 1024 * 1024 * 1024;
  if (available_bytes > 0)
    cap_bytes = std::min(cap_bytes, 0.5 * static_cast<double>(available_bytes));
  const double cap = std::floor(cap_bytes / std::max(1.0, block_bytes));
  const int blocks =
      static_cast<int>(std::min<double>(std::max(per_seq, std::min(64 * per_seq, cap)), 1 << 30));
  if (note) {
    std::ostringstream o;
    o << "kv_blocks auto: " << blocks << " (" << (blocks * block_bytes / (1024.0 * 1024.0))
      << " MiB of F32 K/V";
    if (available_bytes > 0)
      o << "; at most 4 GiB and half of the " << (available_bytes >> 20) << " MiB available";
    o << ")";
    *note = o.str();
  }
  return blocks;
}

int64_t host_available_bytes() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (f >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024;
  return 0;
}

int kv_blocks_for_budget(int64_t total_bytes, int64_t free_bytes, double fraction,
                         int64_t block_bytes) {
  require(fraction > 0 && fraction <= 1, ErrorCode::kInvalidArgument,
          "gpu memory fraction must be in (0, 1], got " + std::to_string(fraction));
  require(block_bytes > 0 && total_bytes > 0 && free_bytes >= 0 && free_bytes <= total_bytes,
          ErrorCode::kInternal, "kv_blocks_for_budget: bad sizes");
  const double budget =
      fraction * static_cast<double>(total_bytes) - static_cast<double>(total_bytes - free_bytes);
  const double blocks = budget / static_cast<double>(block_bytes);
  require(blocks >= 1, ErrorCode::kResourceExhausted,
          "no room for the KV pool: " + std::to_string(fraction) + " of " +
              std::to_string(total_bytes >> 20) + " MiB leaves " +
              std::to_string(static_cast<int64_t>(budget) >> 20) +
              " MiB after the weights and the workspace; raise --gpu-memory-fraction");
  return static_cast<int>(std::min<double>(blocks, std::numeric_limits<int>::max()));
}

int64_t host_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : 0;
}

void allocate_host_kv_pool(int64_t kv_blocks, int64_t block_bytes, int64_t host_bytes,
                           const std::function<void()>& allocate) {
  if (host_bytes <= 0) host_bytes = host_memory_bytes();
  const double pool = static_cast<double>(kv_blocks) * static_cast<double>(block_bytes);
  auto gib = [](double b) {
    std::ostringstream o;
    o.precision(3);
    o << b / (1024.0 * 1024.0 * 1024.0) << " GiB";
    return o.str();
  };
  const std::string what =
      "the KV pool of " + std::to_string(kv_blocks) + " blocks (" + gib(pool) + ")";
  const std::string fix =
      "; set kv_blocks lower (radiald: \"kv_blocks\" in the config or --kv-blocks; the "
      "radial tools: --kv-blocks), or serve a shorter context (the automatic size holds at "
      "least one sequence of max_position_embeddings at every layer)";
  if (host_bytes > 0 && pool > static_cast<double>(host_bytes))
    throw Error(ErrorCode::kResourceExhausted, what + " is larger than this machine's memory (" +
                                                   gib(static_cast<double>(host_bytes)) + ")" +
                                                   fix);
  try {
    allocate();
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kResourceExhausted, what + " could not be allocated" + fix);
  } catch (const std::length_error&) {
    throw Error(ErrorCode::kResourceExhausted, what + " could not be allocated" + fix);
  }
}

}  // namespace radial
