// Host-side planning of one forward_layer call for a GPU backend (plain
// C++, no CUDA): the order the rows are computed in, where each row reads
// and writes, the flattened block tables, and the attention work split into
// items a kernel grid can take. Everything a layer's kernels need per call
// is packed into one int array, uploaded with a single copy.
//
// Row order: the full rows first, in their order in the call, then the
// kv_only rows. So the Q projection, attention and MLP run on the first
// `nf` rows of every buffer, and the K/V projection on all `n`.
//
// Attention work: consecutive full rows that share a block table and write
// increasing entries (a prompt chunk of one sequence; in a routed mode the
// chunk's rows that skip the layer leave gaps) form a *tile* of at most
// `tile_rows` rows, whose queries share every K/V entry they read (each
// query masks the entries after its own). A
// tile's entries [0, last entry] are cut into `splits` contiguous ranges
// (split-K, "flash decoding") when there are too few tiles to fill the GPU;
// each (tile, split) is one item. Every (full row, split of its tile) has a
// partial result slot: partial index = partial_base[row] + split.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/backend.h"

namespace radial::gpu {

struct AttentionItem {
  int row0 = 0;         // first full row of the tile (plan order)
  int rows = 0;         // rows in the tile
  int entry_begin = 0;  // entries [entry_begin, entry_end) of the tile's table
  int entry_end = 0;
  int split = 0;  // index of this range among the tile's splits
};
inline constexpr int kItemInts = 5;  // ints per packed AttentionItem

struct AttentionShape {
  int num_heads = 0;
  int num_kv_heads = 0;
  int block_size = 16;
  int target_items = 264;  // aim: this many (item, kv head) CTAs at least (2 x SMs)
  // Never split a tile into ranges shorter than this. One 32-entry chunk:
  // a batch-1 decode row of a 1B model (8 KV heads, ~200 entries) then
  // takes 48 CTAs of one chunk each rather than 8 CTAs of six chunks, which
  // a profile on an H200 measured at 25 us a layer, latency-bound.
  int min_split_entries = 32;
  int max_splits = 32;
  int partial_capacity = 0;  // most partial slots (sum over rows of splits)
  // Rows per tile: queries per tile (rows x group) stay <= 16.
  int tile_rows() const;
};

// Offsets (in ints) of each array inside the packed upload.
struct PackedLayout {
  int slot = 0, position = 0, kv_index = 0;             // [n] each
  int entries = 0, table_offset = 0, partial_base = 0;  // [nf] each
  int tables = 0;                                       // [table_ints]
  int items = 0;                                        // [num_items * kItemInts]
  int total = 0;
};

class LayerPlan {
 public:
  // Builds the plan of `rows`. Throws Error(kInternal) when a row's entry is
  // negative or its block table is null, and Error(kResourceExhausted) when
  // the partial capacity cannot hold even one split per row.
  void build(std::span<const LayerRow> rows, const AttentionShape& shape);

  int n() const { return n_; }
  int nf() const { return nf_; }
  int num_items() const { return static_cast<int>(items_.size()); }
  int num_partials() const { return partials_; }
  int max_splits() const { return max_splits_; }
  int max_entries() const { return max_entries_; }
  const std::vector<int>& order() const { return order_; }  // plan index -> call index
  const std::vector<int>& slot() const { return slot_; }
  const std::vector<int>& position() const { return position_; }
  const std::vector<int>& kv_index() const { return kv_index_; }  // block * block_size + offset
  const std::vector<int>& entries() const { return entries_; }    // [nf]: entry + 1
  const std::vector<int>& table_offset() const { return table_offset_; }
  const std::vector<int>& partial_base() const { return partial_base_; }
  const std::vector<int>& tables() const { return tables_; }
  const std::vector<AttentionItem>& items() const { return items_; }

  // The packed upload: layout() says where each array starts in pack().
  PackedLayout layout() const;
  void pack(int* out) const;  // writes layout().total ints

  // Ints the packed upload needs at most (staging buffer size), for any
  // call of at most `max_rows` rows on a pool of `kv_blocks` blocks whose
  // rows have entries < `max_entries` (the context: one entry per position
  // and layer). The tables take at most one copy of each block, and at most
  // ceil(max_entries / block_size) blocks per full row.
  static int64_t max_packed_ints(int max_rows, int kv_blocks, int max_entries,
                                 const AttentionShape& shape);

 private:
  int n_ = 0, nf_ = 0, partials_ = 0, max_splits_ = 0, max_entries_ = 0;
  std::vector<int> order_, slot_, position_, kv_index_, entries_, table_offset_, partial_base_,
      tables_;
  std::vector<AttentionItem> items_;
  std::unordered_map<const int*, int> table_of_;  // block table -> offset in tables_
  std::vector<int> tile_start_;
};

}  // namespace radial::gpu
