// SentencePiece tokenizer (libsentencepiece, `tokenizer.model`) with the BOS
// handling of llama2.c / Hugging Face Llama: encode(text) = [BOS] +
// sp.encode(text); the empty prompt is [BOS] alone.
#pragma once

#include <memory>
#include <string>

#include "engine/tokenizer.h"

namespace radial {

// Loads a SentencePiece .model file. Throws Error(kNotFound / kCorrupt).
std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& model_path);

// The same from a serialized ModelProto held in memory (the GGUF loader builds
// one from a file's embedded vocabulary); `what` names its source in errors.
std::unique_ptr<Tokenizer> sentencepiece_tokenizer_from_proto(const std::string& serialized,
                                                              const std::string& what);

}  // namespace radial
