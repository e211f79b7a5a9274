#include "scheduler/byte_constraint.h"

namespace radial {

JsonVocab::JsonVocab(const Tokenizer& tok, int vocab_size) : vocab_size_(vocab_size) {
  bytes_.resize(vocab_size);
  // An ordinary previous token: no leading space is dropped.
  const int bos = tok.bos_id();
  const int prev = tok.eos_id() >= 0 && tok.eos_id() != bos ? tok.eos_id() : bos == 0 ? 1 : 0;
  const int n = std::min(vocab_size, tok.vocab_size());
  for (int id = 0; id < n; ++id)
    if (!tok.is_special(id)) bytes_[id] = tok.piece_bytes(prev, id);
  for (int id = 0; id < vocab_size; ++id)
    if (!bytes_[id].empty()) sorted_.push_back(id);
  std::sort(sorted_.begin(), sorted_.end(), [&](int a, int b) {
    return bytes_[a] < bytes_[b] || (bytes_[a] == bytes_[b] && a < b);
  });
  lcp_.assign(sorted_.size(), 0);
  for (size_t i = 1; i < sorted_.size(); ++i) {
    const std::string &a = bytes_[sorted_[i - 1]], &b = bytes_[sorted_[i]];
    size_t k = 0;
    while (k < a.size() && k < b.size() && a[k] == b[k]) ++k;
    lcp_[i] = static_cast<int>(k);
  }
}

}  // namespace radial
