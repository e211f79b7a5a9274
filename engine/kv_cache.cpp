#include "engine/kv_cache.h"

#include <string>

#include "engine/error.h"

namespace radial {

KvBlockManager::KvBlockManager(int num_blocks, int block_size, int num_layers)
    : num_blocks_(num_blocks), block_size_(block_size), num_layers_(num_layers) {
  require(num_blocks > 0, ErrorCode::kInvalidArgument, "KV pool needs at least one block");
  require(block_size > 0, ErrorCode::kInvalidArgument, "KV block size must be positive");
  free_.reserve(num_blocks);
  for (int b = num_blocks - 1; b >= 0; --b) free_.push_back(b);
}

int KvBlockManager::blocks_for(int entries, int layers) const {
  return (entries + block_size_ - 1) / block_size_ * layers;
}

int KvBlockManager::create_sequence() {
  int id;
  if (!free_seq_ids_.empty()) {
    id = free_seq_ids_.back();
    free_seq_ids_.pop_back();
  } else {
    id = static_cast<int>(seqs_.size());
    seqs_.emplace_back();
  }
  Seq& s = seqs_[id];
  s.alive = true;
  s.layers.assign(num_layers_, SeqLayer{});
  return id;
}

void KvBlockManager::free_sequence(int seq) {
  Seq& s = const_cast<Seq&>(seq_ref(seq));
  for (SeqLayer& l : s.layers)
    for (int b : l.blocks) free_.push_back(b);
  s.layers.clear();
  s.alive = false;
  free_seq_ids_.push_back(seq);
}

bool KvBlockManager::alive(int seq) const {
  return seq >= 0 && seq < static_cast<int>(seqs_.size()) && seqs_[seq].alive;
}

const KvBlockManager::Seq& KvBlockManager::seq_ref(int seq) const {
  require(alive(seq), ErrorCode::kInternal, "KV sequence " + std::to_string(seq) + " is not alive");
  return seqs_[seq];
}

int KvBlockManager::write_entry(int seq, int layer, int position) {
  require(layer >= 0 && layer < num_layers_, ErrorCode::kInternal, "KV layer out of range");
  SeqLayer& l = const_cast<Seq&>(seq_ref(seq)).layers[layer];
  const int n = static_cast<int>(l.positions.size());
  if (n > 0 && l.positions.back() == position) return n - 1;  // revisit: overwrite
  require(n == 0 || l.positions.back() < position, ErrorCode::kInternal,
          "KV entries must be written in position order");
  if (n == static_cast<int>(l.blocks.size()) * block_size_) {
    require(!free_.empty(), ErrorCode::kResourceExhausted, "KV block pool exhausted");
    l.blocks.push_back(free_.back());
    free_.pop_back();
  }
  l.positions.push_back(position);
  return n;
}

int KvBlockManager::num_entries(int seq, int layer) const {
  return static_cast<int>(seq_ref(seq).layers.at(layer).positions.size());
}

const std::vector<int>& KvBlockManager::blocks(int seq, int layer) const {
  return seq_ref(seq).layers.at(layer).blocks;
}

const std::vector<int32_t>& KvBlockManager::positions(int seq, int layer) const {
  return seq_ref(seq).layers.at(layer).positions;
}

KvSlot KvBlockManager::slot(int seq, int layer, int entry) const {
  const SeqLayer& l = seq_ref(seq).layers.at(layer);
  return KvSlot{l.blocks.at(entry / block_size_), entry % block_size_};
}

}  // namespace radial
