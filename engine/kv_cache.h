// Paged KV cache bookkeeping (host side). The storage lives in the backend
// as a pool of `num_blocks` blocks, each holding `block_size` entries of one
// layer (K and V rows of kv_dim floats each). This class owns which block
// belongs to which (sequence, layer), and the list of positions whose
// entries a (sequence, layer) holds, in order.
//
// Entries of a (sequence, layer) are kept in position order: under the
// `propagate` policy (and in full mode) entry i is position i; under
// `sparse` only the passes that ran the layer have entries. A pass that
// visits a layer twice (radial mode) overwrites its own entry, which is
// always the last one of that (sequence, layer).
#pragma once

#include <cstdint>
#include <vector>

namespace radial {

struct KvSlot {
  int block;  // pool block id
  int offset; // entry within the block
};

class KvBlockManager {
 public:
  KvBlockManager(int num_blocks, int block_size, int num_layers);

  int num_blocks() const { return num_blocks_; }
  int block_size() const { return block_size_; }
  int num_layers() const { return num_layers_; }
  int free_blocks() const { return static_cast<int>(free_.size()); }
  int used_blocks() const { return num_blocks_ - free_blocks(); }
  // Blocks needed to hold `entries` entries in each of `layers` layers.
  int blocks_for(int entries, int layers) const;

  // A new, empty sequence; returns its id.
  int create_sequence();
  // Returns all of the sequence's blocks to the pool.
  void free_sequence(int seq);
  bool alive(int seq) const;

  // The entry index where `position` writes at (seq, layer): the last entry
  // if it already belongs to `position` (a revisit), else a new entry at
  // the end (allocating a block when the last one is full). Positions must
  // not decrease. Throws Error(kResourceExhausted) when the pool is empty.
  int write_entry(int seq, int layer, int position);

  int num_entries(int seq, int layer) const;
  const std::vector<int>& blocks(int seq, int layer) const;
  const std::vector<int32_t>& positions(int seq, int layer) const;
  KvSlot slot(int seq, int layer, int entry) const;

 private:
  struct SeqLayer {
    std::vector<int> blocks;
    std::vector<int32_t> positions;
  };
  struct Seq {
    bool alive = false;
    std::vector<SeqLayer> layers;
  };
  const Seq& seq_ref(int seq) const;

  int num_blocks_, block_size_, num_layers_;
  std::vector<int> free_;  // stack of free block ids
  std::vector<Seq> seqs_;
  std::vector<int> free_seq_ids_;
};

}  // namespace radial
