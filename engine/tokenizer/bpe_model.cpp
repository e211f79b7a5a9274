#include "engine/tokenizer/bpe_model.h"

#include <algorithm>
#include <cstdio>

#include "engine/error.h"
#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/utf8.h"

namespace radial {

namespace {

using nlohmann::json;

// Ids must be below this (real vocabularies hold up to a few hundred thousand).
constexpr int64_t kMaxTokenId = 1 << 21;
// Words longer than this are not cached (a run of 10,000 spaces is one word).
constexpr size_t kMaxCachedWord = 128;
// The cache is emptied when it grows past this many words.
constexpr size_t kMaxCacheEntries = 1 << 18;

std::string byte_fallback_text(unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  return buf;
}

bool optional_empty_string(const json& m, const char* key) {
  if (!m.contains(key) || m[key].is_null()) return true;
  return m[key].is_string() && m[key].get<std::string>().empty();
}

// A symbol of a word being merged: a token id and its neighbours.
struct Symbol {
  int id;
  int prev;
  int next;
  bool alive;
};

// A candidate merge of symbols[pos] with its right neighbour.
struct Candidate {
  int rank;
  int pos;
  int new_id;
  bool operator<(const Candidate& o) const {  // the heap's top: lowest rank, then leftmost
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};

}  // namespace

BpeModel::BpeModel(const json& m, bool byte_level, const std::string& file)
    : byte_level_(byte_level) {
  auto corrupt = [&](const std::string& what) {
    return Error(ErrorCode::kCorrupt, file + ": model." + what);
  };
  auto unsupported = [&](const std::string& what) {
    return Error(ErrorCode::kUnsupported, file + ": model." + what + " is not supported");
  };
  if (m.contains("dropout") && !m["dropout"].is_null() &&
      !(m["dropout"].is_number() && m["dropout"].get<double>() == 0.0))
    throw unsupported("dropout");
  if (!optional_empty_string(m, "continuing_subword_prefix"))
    throw unsupported("continuing_subword_prefix");
  if (!optional_empty_string(m, "end_of_word_suffix")) throw unsupported("end_of_word_suffix");
  auto flag = [&](const char* key) {
    if (!m.contains(key) || m[key].is_null()) return false;
    if (!m[key].is_boolean()) throw corrupt(std::string(key) + " must be a boolean");
    return m[key].get<bool>();
  };
  byte_fallback_ = flag("byte_fallback");
  fuse_unk_ = flag("fuse_unk");
  ignore_merges_ = flag("ignore_merges");

  if (!m.contains("vocab") || !m["vocab"].is_object()) throw corrupt("vocab must be an object");
  const json& vocab = m["vocab"];
  int max_id = -1;
  for (const auto& [text, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= kMaxTokenId)
      throw corrupt("vocab[\"" + text + "\"] must be an id in [0, " + std::to_string(kMaxTokenId) +
                    ")");
    max_id = std::max(max_id, id.get<int>());
  }
  tokens_.assign(max_id + 1, std::string());
  fallback_byte_.assign(max_id + 1, -1);
  by_text_.reserve(vocab.size());
  by_word_.reserve(vocab.size());
  std::string raw;
  for (const auto& [text, id_json] : vocab.items()) {
    const int id = id_json.get<int>();
    tokens_[id] = text;
    by_text_[text] = id;
    if (!byte_level_)
      by_word_[text] = id;
    else if (byte_level::decode(text, &raw))
      by_word_[raw] = id;  // tokens outside the byte alphabet can never be reached
  }

  byte_ids_.fill(-1);
  for (int b = 0; b < 256; ++b) {
    const std::string text = byte_level_ ? byte_level::encode(std::string(1, static_cast<char>(b)))
                                         : byte_fallback_text(b);
    if (const int id = id_of(text); id >= 0) {
      byte_ids_[b] = id;
      if (!byte_level_) fallback_byte_[id] = b;
    }
  }
  if (byte_fallback_) {
    for (int b = 0; b < 256; ++b)
      if (const int id = id_of(byte_fallback_text(b)); id >= 0) fallback_byte_[id] = b;
  }

  if (m.contains("unk_token") && !m["unk_token"].is_null()) {
    if (!m["unk_token"].is_string()) throw corrupt("unk_token must be a string");
    unk_id_ = id_of(m["unk_token"].get<std::string>());
    if (unk_id_ < 0)
      throw corrupt("unk_token \"" + m["unk_token"].get<std::string>() +
                    "\" is not in the vocabulary");
  }

  if (!m.contains("merges") || !m["merges"].is_array()) throw corrupt("merges must be an array");
  const json& merges = m["merges"];
  merges_.reserve(merges.size());
  int rank = 0;
  std::string left, right;
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& e = merges[i];
    if (e.is_string()) {  // "a b"
      const std::string& line = e.get_ref<const std::string&>();
      if (line.rfind("#version", 0) == 0) continue;
      const size_t sp = line.find(' ');
      if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos)
        throw corrupt("merges[" + std::to_string(i) +
                      "] must be two tokens separated by one space");
      left = line.substr(0, sp);
      right = line.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() &&
               e[1].is_string()) {  // ["a", "b"]
      left = e[0].get<std::string>();
      right = e[1].get<std::string>();
    } else {
      throw corrupt("merges[" + std::to_string(i) + "] must be \"a b\" or [\"a\", \"b\"]");
    }
    const int a = id_of(left), b = id_of(right), merged = id_of(left + right);
    if (a < 0 || b < 0 || merged < 0)
      throw corrupt("merges[" + std::to_string(i) + "]: \"" +
                    (a < 0   ? left
                     : b < 0 ? right
                             : left + right) +
                    "\" is not in the vocabulary");
    merges_.insert(a, b, MergeMap::Merge{rank++, merged});
  }
}

