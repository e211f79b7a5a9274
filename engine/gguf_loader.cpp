// GGUF (llama and qwen2 architectures) -> ModelWeights, and the embedded
// tokenizer.
//
// Context length: the config takes <arch>.context_length from the file, as
// llama.cpp does (n_ctx_train), unless LoadOptions::context_length overrides
// it. Files converted from llama2.c checkpoints may carry a smaller value
// than the checkpoint's seq_len (stories260K.gguf says 128 where the .bin
// says 512); the file is still what we trust by default, since it is all a
// GGUF user has and it is what llama.cpp honours. (reference.json's cases
// need 128 positions: 129 ids, the last never fed, so they fit.) The
// override (radial's --context-length) exists for such files: plain RoPE
// builds no trained length into the weights, so a longer context changes no
// math, only how far generation may go (quality past the trained length is
// the user's call).
#include "engine/gguf_loader.h"

#include <cmath>
#include <cstring>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/gguf.h"
#include "engine/rope.h"
#include "engine/tokenizer/hf_tokenizer.h"
#include "engine/tokenizer/sentencepiece_tokenizer.h"

namespace radial {
namespace {

class Meta {
 public:
  explicit Meta(const GgufFile& f) : f_(f) {}

  [[noreturn]] void fail(ErrorCode code, const std::string& what) const {
    throw Error(code, f_.path() + ": " + what);
  }
  const GgufValue* get(const std::string& key, bool required) const {
    const GgufValue* v = f_.find(key);
    if (!v && required) fail(ErrorCode::kCorrupt, "missing metadata key " + key);
    return v;
  }
  // An integer in [lo, hi]; `fallback` when absent and not required.
  int64_t integer(const std::string& key, int64_t lo, int64_t hi, bool required,
                  int64_t fallback = 0) const {
    const GgufValue* v = get(key, required);
    if (!v) return fallback;
    if (!v->is_integer() && v->type != GgufValueType::kBool)
      fail(ErrorCode::kCorrupt,
           key + " is a " + gguf_value_type_name(v->type) + ", expected an integer");
    if (v->i < lo || v->i > hi)
      fail(ErrorCode::kCorrupt, key + " = " + std::to_string(v->i) + " is outside [" +
                                    std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return v->i;
  }
  // A token id in [0, n) or -1 when absent; llama.cpp writes "none" as
  // UINT32_MAX (stories260K.gguf's padding_token_id), which is absent too.
  int optional_id(const std::string& key, int64_t n) const {
    const GgufValue* v = get(key, false);
    if (!v || (v->is_integer() && (v->i == 0xFFFFFFFFll || v->i == -1))) return -1;
    return static_cast<int>(integer(key, 0, n - 1, false, -1));
  }
  double number(const std::string& key, double fallback) const {
    const GgufValue* v = get(key, false);
    if (!v) return fallback;
    if (!v->is_number()) fail(ErrorCode::kCorrupt, key + " is not a number");
    const double x = v->is_integer() ? static_cast<double>(v->i) : v->f;
    if (!std::isfinite(x) || x <= 0) fail(ErrorCode::kCorrupt, key + " must be positive");
    return x;
  }
  std::string string(const std::string& key, bool required) const {
    const GgufValue* v = get(key, required);
    if (!v) return "";
    if (v->type != GgufValueType::kString) fail(ErrorCode::kCorrupt, key + " is not a string");
    return v->s;
  }
  const GgufValue* array(const std::string& key, bool strings, bool required) const {
    const GgufValue* v = get(key, required);
    if (v &&
        (v->type != GgufValueType::kArray || (v->elem_type == GgufValueType::kString) != strings))
      fail(ErrorCode::kCorrupt,
           key + std::string(strings ? " is not an array of strings" : " is not a numeric array"));
    return v;
  }

 private:
  const GgufFile& f_;
};

ModelConfig gguf_config(const GgufFile& f, const Meta& m, const LoadOptions& opts) {
  const std::string arch = m.string("general.architecture", true);
  if (arch != "llama" && arch != "qwen2" && arch != "qwen3")
    m.fail(ErrorCode::kUnsupported,
           "general.architecture \"" + arch + "\" is not supported (llama, qwen2 and qwen3 are)");
  const std::string a = arch + ".";  // the architecture's metadata keys
  ModelConfig c;
  c.model_type = arch;
  c.num_layers = static_cast<int>(m.integer(a + "block_count", 1, 1023, true));
  c.hidden_size = static_cast<int>(m.integer(a + "embedding_length", 1, 1 << 16, true));
  c.intermediate_size = static_cast<int>(m.integer(a + "feed_forward_length", 1, 1 << 18, true));
  c.num_heads = static_cast<int>(m.integer(a + "attention.head_count", 1, 1 << 12, true));
  c.num_kv_heads =
      static_cast<int>(m.integer(a + "attention.head_count_kv", 1, 1 << 12, false, c.num_heads));
  c.head_dim = static_cast<int>(
      m.integer(a + "attention.key_length", 1, 1 << 12, false, c.hidden_size / c.num_heads));
  const int64_t v_len = m.integer(a + "attention.value_length", 1, 1 << 12, false, c.head_dim);
  if (v_len != c.head_dim)
    m.fail(ErrorCode::kUnsupported, a + "attention.value_length " + std::to_string(v_len) +
                                        " differs from the key length " +
                                        std::to_string(c.head_dim));
  const int64_t rot = m.integer(a + "rope.dimension_count", 1, 1 << 12, false, c.head_dim);
  if (rot != c.head_dim)
    m.fail(ErrorCode::kUnsupported, a + "rope.dimension_count " + std::to_string(rot) +
                                        " (partial rotary) differs from the head size " +
                                        std::to_string(c.head_dim));
  c.max_position_embeddings = static_cast<int>(m.integer(a + "context_length", 1, 1 << 24, true));
  if (opts.context_length > 0) c.max_position_embeddings = opts.context_length;
  c.rms_norm_eps = static_cast<float>(m.number(a + "attention.layer_norm_rms_epsilon", 1e-5));
  c.rope_theta = static_cast<float>(m.number(a + "rope.freq_base", 10000.0));
  const std::string scaling = m.string(a + "rope.scaling.type", false);
  if (scaling == "linear") {
    c.rope_scaling = RopeScaling::kLinear;
    c.rope_factor = static_cast<float>(m.number(a + "rope.scaling.factor", 1.0));
  } else if (!scaling.empty() && scaling != "none") {
    m.fail(ErrorCode::kUnsupported, a + "rope.scaling.type \"" + scaling + "\" is not supported");
  }
  // llama: llama.cpp's converter permutes Q/K rows to the interleaved
  // (Meta) order and runs them with normal RoPE; qwen2 and qwen3: rows as
  // Hugging Face has them, run with NEOX (half-split) RoPE; qwen2 with Q/K/V
  // biases, qwen3 with its per-head q/k norms.
  c.rope_layout = arch == "llama" ? RopeLayout::kInterleaved : RopeLayout::kHalfSplit;
  c.attention_bias = arch == "qwen2";
  c.qk_norm = arch == "qwen3";
  c.hidden_act = Activation::kSilu;
  const GgufTensorInfo* embd = f.tensor("token_embd.weight");
  if (!embd) m.fail(ErrorCode::kNotFound, "missing tensor token_embd.weight");
  if (embd->ne.size() != 2 || embd->ne[1] > (1 << 22))
    m.fail(ErrorCode::kCorrupt, "token_embd.weight is not a [vocab <= 2^22, d] matrix");
  c.vocab_size = static_cast<int>(embd->ne[1]);
  m.integer(a + "vocab_size", c.vocab_size, c.vocab_size, false);
  if (const GgufValue* toks = m.array("tokenizer.ggml.tokens", true, false))
    if (toks->strs.size() != static_cast<size_t>(c.vocab_size))
      m.fail(ErrorCode::kCorrupt, "tokenizer.ggml.tokens has " + std::to_string(toks->strs.size()) +
                                      " tokens, token_embd.weight " + std::to_string(c.vocab_size) +
                                      " rows");
  c.bos_token_id =
      static_cast<int>(m.integer("tokenizer.ggml.bos_token_id", 0, c.vocab_size - 1, false, 1));
  c.eos_token_ids = {
      static_cast<int>(m.integer("tokenizer.ggml.eos_token_id", 0, c.vocab_size - 1, false, 2))};
  // llama.cpp ends generation at any end-of-generation id: EOS, end of turn
  // (Llama 3's <|eot_id|>), end of message.
  for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    const int id = m.optional_id(key, c.vocab_size);
    if (id >= 0 && id != c.eos_token_ids[0]) c.eos_token_ids.push_back(id);
  }
  c.tie_word_embeddings = f.tensor("output.weight") == nullptr;
  try {
    c.validate();
  } catch (const Error& e) {
    m.fail(e.code(), e.what());
  }
  // Llama 3.1 / 3.2: the scaling is only in rope_freqs.weight (rope.h).
  if (const GgufTensorInfo* rf = f.tensor("rope_freqs.weight")) {
    if (rf->shape() != std::vector<int64_t>{c.head_dim / 2})
      m.fail(ErrorCode::kCorrupt, "rope_freqs.weight: expected [" + std::to_string(c.head_dim / 2) +
                                      "], got " + shape_string(rf->shape()) + " (ne reversed)");
    if (c.rope_scaling != RopeScaling::kNone)
      m.fail(ErrorCode::kUnsupported,
             "rope_freqs.weight together with " + a + "rope.scaling.type is not supported");
    const Tensor t = f.read_f32(*rf);
    const std::vector<float> factors(t.f32(), t.f32() + t.numel());
    if (!fit_llama3_rope(factors, c))
      m.fail(ErrorCode::kUnsupported,
             "rope_freqs.weight: per-frequency RoPE factors that no Llama 3 scaling "
             "(rope_type llama3) gives are not supported");
  }
  return c;
}

// Protocol-buffer wire format, just what a SentencePiece ModelProto needs.
void varint(std::string& out, uint64_t v) {
  for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>((v & 0x7F) | 0x80));
  out.push_back(static_cast<char>(v));
}
void field_varint(std::string& out, int field, uint64_t v) {
  varint(out, static_cast<uint64_t>(field) << 3);
  varint(out, v);
}
void field_bytes(std::string& out, int field, const std::string& bytes) {
  varint(out, (static_cast<uint64_t>(field) << 3) | 2);
  varint(out, bytes.size());
  out += bytes;
}
void field_float(std::string& out, int field, float v) {
  varint(out, (static_cast<uint64_t>(field) << 3) | 5);
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}

// tokenizer.ggml.model "gpt2": byte-level BPE through the tokenizer.json
// implementation (gguf_tokenizer.cpp).
std::unique_ptr<Tokenizer> gguf_bpe_tokenizer(const Meta& m, const std::string& path) {
  GgufBpeVocab v;
  v.tokens = m.array("tokenizer.ggml.tokens", true, true)->strs;
  const size_t n = v.tokens.size();
  if (n == 0) m.fail(ErrorCode::kCorrupt, "tokenizer.ggml.tokens is empty");
  const GgufValue* types = m.array("tokenizer.ggml.token_type", false, false);
  if (types && types->nums.size() != n)
    m.fail(ErrorCode::kCorrupt, "tokenizer.ggml.token_type does not have one entry per token");
  v.types.assign(n, 1);
  for (size_t i = 0; types && i < n; ++i) {
    const double t = types->nums[i];
    v.types[i] = t >= 1 && t <= 6 && t == std::floor(t) ? static_cast<int>(t) : 0;
  }
  v.merges = m.array("tokenizer.ggml.merges", true, true)->strs;
  v.pre = m.string("tokenizer.ggml.pre", false);
  if (v.pre.empty()) v.pre = "default";
  v.add_bos = m.integer("tokenizer.ggml.add_bos_token", 0, 1, false, 0) == 1;
  const auto max_id = static_cast<int64_t>(n) - 1;
  v.bos = static_cast<int>(m.integer("tokenizer.ggml.bos_token_id", 0, max_id, false, -1));
  const int eos = static_cast<int>(m.integer("tokenizer.ggml.eos_token_id", 0, max_id, false, -1));
  TokenizerConfig config;
  if (v.bos >= 0) config.bos_token = v.tokens[v.bos];
  if (eos >= 0) config.eos_token = v.tokens[eos];
  const std::string what = path + " (embedded tokenizer)";
  return hf_tokenizer_from_json(gguf_bpe_tokenizer_json(v, what), what, config);
}

}  // namespace

