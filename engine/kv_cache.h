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
//
// Prefix caching: when every layer's entry i is position i (full mode, and
// forward mode under `propagate`), the entries of positions [kB, (k+1)B) at
// all L layers (B = block_size) are a function of the tokens at positions
// < (k+1)B and of the routing alone. Such a *token block* whose passes have
// all finished can be published: its L pool blocks become a cached group,
// keyed by (the group before it, a routing key, its B tokens), compared
// exactly (no hash is trusted). A later sequence with the same routing key
// and token prefix attaches the groups instead of recomputing them. Groups
// are shared, reference-counted and never written again (a sequence only
// appends after them); a group no sequence holds stays cached, counts as
// free, and is evicted, least recently released first (a sequence releases
// its last group first), when a block is needed and none is free.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>
#include <vector>

namespace radial {

struct KvSlot {
  int block;   // pool block id
  int offset;  // entry within the block
};

class KvBlockManager {
 public:
  KvBlockManager(int num_blocks, int block_size, int num_layers);

  int num_blocks() const { return num_blocks_; }
  int block_size() const { return block_size_; }
  int num_layers() const { return num_layers_; }
  // Blocks a write may take: free ones, and cached ones no sequence holds.
  int free_blocks() const {
    return static_cast<int>(free_.size()) + static_cast<int>(lru_.size()) * num_layers_;
  }
  int used_blocks() const { return num_blocks_ - free_blocks(); }
  // Blocks in cached groups (held by sequences or not).
  int cached_blocks() const { return static_cast<int>(groups_.size()) * num_layers_; }
  // Blocks needed to hold `entries` entries in each of `layers` layers.
  int blocks_for(int entries, int layers) const;

  // A new, empty sequence; returns its id.
  int create_sequence();
  // Returns the sequence's own blocks to the pool, and releases the cached
  // groups it holds.
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

  // ---- Prefix caching (see the top of this file). `key` is the routing
  // key (Engine::prefix_cache_key); `tokens` are the sequence's token ids
  // from position 0.
  struct PrefixMatch {
    int tokens = 0;          // cached prefix length: whole blocks, <= max_tokens
    int revived_blocks = 0;  // of free_blocks(), taken by attaching it
  };
  // The longest cached prefix of `tokens` of at most `max_tokens`.
  PrefixMatch match_prefix(std::span<const int> tokens, uint64_t key, int max_tokens) const;
  // Attaches that prefix to `seq`, which must have no entries; every layer
  // then holds entries 0 .. n-1. Returns n.
  int attach_prefix(int seq, std::span<const int> tokens, uint64_t key, int max_tokens);
  // Publishes the token blocks of `seq` that lie wholly below `complete`:
  // the caller guarantees that every layer holds entries 0 .. complete-1,
  // entry i being position i, written by passes that have all finished.
  // A block some group already caches is replaced by that group's (the
  // sequence's own copy goes back to the pool). A sequence publishes under
  // one key.
  void publish_prefix(int seq, std::span<const int> tokens, uint64_t key, int complete);
  // Tokens of `seq` covered by cached groups it holds.
  int shared_tokens(int seq) const {
    return static_cast<int>(seq_ref(seq).groups.size()) * block_size_;
  }
  // Drops every cached group no sequence holds (their blocks become free).
  void clear_prefix_cache();

 private:
  struct SeqLayer {
    std::vector<int> blocks;
    std::vector<int32_t> positions;
  };
  struct Seq {
    bool alive = false;
    std::vector<SeqLayer> layers;
    std::vector<uint64_t> groups;  // cached groups held: its token blocks 0 .. n-1
  };
  // A cached token block: its L pool blocks and what they were computed from.
  struct Group {
    uint64_t parent = 0;                // the group of the token block before it; 0 for block 0
    uint64_t key = 0;                   // routing key
    std::vector<int32_t> tokens;        // block_size tokens
    std::vector<int> blocks;            // one pool block per layer
    int refs = 0;                       // sequences holding it
    std::list<uint64_t>::iterator lru;  // in lru_ while refs == 0
  };
  const Seq& seq_ref(int seq) const;
  Seq& seq_mut(int seq) { return const_cast<Seq&>(seq_ref(seq)); }
  // The group caching token block `tokens` after `parent` under `key`, or 0.
  uint64_t find_group(uint64_t parent, uint64_t key, std::span<const int> tokens) const;
  // The cached groups of `tokens`' whole blocks from the start, at most
  // `max_tokens` tokens, in order (match_prefix and attach_prefix walk it).
  std::vector<uint64_t> find_chain(std::span<const int> tokens, uint64_t key, int max_tokens) const;
  static uint64_t group_hash(uint64_t parent, uint64_t key, std::span<const int> tokens);
  void hold(uint64_t id);     // refs + 1 (out of the LRU list)
  void release(uint64_t id);  // refs - 1 (into the LRU list at 0)
  void evict_one();           // the least recently released group's blocks become free
  int take_block();           // a free block, evicting if it must

  int num_blocks_, block_size_, num_layers_;
  std::vector<int> free_;  // stack of free block ids
  std::vector<Seq> seqs_;
  std::vector<int> free_seq_ids_;
  std::unordered_map<uint64_t, Group> groups_;         // by id (ids are never reused)
  std::unordered_multimap<uint64_t, uint64_t> index_;  // group_hash -> id
  std::list<uint64_t> lru_;                            // groups with refs == 0, evict front first
  std::vector<uint64_t> block_group_;                  // per pool block: its group, or 0
  uint64_t next_group_ = 1;
};

}  // namespace radial
