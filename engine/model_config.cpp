#include "engine/model_config.h"

#include <charconv>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/json_input.h"

namespace radial {
namespace {

using json = nlohmann::json;

[[noreturn]] void bad_type(const std::string& key, const char* want, const json& v) {
  throw Error(ErrorCode::kInvalidArgument,
              "config: " + key + " must be " + want + ", got " + json_brief(v));
}

int as_int(const json& v, const std::string& key) {
  if (!v.is_number_integer()) bad_type(key, "an integer", v);
  if (v.is_number_unsigned() ? v.get<uint64_t>() > INT_MAX
                             : v.get<int64_t>() < INT_MIN || v.get<int64_t>() > INT_MAX)
    bad_type(key, "a 32-bit integer", v);
  return v.get<int>();
}

// Typed, optional access to the fields of one JSON object; a null value counts
// as absent. Wrong types throw kInvalidArgument naming the field.
class Fields {
 public:
  Fields(const json& j, std::string prefix) : j_(j), prefix_(std::move(prefix)) {}

  const json* find(const std::string& key) const {
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  bool has(const std::string& key) const { return find(key) != nullptr; }

  std::optional<int> get_int(const std::string& key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    return as_int(*v, prefix_ + key);
  }
  int require_int(const std::string& key) const {
    std::optional<int> v = get_int(key);
    require(v.has_value(), ErrorCode::kInvalidArgument, "config: missing " + prefix_ + key);
    return *v;
  }
  std::optional<double> get_number(const std::string& key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) bad_type(prefix_ + key, "a number", *v);
    return v->get<double>();
  }
  double require_number(const std::string& key) const {
    std::optional<double> v = get_number(key);
    require(v.has_value(), ErrorCode::kInvalidArgument, "config: missing " + prefix_ + key);
    return *v;
  }
  std::optional<bool> get_bool(const std::string& key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) bad_type(prefix_ + key, "true or false", *v);
    return v->get<bool>();
  }
  std::optional<std::string> get_string(const std::string& key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) bad_type(prefix_ + key, "a string", *v);
    return v->get<std::string>();
  }

 private:
  const json& j_;
  std::string prefix_;
};

[[noreturn]] void unsupported(const std::string& what) {
  throw Error(ErrorCode::kUnsupported, "config: " + what + " is not supported");
}

// rope_scaling (or the newer rope_parameters): null, or an object with
// "type"/"rope_type" default | linear | llama3.
void parse_rope_scaling(const json& v, const std::string& key, ModelConfig& c) {
  if (!v.is_object()) bad_type(key, "an object or null", v);
  Fields f(v, key + ".");
  std::optional<std::string> type = f.get_string("rope_type");
  if (!type) type = f.get_string("type");
  require(type.has_value(), ErrorCode::kInvalidArgument, "config: " + key + ": missing rope_type");
  if (*type == "default") {
    c.rope_scaling = RopeScaling::kNone;
  } else if (*type == "linear") {
    c.rope_scaling = RopeScaling::kLinear;
    c.rope_factor = static_cast<float>(f.require_number("factor"));
  } else if (*type == "llama3") {
    c.rope_scaling = RopeScaling::kLlama3;
    c.rope_factor = static_cast<float>(f.require_number("factor"));
    c.rope_low_freq_factor = static_cast<float>(f.require_number("low_freq_factor"));
    c.rope_high_freq_factor = static_cast<float>(f.require_number("high_freq_factor"));
    c.rope_original_max_position = f.require_int("original_max_position_embeddings");
  } else {
    unsupported(key + " type \"" + *type + "\" (supported: default, linear, llama3)");
  }
}

// Writes a float as the shortest decimal that reads back as the same float
// (1e-5f -> 1e-05 rather than 9.999999747378752e-06).
double short_double(float f) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf) - 1, f);
  *r.ptr = '\0';
  return std::strtod(buf, nullptr);
}

}  // namespace

