// Seeded random weights with the shapes of a config (for benchmarks and tests).
//
// Determinism: values depend only on (seed, tensor, element index) -- not on
// the thread count, the C++ library, libm or the instruction set. Each tensor is cut into blocks
// of kBlock elements; block b of tensor stream s draws from a counter-based
// splitmix64 keyed by (seed, s, b), and normals come from Box-Muller with our
// own polynomial log/sin/cos (no std::normal_distribution, no libm).
#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include "engine/error.h"
#include "engine/model_loader.h"
#include "engine/random.h"
#include "engine/safetensors.h"

// Fused multiply-adds would change the rounding (e.g. under -march=native or
// on aarch64), so contraction is off for this file.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace radial {
namespace {

constexpr int64_t kBlock = 8192;  // elements per independently seeded block

constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ull;  // splitmix64 increment

// The helpers below are branch-free float arithmetic so that the loop in
// normal_block vectorises, and so that no libm function is involved.

// ln(u) for u in (0, 1]: u = m * 2^e with m in [1, 2), ln m = 2 atanh(s),
// s = (m - 1) / (m + 1) in [0, 1/3]; odd series to s^11 (error < 1e-7).
inline float fast_log(float u) {
  const uint32_t bits = std::bit_cast<uint32_t>(u);
  const float e = static_cast<float>(static_cast<int32_t>(bits >> 23) - 127);
  const float m = std::bit_cast<float>((bits & 0x007fffffu) | 0x3f800000u);
  const float s = (m - 1.f) / (m + 1.f), s2 = s * s;
  const float p =
      1.f + s2 * (1.f / 3 + s2 * (1.f / 5 + s2 * (1.f / 7 + s2 * (1.f / 9 + s2 * (1.f / 11)))));
  return 2.f * s * p + e * 0.693147180559945f;
}

// sqrt(x) for x > 0: the classic 1/sqrt bit-trick seed and three Newton
// steps, accurate to a few float ulps.
inline float fast_sqrt(float x) {
  float y = std::bit_cast<float>(0x5f3759dfu - (std::bit_cast<uint32_t>(x) >> 1));
  y = y * (1.5f - 0.5f * x * y * y);
  y = y * (1.5f - 0.5f * x * y * y);
  y = y * (1.5f - 0.5f * x * y * y);
  return x * y;
}

// sin and cos of 2*pi*t for t in [0, 1): quadrant reduction, then Taylor
// polynomials on [0, pi/2) to x^11 and x^10 (truncation error < 1e-6). The
// quadrant rotation uses integer bit operations (float selects would keep
// GCC from vectorising under the default -ftrapping-math).
inline void fast_sincos_2pi(float t, float* s, float* c) {
  const float q4 = t * 4.f;
  const int32_t q = static_cast<int32_t>(q4);
  const float x = (q4 - static_cast<float>(q)) * 1.57079632679489662f, x2 = x * x;
  const float sn =
      x * (1.f + x2 * (-1.f / 6 + x2 * (1.f / 120 +
                                        x2 * (-1.f / 5040 + x2 * (1.f / 362880 - x2 / 39916800)))));
  const float cs =
      1.f + x2 * (-0.5f + x2 * (1.f / 24 + x2 * (-1.f / 720 + x2 * (1.f / 40320 - x2 / 3628800))));
  const uint32_t sb = std::bit_cast<uint32_t>(sn), cb = std::bit_cast<uint32_t>(cs);
  const uint32_t odd = 0u - static_cast<uint32_t>(q & 1);  // all ones in quadrants 1 and 3
  const uint32_t a = (cb & odd) | (sb & ~odd), b = (sb & odd) | (cb & ~odd);
  *s = std::bit_cast<float>(a ^ (static_cast<uint32_t>(q & 2) << 30));        // - in 2, 3
  *c = std::bit_cast<float>(b ^ (static_cast<uint32_t>((q + 1) & 2) << 30));  // - in 1, 2
}

// Writes n <= kBlock values of N(0, stddev) into out[0..n) (out must have
// room for n rounded up to even): pair i comes from the 64-bit draw
// mix64(key + (i + 1) * kGamma) by Box-Muller, with 23 and 24 bits for the
// two uniforms.
void normal_block(uint64_t key, float stddev, int64_t n, float* out) {
  const int64_t pairs = (n + 1) / 2;
  alignas(64) int32_t a[kBlock / 2], b[kBlock / 2];
  for (int64_t i = 0; i < pairs; ++i) {
    const uint64_t x = mix64(key + static_cast<uint64_t>(i + 1) * kGamma);
    a[i] = static_cast<int32_t>(x >> 41);
    b[i] = static_cast<int32_t>((x >> 16) & 0xffffff);
  }
  for (int64_t i = 0; i < pairs; ++i) {
    const float u1 = static_cast<float>(2 * a[i] + 1) * 0x1p-24f;  // (0, 1), exact
    const float u2 = static_cast<float>(b[i]) * 0x1p-24f;          // [0, 1)
    const float r = fast_sqrt(-2.f * fast_log(u1)) * stddev;
    float sn, cs;
    fast_sincos_2pi(u2, &sn, &cs);
    out[2 * i] = r * cs;
    out[2 * i + 1] = r * sn;
  }
}

struct Job {
  Tensor* t;
  uint64_t stream;
  float stddev;  // 0: fill with ones
};

void run_jobs(const std::vector<Job>& jobs, uint64_t seed) {
  std::vector<std::pair<size_t, int64_t>> blocks;  // (job, block index)
  for (size_t j = 0; j < jobs.size(); ++j)
    for (int64_t b = 0; b * kBlock < jobs[j].t->numel(); ++b) blocks.emplace_back(j, b);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    std::vector<float> buf(kBlock);
    for (size_t k; (k = next.fetch_add(1)) < blocks.size();) {
      const Job& job = jobs[blocks[k].first];
      const int64_t b = blocks[k].second, begin = b * kBlock;
      const int64_t n = std::min(kBlock, job.t->numel() - begin);
      if (job.stddev == 0.f) {
        std::fill(buf.begin(), buf.begin() + n, 1.f);
      } else {
        const uint64_t key = mix64(seed ^ mix64(job.stream * 0x100000001b3ull + 0x51ed27) ^
                                   mix64(static_cast<uint64_t>(b) + 0x2545f4914f6cdd1dull));
        normal_block(key, job.stddev, n, buf.data());
      }
      const size_t es = dtype_size(job.t->dtype);
      convert_elements(buf.data(), DType::kF32, job.t->data() + begin * es, job.t->dtype,
                       static_cast<size_t>(n));
    }
  };
  const size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1,
                                            std::min<size_t>(blocks.size(), 64) + 1);
  std::vector<std::thread> pool;
  for (size_t i = 1; i < threads; ++i) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}

}  // namespace

