// What a Hugging Face model directory says about its tokenizer besides
// tokenizer.json: tokenizer_config.json (special-token texts, the chat
// template) and generation_config.json (the ids that end a reply).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace radial {

struct TokenizerConfig {
  std::optional<std::string> bos_token;  // text, e.g. "<|begin_of_text|>"
  std::optional<std::string> eos_token;  // text, e.g. "<|eot_id|>"
  std::optional<std::string> unk_token;
  std::optional<std::string> pad_token;
  std::string chat_template;  // "" when none (a named list: its "default" entry)
};

// Reads tokenizer_config.json at `path`. Special tokens may be strings or
// {"content": ...} objects; chat_template a string or a list of
// {"name", "template"}. Throws Error(kNotFound / kCorrupt) naming the file
// and the key.
TokenizerConfig load_tokenizer_config(const std::string& path);

// The eos_token_id (a number or a list) of generation_config.json at `path`;
// empty when it has none. Throws Error(kNotFound / kCorrupt) naming the file.
std::vector<int> load_generation_eos_ids(const std::string& path);

}  // namespace radial
