// Model loading: Hugging Face directories (single or sharded safetensors),
// llama2.c checkpoints, and seeded random weights for benchmarks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engine/model_weights.h"

namespace radial {

struct LoadOptions {
  // The in-memory dtype of the weight matrices (embedding, projections, LM
  // head): F32, BF16, F16 or Q8_0. nullopt keeps each matrix in its file's
  // type (a GGUF Q8_0, Q4_K, Q5_K or Q6_K tensor keeps its blocks; the GGUF
  // types the CPU backend has no kernel for become Q8_0: gguf_loader.h).
  // Norms and biases always load as F32.
  std::optional<DType> matrix_dtype = DType::kF32;
  // > 0: the context length (max_position_embeddings) instead of the file's.
  // Only GGUF files read it (their llama.context_length is sometimes shorter
  // than what the model was trained with: see gguf_loader.cpp).
  int context_length = 0;
};

// The in-memory dtype of a matrix whose file type is `file` (see
// LoadOptions::matrix_dtype).
DType matrix_dtype_for(const LoadOptions& opts, DType file);
// `t` (a matrix read as F32, F16 or BF16) converted to `dtype` (a copy only
// when the dtypes differ).
Tensor as_matrix_dtype(Tensor t, DType dtype);

// A Hugging Face model directory: config.json + model.safetensors or
// model.safetensors.index.json with shards. HF tensor names
// (model.embed_tokens.weight, model.layers.N.self_attn.q_proj.weight, ...).
ModelWeights load_hf_model(const std::string& dir, const LoadOptions& opts = {});

// A llama2.c checkpoint (legacy header of 7 int32; negative vocab_size means
// an untied classifier follows). RoPE layout: interleaved.
ModelWeights load_llama2c_model(const std::string& path, const LoadOptions& opts = {});

// Random weights for the config in `config_json_path` (HF config.json
// format): normal(0, 0.02) projections, unit norms, deterministic for `seed`.
ModelWeights make_random_model(const ModelConfig& config, uint64_t seed,
                               const LoadOptions& opts = {});

// Dispatches on the path: a directory with config.json is HF; a file that
// starts with the GGUF magic is GGUF (gguf_loader.h); a file ending in .bin
// is llama2.c.
ModelWeights load_model(const std::string& path, const LoadOptions& opts = {});

// Writes `w` as an HF directory (config.json + model.safetensors, F32, Q/K
// rows permuted to the half-split layout if they are interleaved).
void save_hf_model(const ModelWeights& w, const std::string& dir);

}  // namespace radial