Activation parse_activation(const std::string& name) {
  if (name == "silu" || name == "swish") return Activation::kSilu;
  if (name == "gelu") return Activation::kGelu;  // exact (erf) GELU
  if (name == "relu") return Activation::kRelu;
  throw Error(ErrorCode::kUnsupported,
              "config: hidden_act \"" + name + "\" is not supported (silu, gelu, relu)");
}

ModelConfig parse_hf_config(const json& j) {
  require(j.is_object(), ErrorCode::kInvalidArgument, "config: not a JSON object");
  Fields f(j, "");
  ModelConfig c;
  std::optional<std::string> type = f.get_string("model_type");
  require(type.has_value(), ErrorCode::kInvalidArgument, "config: missing model_type");
  if (*type == "qwen3_moe")
    unsupported(
        "model_type \"qwen3_moe\": mixture-of-experts MLPs are not implemented "
        "(supported: llama, mistral, qwen2, qwen3)");
  if (*type != "llama" && *type != "mistral" && *type != "qwen2" && *type != "qwen3")
    unsupported("model_type \"" + *type + "\" (supported: llama, mistral, qwen2, qwen3)");
  c.model_type = *type;
  const bool qwen3 = *type == "qwen3";
  // qwen2: below, the defaults and sliding-window fields Qwen2 and Qwen3 share.
  const bool qwen2 = *type == "qwen2" || qwen3, mistral = *type == "mistral";

  c.hidden_size = f.require_int("hidden_size");
  c.intermediate_size = f.require_int("intermediate_size");
  c.num_layers = f.require_int("num_hidden_layers");
  c.num_heads = f.require_int("num_attention_heads");
  c.vocab_size = f.require_int("vocab_size");
  c.num_kv_heads = f.get_int("num_key_value_heads").value_or(c.num_heads);
  if (std::optional<int> hd = f.get_int("head_dim")) {
    c.head_dim = *hd;
  } else {
    require(c.num_heads > 0 && c.hidden_size % c.num_heads == 0, ErrorCode::kInvalidArgument,
            "config: num_attention_heads (" + std::to_string(c.num_heads) +
                ") does not divide hidden_size (" + std::to_string(c.hidden_size) + ")");
    c.head_dim = c.hidden_size / c.num_heads;
  }
  // Defaults below are those of transformers' LlamaConfig / MistralConfig / Qwen2Config.
  c.max_position_embeddings = f.get_int("max_position_embeddings")
                                  .value_or(qwen2     ? 32768
                                            : mistral ? 131072
                                                      : 2048);
  c.rms_norm_eps = static_cast<float>(f.get_number("rms_norm_eps").value_or(1e-6));
  c.rope_theta = static_cast<float>(f.get_number("rope_theta").value_or(10000.0));
  c.rope_layout = RopeLayout::kHalfSplit;
  if (const json* rp = f.find("rope_parameters")) {  // transformers >= 5
    parse_rope_scaling(*rp, "rope_parameters", c);
    if (auto theta = Fields(*rp, "rope_parameters.").get_number("rope_theta"))
      c.rope_theta = static_cast<float>(*theta);
  } else if (const json* rs = f.find("rope_scaling")) {
    parse_rope_scaling(*rs, "rope_scaling", c);
  }
  c.tie_word_embeddings = f.get_bool("tie_word_embeddings").value_or(false);
  c.hidden_act = parse_activation(f.get_string("hidden_act").value_or("silu"));

  // Biases: Qwen2 always has Q/K/V biases; Llama's and Qwen3's
  // attention_bias also puts one on o_proj, which the engine does not have;
  // Mistral has none. Qwen3 normalizes each head of q and k.
  if (qwen3) {
    c.qk_norm = true;
    if (f.get_bool("attention_bias").value_or(false))
      unsupported("attention_bias true for model_type qwen3 (it adds an o_proj bias)");
  } else if (qwen2) {
    c.attention_bias = true;
  } else if (!mistral && f.get_bool("attention_bias").value_or(false)) {
    unsupported("attention_bias true for model_type llama (it adds an o_proj bias)");
  }
  if (f.get_bool("mlp_bias").value_or(false)) unsupported("mlp_bias true");

  c.bos_token_id = f.get_int("bos_token_id").value_or(-1);
  if (!j.contains("bos_token_id") && !qwen2) c.bos_token_id = 1;
  if (const json* eos = f.find("eos_token_id")) {
    if (eos->is_array()) {
      for (size_t i = 0; i < eos->size(); ++i)
        c.eos_token_ids.push_back(as_int((*eos)[i], "eos_token_id[" + std::to_string(i) + "]"));
    } else {
      c.eos_token_ids.push_back(*f.get_int("eos_token_id"));
    }
  } else if (!j.contains("eos_token_id") && !qwen2) {
    c.eos_token_ids = {2};
  }

  // Sliding-window attention (Mistral defaults to a 4096 window).
  std::optional<int> window = f.get_int("sliding_window");
  if (mistral && !j.contains("sliding_window")) window = 4096;
  bool sliding = window.has_value() && *window < c.max_position_embeddings;
  if (qwen2) {
    bool any_sliding_layer = f.get_bool("use_sliding_window").value_or(false) &&
                             f.get_int("max_window_layers").value_or(28) < c.num_layers;
    if (const json* lt = f.find("layer_types")) {
      if (!lt->is_array()) bad_type("layer_types", "an array", *lt);
      any_sliding_layer = false;
      for (const json& t : *lt) {
        if (t == "sliding_attention")
          any_sliding_layer = true;
        else if (t != "full_attention")
          unsupported("layer_types entry " + json_brief(t));
      }
    }
    sliding = sliding && any_sliding_layer;
  } else {
    sliding = sliding && f.get_bool("use_sliding_window").value_or(true);
  }
  if (sliding)
    unsupported("sliding_window " + std::to_string(*window) +
                " (shorter than max_position_embeddings " +
                std::to_string(c.max_position_embeddings) + ")");

  // Other fields that would change the math.
  for (const char* key : {"qk_layernorm", "use_qk_norm", "qk_norm"})
    if (!qwen3 && f.get_bool(key).value_or(false)) unsupported(std::string(key) + " true");
  for (const char* key : {"attn_logit_softcapping", "final_logit_softcapping"})
    if (f.get_number(key)) unsupported(key);
  for (const char* key : {"partial_rotary_factor", "logit_scale", "logits_scaling",
                          "embedding_multiplier", "residual_multiplier", "attention_multiplier"})
    if (std::optional<double> v = f.get_number(key); v && *v != 1.0)
      unsupported(std::string(key) + " " + std::to_string(*v));
  if (f.has("quantization_config")) unsupported("quantization_config (quantized weights)");
  return c;
}

