// Llama-architecture models in GGUF files (llama.cpp, Ollama): weights
// dequantized to F32 (or converted to LoadOptions::dtype) at load, the config
// from the llama.* metadata, and the embedded tokenizer.
#pragma once

#include <memory>
#include <string>

#include "engine/model_loader.h"
#include "engine/tokenizer.h"

namespace radial {

// Weights and config of the GGUF file at `path` (general.architecture
// "llama"). Q/K rows stay in the file's interleaved (Meta) order: llama.cpp's
// converter permutes Hugging Face weights to it, so rope_layout is
// kInterleaved. The context length is the file's llama.context_length unless
// opts.context_length overrides it (see gguf_loader.cpp). Throws Error
// naming the file and the key or tensor at fault.
ModelWeights load_gguf_model(const std::string& path, const LoadOptions& opts = {});

// The tokenizer embedded in the GGUF file: tokenizer.ggml.model "llama"
// (SentencePiece: tokens, scores, token_type) becomes the SentencePiece
// tokenizer; any other model ("gpt2", ...) is Error(kUnsupported).
std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path);

}  // namespace radial
