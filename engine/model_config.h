// The architecture of a Llama-family decoder (Llama, Mistral, Qwen2, Qwen3), as read
// from a Hugging Face config.json or a llama2.c header. Every field here
// changes the math; informational fields of config.json are not kept.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace radial {

enum class RopeLayout {
  kHalfSplit,    // Hugging Face "rotate_half": pairs (i, i + head_dim/2)
  kInterleaved,  // llama2.c / Meta: pairs (2i, 2i + 1)
};

enum class RopeScaling { kNone, kLinear, kLlama3 };

enum class Activation { kSilu, kGelu, kRelu };

struct ModelConfig {
  std::string model_type = "llama";  // llama | mistral | qwen2 | qwen3
  int hidden_size = 0;               // d
  int intermediate_size = 0;         // MLP width
  int num_layers = 0;                // L
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;  // d / num_heads unless config.json says otherwise
  int vocab_size = 0;
  int max_position_embeddings = 0;  // context length
  float rms_norm_eps = 1e-5f;
  float rope_theta = 10000.f;
  RopeLayout rope_layout = RopeLayout::kHalfSplit;
  RopeScaling rope_scaling = RopeScaling::kNone;
  float rope_factor = 1.f;                // linear and llama3
  float rope_low_freq_factor = 1.f;       // llama3
  float rope_high_freq_factor = 4.f;      // llama3
  int rope_original_max_position = 8192;  // llama3
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // Q/K/V biases (Qwen2: always true)
  // Qwen3: an RMSNorm over each head of q and of k (weights [head_dim],
  // eps rms_norm_eps) after the projections and before RoPE. Needs the
  // half-split layout (the weights index a head's dimensions as HF does).
  bool qk_norm = false;
  Activation hidden_act = Activation::kSilu;
  int bos_token_id = 1;
  std::vector<int> eos_token_ids;  // empty: none
  bool bos_ends_sequence = false;  // llama2.c checkpoints: BOS also ends a sequence

  int q_dim() const { return num_heads * head_dim; }
  int kv_dim() const { return num_kv_heads * head_dim; }

  // Throws Error(kInvalidArgument) naming the first inconsistent field.
  void validate() const;

  bool operator==(const ModelConfig&) const = default;
};

// Parses a Hugging Face config.json. Fields that would change the math and
// are not supported (another rope_scaling type, a sliding window shorter than
// the context, ...) are errors naming the field.
ModelConfig parse_hf_config(const nlohmann::json& j);
ModelConfig load_hf_config(const std::string& path);

// Writes the fields of `c` as a Hugging Face config.json object.
nlohmann::json to_hf_config(const ModelConfig& c, const std::string& torch_dtype = "float32");

Activation parse_activation(const std::string& name);  // silu | gelu | relu (+ HF aliases)

}  // namespace radial
