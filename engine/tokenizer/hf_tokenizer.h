// A Hugging Face tokenizer.json tokenizer: added tokens, normalizer,
// pre-tokenizer, BPE model, decoder and post-processor, reproducing the
// tokenizers library's encode(text, add_special_tokens) ids exactly for the
// constructs it supports, and refusing (at load, naming it) any other.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "engine/tokenizer.h"
#include "engine/tokenizer/tokenizer_config.h"

namespace radial {

// Loads tokenizer.json at `json_path`; `config_path` is its
// tokenizer_config.json ("" when there is none), whose bos_token and
// eos_token give bos_id() and eos_id() (without one, BOS is the token the
// post-processor puts first, if any). Throws Error(kNotFound / kCorrupt /
// kUnsupported) naming the file and the construct.
std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& json_path,
                                             const std::string& config_path);

// The same from a tokenizer.json already parsed (the GGUF loader builds one
// from a file's embedded byte-level BPE vocabulary); `what` names its source.
std::unique_ptr<Tokenizer> hf_tokenizer_from_json(const nlohmann::json& j, const std::string& what,
                                                  const TokenizerConfig& config);

}  // namespace radial
