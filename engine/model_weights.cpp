#include "engine/model_weights.h"

#include <string>

#include "engine/error.h"

namespace radial {

void ModelWeights::validate() const {
  config.validate();
  const ModelConfig& c = config;
  const int64_t d = c.hidden_size, ff = c.intermediate_size, q = c.q_dim(), kv = c.kv_dim(),
                vocab = c.vocab_size;
  const DType dtype = embed.dtype;
  auto check = [&](const std::string& name, const Tensor& t, const std::vector<int64_t>& want) {
    require(t.shape == want && !t.empty(), ErrorCode::kCorrupt,
            name + ": expected " + shape_string(want) + ", got " +
                (t.empty() ? std::string("no tensor") : shape_string(t.shape)));
    require(t.dtype == dtype, ErrorCode::kCorrupt,
            name + ": dtype " + dtype_name(t.dtype) + ", but the model is " + dtype_name(dtype));
    require(t.storage && t.nbytes == static_cast<size_t>(t.numel()) * dtype_size(t.dtype),
            ErrorCode::kCorrupt, name + ": storage does not match its shape");
  };
  auto check_absent = [](const std::string& name, const Tensor& t) {
    require(t.empty(), ErrorCode::kCorrupt,
            name + ": present, but the config has no attention_bias");
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
      check_absent(p + "bq", l.bq);
      check_absent(p + "bk", l.bk);
      check_absent(p + "bv", l.bv);
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

}  // namespace radial