ModelConfig load_hf_config(const std::string& path) {
  const json j = read_json_file(path, 16 << 20);
  try {
    return parse_hf_config(j);
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.what());
  }
}

json to_hf_config(const ModelConfig& c, const std::string& torch_dtype) {
  const bool qwen2 = c.model_type == "qwen2", qwen3 = c.model_type == "qwen3",
             mistral = c.model_type == "mistral";
  json j;
  j["architectures"] = {qwen2     ? "Qwen2ForCausalLM"
                        : qwen3   ? "Qwen3ForCausalLM"
                        : mistral ? "MistralForCausalLM"
                                  : "LlamaForCausalLM"};
  j["model_type"] = c.model_type;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_layers;
  j["num_attention_heads"] = c.num_heads;
  j["num_key_value_heads"] = c.num_kv_heads;
  j["head_dim"] = c.head_dim;
  j["vocab_size"] = c.vocab_size;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = short_double(c.rms_norm_eps);
  j["rope_theta"] = short_double(c.rope_theta);
  switch (c.rope_scaling) {
    case RopeScaling::kNone:
      j["rope_scaling"] = nullptr;
      break;
    case RopeScaling::kLinear:
      j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", short_double(c.rope_factor)}};
      break;
    case RopeScaling::kLlama3:
      j["rope_scaling"] = {{"rope_type", "llama3"},
                           {"factor", short_double(c.rope_factor)},
                           {"low_freq_factor", short_double(c.rope_low_freq_factor)},
                           {"high_freq_factor", short_double(c.rope_high_freq_factor)},
                           {"original_max_position_embeddings", c.rope_original_max_position}};
      break;
  }
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["hidden_act"] = c.hidden_act == Activation::kSilu   ? "silu"
                    : c.hidden_act == Activation::kGelu ? "gelu"
                                                        : "relu";
  if (!qwen2 && !mistral) j["attention_bias"] = c.attention_bias;
  if (mistral) j["sliding_window"] = nullptr;
  if (qwen2 || qwen3) j["use_sliding_window"] = false;
  j["bos_token_id"] = c.bos_token_id >= 0 ? json(c.bos_token_id) : json(nullptr);
  if (c.eos_token_ids.empty())
    j["eos_token_id"] = nullptr;
  else if (c.eos_token_ids.size() == 1)
    j["eos_token_id"] = c.eos_token_ids[0];
  else
    j["eos_token_id"] = c.eos_token_ids;
  j["torch_dtype"] = torch_dtype;
  return j;
}