ModelWeights make_random_model(const ModelConfig& config, uint64_t seed, const LoadOptions& opts) {
  config.validate();
  ModelWeights w;
  w.config = config;
  const ModelConfig& c = w.config;
  const int64_t d = c.hidden_size, ff = c.intermediate_size, q = c.q_dim(), kv = c.kv_dim();
  // Generated in F32 (or directly in F16/BF16, rounded); Q8_0 is quantized
  // from F32 afterwards. Vectors are F32.
  const DType want = matrix_dtype_for(opts, DType::kF32);
  const DType dt = want == DType::kQ8_0 ? DType::kF32 : want;
  constexpr float kStd = 0.02f;
  std::vector<Job> jobs;
  // Stream ids are fixed per tensor so a tensor's values never depend on
  // which other tensors exist.
  auto add = [&](Tensor& t, std::vector<int64_t> shape, uint64_t stream, float stddev) {
    const DType type = shape.size() == 2 ? dt : DType::kF32;
    t = Tensor::zeros(type, std::move(shape));
    jobs.push_back({&t, stream, stddev});
  };
  add(w.embed, {c.vocab_size, d}, 0, kStd);
  w.layers.resize(c.num_layers);
  for (int i = 0; i < c.num_layers; ++i) {
    LayerWeights& l = w.layers[i];
    const uint64_t s = 16 + 16 * static_cast<uint64_t>(i);
    add(l.attn_norm, {d}, s + 0, 0.f);
    add(l.wq, {q, d}, s + 1, kStd);
    add(l.wk, {kv, d}, s + 2, kStd);
    add(l.wv, {kv, d}, s + 3, kStd);
    add(l.wo, {d, q}, s + 4, kStd);
    add(l.mlp_norm, {d}, s + 5, 0.f);
    add(l.w_gate, {ff, d}, s + 6, kStd);
    add(l.w_up, {ff, d}, s + 7, kStd);
    add(l.w_down, {d, ff}, s + 8, kStd);
    if (c.attention_bias) {
      add(l.bq, {q}, s + 9, kStd);
      add(l.bk, {kv}, s + 10, kStd);
      add(l.bv, {kv}, s + 11, kStd);
    }
    if (c.qk_norm) {  // unit weights, as the other norms
      add(l.q_norm, {c.head_dim}, s + 12, 0.f);
      add(l.k_norm, {c.head_dim}, s + 13, 0.f);
    }
  }
  add(w.final_norm, {d}, 1, 0.f);
  if (!c.tie_word_embeddings) add(w.lm_head, {c.vocab_size, d}, 2, kStd);
  run_jobs(jobs, seed);
  if (want == DType::kQ8_0) {
    for (const Job& job : jobs)
      if (job.t->shape.size() == 2) *job.t = as_matrix_dtype(*job.t, want);
  }
  if (c.tie_word_embeddings) w.lm_head = w.embed;
  w.validate();
  return w;
}

}  // namespace radial
