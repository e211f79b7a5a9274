// Llama-, Qwen2- and Qwen3-architecture models in GGUF files (llama.cpp, Ollama):
// weights kept in their file's type where the CPU backend has it, else
// converted (gguf_loader.cpp; LoadOptions::matrix_dtype overrides), the
// config from the llama.* / qwen2.* / qwen3.* metadata, and the embedded
// tokenizer.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "engine/chat/chat_template.h"
#include "engine/model_loader.h"
#include "engine/tokenizer.h"

namespace radial {

// Weights and config of the GGUF file at `path` (general.architecture
// "llama", "qwen2" or "qwen3"). llama: Q/K rows stay in the file's
// interleaved (Meta) order: llama.cpp's converter permutes Hugging Face
// weights to it, so rope_layout is kInterleaved. qwen2 and qwen3: its
// converter keeps Hugging Face's order (llama.cpp runs them with NEOX RoPE),
// so kHalfSplit; qwen2 with the Q/K/V biases attn_q.bias, attn_k.bias,
// attn_v.bias, qwen3 with the per-head norms attn_q_norm.weight,
// attn_k_norm.weight. A rope_freqs.weight tensor
// (Llama 3.1 / 3.2) becomes the Llama 3 scaling that gives its factors
// (fit_llama3_rope, engine/rope.h), or Error(kUnsupported) when none does.
// The context length is the file's <arch>.context_length unless
// opts.context_length overrides it (see gguf_loader.cpp). Matrices under
// LoadOptions::matrix_dtype unset keep their type when the CPU backend has
// it (F32, F16, BF16, Q8_0, Q4_K, Q5_K, Q6_K); the others (Q4_0, Q4_1,
// Q5_0, Q5_1, Q2_K, Q3_K, IQ4_NL, IQ4_XS) are dequantized and quantized to
// Q8_0, whose 8 bits per 32 values hold them closely (docs/api.md). Throws
// Error naming the file and the key or tensor at fault.
ModelWeights load_gguf_model(const std::string& path, const LoadOptions& opts = {});

// The tokenizer embedded in the GGUF file: tokenizer.ggml.model "llama"
// (SentencePiece: tokens, scores, token_type) becomes the SentencePiece
// tokenizer; "gpt2" (byte-level BPE: tokens, token_type, merges) the
// tokenizer.json implementation, for the pre-tokenizers (tokenizer.ggml.pre)
// llama-bpe (Llama 3) and qwen2; anything else is Error(kUnsupported).
std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path);

// The file's tokenizer.chat_template (null when it has none), with the texts
// of its bos/eos/unknown/padding token ids. Throws Error naming the file for
// a template outside the supported subset.
std::shared_ptr<const ChatTemplate> load_gguf_chat_template(const std::string& path);

// A byte-level BPE vocabulary as a GGUF file holds it.
struct GgufBpeVocab {
  std::vector<std::string> tokens;  // by id
  std::vector<int> types;           // tokenizer.ggml.token_type (3 control, 4 user defined)
  std::vector<std::string> merges;  // "left right"
  std::string pre;                  // tokenizer.ggml.pre
  bool add_bos = false;             // tokenizer.ggml.add_bos_token
  int bos = -1;
};
// The tokenizer.json equivalent of `v` (gguf_tokenizer.cpp). Throws
// Error(kUnsupported) for a pre-tokenizer other than llama-bpe and qwen2.
nlohmann::json gguf_bpe_tokenizer_json(const GgufBpeVocab& v, const std::string& what);

}  // namespace radial