ModelWeights load_gguf_model(const std::string& path, const LoadOptions& opts) {
  const GgufFile f = GgufFile::open(path);
  const Meta m(f);
  ModelWeights w;
  w.config = gguf_config(f, m, opts);
  const ModelConfig& c = w.config;
  const int64_t d = c.hidden_size, ff = c.intermediate_size, q = c.q_dim(), kv = c.kv_dim();
  auto read = [&](const std::string& name, const std::vector<int64_t>& shape) {
    const GgufTensorInfo* t = f.tensor(name);
    if (!t) m.fail(ErrorCode::kNotFound, "missing tensor " + name);
    if (t->shape() != shape)
      m.fail(ErrorCode::kCorrupt, name + ": expected " + shape_string(shape) + ", got " +
                                      shape_string(t->shape()) + " (ne reversed)");
    if (shape.size() != 2) return f.read_f32(*t);  // norms: F32
    // The CPU backend keeps F32, F16, BF16, Q8_0 and the K-quants Q4_K to
    // Q6_K; the other types become Q8_0 (gguf_loader.h).
    DType file = t->type == GgmlType::kF32 ? DType::kF32 : DType::kQ8_0;
    if (t->type == GgmlType::kF16) file = DType::kF16;
    if (t->type == GgmlType::kBF16) file = DType::kBF16;
    if (t->type == GgmlType::kQ8_0) file = DType::kQ8_0;
    if (t->type == GgmlType::kQ4_K) file = DType::kQ4_K;
    if (t->type == GgmlType::kQ5_K) file = DType::kQ5_K;
    if (t->type == GgmlType::kQ6_K) file = DType::kQ6_K;
    return f.read_as(*t, matrix_dtype_for(opts, file));
  };
  w.embed = read("token_embd.weight", {c.vocab_size, d});
  w.layers.resize(c.num_layers);
  for (int i = 0; i < c.num_layers; ++i) {
    LayerWeights& l = w.layers[i];
    const std::string p = "blk." + std::to_string(i) + ".";
    l.attn_norm = read(p + "attn_norm.weight", {d});
    l.wq = read(p + "attn_q.weight", {q, d});
    l.wk = read(p + "attn_k.weight", {kv, d});
    l.wv = read(p + "attn_v.weight", {kv, d});
    if (c.attention_bias) {
      l.bq = read(p + "attn_q.bias", {q});
      l.bk = read(p + "attn_k.bias", {kv});
      l.bv = read(p + "attn_v.bias", {kv});
    }
    if (c.qk_norm) {
      l.q_norm = read(p + "attn_q_norm.weight", {c.head_dim});
      l.k_norm = read(p + "attn_k_norm.weight", {c.head_dim});
    }
    l.wo = read(p + "attn_output.weight", {d, q});
    l.mlp_norm = read(p + "ffn_norm.weight", {d});
    l.w_gate = read(p + "ffn_gate.weight", {ff, d});
    l.w_up = read(p + "ffn_up.weight", {ff, d});
    l.w_down = read(p + "ffn_down.weight", {d, ff});
  }
  w.final_norm = read("output_norm.weight", {d});
  w.lm_head = c.tie_word_embeddings ? w.embed : read("output.weight", {c.vocab_size, d});
  w.validate();
  return w;
}

