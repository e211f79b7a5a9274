#include "engine/model_weights.h"

#include <string>

#include "engine/error.h"

namespace radial {

void ModelWeights::validate() const {
  config.validate();
  const ModelConfig& c = config;
  const int64_t d = c.hidden_size, ff = c.intermediate_size, q = c.q_dim(), kv = c.kv_dim(),
                vocab = c.vocab_size;
  // Matrices (2-D) may be F32, BF16, F16 or Q8_0; vectors are F32.
  auto check = [&](const std::string& name, const Tensor& t, const std::vector<int64_t>& want) {
    require(t.shape == want && !t.empty(), ErrorCode::kCorrupt,
            name + ": expected " + shape_string(want) + ", got " +
                (t.empty() ? std::string("no tensor") : shape_string(t.shape)));
    require(want.size() == 2 || t.dtype == DType::kF32, ErrorCode::kCorrupt,
            name + ": dtype " + dtype_name(t.dtype) + ", expected F32 for a vector");
    require(t.storage && t.nbytes == tensor_bytes(t.dtype, t.shape), ErrorCode::kCorrupt,
            name + ": storage does not match its shape");
  };
  auto check_absent = [](const std::string& name, const Tensor& t, const char* field) {
    require(t.empty(), ErrorCode::kCorrupt, name + ": present, but the config has no " + field);
  };

  check("embed", embed, {vocab, d});
  require(static_cast<int>(layers.size()) == c.num_layers, ErrorCode::kCorrupt,
          "layers: expected " + std::to_string(c.num_layers) + ", got " +
              std::to_string(layers.size()));
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerWeights& l = layers[i];
    const std::string p = "layers." + std::to_string(i) + ".";
    check(p + "attn_norm", l.attn_norm, {d});
    check(p + "wq", l.wq, {q, d});
    check(p + "wk", l.wk, {kv, d});
    check(p + "wv", l.wv, {kv, d});
    if (c.attention_bias) {
      check(p + "bq", l.bq, {q});
      check(p + "bk", l.bk, {kv});
      check(p + "bv", l.bv, {kv});
    } else {
      check_absent(p + "bq", l.bq, "attention_bias");
      check_absent(p + "bk", l.bk, "attention_bias");
      check_absent(p + "bv", l.bv, "attention_bias");
    }
    if (c.qk_norm) {
      check(p + "q_norm", l.q_norm, {c.head_dim});
      check(p + "k_norm", l.k_norm, {c.head_dim});
    } else {
      check_absent(p + "q_norm", l.q_norm, "qk_norm");
      check_absent(p + "k_norm", l.k_norm, "qk_norm");
    }
    check(p + "wo", l.wo, {d, q});
    check(p + "mlp_norm", l.mlp_norm, {d});
    check(p + "w_gate", l.w_gate, {ff, d});
    check(p + "w_up", l.w_up, {ff, d});
    check(p + "w_down", l.w_down, {d, ff});
  }
  check("final_norm", final_norm, {d});
  check("lm_head", lm_head, {vocab, d});
  if (c.tie_word_embeddings)
    require(lm_head.storage == embed.storage, ErrorCode::kCorrupt,
            "lm_head: tie_word_embeddings is set but lm_head does not share embed's storage");
}

std::vector<const Tensor*> ModelWeights::matrices() const {
  std::vector<const Tensor*> out{&embed};
  for (const LayerWeights& l : layers)
    for (const Tensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      out.push_back(t);
  out.push_back(&lm_head);
  return out;
}

size_t ModelWeights::weight_bytes() const {
  size_t n = 0;
  for (const Tensor* t : matrices())
    if (t != &lm_head || lm_head.storage != embed.storage) n += t->nbytes;
  for (const LayerWeights& l : layers)
    for (const Tensor* t : {&l.attn_norm, &l.mlp_norm, &l.bq, &l.bk, &l.bv, &l.q_norm, &l.k_norm})
      n += t->nbytes;
  return n + final_norm.nbytes;
}

}  // namespace radial
