// ModelWeights -> a llama-, qwen2- or qwen3-architecture GGUF file
// (save_gguf_model), the exact inverse of load_gguf_model for what both
// support.
//
// Q/K rows: llama.cpp's converter permutes Hugging Face (half-split RoPE)
// weights of the llama architecture to the interleaved (Meta) order, and
// load_gguf_model keeps a llama file's rows as they are with rope_layout
// kInterleaved. So half-split weights are permuted here with
// convert_hf_to_gguf.py's `permute` (within each head, row j * head_dim/2 + i
// -> row 2i + j, per Q head and per K/V head), the inverse of save_hf_model's
// permute_to_half_split; interleaved weights (llama2.c, GGUF inputs) are
// written as they are. qwen2 and qwen3 files keep Hugging Face's order
// (llama.cpp runs them with NEOX RoPE); qwen2 adds the Q/K/V biases, qwen3
// the per-head q/k norms.
//
// Llama 3 RoPE scaling: llama.cpp's converter writes no parameters, only
// rope_freqs.weight (engine/rope.h), and so does this writer.
//
// Q4_0, Q4_K_M, Q5_K_M: the tensor types of llama.cpp's
// llama_tensor_get_type for LLAMA_FTYPE_MOSTLY_Q4_0 / Q4_K_M / Q5_K_M
// (gguf_writer.h).
#include <cmath>
#include <utility>

#include "engine/error.h"
#include "engine/gguf_writer.h"
#include "engine/kquant.h"
#include "engine/rope.h"