std::shared_ptr<const ChatTemplate> load_gguf_chat_template(const std::string& path) {
  const GgufFile f = GgufFile::open(path);
  const Meta m(f);
  const std::string source = m.string("tokenizer.chat_template", false);
  if (source.empty()) return nullptr;
  const GgufValue* tokens = m.array("tokenizer.ggml.tokens", true, false);
  const auto text = [&](const char* key) -> std::optional<std::string> {
    const int64_t n = tokens ? static_cast<int64_t>(tokens->strs.size()) : 0;
    const int id = n > 0 ? m.optional_id(key, n) : -1;
    if (id < 0) return std::nullopt;
    return tokens->strs[id];
  };
  try {
    return std::make_shared<const ChatTemplate>(
        source,
        ChatSpecialTokens{text("tokenizer.ggml.bos_token_id"), text("tokenizer.ggml.eos_token_id"),
                          text("tokenizer.ggml.unknown_token_id"),
                          text("tokenizer.ggml.padding_token_id")});
  } catch (const Error& e) {
    m.fail(e.code(), std::string("tokenizer.chat_template: ") + e.what());
  }
}

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path) {
  const GgufFile f = GgufFile::open(path);
  const Meta m(f);
  const std::string model = m.string("tokenizer.ggml.model", true);
  if (model == "gpt2") return gguf_bpe_tokenizer(m, path);
  if (model != "llama")
    m.fail(ErrorCode::kUnsupported, "tokenizer.ggml.model \"" + model +
                                        "\" is not supported (llama and gpt2 are); "
                                        "give the model's tokenizer.json with --tokenizer");
  const GgufValue* tokens = m.array("tokenizer.ggml.tokens", true, true);
  const GgufValue* scores = m.array("tokenizer.ggml.scores", false, false);
  const GgufValue* types = m.array("tokenizer.ggml.token_type", false, false);
  const size_t n = tokens->strs.size();
  if (n == 0) m.fail(ErrorCode::kCorrupt, "tokenizer.ggml.tokens is empty");
  if ((scores && scores->nums.size() != n) || (types && types->nums.size() != n))
    m.fail(ErrorCode::kCorrupt,
           "tokenizer.ggml.scores / token_type do not have one entry per token");
  // A SentencePiece ModelProto: pieces (1), trainer_spec (2), normalizer_spec (3).
  std::string proto;
  bool bytes = false;
  for (size_t i = 0; i < n; ++i) {
    const double type = types ? types->nums[i] : 1;
    if (type < 1 || type > 6 || type != std::floor(type))
      m.fail(ErrorCode::kCorrupt, "tokenizer.ggml.token_type[" + std::to_string(i) + "] = " +
                                      std::to_string(type) + " is not a token type (1..6)");
    bytes |= type == 6;  // SentencePiece and GGUF number the piece types alike
    std::string piece;
    field_bytes(piece, 1, tokens->strs[i]);
    field_float(piece, 2, scores ? static_cast<float>(scores->nums[i]) : 0.f);
    field_varint(piece, 3, static_cast<uint64_t>(type));
    field_bytes(proto, 1, piece);
  }
  const auto special = [&](const char* key, int fallback) -> std::string {
    const int64_t id = m.integer(key, 0, static_cast<int64_t>(n) - 1, false, fallback);
    return id < static_cast<int64_t>(n) ? tokens->strs[id] : "";
  };
  std::string trainer;
  field_varint(trainer, 3, 2);  // model_type BPE: llama.cpp merges by score as it does
  field_varint(trainer, 4, n);
  field_varint(trainer, 35, bytes ? 1 : 0);  // byte_fallback
  field_bytes(trainer, 45, special("tokenizer.ggml.unknown_token_id", 0));
  field_bytes(trainer, 46, special("tokenizer.ggml.bos_token_id", 1));
  field_bytes(trainer, 47, special("tokenizer.ggml.eos_token_id", 2));
  field_bytes(proto, 2, trainer);
  // Identity normalization, whitespace kept as llama.cpp keeps it, the dummy
  // prefix space unless tokenizer.ggml.add_space_prefix says otherwise.
  std::string norm;
  field_bytes(norm, 1, "identity");
  field_varint(norm, 3, m.integer("tokenizer.ggml.add_space_prefix", 0, 1, false, 1));
  field_varint(norm, 4, 0);
  field_varint(norm, 5, 1);
  field_bytes(proto, 3, norm);
  return sentencepiece_tokenizer_from_proto(proto, path + " (embedded tokenizer)");
}

}  // namespace radial