void ModelConfig::validate() const {
  auto check = [](bool ok, const std::string& what) {
    require(ok, ErrorCode::kInvalidArgument, "config: " + what);
  };
  auto range = [&](int v, const char* name, int lo, int hi) {
    check(v >= lo && v <= hi, std::string(name) + " = " + std::to_string(v) + " is outside [" +
                                  std::to_string(lo) + ", " + std::to_string(hi) + "]");
  };
  check(model_type == "llama" || model_type == "mistral" || model_type == "qwen2" ||
            model_type == "qwen3",
        "model_type \"" + model_type + "\" is not llama, mistral, qwen2 or qwen3");
  check(!qk_norm || (model_type == "qwen3" && rope_layout == RopeLayout::kHalfSplit),
        "qk_norm is Qwen3's and needs the half-split RoPE layout");
  range(hidden_size, "hidden_size", 1, 1 << 20);
  range(intermediate_size, "intermediate_size", 1, 1 << 20);
  range(num_layers, "num_hidden_layers", 1, 4096);
  range(num_heads, "num_attention_heads", 1, 4096);
  range(num_kv_heads, "num_key_value_heads", 1, 4096);
  range(head_dim, "head_dim", 2, 4096);
  range(vocab_size, "vocab_size", 1, 1 << 23);
  range(max_position_embeddings, "max_position_embeddings", 1, 1 << 27);
  check(num_heads % num_kv_heads == 0, "num_key_value_heads (" + std::to_string(num_kv_heads) +
                                           ") does not divide num_attention_heads (" +
                                           std::to_string(num_heads) + ")");
  check(head_dim % 2 == 0, "head_dim (" + std::to_string(head_dim) + ") must be even");
  check(std::isfinite(rms_norm_eps) && rms_norm_eps > 0, "rms_norm_eps must be positive");
  check(std::isfinite(rope_theta) && rope_theta > 0, "rope_theta must be positive");
  if (rope_scaling != RopeScaling::kNone)
    check(std::isfinite(rope_factor) && rope_factor > 0, "rope_scaling.factor must be positive");
  if (rope_scaling == RopeScaling::kLlama3) {
    check(rope_low_freq_factor > 0 && rope_high_freq_factor > rope_low_freq_factor,
          "rope_scaling needs 0 < low_freq_factor < high_freq_factor");
    check(rope_original_max_position > 0,
          "rope_scaling.original_max_position_embeddings must be positive");
  }
  check(bos_token_id >= -1 && bos_token_id < vocab_size,
        "bos_token_id " + std::to_string(bos_token_id) + " is not in the vocabulary");
  for (int id : eos_token_ids)
    check(id >= 0 && id < vocab_size,
          "eos_token_id " + std::to_string(id) + " is not in the vocabulary");
}

}  // namespace radial
