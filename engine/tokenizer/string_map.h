// Hash maps used by the tokenizers: strings looked up by string_view without
// building a std::string, and an open-addressing map for BPE merge pairs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace radial {

struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

template <typename V>
using StringMap = std::unordered_map<std::string, V, StringViewHash, std::equal_to<>>;

// Maps a pair of token ids to (merge rank, merged id). Fixed capacity (a
// power of two at least twice the number of pairs), linear probing; built
// once, then read-only.
class MergeMap {
 public:
  struct Merge {
    int rank;
    int id;
  };

  void reserve(size_t pairs) {
    size_t cap = 16;
    while (cap < pairs * 2) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
  }

  // Inserts or replaces (a, b): a pair listed twice keeps its last rank, as
  // Hugging Face's BPE (which collects the merges into a hash map) does.
  void insert(int a, int b, Merge m) {
    const uint64_t key = pack(a, b);
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == kEmpty || slots_[i].key == key) {
        slots_[i] = Slot{key, m};
        return;
      }
    }
  }

  const Merge* find(int a, int b) const {
    const uint64_t key = pack(a, b);
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i].merge;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge{0, 0};
  };
  static uint64_t pack(int a, int b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  static size_t hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

}  // namespace radial
