#include "engine/model_bundle.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/gguf.h"
#include "engine/gguf_loader.h"
#include "engine/model_loader.h"
#include "engine/random.h"
#include "engine/tokenizer/tokenizer_config.h"

namespace radial {

namespace fs = std::filesystem;

RouterWeights make_random_router(const ModelConfig& c, uint64_t seed, int router_hidden) {
  RouterWeights r;
  RouterConfig& rc = r.config;
  rc.num_layers = c.num_layers;
  rc.hidden_size = c.hidden_size;
  rc.router_hidden = router_hidden;
  rc.activation = Activation::kSilu;
  rc.norm_eps = c.rms_norm_eps;
  rc.mode = RouteMode::kForward;
  rc.threshold = 0.5f;
  rc.max_steps = c.num_layers;
  rc.pinned_layers = {0};
  rc.kv_policy = KvPolicy::kPropagate;
  const int d = c.hidden_size, g = c.num_layers + 1;
  Rng rng(seed ^ 0x726f75746572ull);  // "router"
  auto fill = [&](std::vector<int64_t> shape, float stddev, float constant) {
    Tensor t = Tensor::zeros(DType::kF32, std::move(shape));
    float* p = t.f32();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = stddev > 0 ? rng.normal() * stddev : constant;
    return t;
  };
  r.norm = fill({d}, 0.f, 1.f);
  r.fc1_w = fill({router_hidden, d}, 1.f / std::sqrt(static_cast<float>(d)), 0.f);
  r.fc1_b = fill({router_hidden}, 0.f, 0.f);
  // silu outputs have a second moment of about 0.35 for unit-variance inputs.
  r.fc2_w = fill({g, router_hidden}, 1.f / std::sqrt(0.35f * router_hidden), 0.f);
  r.fc2_b = fill({g}, 0.f, 0.f);
  r.validate();
  return r;
}

ModelBundle load_bundle(const ModelSource& src) {
  ModelBundle b;
  std::shared_ptr<ModelWeights> w;
  if (!src.dummy_config.empty()) {
    ModelConfig c = load_hf_config(src.dummy_config);
    LoadOptions opts;
    opts.matrix_dtype = src.matrix_dtype;
    w = std::make_shared<ModelWeights>(make_random_model(c, src.dummy_seed, opts));
    if (!src.no_router && src.router.empty())
      b.router = std::make_shared<RouterWeights>(make_random_router(c, src.dummy_seed));
    b.description =
        "random weights of " + src.dummy_config + " (seed " + std::to_string(src.dummy_seed) + ")";
  } else {
    require(!src.model.empty(), ErrorCode::kInvalidArgument, "no model given");
    LoadOptions opts;
    opts.context_length = src.context_length;
    opts.matrix_dtype = src.matrix_dtype;
    w = std::make_shared<ModelWeights>(load_model(src.model, opts));
    b.description = src.model;
  }
  b.weights = w;
  const bool is_dir = !src.model.empty() && fs::is_directory(src.model);
  std::string router_dir = src.router;
  if (router_dir.empty() && is_dir && has_router(src.model)) router_dir = src.model;
  if (!src.no_router && !router_dir.empty())
    b.router = std::make_shared<RouterWeights>(load_router(router_dir, w->config));
  if (src.no_router) b.router.reset();
  std::string tok = src.tokenizer;
  if (tok.empty() && is_dir &&
      (fs::exists(fs::path(src.model) / "tokenizer.json") ||
       fs::exists(fs::path(src.model) / "tokenizer.model")))
    tok = src.model;  // Tokenizer::load prefers tokenizer.json
  const bool embedded = tok.empty() && !is_dir && !src.model.empty() && src.dummy_config.empty() &&
                        GgufFile::has_magic(src.model);
  if (!tok.empty() || embedded) {
    auto t = embedded ? load_gguf_tokenizer(src.model) : Tokenizer::load(tok);
    if (embedded) {
      tok = src.model;
      b.chat_template = load_gguf_chat_template(src.model);
    }
    // Models may pad their vocabulary (Qwen rounds it up): ids the tokenizer
    // never produces are harmless; a tokenizer larger than the model is not.
    require(t->vocab_size() <= w->config.vocab_size, ErrorCode::kInvalidArgument,
            "tokenizer " + tok + " has " + std::to_string(t->vocab_size()) +
                " tokens but the model's vocabulary is " + std::to_string(w->config.vocab_size));
    b.tokenizer = std::move(t);
    // The chat template (and the special-token texts it prints) of
    // tokenizer_config.json, parsed now so that an unsupported template is a
    // load error, not a failed request.
    const fs::path dir = fs::is_directory(tok) ? fs::path(tok) : fs::path(tok).parent_path();
    const fs::path cfg_path = dir / "tokenizer_config.json";
    if (b.tokenizer->kind() == "tokenizer.json" && fs::exists(cfg_path)) {
      const TokenizerConfig cfg = load_tokenizer_config(cfg_path.string());
      if (!cfg.chat_template.empty()) {
        try {
          b.chat_template = std::make_shared<ChatTemplate>(
              cfg.chat_template,
              ChatSpecialTokens{cfg.bos_token, cfg.eos_token, cfg.unk_token, cfg.pad_token});
        } catch (const Error& e) {
          throw Error(e.code(), cfg_path.string() + ": " + e.what());
        }
      }
    }
  }
  // Instruct models list their end-of-turn ids (<|eot_id|>, <|im_end|>) in
  // generation_config.json: a reply ends at any of them too.
  const fs::path gen = is_dir ? fs::path(src.model) / "generation_config.json" : fs::path();
  if (is_dir && fs::exists(gen)) {
    for (int id : load_generation_eos_ids(gen.string())) {
      require(id < w->config.vocab_size, ErrorCode::kInvalidArgument,
              gen.string() + ": eos_token_id " + std::to_string(id) +
                  " is outside the model's vocabulary");
      auto& ids = w->config.eos_token_ids;
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    }
  }
  if (b.router)
    b.description += " + router (" + std::string(route_mode_name(b.router->config.mode)) + ")";
  return b;
}

}  // namespace radial
