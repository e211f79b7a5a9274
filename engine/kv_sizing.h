// KV pool sizing, in one place: how many blocks a pool gets, for a known
// workload (the tools), automatically from the model (radiald on the CPU),
// or from a share of a GPU's memory (the CUDA backend). Plain arithmetic,
// no allocation. (The automatic policy itself belongs to the CPU-weights
// work; this file only gathers it.)
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/backend.h"
#include "engine/model_config.h"
#include "engine/tensor.h"

namespace radial {

// Bytes of one pool block: K and V rows of kv_dim in `dtype` for
// `block_size` entries.
int64_t kv_block_bytes(const ModelConfig& c, DType dtype, int block_size);

// Backend sizing for `sequences` concurrent sequences of up to `prompt_len`
// + `max_tokens` positions (clamped to the context): enough KV blocks for
// all of them at every layer, and hidden-state slots for all their prompts.
BackendOptions backend_options_for(const ModelConfig& c, int prompt_len, int max_tokens,
                                   int sequences, int threads);

// radiald's automatic CPU pool: every position of the context at every
// layer for 64 sequences, but at most 4 GiB of f32 K/V and at most half the
// memory available now (`available_bytes`; -1: MemAvailable of
// /proc/meminfo, 0: unknown, no such cap), and never less than one whole
// sequence. The CPU backend allocates it untouched (pages appear as KV
// entries are written), so its size costs no start-up time. `note`
// (optional) gets a line for the log.
int auto_cpu_kv_blocks(const ModelConfig& c, int block_size, std::string* note = nullptr,
                       int64_t available_bytes = -1);
// MemAvailable of /proc/meminfo in bytes (0 when unreadable).
int64_t host_available_bytes();
// Without a config to size from.
inline constexpr int kFallbackKvBlocks = 4096;

// KV blocks that fit in `fraction` of a device of `total_bytes` of which
// `free_bytes` are free now (after the weights and the workspace are
// allocated): fraction * total - (total - free), over the block size.
// Throws Error(kInvalidArgument) for a fraction outside (0, 1] and
// Error(kResourceExhausted) when not even one block fits.
int kv_blocks_for_budget(int64_t total_bytes, int64_t free_bytes, double fraction,
                         int64_t block_bytes);

// Throws Error(kResourceExhausted) with what to change when a host KV pool
// of `kv_blocks` blocks of `block_bytes` each cannot be allocated: larger
// than `host_bytes` (the machine's physical memory; 0 reads it), or when
// `allocate` throws std::bad_alloc. Otherwise runs `allocate`.
void allocate_host_kv_pool(int64_t kv_blocks, int64_t block_bytes, int64_t host_bytes,
                           const std::function<void()>& allocate);

// The machine's physical memory in bytes (sysconf), 0 when unknown.
int64_t host_memory_bytes();

}  // namespace radial
