#include "engine/kv_cache.h"

#include <algorithm>
#include <string>

#include "engine/error.h"

namespace radial {

KvBlockManager::KvBlockManager(int num_blocks, int block_size, int num_layers)
    : num_blocks_(num_blocks), block_size_(block_size), num_layers_(num_layers) {
  require(num_blocks > 0, ErrorCode::kInvalidArgument, "KV pool needs at least one block");
  require(block_size > 0, ErrorCode::kInvalidArgument, "KV block size must be positive");
  free_.reserve(num_blocks);
  block_group_.assign(num_blocks, 0);
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
  Seq& s = seq_mut(seq);
  for (SeqLayer& l : s.layers)
    for (int b : l.blocks)
      if (block_group_[b] == 0) free_.push_back(b);
  // The last group first, so that eviction takes a prefix's tail before its head.
  for (auto it = s.groups.rbegin(); it != s.groups.rend(); ++it) release(*it);
  s.groups.clear();
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
  SeqLayer& l = seq_mut(seq).layers[layer];
  const int n = static_cast<int>(l.positions.size());
  if (n > 0 && l.positions.back() == position) {  // revisit: overwrite
    require(block_group_[l.blocks[(n - 1) / block_size_]] == 0, ErrorCode::kInternal,
            "KV entry in a cached block rewritten");
    return n - 1;
  }
  require(n == 0 || l.positions.back() < position, ErrorCode::kInternal,
          "KV entries must be written in position order");
  if (n == static_cast<int>(l.blocks.size()) * block_size_) l.blocks.push_back(take_block());
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

// ------------------------------------------------------ prefix caching ----

int KvBlockManager::take_block() {
  if (free_.empty() && !lru_.empty()) evict_one();
  require(!free_.empty(), ErrorCode::kResourceExhausted, "KV block pool exhausted");
  const int b = free_.back();
  free_.pop_back();
  return b;
}

uint64_t KvBlockManager::group_hash(uint64_t parent, uint64_t key, std::span<const int> tokens) {
  // FNV-1a over 64-bit words; only a bucket choice (lookups compare exactly).
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](uint64_t v) { h = (h ^ v) * 0x100000001b3ull; };
  mix(parent);
  mix(key);
  for (int t : tokens) mix(static_cast<uint32_t>(t));
  return h;
}

uint64_t KvBlockManager::find_group(uint64_t parent, uint64_t key,
                                    std::span<const int> tokens) const {
  const auto [lo, hi] = index_.equal_range(group_hash(parent, key, tokens));
  for (auto it = lo; it != hi; ++it) {
    const Group& g = groups_.at(it->second);
    if (g.parent == parent && g.key == key &&
        std::equal(g.tokens.begin(), g.tokens.end(), tokens.begin(), tokens.end()))
      return it->second;
  }
  return 0;
}

void KvBlockManager::hold(uint64_t id) {
  Group& g = groups_.at(id);
  if (g.refs++ == 0) lru_.erase(g.lru);
}

void KvBlockManager::release(uint64_t id) {
  Group& g = groups_.at(id);
  require(g.refs > 0, ErrorCode::kInternal, "cached KV group released more often than held");
  if (--g.refs == 0) g.lru = lru_.insert(lru_.end(), id);
}

void KvBlockManager::evict_one() {
  const uint64_t id = lru_.front();
  lru_.pop_front();
  Group& g = groups_.at(id);
  for (int b : g.blocks) {
    block_group_[b] = 0;
    free_.push_back(b);
  }
  const auto [lo, hi] = index_.equal_range(group_hash(g.parent, g.key, g.tokens));
  for (auto it = lo; it != hi; ++it)
    if (it->second == id) {
      index_.erase(it);
      break;
    }
  groups_.erase(id);
}

void KvBlockManager::clear_prefix_cache() {
  while (!lru_.empty()) evict_one();
}

std::vector<uint64_t> KvBlockManager::find_chain(std::span<const int> tokens, uint64_t key,
                                                 int max_tokens) const {
  std::vector<uint64_t> chain;
  const int B = block_size_;
  const int limit = std::min<int>(max_tokens, static_cast<int>(tokens.size()));
  for (int n = 0; n + B <= limit; n += B) {
    const uint64_t id = find_group(chain.empty() ? 0 : chain.back(), key, tokens.subspan(n, B));
    if (id == 0) break;
    chain.push_back(id);
  }
  return chain;
}

KvBlockManager::PrefixMatch KvBlockManager::match_prefix(std::span<const int> tokens, uint64_t key,
                                                         int max_tokens) const {
  PrefixMatch m;
  for (uint64_t id : find_chain(tokens, key, max_tokens)) {
    if (groups_.at(id).refs == 0) m.revived_blocks += num_layers_;
    m.tokens += block_size_;
  }
  return m;
}

int KvBlockManager::attach_prefix(int seq, std::span<const int> tokens, uint64_t key,
                                  int max_tokens) {
  Seq& s = seq_mut(seq);
  for (const SeqLayer& l : s.layers)
    require(l.positions.empty(), ErrorCode::kInternal,
            "a cached prefix attaches only to an empty KV sequence");
  int n = 0;
  for (uint64_t id : find_chain(tokens, key, max_tokens)) {
    hold(id);
    s.groups.push_back(id);
    const Group& g = groups_.at(id);
    for (int layer = 0; layer < num_layers_; ++layer) {
      SeqLayer& l = s.layers[layer];
      l.blocks.push_back(g.blocks[layer]);
      for (int i = 0; i < block_size_; ++i) l.positions.push_back(n + i);
    }
    n += block_size_;
  }
  return n;
}

void KvBlockManager::publish_prefix(int seq, std::span<const int> tokens, uint64_t key,
                                    int complete) {
  Seq& s = seq_mut(seq);
  const int B = block_size_;
  const int limit = std::min<int>(complete, static_cast<int>(tokens.size()));
  for (int k = static_cast<int>(s.groups.size()); (k + 1) * B <= limit; ++k) {
    for (const SeqLayer& l : s.layers)
      require(static_cast<int>(l.positions.size()) >= (k + 1) * B &&
                  l.positions[(k + 1) * B - 1] == (k + 1) * B - 1,
              ErrorCode::kInternal, "published KV block is not complete at every layer");
    const uint64_t parent = k == 0 ? 0 : s.groups.back();
    const std::span<const int> block = tokens.subspan(static_cast<size_t>(k) * B, B);
    uint64_t id = find_group(parent, key, block);
    if (id != 0) {  // computed by another sequence too: share that copy
      hold(id);
      const Group& g = groups_.at(id);
      for (int layer = 0; layer < num_layers_; ++layer) {
        int& own = s.layers[layer].blocks[k];
        free_.push_back(own);
        own = g.blocks[layer];
      }
    } else {
      id = next_group_++;
      Group& g = groups_[id];
      g.parent = parent;
      g.key = key;
      g.tokens.assign(block.begin(), block.end());
      g.refs = 1;
      for (int layer = 0; layer < num_layers_; ++layer) {
        const int b = s.layers[layer].blocks[k];
        g.blocks.push_back(b);
        block_group_[b] = id;
      }
      index_.emplace(group_hash(parent, key, block), id);
    }
    s.groups.push_back(id);
  }
}

}  // namespace radial
