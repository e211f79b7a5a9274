// Writing GGUF v3 files (the format gguf.h reads) of the llama, qwen2 and
// qwen3 architectures, so that radiald and llama.cpp can run the very same file:
//   write_gguf        the container: metadata in the given order, tensor
//                     infos, the data section aligned to 32 bytes;
//   save_gguf_model   ModelWeights -> llama.* (qwen2.*, qwen3.*) metadata and
//                     llama.cpp's tensor names, llama Q/K rows in the
//                     interleaved order that llama.cpp's GGUFs hold
//                     (load_gguf_model reads them as such), norms F32,
//                     matrices F32, BF16, Q8_0, or llama.cpp's Q4_0 /
//                     Q4_K_M / Q5_K_M recipes;
//   gguf_*_metadata   the tokenizer.* metadata of a SentencePiece
//                     tokenizer.model ("llama"), a byte-level BPE
//                     tokenizer.json ("gpt2", gguf_vocab_writer.cpp), or
//                     another GGUF file's (copied).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/gguf.h"
#include "engine/model_weights.h"

namespace radial {

// Metadata entries, written in this order. Keys must be unique.
using GgufMetadata = std::vector<std::pair<std::string, GgufValue>>;

GgufValue gguf_string(const std::string& s);
GgufValue gguf_u32(uint32_t v);
GgufValue gguf_f32(float v);
GgufValue gguf_bool(bool v);
GgufValue gguf_strings(std::vector<std::string> v);
// An array of numbers stored as `elem` (an integer type or kF32 / kF64).
GgufValue gguf_numbers(GgufValueType elem, std::vector<double> v);

// One tensor to write: `data` is F32 (any shape of 1 to 4 dims, row-major)
// and is stored as `type` (F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K
// or Q6_K; the quantized types as llama.cpp's reference quantizers write
// them).
struct GgufTensorOut {
  std::string name;
  const Tensor* data = nullptr;
  GgmlType type = GgmlType::kF32;
};

// Writes a GGUF v3 file at `path`: general.alignment must not be in `kv`
// (it is written first, as 32). The file is written next to `path` under a
// temporary name and renamed onto it once complete, so a failure leaves
// neither a partial file nor the temporary one. Throws Error:
// kInvalidArgument naming the tensor (a row length that is not a multiple
// of the type's block size, a type it cannot encode, a duplicate name) or
// the key (a duplicate), kInternal on a write failure, naming the path.
void write_gguf(const std::string& path, const GgufMetadata& kv,
                const std::vector<GgufTensorOut>& tensors);

enum class GgufOutType { kF32, kBF16, kQ8_0, kQ4_0, kQ4_K_M, kQ5_K_M };
// "f32" | "bf16" | "q8_0" | "q4_0" | "q4_k_m" | "q5_k_m"; throws
// Error(kInvalidArgument) otherwise.
GgufOutType parse_gguf_out_type(const std::string& s);
const char* gguf_out_type_name(GgufOutType t);

// Writes `w` as a GGUF file (see write_gguf for how) of the qwen2 or qwen3
// architecture when w.config.model_type is one of those, else of the llama
// architecture (mistral too, as llama.cpp's converter writes it):
// general.* (name `name`, file_type), <arch>.* (context_length,
// embedding_length, block_count, feed_forward_length, head counts,
// rope.dimension_count, layer_norm_rms_epsilon, rope.freq_base, vocab_size,
// key/value_length when head_dim differs from d / heads, linear rope
// scaling), tokenizer.ggml.bos_token_id and eos_token_id from the config
// (end ids beyond the first as eot_token_id, or eom_token_id when the
// token's text has "eom" in it or eot is taken: both end generation in
// llama.cpp and radiald; more than three is an error),
// then `tokenizer` (its bos/eos/eot/eom ids are dropped: the config's win;
// empty: tokenizer.ggml.model "no_vocab", which llama.cpp accepts and
// radiald refuses to tokenize with). Llama 3 RoPE scaling is written as
// llama.cpp's converter writes it: the tensor rope_freqs.weight (F32
// factors, engine/rope.h) and no metadata. qwen3 adds its per-head q/k
// norms (attn_q_norm.weight, attn_k_norm.weight, F32); qwen2 the Q/K/V biases
// (attn_q.bias, attn_k.bias, attn_v.bias, F32). Norm weights are F32, the
// other tensors `type`; Q8_0 and Q4_0 need each matrix's row length to be a
// multiple of 32, else Error(kInvalidArgument) naming the tensor. kQ4_0,
// kQ4_K_M and kQ5_K_M are llama.cpp's recipes (its llama_tensor_get_type;
// general.file_type 2, 15 and 17): Q4_0 stores every matrix Q4_0 but the
// output (output.weight, or token_embd.weight when the embeddings are tied:
// llama.cpp quantizes a shared embedding as the output), which is Q6_K (Q8_0
// when its rows are not whole 256-value blocks). Q4_K_M and Q5_K_M differ
// only in the base type, Q4_K or Q5_K: the output Q6_K; attn_v.weight and
// ffn_down.weight of layer i of n Q6_K where use_more_bits holds (i < n/8,
// i >= 7n/8 or (i - n/8) % 3 == 2), else the base type; every other matrix
// the base type. A matrix whose row length is not a multiple of 256 falls
// back, as in llama.cpp, from Q4_K to Q5_0, from Q5_K to Q5_1 and from Q6_K
// to Q8_0, or to F16 when the row length is not a multiple of 32 either.
// output.weight is omitted when the embeddings are tied. Throws
// Error(kUnsupported) for what the file cannot hold here: Q/K/V biases
// outside qwen2 (or qwen2 without them), qwen3 without its q/k norms, qwen2
// or qwen3 with interleaved Q/K rows, an activation other than SiLU.
void save_gguf_model(const ModelWeights& w, const std::string& path, GgufOutType type,
                     const std::string& name, const GgufMetadata& tokenizer);

// tokenizer.* metadata ("llama") of the SentencePiece model at `path`, as
// llama.cpp's converter writes it: tokens, scores, token_type (1 normal,
// 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte), padded to
// `vocab_size` with unused "[PAD<id>]" tokens, unknown/padding ids,
// add_bos_token, add_eos_token, add_space_prefix (the normalizer's
// add_dummy_prefix). Throws Error naming the file (kNotFound, kCorrupt,
// kInvalidArgument when it has more pieces than vocab_size).
GgufMetadata gguf_sentencepiece_metadata(const std::string& path, int vocab_size);

// tokenizer.* metadata ("gpt2") of a byte-level BPE tokenizer.json at
// `path`: tokens by id (holes and the rest up to `vocab_size` filled with
// unused "[PAD<id>]" tokens), token_type (added tokens: 3 control when
// special, else 4 user defined), merges, pre ("llama-bpe" or "qwen2": the
// pre-tokenizer must be the one load_gguf_tokenizer rebuilds for that name,
// else Error(kUnsupported)), add_bos_token (the post-processor's template);
// and tokenizer.chat_template from tokenizer_config.json beside it, if any.
GgufMetadata gguf_bpe_metadata(const std::string& path, int vocab_size);

// Every tokenizer.* entry of the GGUF file at `path`, as it is.
GgufMetadata gguf_tokenizer_metadata_of(const std::string& path);

}  // namespace radial
