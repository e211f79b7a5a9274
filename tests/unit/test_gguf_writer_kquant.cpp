// The GGUF writer's q4_k_m and q5_k_m out types: llama.cpp's Q4_K_M and
// Q5_K_M recipes of Q4_K / Q5_K and Q6_K tensors, each holding its source
// through the quantizer bit for bit, and the fallbacks for rows that are not
// whole 256-value blocks. The quantizers themselves:
// test_kquant_quantize.cpp.
#include <catch2/catch.hpp>

#include <cstring>
#include <iostream>
#include <sstream>
#include <tuple>
#include <vector>

#include "engine/gguf.h"
#include "engine/gguf_loader.h"
#include "engine/gguf_writer.h"
#include "engine/model_loader.h"
#include "kquant_test_util.h"
#include "test_util.h"
#include "tools/radial/commands.h"

using namespace radial;
using namespace radial::test;

namespace {

// `radial convert ARGS`: its exit code; `said` gets its output.
int run_convert(std::vector<std::string> args, std::string& said) {
  args.insert(args.begin(), "convert");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  std::ostringstream o;
  auto* old_out = std::cout.rdbuf(o.rdbuf());
  auto* old_err = std::cerr.rdbuf(o.rdbuf());
  const int rc = cli::cmd_convert(static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  said = o.str();
  return rc;
}

bool ends_with(const std::string& s, const std::string& end) {
  return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
}

// The GGUF file at `path` (a q4_0, q4_k_m or q5_k_m file of `w`, whose Q/K rows
// are interleaved so that none are permuted): general.file_type is
// `file_type`, and each tensor has type want(name) and holds the source's
// values through that type's quantizer, bit for bit, within the type's RMS
// error.
template <typename Want>
void check_k_mix_file(const std::string& path, const ModelWeights& w, int file_type, Want want) {
  const GgufFile f = GgufFile::open(path);
  CHECK(f.find("general.file_type")->i == file_type);
  std::vector<std::pair<std::string, const Tensor*>> src = {{"token_embd.weight", &w.embed},
                                                            {"output_norm.weight", &w.final_norm}};
  if (!w.config.tie_word_embeddings) src.emplace_back("output.weight", &w.lm_head);
  const char* names[] = {"attn_norm", "attn_q",   "attn_k", "attn_v",  "attn_output",
                         "ffn_norm",  "ffn_gate", "ffn_up", "ffn_down"};
  const Tensor LayerWeights::*members[] = {
      &LayerWeights::attn_norm, &LayerWeights::wq,   &LayerWeights::wk,
      &LayerWeights::wv,        &LayerWeights::wo,   &LayerWeights::mlp_norm,
      &LayerWeights::w_gate,    &LayerWeights::w_up, &LayerWeights::w_down};
  for (size_t i = 0; i < w.layers.size(); ++i)
    for (int k = 0; k < 9; ++k)
      src.emplace_back("blk." + std::to_string(i) + "." + names[k] + ".weight",
                       &(w.layers[i].*members[k]));
  CHECK(f.tensors().size() == src.size());
  for (const auto& [name, t] : src) {
    INFO(name);
    const GgufTensorInfo* info = f.tensor(name);
    REQUIRE(info);
    CHECK(ggml_type_name(info->type) == std::string(ggml_type_name(want(name))));
    const int64_t n = t->numel();
    std::vector<uint8_t> q(ggml_row_bytes(info->type, n));
    const float* x = t->f32();
    const GgmlType type = info->type;
    if (type == GgmlType::kQ4_K) quantize_row_q4_k(x, q.data(), n);
    if (type == GgmlType::kQ5_K) quantize_row_q5_k(x, q.data(), n);
    if (type == GgmlType::kQ6_K) quantize_row_q6_k(x, q.data(), n);
    if (type == GgmlType::kQ8_0) quantize_row_q8_0(x, q.data(), n);
    if (type == GgmlType::kQ4_0) quantize_row_q4_0(x, q.data(), n);
    if (type == GgmlType::kQ5_0) quantize_row_q5_0(x, q.data(), n);
    if (type == GgmlType::kQ5_1) quantize_row_q5_1(x, q.data(), n);
    if (type == GgmlType::kF16)
      for (int64_t i = 0; i < n; ++i) put_f16(&q[2 * i], x[i]);
    if (type == GgmlType::kF32) std::memcpy(q.data(), x, q.size());
    Block expect(n);
    ggml_dequantize(info->type, q.data(), expect.data(), n);
    const Tensor got = f.read_f32(*info);
    const Block y(got.f32(), got.f32() + got.numel()), a(x, x + n);
    CHECK(y == expect);
    const double bound =
        type == GgmlType::kQ4_K || type == GgmlType::kQ4_0                              ? 0.1
        : type == GgmlType::kQ5_K || type == GgmlType::kQ5_0 || type == GgmlType::kQ5_1 ? 0.05
                                                                                        : 0.02;
    CHECK(rms(a, &y) <= bound * rms(a));
  }
}

// The mixes' types for the 8-layer model of the tests below (untied):
// norms F32, output.weight Q6_K, attn_v and ffn_down Q6_K where
// use_more_bits(i, 8) holds (i < 1, i >= 7 or (i - 1) % 3 == 2: layers 0, 3,
// 6, 7), every other matrix `base`.
auto mix_of_8_layers(GgmlType base) {
  return [base](const std::string& n) {
    if (ends_with(n, "norm.weight")) return GgmlType::kF32;
    if (n == "output.weight") return GgmlType::kQ6_K;
    const bool v_or_down = ends_with(n, "attn_v.weight") || ends_with(n, "ffn_down.weight");
    for (const char* more : {"blk.0.", "blk.3.", "blk.6.", "blk.7."})
      if (v_or_down && n.rfind(more, 0) == 0) return GgmlType::kQ6_K;
    return base;
  };
}

// The mixes' types for a one-layer model with tied embeddings:
// token_embd.weight quantized as the output, use_more_bits(0, 1) holds.
auto mix_of_1_tied_layer(GgmlType base) {
  return [base](const std::string& n) {
    if (ends_with(n, "norm.weight")) return GgmlType::kF32;
    const bool v_or_down = ends_with(n, "attn_v.weight") || ends_with(n, "ffn_down.weight");
    return n == "token_embd.weight" || v_or_down ? GgmlType::kQ6_K : base;
  };
}

// A model whose every matrix has rows a multiple of 256.
ModelConfig whole_blocks_config() {
  ModelConfig c;
  c.hidden_size = 256;
  c.intermediate_size = 512;
  c.num_layers = 8;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 64;
  c.vocab_size = 96;
  c.max_position_embeddings = 64;
  c.rope_layout = RopeLayout::kInterleaved;
  return c;
}

}  // namespace

TEST_CASE("GGUF writer: q4_k_m and q5_k_m are llama.cpp's Q4_K_M and Q5_K_M mixes",
          "[gguf][kquant]") {
  struct Mix {
    const char* name;
    GgufOutType type;
    GgmlType base;
    DType dtype;
    int file_type;
  };
  const Mix mix = GENERATE(Mix{"q4_k_m", GgufOutType::kQ4_K_M, GgmlType::kQ4_K, DType::kQ4_K, 15},
                           Mix{"q5_k_m", GgufOutType::kQ5_K_M, GgmlType::kQ5_K, DType::kQ5_K, 17});
  INFO(mix.name);
  CHECK(parse_gguf_out_type(mix.name) == mix.type);
  CHECK(gguf_out_type_name(mix.type) == std::string(mix.name));
  TempDir dir("kquant-kmix");
  ModelConfig c = whole_blocks_config();
  const ModelWeights w = make_random_model(c, 3);
  save_gguf_model(w, dir.file("m.gguf"), mix.type, "m", {});
  check_k_mix_file(dir.file("m.gguf"), w, mix.file_type, mix_of_8_layers(mix.base));

  // radiald reads the blocks back as they are: Tensor::to's.
  const GgufFile f = GgufFile::open(dir.file("m.gguf"));
  const GgufTensorInfo* info = f.tensor("blk.1.attn_q.weight");
  REQUIRE(info);
  const Tensor kept = f.read_as(*info, mix.dtype), expect = w.layers[1].wq.to(mix.dtype);
  CHECK(kept.dtype == mix.dtype);
  REQUIRE(kept.nbytes == expect.nbytes);
  CHECK(std::memcmp(kept.data(), expect.data(), expect.nbytes) == 0);

  // Tied embeddings are quantized as the output.
  c.num_layers = 1;
  c.tie_word_embeddings = true;
  const ModelWeights tied = make_random_model(c, 4);
  save_gguf_model(tied, dir.file("t.gguf"), mix.type, "t", {});
  check_k_mix_file(dir.file("t.gguf"), tied, mix.file_type, mix_of_1_tied_layer(mix.base));

  // write_gguf itself: K-quant rows must be whole super-blocks.
  const Tensor t = Tensor::zeros(DType::kF32, {2, 64});
  const auto write = [&] { write_gguf(dir.file("b.gguf"), {}, {{"x.w", &t, mix.base}}); };
  expect_error(write, ErrorCode::kInvalidArgument, {"x.w", "64", "multiple of 256"});
}

TEST_CASE("GGUF writer: q4_k_m, q5_k_m fall back to Q5_0, Q5_1, Q8_0 (F16) as llama.cpp does",
          "[gguf][kquant]") {
  // stories260K: d = 64 (rows of 64: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K ->
  // Q8_0), hidden_dim 172 (ffn_down's rows: F16); 5 layers, tied (the
  // embedding is the output: Q6_K -> Q8_0), use_more_bits(i, 5) in layers 2
  // and 4. The llama2.c checkpoint the HF directory came from: interleaved
  // Q/K rows.
  const ModelWeights w = load_llama2c_model(data_path("stories260K/stories260K.bin"));
  TempDir dir("kquant-kmix-fallback");
  for (const auto& [type, file_type, base] :
       {std::tuple{"q4_k_m", 15, GgmlType::kQ5_0}, std::tuple{"q5_k_m", 17, GgmlType::kQ5_1}}) {
    INFO(type);
    const std::string out = dir.file(std::string(type) + ".gguf");
    std::string said;
    REQUIRE(run_convert(
                {"--input", default_model_dir(), "--to", "gguf", "--out-type", type, "--out", out},
                said) == 0);
    CHECK_THAT(said, Catch::Contains(std::string("GGUF ") + type));
    check_k_mix_file(out, w, file_type, [base = base](const std::string& n) {
      if (ends_with(n, "norm.weight")) return GgmlType::kF32;
      if (ends_with(n, "ffn_down.weight")) return GgmlType::kF16;
      if (n == "token_embd.weight" || n == "blk.2.attn_v.weight" || n == "blk.4.attn_v.weight")
        return GgmlType::kQ8_0;
      return base;
    });
    CHECK(load_gguf_model(out).config.hidden_size == 64);
  }
}

TEST_CASE("GGUF writer: q4_0 is llama.cpp's Q4_0 recipe", "[gguf][kquant]") {
  // Every matrix Q4_0 but the output, Q6_K (Q8_0 for rows of 64: the tied
  // stories260K embedding); ffn_down's rows of 172 are not whole blocks.
  const ModelWeights w = make_random_model(whole_blocks_config(), 3);
  TempDir dir("kquant-q4_0");
  const std::string path = dir.file("w.gguf");
  save_gguf_model(w, path, GgufOutType::kQ4_0, "w", {});
  check_k_mix_file(path, w, 2, [](const std::string& n) {
    if (ends_with(n, "norm.weight")) return GgmlType::kF32;
    return n == "output.weight" ? GgmlType::kQ6_K : GgmlType::kQ4_0;
  });
  LoadOptions keep;  // each matrix in its file's type where the CPU backend has it
  keep.matrix_dtype.reset();
  const ModelWeights got = load_gguf_model(path, keep);
  CHECK(got.layers[0].wq.dtype == DType::kQ8_0);  // Q4_0 has no CPU kernel: Q8_0 holds it
  CHECK(got.lm_head.dtype == DType::kQ6_K);

  std::string said;
  const std::string bad = dir.file("bad.gguf");
  CHECK(run_convert(
            {"--input", default_model_dir(), "--to", "gguf", "--out-type", "q4_0", "--out", bad},
            said) != 0);
  CHECK_THAT(said, Catch::Contains("ffn_down.weight") && Catch::Contains("172"));
}