int BpeModel::id_of(std::string_view text) const {
  const auto it = by_text_.find(text);
  return it == by_text_.end() ? -1 : it->second;
}

int BpeModel::fallback_byte(int id) const {
  return id >= 0 && id < size() ? fallback_byte_[id] : -1;
}

void BpeModel::encode_word(std::string_view word, std::vector<int>* ids) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    const auto it = by_word_.find(word);
    if (it != by_word_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  if (word.size() > kMaxCachedWord) return encode_uncached(word, ids);
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    const auto it = cache_.find(word);
    if (it != cache_.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t start = ids->size();
  encode_uncached(word, ids);
  std::vector<int> result(ids->begin() + static_cast<std::ptrdiff_t>(start), ids->end());
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cache_.size() >= kMaxCacheEntries) cache_.clear();
  cache_.emplace(std::string(word), std::move(result));
}

void BpeModel::encode_uncached(std::string_view word, std::vector<int>* ids) const {
  // Initial symbols, as Hugging Face's BPE::merge_word: one per byte
  // (byte-level) or character; a unit missing from the vocabulary becomes its
  // byte-fallback tokens when all exist, else the unknown token (consecutive
  // unknowns fused into one with fuse_unk), else nothing.
  std::vector<int> symbols;
  symbols.reserve(word.size());
  int pending_unk = -1;
  for (size_t i = 0; i < word.size();) {
    size_t len = 1;
    int id = -1;
    std::string unit;
    if (byte_level_) {
      id = byte_ids_[static_cast<unsigned char>(word[i])];
      if (id < 0) unit = byte_level::encode(word.substr(i, 1));
    } else {
      len = std::max<size_t>(1, utf8::sequence_length(word.substr(i)));
      const auto it = by_word_.find(word.substr(i, len));
      if (it != by_word_.end())
        id = it->second;
      else
        unit = std::string(word.substr(i, len));
    }
    i += len;
    if (id >= 0) {
      if (pending_unk >= 0) symbols.push_back(pending_unk), pending_unk = -1;
      symbols.push_back(id);
      continue;
    }
    if (byte_fallback_) {
      std::vector<int> bytes;
      for (char c : unit) {
        const int b = id_of(byte_fallback_text(static_cast<unsigned char>(c)));
        if (b < 0) break;
        bytes.push_back(b);
      }
      if (bytes.size() == unit.size()) {
        symbols.insert(symbols.end(), bytes.begin(), bytes.end());
        continue;
      }
    }
    if (unk_id_ >= 0) {
      if (pending_unk >= 0 && !fuse_unk_) symbols.push_back(pending_unk);
      pending_unk = unk_id_;
    }
  }
  if (pending_unk >= 0) symbols.push_back(pending_unk);
  merge(&symbols);
  ids->insert(ids->end(), symbols.begin(), symbols.end());
}

void BpeModel::merge(std::vector<int>* ids) const {
  const int n = static_cast<int>(ids->size());
  if (n < 2) return;
  // Hugging Face's Word::merge_all: a heap of candidate merges ordered by
  // rank then position; a popped candidate that no longer matches its
  // symbols is stale and skipped.
  thread_local std::vector<Symbol> sym;
  thread_local std::vector<Candidate> heap;
  sym.resize(n);
  for (int i = 0; i < n; ++i) sym[i] = Symbol{(*ids)[i], i - 1, i + 1 < n ? i + 1 : -1, true};
  heap.clear();
  auto push = [](const Candidate& c) {
    heap.push_back(c);
    std::push_heap(heap.begin(), heap.end());
  };
  for (int i = 0; i + 1 < n; ++i)
    if (const auto* m = merges_.find(sym[i].id, sym[i + 1].id)) push({m->rank, i, m->id});
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    const Candidate top = heap.back();
    heap.pop_back();
    Symbol& s = sym[top.pos];
    if (!s.alive || s.next < 0) continue;
    Symbol& right = sym[s.next];
    const auto* m = merges_.find(s.id, right.id);
    if (m == nullptr || m->id != top.new_id) continue;
    s.id = top.new_id;
    right.alive = false;
    s.next = right.next;
    if (s.next >= 0) sym[s.next].prev = top.pos;
    if (s.prev >= 0)
      if (const auto* pm = merges_.find(sym[s.prev].id, s.id)) push({pm->rank, s.prev, pm->id});
    if (s.next >= 0)
      if (const auto* nm = merges_.find(s.id, sym[s.next].id)) push({nm->rank, top.pos, nm->id});
  }
  ids->clear();
  for (int i = 0; i < n; ++i)
    if (sym[i].alive) ids->push_back(sym[i].id);
}

}  // namespace radial
