#include "engine/kv_sizing.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

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

int auto_cpu_kv_blocks(const ModelConfig& c, int block_size, std::string* note) {
  const double per_seq =
      std::ceil(static_cast<double>(c.max_position_embeddings) / block_size) * c.num_layers;
  const double block_bytes = static_cast<double>(kv_block_bytes(c, DType::kF32, block_size));
  const double cap = 4.0 * 1024 * 1024 * 1024 / std::max(1.0, block_bytes);
  const int blocks =
      static_cast<int>(std::min<double>(std::max(per_seq, std::min(64 * per_seq, cap)), 1 << 30));
  if (note) {
    std::ostringstream o;
    o << "kv_blocks auto: " << blocks << " (" << (blocks * block_bytes / (1024.0 * 1024.0))
      << " MiB of F32 K/V)";
    *note = o.str();
  }
  return blocks;
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

}  // namespace radial
