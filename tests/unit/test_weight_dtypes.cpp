// Compact weight matrices on the CPU backend (BF16, F16, Q8_0): the Q8_0
// quantizer, exact conversions, the tensor GEMM (BF16/F16: bit-identical to
// the f32 GEMM on the widened values; Q8_0: the integer definition of
// gemm_q8.h, identical on every path, within the bound of 8-bit activations
// of f32), on every dispatch path, batch size and thread count; loading in
// each dtype (HF, llama2.c, random, GGUF keeping its file's types), and
// generation equal to f32 matrices holding the same values (BF16/F16) or
// batch-invariant (Q8_0).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "engine/cpu/gemm.h"
#include "engine/cpu/gemm_kernels.h"
#include "engine/cpu/gemm_q8.h"
#include "engine/cpu/thread_pool.h"
#include "engine/gguf_loader.h"
#include "engine/model_loader.h"
#include "engine_harness.h"
#include "gemm_paths.h"
#include "kernels/backend_factory.h"
#include "test_util.h"

using namespace radial;
using namespace radial::test;
using cpu::GemmPath;

namespace {

constexpr DType kCompact[] = {DType::kBF16, DType::kF16, DType::kQ8_0};
constexpr DType kExact[] = {DType::kBF16, DType::kF16};

Tensor random_matrix(int64_t m, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, 0.05f);
  Tensor t = Tensor::zeros(DType::kF32, {m, k});
  for (int64_t i = 0; i < m * k; ++i) t.f32()[i] = dist(rng);
  return t;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

// Every matrix of `w` converted to F32 (the values the compact model stands for).
std::shared_ptr<ModelWeights> widened(const ModelWeights& w) {
  auto out = std::make_shared<ModelWeights>(w);
  out->embed = w.embed.to(DType::kF32);
  for (LayerWeights& l : out->layers)
    for (Tensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      *t = t->to(DType::kF32);
  out->lm_head = w.config.tie_word_embeddings ? out->embed : w.lm_head.to(DType::kF32);
  out->validate();
  return out;
}

}  // namespace

TEST_CASE("Q8_0: GGUF's quantization rule, padding and exact values", "[dtype]") {
  // One block with max |x| = 2.54: d = 0.02, q = round(x / d), half away from 0.
  std::vector<float> x(40, 0.f);
  x[0] = 2.54f;
  x[1] = -2.54f;
  x[2] = 0.03f;   // 1.5 -> 2
  x[3] = -0.03f;  // -1.5 -> -2
  x[33] = 1.f;    // second block (partial: 8 values, 24 padding)
  Tensor t = Tensor::zeros(DType::kF32, {1, 40});
  std::memcpy(t.f32(), x.data(), 40 * 4);
  const Tensor q = t.to(DType::kQ8_0);
  CHECK(q.nbytes == 64 + 2 * 2);
  CHECK(q.q8_quants()[0] == 127);
  CHECK(q.q8_quants()[1] == -127);
  CHECK(q.q8_quants()[2] == 2);
  CHECK(q.q8_quants()[3] == -2);
  CHECK(q.q8_quants()[33] == 127);
  for (int i = 40; i < 64; ++i) CHECK(q.q8_quants()[i] == 0);
  CHECK(q.q8_scales()[0] == f32_to_f16(2.54f / 127.f));
  const Tensor back = q.to(DType::kF32);
  for (int i = 0; i < 40; ++i) {
    const float d = f16_to_f32(q.q8_scales()[i / 32]);
    CHECK(back.f32()[i] == d * static_cast<float>(q.q8_quants()[i]));  // exact
    CHECK(std::fabs(back.f32()[i] - x[i]) <= d * 0.5f + std::fabs(x[i]) * 1e-3f);
  }
  // An all-zero block has d = 0 and stays zero.
  const Tensor z = Tensor::zeros(DType::kF32, {2, 32}).to(DType::kQ8_0);
  CHECK(z.q8_scales()[0] == 0);
  CHECK(z.to(DType::kF32).f32()[5] == 0.f);
}

TEST_CASE("Compact weights: widening is exact on every path", "[dtype]") {
  const Tensor f = random_matrix(7, 100, 1);
  for (DType dt : kCompact) {
    const Tensor c = f.to(dt);
    const Tensor want = c.to(DType::kF32);
    for (GemmPath p : supported_gemm_paths()) {
      INFO(dtype_name(dt) << " on " << cpu::gemm_path_name(p));
      std::vector<float> out(5 * 100);
      cpu::widen_rows_on(p, c, 2, 5, out.data());
      CHECK(std::memcmp(out.data(), want.f32() + 200, out.size() * 4) == 0);
    }
  }
}

TEST_CASE("Compact weights: the GEMM equals the f32 GEMM on the widened values, bit for bit",
          "[dtype][gemm]") {
  cpu::ThreadPool pool(2);
  for (int64_t k : {8, 40, 64, 100, 1100}) {
    const int64_t m = k == 1100 ? 70 : 37;
    const Tensor f = random_matrix(m, k, static_cast<uint32_t>(k));
    const std::vector<float> bias = [&] {
      std::vector<float> b(static_cast<size_t>(m));
      for (int64_t j = 0; j < m; ++j) b[j] = 0.01f * static_cast<float>(j);
      return b;
    }();
    const Tensor xs = random_matrix(17, k, 99);
    for (DType dt : kExact) {
      const Tensor c = f.to(dt);
      const Tensor wide = c.to(DType::kF32);
      std::vector<float> first;
      for (GemmPath p : supported_gemm_paths()) {
        for (int64_t n : {1, 2, 3, 5, 8, 17}) {
          for (cpu::ThreadPool* tp : {static_cast<cpu::ThreadPool*>(nullptr), &pool}) {
            INFO(dtype_name(dt) << " k " << k << " n " << n << " on " << cpu::gemm_path_name(p)
                                << (tp ? " (2 threads)" : ""));
            std::vector<float> y(static_cast<size_t>(n * m)), ref(y.size());
            cpu::gemm_xwt_on(p, xs.f32(), k, c, bias.data(), y.data(), m, n, tp);
            cpu::gemm_xwt_on(p, xs.f32(), k, wide.f32(), bias.data(), ref.data(), m, n, m, k,
                             nullptr);
            CHECK(same_bits(y, ref));
            // Row 0 does not depend on the batch or the path.
            std::vector<float> row0(y.begin(), y.begin() + m);
            if (first.empty()) first = row0;
            CHECK(same_bits(row0, first));
          }
        }
      }
    }
  }
}

TEST_CASE("Q8_0 GEMM: one definition on every path, batch-invariant, near f32", "[dtype][gemm]") {
  cpu::ThreadPool pool(2);
  for (int64_t k : {8, 40, 64, 100, 1100}) {
    const int64_t m = k == 1100 ? 70 : 37;
    const Tensor f = random_matrix(m, k, static_cast<uint32_t>(k) + 5);
    const Tensor q = f.to(DType::kQ8_0);
    const Tensor wide = q.to(DType::kF32);
    std::vector<float> bias(static_cast<size_t>(m));
    for (int64_t j = 0; j < m; ++j) bias[j] = 0.01f * static_cast<float>(j);
    const Tensor xs = random_matrix(17, k, 98);
    // The scalar path is the definition.
    std::vector<float> want(static_cast<size_t>(17 * m));
    cpu::gemm_xwt_on(GemmPath::kScalar, xs.f32(), k, q, bias.data(), want.data(), m, 17, nullptr);
    for (GemmPath p : supported_gemm_paths()) {
      for (int64_t n : {1, 2, 3, 5, 8, 17}) {
        for (cpu::ThreadPool* tp : {static_cast<cpu::ThreadPool*>(nullptr), &pool}) {
          INFO("k " << k << " n " << n << " on " << cpu::gemm_path_name(p)
                    << (tp ? " (2 threads)" : ""));
          std::vector<float> y(static_cast<size_t>(n * m));
          cpu::gemm_xwt_on(p, xs.f32(), k, q, bias.data(), y.data(), m, n, tp);
          CHECK(std::memcmp(y.data(), want.data(), y.size() * 4) == 0);
        }
      }
    }
    // Against f32 on the same weights: off by at most the 8-bit rounding of x
    // (half a step, max|x| / 254 per 32-value block, times |w|).
    std::vector<float> exact(want.size());
    cpu::gemm_xwt_on(GemmPath::kScalar, xs.f32(), k, wide.f32(), bias.data(), exact.data(), m, 17,
                     m, k, nullptr);
    int64_t outside = 0;
    for (int64_t i = 0; i < 17; ++i) {
      const float* x = xs.f32() + i * k;
      for (int64_t j = 0; j < m; ++j) {
        double bound = 1e-6;
        for (int64_t b = 0; b * 32 < k; ++b) {
          double amax = 0, wsum = 0;
          for (int64_t t = b * 32; t < std::min(k, b * 32 + 32); ++t) {
            amax = std::max(amax, std::fabs(static_cast<double>(x[t])));
            wsum += std::fabs(static_cast<double>(wide.f32()[j * k + t]));
          }
          bound += amax / 254 * wsum * 1.001;
        }
        outside += std::fabs(want[i * m + j] - exact[i * m + j]) > bound;
      }
    }
    CHECK(outside == 0);
  }
}

TEST_CASE("Q8_0 GEMM: the activation quantizer rounds half away from zero, same on every path",
          "[dtype][gemm]") {
  // A block with max |x| = 127 has scale 1: the quants are the rounded values.
  std::vector<float> x = {127.f,       2.5f,    -2.5f,      0.5f,   -0.5f,
                          0.49999997f, -126.5f, 3.4999998f, 1e-40f, -0.f};
  x.resize(40, 0.25f);
  x[35] = std::numeric_limits<float>::quiet_NaN();
  std::vector<int8_t> q(64);
  std::vector<float> d(2);
  cpu::quantize_row_q8_scalar(x.data(), 40, q.data(), d.data());
  CHECK(d[0] == 1.f);
  const std::vector<int8_t> want = {127, 3, -3, 1, -1, 0, -127, 3, 0, 0};
  CHECK(std::vector<int8_t>(q.begin(), q.begin() + 10) == want);
  CHECK(q[35] == 0);
  for (int i = 40; i < 64; ++i) CHECK(q[i] == 0);
  // Tiny and huge blocks.
  std::vector<float> tiny(32, 1e-39f), huge(32, 1.f);
  huge[3] = std::numeric_limits<float>::infinity();
  cpu::quantize_row_q8_scalar(tiny.data(), 32, q.data(), d.data());
  CHECK(q[0] == 0);
  cpu::quantize_row_q8_scalar(huge.data(), 32, q.data(), d.data());
  CHECK(q[0] == 0);
  // The AVX-512 version gives the same bytes and scales on random rows.
  if (cpu::q8_vnni_supported()) {
    std::mt19937 rng(3);
    std::normal_distribution<float> dist(0.f, 3.f);
    for (int64_t k : {1, 31, 32, 33, 100, 768}) {
      std::vector<float> r(static_cast<size_t>(k));
      for (float& v : r) v = dist(rng);
      if (k > 40) r[7] = std::numeric_limits<float>::quiet_NaN();
      const int64_t kp = q8_row_stride(k);
      std::vector<int8_t> qa(kp), qb(kp);
      std::vector<float> da(kp / 32), db(kp / 32);
      cpu::quantize_row_q8_scalar(r.data(), k, qa.data(), da.data());
      cpu::quantize_row_q8_avx512(r.data(), k, qb.data(), db.data());
      CHECK(qa == qb);
      CHECK(da == db);
    }
    cpu::quantize_row_q8_avx512(x.data(), 40, q.data(), d.data());
    CHECK(std::vector<int8_t>(q.begin(), q.begin() + 10) == want);
  }
}

TEST_CASE("Loading: each matrix dtype, norms always F32", "[dtype][loader]") {
  const std::string dir = default_model_dir();
  const ModelWeights f32 = load_hf_model(dir);
  for (DType dt : kCompact) {
    INFO(dtype_name(dt));
    const ModelWeights w = load_hf_model(dir, {.matrix_dtype = dt});
    for (const Tensor* t : w.matrices()) CHECK(t->dtype == dt);
    CHECK(w.layers[0].attn_norm.dtype == DType::kF32);
    CHECK(w.final_norm.dtype == DType::kF32);
    CHECK(w.lm_head.storage == w.embed.storage);
    // The same tensors as converting the F32 load.
    const Tensor want = f32.layers[2].w_down.to(dt);
    REQUIRE(w.layers[2].w_down.nbytes == want.nbytes);
    CHECK(std::memcmp(w.layers[2].w_down.data(), want.data(), want.nbytes) == 0);
    CHECK(w.weight_bytes() < f32.weight_bytes() * 6 / 10);
    // llama2.c and random weights take the option too.
    const ModelWeights l2 =
        load_model(data_path("stories260K/stories260K.bin"), {.matrix_dtype = dt});
    CHECK(l2.layers[1].wq.dtype == dt);
    const ModelWeights r = make_random_model(f32.config, 3, {.matrix_dtype = dt});
    CHECK(r.layers[1].w_up.dtype == dt);
    CHECK(r.layers[1].mlp_norm.dtype == DType::kF32);
  }
  // auto keeps the file's type: the BF16 checkpoint stays BF16, the F32 one F32.
  const ModelWeights b = load_hf_model(data_path("stories260K-hf-bf16"), {.matrix_dtype = {}});
  CHECK(b.layers[0].wq.dtype == DType::kBF16);
  CHECK(load_hf_model(dir, {.matrix_dtype = {}}).layers[0].wq.dtype == DType::kF32);
}

TEST_CASE("Loading: a GGUF file keeps F16, BF16, Q8_0 and Q4_K tensors as they are",
          "[dtype][gguf]") {
  const std::string path = data_path("gguf/tiny_mixed.gguf");
  const ModelWeights f = load_gguf_model(path);
  const ModelWeights a = load_gguf_model(path, {.matrix_dtype = {}});
  const LayerWeights& l = a.layers[0];
  CHECK(l.wq.dtype == DType::kF16);
  CHECK(l.wk.dtype == DType::kBF16);
  CHECK(l.w_gate.dtype == DType::kQ8_0);
  CHECK(l.w_down.dtype == DType::kQ4_K);
  auto fn = f.matrices(), an = a.matrices();
  for (size_t i = 0; i < fn.size(); ++i) {
    const Tensor wide = an[i]->to(DType::kF32);
    CHECK(std::memcmp(wide.data(), fn[i]->data(), fn[i]->nbytes) == 0);
  }
  // Asking for Q8_0 keeps a Q8_0 tensor's own blocks (no requantization).
  const ModelWeights q = load_gguf_model(path, {.matrix_dtype = DType::kQ8_0});
  CHECK(std::memcmp(q.layers[0].w_gate.data(), l.w_gate.data(), l.w_gate.nbytes) == 0);
}

TEST_CASE(
    "CPU backend: BF16/F16 matrices generate what f32 matrices of the same values do; "
    "Q8_0 is batch-invariant",
    "[dtype][batch]") {
  const ModelWeights base = load_hf_model(default_model_dir());
  std::vector<GenerateRequest> reqs;
  for (const std::vector<int>& p :
       std::vector<std::vector<int>>{{1, 403, 407, 261, 378}, {1, 291, 376}, {1}}) {
    GenerateRequest r;
    r.prompt = p;
    r.max_tokens = 12;
    r.ignore_eos = true;
    r.logprobs = 3;
    reqs.push_back(r);
  }
  for (DType dt : kCompact) {
    INFO(dtype_name(dt));
    auto compact =
        std::make_shared<ModelWeights>(load_hf_model(default_model_dir(), {.matrix_dtype = dt}));
    auto wide = widened(*compact);
    const auto got = run_requests(compact, nullptr, reqs, nullptr, 4096, 2);
    const auto want = run_requests(wide, nullptr, reqs, nullptr, 4096, 1);
    for (size_t i = 0; i < reqs.size(); ++i) {
      // Solo equals batched (on another thread count).
      CHECK(token_ids(run_requests(compact, nullptr, {reqs[i]})[0]) == token_ids(got[i]));
      if (dt == DType::kQ8_0) continue;  // 8-bit activations: not the f32 values
      REQUIRE(got[i].tokens.size() == want[i].tokens.size());
      CHECK(token_ids(got[i]) == token_ids(want[i]));
      for (size_t t = 0; t < got[i].tokens.size(); ++t) {
        CHECK(got[i].tokens[t].logprob == want[i].tokens[t].logprob);
        for (size_t j = 0; j < got[i].tokens[t].top_logprobs.size(); ++j)
          CHECK(got[i].tokens[t].top_logprobs[j].logprob ==
                want[i].tokens[t].top_logprobs[j].logprob);
      }
    }
  }
}

TEST_CASE("Backend choice: dtypes per backend", "[dtype]") {
  BackendChoice c;
  CHECK(load_matrix_dtype(c) == std::nullopt);  // cpu: auto
  CHECK(dtype_description(c) == "auto");
  c.dtype = DType::kQ8_0;
  CHECK_NOTHROW(check_backend_choice(c));
  CHECK(load_matrix_dtype(c) == DType::kQ8_0);
  CHECK(parse_dtype("q8_0") == DType::kQ8_0);
  CHECK(parse_dtype("int8") == std::nullopt);
  c.kind = "cuda";
  CHECK(load_matrix_dtype(c) == DType::kF32);  // converted at upload
  if (cuda_backend_built())
    expect_error([&] { check_backend_choice(c); }, ErrorCode::kInvalidArgument, {"q8_0"});
}
