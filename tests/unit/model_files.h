// Helpers of the model-loading tests (test_model_loader.cpp,
// test_model_loader_errors.cpp): comparing weights bit for bit, reading and
// writing safetensors, JSON and raw files, a minimal HF directory.
#pragma once

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "engine/model_weights.h"
#include "engine/safetensors.h"
#include "tests/unit/test_util.h"

namespace radial::test {

namespace fs = std::filesystem;
using json = nlohmann::json;

inline bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype == b.dtype && a.shape == b.shape && a.nbytes == b.nbytes &&
         (a.nbytes == 0 || std::memcmp(a.data(), b.data(), a.nbytes) == 0);
}

// Every tensor of a model with its engine name.
inline std::vector<std::pair<std::string, const Tensor*>> named(const ModelWeights& w) {
  std::vector<std::pair<std::string, const Tensor*>> out = {{"embed", &w.embed}};
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const LayerWeights& l = w.layers[i];
    const std::string p = "layers." + std::to_string(i) + ".";
    for (auto [n, t] : {std::pair{"attn_norm", &l.attn_norm},
                        {"wq", &l.wq},
                        {"wk", &l.wk},
                        {"wv", &l.wv},
                        {"bq", &l.bq},
                        {"bk", &l.bk},
                        {"bv", &l.bv},
                        {"wo", &l.wo},
                        {"mlp_norm", &l.mlp_norm},
                        {"w_gate", &l.w_gate},
                        {"w_up", &l.w_up},
                        {"w_down", &l.w_down}})
      out.emplace_back(p + n, t);
  }
  out.emplace_back("final_norm", &w.final_norm);
  out.emplace_back("lm_head", &w.lm_head);
  return out;
}

inline void check_same_weights(const ModelWeights& a, const ModelWeights& b) {
  auto na = named(a), nb = named(b);
  REQUIRE(na.size() == nb.size());
  for (size_t i = 0; i < na.size(); ++i) {
    INFO(na[i].first);
    CHECK(same_bits(*na[i].second, *nb[i].second));
  }
}

inline json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

inline std::map<std::string, Tensor> read_all(const std::string& path) {
  SafetensorsFile f = SafetensorsFile::open(path);
  std::map<std::string, Tensor> out;
  for (const std::string& n : f.names()) out[n] = f.read(n, *f.info(n).dtype);
  return out;
}

// Writes config.json + model.safetensors into `dir`.
inline void write_hf_dir(const fs::path& dir, const json& config,
                         const std::map<std::string, Tensor>& tensors) {
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << config.dump(2);
  std::vector<std::pair<std::string, const Tensor*>> list;
  for (const auto& [n, t] : tensors) list.emplace_back(n, &t);
  write_safetensors((dir / "model.safetensors").string(), list);
}

inline std::string stories_bin() { return data_path("stories260K/stories260K.bin"); }

inline std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace radial::test
