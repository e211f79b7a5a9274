// Added tokens of a Hugging Face tokenizer.json ("added_tokens"): special
// and other added tokens are found in the text before anything else and are
// never split, as the tokenizers library's AddedVocabulary does:
// leftmost-longest matching; `lstrip` / `rstrip` take the whitespace on that
// side into the token; `single_word` matches only between non-word
// characters; tokens with `normalized` are matched in the normalized text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/function_ref.h"

namespace radial {

struct AddedToken {
  int id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

// Receives the pieces of a split: token >= 0 for an added token's id, -1
// for the text between tokens (and at_origin: the piece starts at offset 0).
using AddedSplitSink = FunctionRef<void(std::string_view text, int token, bool at_origin)>;

// A trie of one set of added tokens (the normalized ones or the others).
class AddedTokenMatcher {
 public:
  void add(const AddedToken& t, std::string pattern);
  bool empty() const { return tokens_.empty(); }
  // Splits `text` into added tokens and the text between them.
  void split(std::string_view text, bool at_origin, AddedSplitSink out) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int>> children;  // byte -> node
    int token = -1;  // index into tokens_ when a pattern ends here
  };
  // Longest pattern starting at `pos`: its token index and length, or -1.
  int longest_at(std::string_view text, size_t pos, size_t* len) const;

  std::vector<Node> nodes_{Node{}};
  std::vector<AddedToken> tokens_;
  bool first_byte_[256] = {};
};

// Parses tokenizer.json's "added_tokens". Throws Error(kCorrupt) naming
// `file` and the entry.
std::vector<AddedToken> parse_added_tokens(const nlohmann::json& j, const std::string& file);

}  // namespace radial
