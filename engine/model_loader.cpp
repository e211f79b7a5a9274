// Hugging Face directories (load_hf_model, save_hf_model) and load_model.
// llama2.c checkpoints: llama2c_loader.cpp; random weights: random_model.cpp.
#include "engine/model_loader.h"

#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/gguf.h"
#include "engine/gguf_loader.h"
#include "engine/json_input.h"
#include "engine/safetensors.h"

namespace radial {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The tensors of an HF checkpoint: model.safetensors, or the shards listed in
// model.safetensors.index.json ({"weight_map": {tensor: shard file name}}).
class HfTensors {
 public:
  explicit HfTensors(const fs::path& dir) : dir_(dir.string()) {
    const fs::path single = dir / "model.safetensors";
    const fs::path index = dir / "model.safetensors.index.json";
    if (fs::exists(single)) {  // preferred when both exist, as transformers does
      files_.push_back(SafetensorsFile::open(single.string()));
      for (const std::string& name : files_[0].names()) where_[name] = 0;
    } else if (fs::exists(index)) {
      load_index(dir, index.string());
    } else {
      throw Error(ErrorCode::kNotFound,
                  single.string() + ": not found (nor model.safetensors.index.json)");
    }
  }

  // Reads `name` as F32; throws kNotFound if it is missing and kCorrupt if
  // its shape is not `shape`.
  Tensor read(const std::string& name, const std::vector<int64_t>& shape) const {
    return file_of(name, shape).read(name, DType::kF32);
  }
  // Reads the matrix `name` in the dtype `opts` asks for (see read()).
  Tensor read_matrix(const std::string& name, const std::vector<int64_t>& shape,
                     const LoadOptions& opts) const {
    const SafetensorsFile& f = file_of(name, shape);
    const std::optional<DType> file = f.info(name).dtype;
    const DType dt = matrix_dtype_for(opts, file.value_or(DType::kF32));
    return dt == DType::kQ8_0 ? as_matrix_dtype(f.read(name, DType::kF32), dt) : f.read(name, dt);
  }

 private:
  const SafetensorsFile& file_of(const std::string& name, const std::vector<int64_t>& shape) const {
    auto it = where_.find(name);
    require(it != where_.end(), ErrorCode::kNotFound, dir_ + ": missing tensor " + name);
    const SafetensorsFile& f = files_[it->second];
    const SafetensorsInfo& info = f.info(name);
    require(info.shape == shape, ErrorCode::kCorrupt,
            f.path() + ": " + name + ": expected " + shape_string(shape) + ", got " +
                shape_string(info.shape));
    return f;
  }

  void load_index(const fs::path& dir, const std::string& path) {
    const json j = read_json_file(path, 64 << 20);
    require(j.is_object(), ErrorCode::kCorrupt, path + ": not a JSON object");
    auto wm = j.find("weight_map");
    require(wm != j.end() && wm->is_object(), ErrorCode::kCorrupt,
            path + ": weight_map missing or not an object");
    std::map<std::string, size_t> shard_index;
    for (auto& [tensor, shard_json] : wm->items()) {
      require(shard_json.is_string(), ErrorCode::kCorrupt,
              path + ": weight_map." + tensor + " is not a string");
      const std::string shard = shard_json.get<std::string>();
      // Shards must be plain file names in the model directory.
      require(!shard.empty() && shard != "." && shard != ".." &&
                  shard.find_first_of(std::string("/\\\0", 3)) == std::string::npos,
              ErrorCode::kCorrupt,
              path + ": shard \"" + shard + "\" of tensor " + tensor +
                  " is not a plain file name in the model directory");
      auto [sit, inserted] = shard_index.emplace(shard, files_.size());
      if (inserted) files_.push_back(SafetensorsFile::open((dir / shard).string()));
      require(files_[sit->second].contains(tensor), ErrorCode::kCorrupt,
              path + ": tensor " + tensor + " is mapped to " + shard + ", which does not hold it");
      where_[tensor] = sit->second;
    }
  }

  std::string dir_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index in files_
};

// HF's convert_llama_weights_to_hf.py `permute`: within each head of
// `head_dim` rows, row 2i -> row i and row 2i+1 -> row i + head_dim/2
// (interleaved RoPE pairs to half-split). Works on [n*head_dim, in] weights
// and [n*head_dim] biases; `t` is F32.
Tensor permute_to_half_split(const Tensor& t, int head_dim) {
  Tensor r = Tensor::zeros(DType::kF32, t.shape);
  const int64_t rows = t.shape[0], cols = t.numel() / rows, half = head_dim / 2;
  const float* src = t.f32();
  float* dst = r.f32();
  for (int64_t h = 0; h < rows / head_dim; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t from = h * head_dim + 2 * i + j, to = h * head_dim + j * half + i;
        std::copy(src + from * cols, src + (from + 1) * cols, dst + to * cols);
      }
  return r;
}

}  // namespace

DType matrix_dtype_for(const LoadOptions& opts, DType file) {
  if (opts.matrix_dtype) return *opts.matrix_dtype;
  return file;  // every file type the loaders read can be kept
}

Tensor as_matrix_dtype(Tensor t, DType dtype) { return t.dtype == dtype ? t : t.to(dtype); }