namespace radial {

namespace {

Tensor permute_to_interleaved(const Tensor& t, int head_dim) {
  Tensor r = Tensor::zeros(DType::kF32, t.shape);
  const int64_t rows = t.shape[0], cols = t.numel() / rows, half = head_dim / 2;
  const float* src = t.f32();
  float* dst = r.f32();
  for (int64_t h = 0; h < rows / head_dim; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t from = h * head_dim + j * half + i, to = h * head_dim + 2 * i + j;
        std::copy(src + from * cols, src + (from + 1) * cols, dst + to * cols);
      }
  return r;
}

// The GGUF architecture of a model: qwen2 and qwen3 for theirs, else llama
// (mistral too, as llama.cpp's converter writes it).
std::string gguf_arch(const ModelConfig& c) {
  return c.model_type == "qwen2" || c.model_type == "qwen3" ? c.model_type : "llama";
}

// What a llama, qwen2 or qwen3 GGUF file (as load_gguf_model reads it)
// cannot express.
void check_supported(const ModelConfig& c) {
  const std::string arch = gguf_arch(c);
  const bool qwen2 = arch == "qwen2";
  const auto refuse = [&](const std::string& what) {
    throw Error(ErrorCode::kUnsupported,
                what + " cannot be written to a " + arch + "-architecture GGUF file");
  };
  if (c.attention_bias != qwen2)
    refuse(c.attention_bias ? "Q/K/V biases (attention_bias, " + c.model_type + ")"
                            : "qwen2 without Q/K/V biases");
  if (c.qk_norm != (arch == "qwen3")) refuse("qwen3 without its q/k norms");
  if (arch != "llama" && c.rope_layout != RopeLayout::kHalfSplit) refuse("interleaved Q/K rows");
  if (c.hidden_act != Activation::kSilu) refuse("an MLP activation other than SiLU");
  if (c.head_dim % 2 != 0) refuse("an odd head size");
  if (c.eos_token_ids.size() > 3)
    refuse(std::to_string(c.eos_token_ids.size()) +
           " end-of-sequence ids (eos, eot and eom hold three)");
}

// `tokens`: the vocabulary by id, when known (null otherwise).
GgufMetadata model_metadata(const ModelConfig& c, GgufOutType type, const std::string& name,
                            const std::vector<std::string>* tokens) {
  // llama_ftype: ALL_F32 0, MOSTLY_Q4_0 2, MOSTLY_Q8_0 7, MOSTLY_Q4_K_M 15,
  // MOSTLY_Q5_K_M 17, MOSTLY_BF16 32.
  const uint32_t file_type = type == GgufOutType::kF32      ? 0
                             : type == GgufOutType::kQ4_0   ? 2
                             : type == GgufOutType::kQ8_0   ? 7
                             : type == GgufOutType::kQ4_K_M ? 15
                             : type == GgufOutType::kQ5_K_M ? 17
                                                            : 32;
  const std::string arch = gguf_arch(c), a = arch + ".";
  GgufMetadata kv = {
      {"general.architecture", gguf_string(arch)},
      {"general.name", gguf_string(name)},
      {"general.file_type", gguf_u32(file_type)},
      {"general.quantization_version", gguf_u32(2)},
      {a + "vocab_size", gguf_u32(c.vocab_size)},
      {a + "context_length", gguf_u32(c.max_position_embeddings)},
      {a + "embedding_length", gguf_u32(c.hidden_size)},
      {a + "block_count", gguf_u32(c.num_layers)},
      {a + "feed_forward_length", gguf_u32(c.intermediate_size)},
      {a + "rope.dimension_count", gguf_u32(c.head_dim)},
      {a + "attention.head_count", gguf_u32(c.num_heads)},
      {a + "attention.head_count_kv", gguf_u32(c.num_kv_heads)},
      {a + "attention.layer_norm_rms_epsilon", gguf_f32(c.rms_norm_eps)},
      {a + "rope.freq_base", gguf_f32(c.rope_theta)},
  };
  if (c.head_dim * c.num_heads != c.hidden_size) {
    kv.emplace_back(a + "attention.key_length", gguf_u32(c.head_dim));
    kv.emplace_back(a + "attention.value_length", gguf_u32(c.head_dim));
  }
  if (c.rope_scaling == RopeScaling::kLinear) {
    kv.emplace_back(a + "rope.scaling.type", gguf_string("linear"));
    kv.emplace_back(a + "rope.scaling.factor", gguf_f32(c.rope_factor));
  }
  kv.emplace_back("tokenizer.ggml.bos_token_id", gguf_u32(c.bos_token_id));
  // End ids past the first: end of message when the token's text says so
  // (Llama 3.1's <|eom_id|>), else end of turn, else end of message.
  std::string eot = "tokenizer.ggml.eot_token_id", eom = "tokenizer.ggml.eom_token_id";
  for (size_t i = 0; i < c.eos_token_ids.size(); ++i) {
    const int id = c.eos_token_ids[i];
    std::string key = "tokenizer.ggml.eos_token_id";
    if (i > 0) {
      const bool says_eom = tokens && id < static_cast<int>(tokens->size()) &&
                            (*tokens)[id].find("eom") != std::string::npos;
      std::string& slot = says_eom && !eom.empty() ? eom : !eot.empty() ? eot : eom;
      key = std::exchange(slot, "");
    }
    kv.emplace_back(key, gguf_u32(id));
  }
  return kv;
}

// llama.cpp's use_more_bits: Q4_K_M and Q5_K_M give attn_v and ffn_down
// of layer i of n Q6_K in the first and last eighth of the layers and in
// every third layer between.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// What a matrix plays in llama.cpp's recipes: the output (output.weight,
// or token_embd.weight when tied: llama.cpp quantizes a shared embedding as
// the output), attn_v / ffn_down of a layer where use_more_bits holds, or
// anything else.
enum class Role { kOutput, kMoreBits, kOther };

// llama.cpp's llama_tensor_get_type for the llama and qwen2 architectures
// and these file types, for a matrix with rows of `cols` values.
GgmlType stored_type(GgufOutType type, Role role, int64_t cols) {
  switch (type) {
    case GgufOutType::kF32:
      return GgmlType::kF32;
    case GgufOutType::kBF16:
      return GgmlType::kBF16;
    case GgufOutType::kQ8_0:
      return GgmlType::kQ8_0;
    case GgufOutType::kQ4_0:
      if (role != Role::kOutput) return GgmlType::kQ4_0;
      return cols % kKQuantBlock == 0 ? GgmlType::kQ6_K : GgmlType::kQ8_0;
    case GgufOutType::kQ4_K_M:
    case GgufOutType::kQ5_K_M:
      break;
  }
  const GgmlType base = type == GgufOutType::kQ5_K_M ? GgmlType::kQ5_K : GgmlType::kQ4_K;
  const GgmlType want = role == Role::kOther ? base : GgmlType::kQ6_K;
  if (cols % kKQuantBlock == 0) return want;
  // Rows that are not whole super-blocks: Q4_K -> Q5_0, Q5_K -> Q5_1,
  // Q6_K -> Q8_0 (32-value blocks), else F16.
  if (cols % 32 != 0) return GgmlType::kF16;
  return want == GgmlType::kQ4_K   ? GgmlType::kQ5_0
         : want == GgmlType::kQ5_K ? GgmlType::kQ5_1
                                   : GgmlType::kQ8_0;
}

bool is_end_id_key(const std::string& key) {
  for (const char* k : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                        "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
    if (key == k) return true;
  return false;
}

}  // namespace

GgufOutType parse_gguf_out_type(const std::string& s) {
  if (s == "f32") return GgufOutType::kF32;
  if (s == "bf16") return GgufOutType::kBF16;
  if (s == "q8_0") return GgufOutType::kQ8_0;
  if (s == "q4_0") return GgufOutType::kQ4_0;
  if (s == "q4_k_m") return GgufOutType::kQ4_K_M;
  if (s == "q5_k_m") return GgufOutType::kQ5_K_M;
  throw Error(ErrorCode::kInvalidArgument,
              "out type must be f32, bf16, q8_0, q4_0, q4_k_m or q5_k_m, got \"" + s + "\"");
}

const char* gguf_out_type_name(GgufOutType t) {
  switch (t) {
    case GgufOutType::kF32:
      return "f32";
    case GgufOutType::kBF16:
      return "bf16";
    case GgufOutType::kQ8_0:
      return "q8_0";
    case GgufOutType::kQ4_0:
      return "q4_0";
    case GgufOutType::kQ4_K_M:
      return "q4_k_m";
    case GgufOutType::kQ5_K_M:
      return "q5_k_m";
  }
  return "?";
}

void save_gguf_model(const ModelWeights& w, const std::string& path, GgufOutType type,
                     const std::string& name, const GgufMetadata& tokenizer) {
  w.validate();
  const ModelConfig& c = w.config;
  check_supported(c);
  const std::vector<std::string>* tokens = nullptr;
  for (const auto& [key, value] : tokenizer)
    if (key == "tokenizer.ggml.tokens") tokens = &value.strs;
  GgufMetadata kv = model_metadata(c, type, name, tokens);
  bool has_model = false;
  for (const auto& [key, value] : tokenizer) {
    if (key == "tokenizer.ggml.bos_token_id" && value.is_integer() && value.i != c.bos_token_id)
      throw Error(ErrorCode::kInvalidArgument, "the tokenizer's BOS id " + std::to_string(value.i) +
                                                   " differs from the config's " +
                                                   std::to_string(c.bos_token_id));
    if (is_end_id_key(key)) continue;  // the config's ids win
    has_model |= key == "tokenizer.ggml.model";
    kv.emplace_back(key, value);
  }
  if (!has_model) kv.emplace_back("tokenizer.ggml.model", gguf_string("no_vocab"));

  const bool permute = c.rope_layout == RopeLayout::kHalfSplit && gguf_arch(c) == "llama";
  std::vector<Tensor> data;  // F32 (permuted copies where needed), in write order
  std::vector<std::pair<std::string, GgmlType>> names;
  data.reserve(5 + 12 * w.layers.size());
  auto put = [&](const std::string& n, const Tensor& t, bool rope = false,
                 Role role = Role::kOther) {
    const Tensor f = t.dtype == DType::kF32 ? t : t.to(DType::kF32);  // shares, or converts
    data.push_back(permute && rope ? permute_to_interleaved(f, c.head_dim) : f);
    names.emplace_back(
        n, t.shape.size() == 1 ? GgmlType::kF32 : stored_type(type, role, t.shape.back()));
  };
  if (c.rope_scaling == RopeScaling::kLlama3) {
    const std::vector<float> factors = llama3_rope_freq_factors(c);
    Tensor t = Tensor::zeros(DType::kF32, {static_cast<int64_t>(factors.size())});
    std::copy(factors.begin(), factors.end(), t.f32());
    put("rope_freqs.weight", t);
  }
  put("token_embd.weight", w.embed, false, c.tie_word_embeddings ? Role::kOutput : Role::kOther);
  const int n_layers = static_cast<int>(w.layers.size());
  for (int i = 0; i < n_layers; ++i) {
    const LayerWeights& l = w.layers[i];
    const std::string p = "blk." + std::to_string(i) + ".";
    const Role more_bits =
        use_more_bits(i, n_layers) && (type == GgufOutType::kQ4_K_M || type == GgufOutType::kQ5_K_M)
            ? Role::kMoreBits
            : Role::kOther;
    put(p + "attn_norm.weight", l.attn_norm);
    put(p + "attn_q.weight", l.wq, true);
    put(p + "attn_k.weight", l.wk, true);
    put(p + "attn_v.weight", l.wv, false, more_bits);
    if (c.attention_bias) {
      put(p + "attn_q.bias", l.bq);
      put(p + "attn_k.bias", l.bk);
      put(p + "attn_v.bias", l.bv);
    }
    if (c.qk_norm) {
      put(p + "attn_q_norm.weight", l.q_norm);
      put(p + "attn_k_norm.weight", l.k_norm);
    }
    put(p + "attn_output.weight", l.wo);
    put(p + "ffn_norm.weight", l.mlp_norm);
    put(p + "ffn_gate.weight", l.w_gate);
    put(p + "ffn_up.weight", l.w_up);
    put(p + "ffn_down.weight", l.w_down, false, more_bits);
  }
  put("output_norm.weight", w.final_norm);
  if (!c.tie_word_embeddings) put("output.weight", w.lm_head, false, Role::kOutput);

  std::vector<GgufTensorOut> tensors;
  for (size_t i = 0; i < data.size(); ++i)
    tensors.push_back({names[i].first, &data[i], names[i].second});
  write_gguf(path, kv, tensors);
}

}  // namespace radial
