// Everything a tool or the server loads to run a model: weights, the router
// (optional) and the tokenizer (optional), from the places a user names.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "engine/backend.h"
#include "engine/chat/chat_template.h"
#include "engine/model_weights.h"
#include "engine/router.h"
#include "engine/tokenizer.h"

namespace radial {

struct ModelSource {
  std::string model;         // HF directory, GGUF file or llama2.c .bin (ignored with
                             // dummy_config)
  std::string tokenizer;     // tokenizer.json, tokenizer.model or a directory holding one
                             // (default: the model directory's tokenizer.json, else its
                             // tokenizer.model, when it has one; a GGUF file's embedded one)
  std::string router;        // default: the model directory when it holds radial.json
  bool no_router = false;    // ignore any router (full mode only)
  std::string dummy_config;  // HF config.json: random weights and a random router
  uint64_t dummy_seed = 0;
  int context_length = 0;  // > 0: overrides a GGUF file's llama.context_length
  // The weight matrices' in-memory dtype (LoadOptions::matrix_dtype; front
  // ends take it from the backend choice: load_matrix_dtype).
  std::optional<DType> matrix_dtype = DType::kF32;
};

struct ModelBundle {
  std::shared_ptr<const ModelWeights> weights;
  std::shared_ptr<const RouterWeights> router;  // null: full mode only
  std::shared_ptr<const Tokenizer> tokenizer;   // null: token ids only
  // tokenizer_config.json's chat_template beside a tokenizer.json (null: none).
  std::shared_ptr<const ChatTemplate> chat_template;
  std::string description;  // one line for logs
};

// Throws radial::Error naming the file and the problem.
ModelBundle load_bundle(const ModelSource& src);

// A random forward-mode router for `c`: gate logits roughly N(0, 1), so
// about half the layers pass threshold 0.5; layer 0 pinned, propagate policy.
RouterWeights make_random_router(const ModelConfig& c, uint64_t seed, int router_hidden = 64);

}  // namespace radial