ModelWeights load_hf_model(const std::string& dir, const LoadOptions& opts) {
  require(fs::is_directory(dir), ErrorCode::kNotFound, dir + ": no such directory");
  ModelWeights w;
  const std::string config_path = (fs::path(dir) / "config.json").string();
  w.config = load_hf_config(config_path);
  try {
    w.config.validate();
  } catch (const Error& e) {
    throw Error(e.code(), config_path + ": " + e.what());
  }
  const ModelConfig& c = w.config;
  const int64_t d = c.hidden_size, ff = c.intermediate_size, q = c.q_dim(), kv = c.kv_dim();
  HfTensors src(dir);
  auto matrix = [&](const std::string& name, const std::vector<int64_t>& shape) {
    return src.read_matrix(name, shape, opts);
  };

  w.embed = matrix("model.embed_tokens.weight", {c.vocab_size, d});
  w.layers.resize(c.num_layers);
  for (int i = 0; i < c.num_layers; ++i) {
    LayerWeights& l = w.layers[i];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    l.attn_norm = src.read(p + "input_layernorm.weight", {d});
    l.wq = matrix(p + "self_attn.q_proj.weight", {q, d});
    l.wk = matrix(p + "self_attn.k_proj.weight", {kv, d});
    l.wv = matrix(p + "self_attn.v_proj.weight", {kv, d});
    if (c.attention_bias) {
      l.bq = src.read(p + "self_attn.q_proj.bias", {q});
      l.bk = src.read(p + "self_attn.k_proj.bias", {kv});
      l.bv = src.read(p + "self_attn.v_proj.bias", {kv});
    }
    if (c.qk_norm) {
      l.q_norm = src.read(p + "self_attn.q_norm.weight", {c.head_dim});
      l.k_norm = src.read(p + "self_attn.k_norm.weight", {c.head_dim});
    }
    l.wo = matrix(p + "self_attn.o_proj.weight", {d, q});
    l.mlp_norm = src.read(p + "post_attention_layernorm.weight", {d});
    l.w_gate = matrix(p + "mlp.gate_proj.weight", {ff, d});
    l.w_up = matrix(p + "mlp.up_proj.weight", {ff, d});
    l.w_down = matrix(p + "mlp.down_proj.weight", {d, ff});
  }
  w.final_norm = src.read("model.norm.weight", {d});
  // Tied: an lm_head.weight in the file is ignored, as transformers does.
  w.lm_head = c.tie_word_embeddings ? w.embed : matrix("lm_head.weight", {c.vocab_size, d});
  w.validate();
  return w;
}

ModelWeights load_model(const std::string& path, const LoadOptions& opts) {
  const fs::path p(path);
  if (fs::is_directory(p)) {
    require(fs::exists(p / "config.json"), ErrorCode::kNotFound,
            (p / "config.json").string() + ": not found");
    return load_hf_model(path, opts);
  }
  require(fs::exists(p), ErrorCode::kNotFound, path + ": not found");
  if (GgufFile::has_magic(path)) return load_gguf_model(path, opts);
  if (p.extension() == ".bin") return load_llama2c_model(path, opts);
  throw Error(
      ErrorCode::kInvalidArgument,
      path + ": not a model (expected an HF directory, a GGUF file or a llama2.c .bin file)");
}

void save_hf_model(const ModelWeights& w, const std::string& dir) {
  w.validate();
  std::error_code ec;
  fs::create_directories(dir, ec);
  require(!ec && fs::is_directory(dir), ErrorCode::kInvalidArgument,
          dir + ": cannot create directory" + (ec ? ": " + ec.message() : ""));
  ModelConfig c = w.config;
  const bool permute = c.rope_layout == RopeLayout::kInterleaved;
  c.rope_layout = RopeLayout::kHalfSplit;

  std::map<std::string, Tensor> out;  // sorted by name, as transformers writes
  // `rope`: Q/K rows, permuted when the source layout is interleaved.
  auto put = [&](const std::string& name, const Tensor& t, bool rope = false) {
    Tensor f = t.to(DType::kF32);
    out[name] = permute && rope ? permute_to_half_split(f, c.head_dim) : f;
  };
  put("model.embed_tokens.weight", w.embed);
  for (int i = 0; i < c.num_layers; ++i) {
    const LayerWeights& l = w.layers[i];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    put(p + "input_layernorm.weight", l.attn_norm);
    put(p + "self_attn.q_proj.weight", l.wq, true);
    put(p + "self_attn.k_proj.weight", l.wk, true);
    put(p + "self_attn.v_proj.weight", l.wv);
    if (c.attention_bias) {
      put(p + "self_attn.q_proj.bias", l.bq, true);
      put(p + "self_attn.k_proj.bias", l.bk, true);
      put(p + "self_attn.v_proj.bias", l.bv);
    }
    if (c.qk_norm) {  // half-split only (ModelConfig::validate): nothing to permute
      put(p + "self_attn.q_norm.weight", l.q_norm);
      put(p + "self_attn.k_norm.weight", l.k_norm);
    }
    put(p + "self_attn.o_proj.weight", l.wo);
    put(p + "post_attention_layernorm.weight", l.mlp_norm);
    put(p + "mlp.gate_proj.weight", l.w_gate);
    put(p + "mlp.up_proj.weight", l.w_up);
    put(p + "mlp.down_proj.weight", l.w_down);
  }
  put("model.norm.weight", w.final_norm);
  if (!c.tie_word_embeddings) put("lm_head.weight", w.lm_head);

  const fs::path cfg = fs::path(dir) / "config.json";
  {
    std::ofstream f(cfg);
    f << to_hf_config(c, "float32").dump(2) << "\n";
    f.close();
    require(!f.fail(), ErrorCode::kInternal, cfg.string() + ": cannot write");
  }
  std::vector<std::pair<std::string, const Tensor*>> list;
  for (const auto& [name, t] : out) list.emplace_back(name, &t);
  write_safetensors((fs::path(dir) / "model.safetensors").string(), list, {{"format", "pt"}});
}

}  // namespace radial
