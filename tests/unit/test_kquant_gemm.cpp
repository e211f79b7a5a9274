// Q4_K, Q5_K and Q6_K weight matrices on the CPU backend: the GEMM of
// gemm_kquant.h through gemm_xwt on every dispatch path (the scalar path is
// the definition), batch sizes and thread counts; its distance from the f32
// GEMM on the dequantized weights; GGUF files keeping their K-quant blocks;
// and generation with K-quant weights, batch-invariant. The AVX2 kernel's
// own comparisons: test_kquant_gemm_paths.cpp; the quantizers:
// test_kquant_quantize.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/cpu/gemm.h"
#include "engine/cpu/gemm_kernels.h"
#include "engine/cpu/gemm_kquant.h"
#include "engine/cpu/thread_pool.h"
#include "engine/gguf_loader.h"
#include "engine/gguf_writer.h"
#include "engine/kquant.h"
#include "engine/model_loader.h"
#include "engine_harness.h"
#include "gemm_paths.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;
using cpu::GemmPath;

namespace {

// A [m, k] K-quant matrix of random blocks: every quant, scale and min
// random, the f16 super-block scales small and finite.
Tensor random_kquant(DType dt, int64_t m, int64_t k, uint32_t seed) {
  Tensor t = Tensor::zeros(dt, {m, k});
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(-0.004f, 0.004f);
  auto* p = reinterpret_cast<uint8_t*>(t.data());
  for (size_t i = 0; i < t.nbytes; ++i) p[i] = static_cast<uint8_t>(byte(rng));
  const int64_t bytes = kquant_block_bytes(dt);
  const auto put = [](uint8_t* at, float v) {
    const uint16_t h = f32_to_f16(v);
    std::memcpy(at, &h, 2);
  };
  for (int64_t b = 0; b < m * (k / kKQuantBlock); ++b) {
    uint8_t* block = p + b * bytes;
    if (dt != DType::kQ6_K) {  // Q4_K, Q5_K: d and dmin
      put(block, std::fabs(scale(rng)));
      put(block + 2, std::fabs(scale(rng)));
    } else {
      put(block + 208, scale(rng));
    }
  }
  return t;
}

Tensor random_rows(int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, 1.f);
  Tensor t = Tensor::zeros(DType::kF32, {n, k});
  for (int64_t i = 0; i < n * k; ++i) t.f32()[i] = dist(rng);
  return t;
}

}  // namespace

