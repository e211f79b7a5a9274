// Constrained generation over bytes: a byte-level automaton decides which
// tokens may come next (JSON mode, JSON Schema mode).
//
// JsonVocab: every token's text bytes (Tokenizer::piece_bytes after an
// ordinary token), sorted, with the common-prefix length of each with the
// one before it, built once per tokenizer. Special tokens and tokens without
// text are never allowed (end-of-sequence is not needed: the scheduler ends a
// sequence when its automaton is complete).
//
// TokenConstraint: what the scheduler asks of one sequence's constraint.
//
// ByteConstraint<State>: a TokenConstraint for any byte automaton State with
//   bool feed(uint8_t)   consume one byte; false (state unspecified) when
//                        the text cannot continue with it
//   bool done() const    the text so far is complete
//   bool repeats() const a state that tends to recur (inside strings), whose
//                        answers are worth keeping
//   operator==
// allowed() walks the sorted vocabulary so that a shared prefix is run once
// and a rejected byte rules out every token that starts with the same bytes.
#pragma once

#include <algorithm>
#include <climits>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/tokenizer.h"

namespace radial {

class JsonVocab {
 public:
  // `vocab_size`: the model's (logits); ids at or past the tokenizer's are never allowed.
  JsonVocab(const Tokenizer& tok, int vocab_size);
  int vocab_size() const { return vocab_size_; }
  const std::string& bytes(int id) const { return bytes_[id]; }  // "" for a token never allowed
  const std::vector<int>& sorted() const { return sorted_; }     // ids with text, by their bytes
  // [i]: the common prefix length of sorted()[i - 1] and sorted()[i]
  const std::vector<int>& lcp() const { return lcp_; }

 private:
  int vocab_size_ = 0;
  std::vector<std::string> bytes_;
  std::vector<int> sorted_;
  std::vector<int> lcp_;
};

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Token ids that may come next (in the vocabulary's byte order), valid
  // until the next call.
  virtual const std::vector<int>& allowed() = 0;
  // Sets every logit but the allowed tokens' to -inf; false when no token
  // is allowed (the vocabulary cannot continue the text).
  virtual bool mask(std::span<float> logits) = 0;
  // Advances by token `id`'s bytes; false when they do not continue the
  // text (a token mask() did not allow).
  virtual bool accept(int id) = 0;
  // The text is complete: the sequence ends.
  virtual bool complete() const = 0;
};

template <class State>
class ByteConstraint : public TokenConstraint {
 public:
  ByteConstraint(std::shared_ptr<const JsonVocab> vocab, State initial = State())
      : vocab_(std::move(vocab)), state_(std::move(initial)) {}

  // Where the state repeats (inside strings, where most tokens fit and the
  // walk is long), the answers of the last 4 states are kept: a hit returns
  // the kept list without a walk or a copy.
  const std::vector<int>& allowed() override {
    if (!state_.repeats()) {
      walk(&walked_);
      return walked_;
    }
    ++steps_;
    CacheEntry* slot = &cache_[0];
    for (CacheEntry& e : cache_) {
      if (e.used != 0 && e.state == state_) {
        e.used = steps_;
        return e.allowed;
      }
      if (e.used < slot->used) slot = &e;  // the least recently used (or an empty one)
    }
    walk(&slot->allowed);
    slot->state = state_;
    slot->used = steps_;
    return slot->allowed;
  }

  bool mask(std::span<float> logits) override {
    const std::vector<int>& ids = allowed();
    kept_.resize(ids.size());
    for (size_t i = 0; i < ids.size(); ++i)
      kept_[i] = static_cast<size_t>(ids[i]) < logits.size() ? logits[ids[i]] : 0.f;
    std::fill(logits.begin(), logits.end(), -std::numeric_limits<float>::infinity());
    for (size_t i = 0; i < ids.size(); ++i)
      if (static_cast<size_t>(ids[i]) < logits.size()) logits[ids[i]] = kept_[i];
    return !ids.empty();
  }

  bool accept(int id) override {
    if (id < 0 || id >= vocab_->vocab_size() || vocab_->bytes(id).empty()) return false;
    State next = state_;
    for (char c : vocab_->bytes(id))
      if (!next.feed(static_cast<uint8_t>(c))) return false;
    state_ = next;
    return true;
  }

  bool complete() const override { return state_.done(); }
  const State& state() const { return state_; }

 private:
  // allowed() without the cache.
  void walk(std::vector<int>* out) {
    out->clear();
    const JsonVocab& v = *vocab_;
    const std::vector<int>& sorted = v.sorted();
    const std::vector<int>& lcps = v.lcp();
    // states_[k]: the state after the first k bytes of the current token.
    states_.resize(1);
    states_[0] = state_;
    int dead = INT_MAX;  // the byte of the last path that was rejected
    for (size_t i = 0; i < sorted.size(); ++i) {
      const int lcp = lcps[i];
      if (lcp > dead) continue;  // it starts with that rejected byte too
      dead = INT_MAX;
      const std::string& s = v.bytes(sorted[i]);
      if (states_.size() < s.size() + 1) states_.resize(s.size() + 1);
      bool ok = true;
      for (size_t k = static_cast<size_t>(lcp); k < s.size(); ++k) {
        states_[k + 1] = states_[k];
        if (!states_[k + 1].feed(static_cast<uint8_t>(s[k]))) {
          dead = static_cast<int>(k);
          ok = false;
          break;
        }
      }
      if (ok) out->push_back(sorted[i]);
    }
  }

  std::shared_ptr<const JsonVocab> vocab_;
  State state_;
  // Scratch kept across steps (no allocation per token once grown):
  std::vector<int> walked_;    // a walk's answer outside repeating states
  std::vector<State> states_;  // walk(): the state after each byte of a token
  std::vector<float> kept_;    // mask(): the allowed tokens' logits
  struct CacheEntry {
    State state;
    std::vector<int> allowed;
    uint64_t used = 0;  // last use (steps_); 0: empty
  };
  CacheEntry cache_[4];
  uint64_t steps_ = 0;
};

}  // namespace radial
