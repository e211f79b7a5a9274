#include "kernels/plan/layer_plan.h"

#include <algorithm>
#include <string>

#include "engine/error.h"

namespace radial::gpu {

int AttentionShape::tile_rows() const {
  const int group = std::max(1, num_heads / std::max(1, num_kv_heads));
  return std::max(1, 16 / group);
}

void LayerPlan::build(std::span<const LayerRow> rows, const AttentionShape& shape) {
  n_ = static_cast<int>(rows.size());
  order_.clear();
  for (int i = 0; i < n_; ++i)
    if (!rows[i].kv_only) order_.push_back(i);
  nf_ = static_cast<int>(order_.size());
  for (int i = 0; i < n_; ++i)
    if (rows[i].kv_only) order_.push_back(i);

  const int bs = shape.block_size;
  slot_.resize(n_);
  position_.resize(n_);
  kv_index_.resize(n_);
  for (int p = 0; p < n_; ++p) {
    const LayerRow& r = rows[order_[p]];
    require(r.entry >= 0 && r.block_table != nullptr, ErrorCode::kInternal,
            "layer plan: row " + std::to_string(order_[p]) + " has no KV entry");
    slot_[p] = r.slot;
    position_[p] = r.position;
    kv_index_[p] = r.block_table[r.entry / bs] * bs + r.entry % bs;
  }

  // Block tables of the full rows, one copy per distinct table, as long as
  // its longest reader needs.
  table_of_.clear();
  max_entries_ = 0;
  for (int p = 0; p < nf_; ++p) {
    const LayerRow& r = rows[order_[p]];
    int& need = table_of_[r.block_table];
    need = std::max(need, r.entry + 1);
    max_entries_ = std::max(max_entries_, r.entry + 1);
  }
  tables_.clear();
  for (auto& [table, need] : table_of_) {
    const int blocks = (need + bs - 1) / bs;
    const int offset = static_cast<int>(tables_.size());
    tables_.insert(tables_.end(), table, table + blocks);
    need = offset;  // from now on: the table's offset
  }
  entries_.resize(nf_);
  table_offset_.resize(nf_);
  for (int p = 0; p < nf_; ++p) {
    const LayerRow& r = rows[order_[p]];
    entries_[p] = r.entry + 1;
    table_offset_[p] = table_of_[r.block_table];
  }

  // Tiles: runs of rows with one table and increasing entries. A gap (rows
  // of the chunk that skip this layer) costs nothing: the tile reads the
  // entries up to its last row's once, which two tiles would read twice.
  const int tile_rows = shape.tile_rows();
  tile_start_.clear();
  for (int p = 0; p < nf_; ++p) {
    const bool joins = !tile_start_.empty() && p - tile_start_.back() < tile_rows &&
                       rows[order_[p]].block_table == rows[order_[p - 1]].block_table &&
                       entries_[p] > entries_[p - 1];
    if (!joins) tile_start_.push_back(p);
  }
  const int tiles = static_cast<int>(tile_start_.size());

  // Splits: enough (tile, split, kv head) CTAs to fill the GPU, within the
  // partial capacity.
  int splits = 1;
  if (tiles > 0) {
    const int kvh = std::max(1, shape.num_kv_heads);
    splits = (shape.target_items + tiles * kvh - 1) / (tiles * kvh);
    splits = std::clamp(splits, 1, std::max(1, shape.max_splits));
    require(shape.partial_capacity >= nf_, ErrorCode::kResourceExhausted,
            "layer plan: " + std::to_string(nf_) + " full rows exceed the attention workspace (" +
                std::to_string(shape.partial_capacity) + " partial rows)");
    splits = std::min(splits, shape.partial_capacity / std::max(1, nf_));
  }
  items_.clear();
  partial_base_.resize(nf_);
  partials_ = 0;
  max_splits_ = 0;
  for (int t = 0; t < tiles; ++t) {
    const int row0 = tile_start_[t];
    const int rows_in = (t + 1 < tiles ? tile_start_[t + 1] : nf_) - row0;
    const int entries = entries_[row0 + rows_in - 1];  // the last row sees the most
    int s = std::min(splits, std::max(1, entries / std::max(1, shape.min_split_entries)));
    const int len = ((entries + s - 1) / s + 31) / 32 * 32;  // whole 32-entry chunks
    s = (entries + len - 1) / len;
    for (int k = 0; k < s; ++k)
      items_.push_back(AttentionItem{row0, rows_in, k * len, std::min(entries, (k + 1) * len), k});
    for (int r = 0; r < rows_in; ++r) {
      partial_base_[row0 + r] = partials_;
      partials_ += s;
    }
    max_splits_ = std::max(max_splits_, s);
  }
}

PackedLayout LayerPlan::layout() const {
  PackedLayout l;
  int at = 0;
  l.slot = at, at += n_;
  l.position = at, at += n_;
  l.kv_index = at, at += n_;
  l.entries = at, at += nf_;
  l.table_offset = at, at += nf_;
  l.partial_base = at, at += nf_;
  l.tables = at, at += static_cast<int>(tables_.size());
  l.items = at, at += num_items() * kItemInts;
  l.total = at;
  return l;
}

void LayerPlan::pack(int* out) const {
  const PackedLayout l = layout();
  std::copy(slot_.begin(), slot_.end(), out + l.slot);
  std::copy(position_.begin(), position_.end(), out + l.position);
  std::copy(kv_index_.begin(), kv_index_.end(), out + l.kv_index);
  std::copy(entries_.begin(), entries_.end(), out + l.entries);
  std::copy(table_offset_.begin(), table_offset_.end(), out + l.table_offset);
  std::copy(partial_base_.begin(), partial_base_.end(), out + l.partial_base);
  std::copy(tables_.begin(), tables_.end(), out + l.tables);
  int* it = out + l.items;
  for (const AttentionItem& a : items_) {
    *it++ = a.row0;
    *it++ = a.rows;
    *it++ = a.entry_begin;
    *it++ = a.entry_end;
    *it++ = a.split;
  }
}

int64_t LayerPlan::max_packed_ints(int max_rows, int kv_blocks, int max_entries,
                                   const AttentionShape& shape) {
  // rows: 3 ints each + 3 per full row; tables: one copy per distinct
  // (sequence, layer) table (distinct tables hold distinct blocks), each of
  // at most ceil(max_entries / block_size) blocks; items: at most one per
  // partial slot.
  const int64_t bs = std::max(1, shape.block_size);
  const int64_t per_table = (std::max(1, max_entries) + bs - 1) / bs;
  const int64_t tables = std::min<int64_t>(kv_blocks, per_table * max_rows);
  return 6LL * max_rows + tables + static_cast<int64_t>(kItemInts) * shape.partial_capacity;
}

}  // namespace radial::gpu