TEST_CASE("K-quant GEMM: one definition on every path, batch size and thread count",
          "[dtype][gemm][kquant]") {
  cpu::ThreadPool pool(2);
  for (DType dt : {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    for (int64_t k : {256, 768, 2048}) {
      const int64_t m = k == 2048 ? 70 : 37;
      const Tensor w = random_kquant(dt, m, k, static_cast<uint32_t>(k) + 11);
      std::vector<float> bias(static_cast<size_t>(m));
      for (int64_t j = 0; j < m; ++j) bias[j] = 0.01f * static_cast<float>(j);
      const Tensor xs = random_rows(17, k, 5);
      std::vector<float> want(static_cast<size_t>(17 * m));
      cpu::gemm_xwt_on(GemmPath::kScalar, xs.f32(), k, w, bias.data(), want.data(), m, 17, nullptr);
      for (GemmPath p : supported_gemm_paths()) {
        for (int64_t n : {1, 2, 3, 5, 8, 17}) {
          for (cpu::ThreadPool* tp : {static_cast<cpu::ThreadPool*>(nullptr), &pool}) {
            INFO(dtype_name(dt) << " k " << k << " n " << n << " on " << cpu::gemm_path_name(p)
                                << (tp ? " (2 threads)" : ""));
            std::vector<float> y(static_cast<size_t>(n * m));
            cpu::gemm_xwt_on(p, xs.f32(), k, w, bias.data(), y.data(), m, n, tp);
            CHECK(std::memcmp(y.data(), want.data(), y.size() * 4) == 0);
          }
        }
        // Without a bias, into a wider y.
        INFO(dtype_name(dt) << " k " << k << " no bias on " << cpu::gemm_path_name(p));
        std::vector<float> plain(static_cast<size_t>(3 * m)),
            wide(static_cast<size_t>(3 * (m + 5)));
        cpu::gemm_xwt_on(GemmPath::kScalar, xs.f32(), k, w, nullptr, plain.data(), m, 3, nullptr);
        cpu::gemm_xwt_on(p, xs.f32(), k, w, nullptr, wide.data(), m + 5, 3, nullptr);
        for (int64_t i = 0; i < 3; ++i)
          CHECK(std::memcmp(wide.data() + i * (m + 5), plain.data() + i * m, m * 4) == 0);
      }
    }
  }
}

TEST_CASE("K-quant GEMM: within the 8-bit rounding of x of the f32 GEMM on the dequantized weights",
          "[dtype][gemm][kquant]") {
  for (DType dt : {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    const int64_t m = 29, k = 1024, n = 6;
    const Tensor w = random_kquant(dt, m, k, 77);
    const Tensor wide = w.to(DType::kF32);
    const Tensor xs = random_rows(n, k, 8);
    std::vector<float> got(static_cast<size_t>(n * m)), exact(got.size());
    cpu::gemm_xwt(xs.f32(), k, w, nullptr, got.data(), m, n, nullptr);
    cpu::gemm_xwt(xs.f32(), k, wide.f32(), nullptr, exact.data(), m, n, m, k, nullptr);
    int64_t outside = 0;
    double worst = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float* x = xs.f32() + i * k;
      for (int64_t j = 0; j < m; ++j) {
        // Half a quantization step of x (max|x| / 254 per 32-value block)
        // times |w|, plus f32 rounding of the sums.
        double bound = 0, mass = 0;
        for (int64_t b = 0; b * 32 < k; ++b) {
          double amax = 0, wsum = 0;
          for (int64_t t = b * 32; t < b * 32 + 32; ++t) {
            amax = std::max(amax, std::fabs(static_cast<double>(x[t])));
            wsum += std::fabs(static_cast<double>(wide.f32()[j * k + t]));
            mass += std::fabs(static_cast<double>(wide.f32()[j * k + t]) * x[t]);
          }
          bound += amax / 254 * wsum;
        }
        bound = bound * 1.001 + mass * 1e-5;
        const double err = std::fabs(static_cast<double>(got[i * m + j]) - exact[i * m + j]);
        worst = std::max(worst, err / bound);
        outside += err > bound;
      }
    }
    INFO(dtype_name(dt) << ": worst error / bound " << worst);
    CHECK(outside == 0);
    CHECK(worst > 0);  // the activations are rounded: not the f32 result
  }
}

TEST_CASE("K-quant GEMM: a matrix whose rows are not whole 256-value blocks is refused",
          "[dtype][kquant]") {
  expect_error(
      [] {
        Tensor::zeros(DType::kQ4_K, {4, 100});
      },
      ErrorCode::kInvalidArgument, {"Q4_K", "256", "[4, 100]"});
  expect_error(
      [] {
        Tensor::zeros(DType::kF32, {2, 64}).to(DType::kQ6_K);
      },
      ErrorCode::kInvalidArgument, {"Q6_K", "256"});
}

TEST_CASE(
    "CPU backend: Q4_K_M and Q5_K_M GGUFs keep their K-quant blocks and generate "
    "batch-invariantly",
    "[dtype][kquant][batch]") {
  const auto out_type = GENERATE(GgufOutType::kQ4_K_M, GgufOutType::kQ5_K_M);
  const DType base = out_type == GgufOutType::kQ4_K_M ? DType::kQ4_K : DType::kQ5_K;
  INFO(gguf_out_type_name(out_type));
  TempDir dir("kquant-model");
  ModelConfig c;  // every matrix's rows whole 256-value blocks
  c.hidden_size = 256;
  c.intermediate_size = 768;
  c.num_layers = 3;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 64;
  c.vocab_size = 300;
  c.max_position_embeddings = 128;
  c.rope_layout = RopeLayout::kInterleaved;
  save_gguf_model(make_random_model(c, 21), dir.file("m.gguf"), out_type, "m", {});
  auto quant =
      std::make_shared<ModelWeights>(load_gguf_model(dir.file("m.gguf"), {.matrix_dtype = {}}));
  auto wide = std::make_shared<ModelWeights>(load_gguf_model(dir.file("m.gguf")));
  CHECK(quant->layers[1].wq.dtype == base);
  CHECK(quant->layers[2].w_down.dtype == DType::kQ6_K);  // use_more_bits(2, 3)
  CHECK(quant->lm_head.dtype == DType::kQ6_K);
  CHECK(wide->layers[1].wq.dtype == DType::kF32);
  CHECK(quant->weight_bytes() * 4 < wide->weight_bytes());

  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < 4; ++i) {
    GenerateRequest r;
    for (int t = 0; t <= 3 * i; ++t) r.prompt.push_back((37 * t + 11 * i + 1) % c.vocab_size);
    r.max_tokens = 10;
    r.ignore_eos = true;
    r.keep_prompt_logits = true;
    reqs.push_back(r);
  }
  const auto batched = run_requests(quant, nullptr, reqs, nullptr, 4096, 2);
  const auto exact = run_requests(wide, nullptr, reqs, nullptr, 4096, 1);
  double worst = 0, scale = 0;
  for (size_t i = 0; i < reqs.size(); ++i) {
    INFO("request " << i);
    REQUIRE(batched[i].finish != FinishReason::kError);
    // Alone, on one thread: the same tokens and prompt logits, bit for bit.
    const auto solo = run_requests(quant, nullptr, {reqs[i]})[0];
    CHECK(token_ids(solo) == token_ids(batched[i]));
    CHECK(solo.prompt_logits == batched[i].prompt_logits);
    // Near the f32 computation on the dequantized weights (8-bit activations).
    for (size_t p = 0; p < batched[i].prompt_logits.size(); ++p)
      for (size_t v = 0; v < batched[i].prompt_logits[p].size(); ++v) {
        const double want = exact[i].prompt_logits[p][v];
        worst = std::max(worst, std::fabs(batched[i].prompt_logits[p][v] - want));
        scale = std::max(scale, std::fabs(want));
      }
  }
  INFO("largest logit difference " << worst << " of logits up to " << scale);
  CHECK(worst > 0);
  CHECK(worst < 0.02 * scale);
}
