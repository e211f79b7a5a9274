// The K-quant GEMM kernels (engine/cpu/gemm_kquant.h) on Q4_K / Q5_K /
// Q6_K matrices of random blocks: the AVX2 kernel gives the scalar definition's
// bits for every shape, bias, column range and output stride; a row's result
// does not depend on the batch; and both are near the f32 GEMM on the
// dequantized weights (the error of 8-bit activations).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <tuple>
#include <vector>

#include "engine/cpu/gemm_kernels.h"
#include "engine/cpu/gemm_kquant.h"
#include "engine/cpu/gemm_q8.h"
#include "engine/kquant.h"
#include "engine/tensor.h"

using namespace radial;

namespace {

// An [m, k] K-quant matrix of random bytes, with moderate finite f16 scales.
Tensor random_kquant(DType dt, int64_t m, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  Tensor t = Tensor::zeros(dt, {m, k});
  const bool q6 = dt == DType::kQ6_K;  // else Q4_K / Q5_K: d, dmin at bytes 0 and 2
  const int64_t bytes = kquant_block_bytes(dt);
  for (int64_t r = 0; r < m; ++r) {
    auto* row = const_cast<uint8_t*>(t.kquant_row(r));
    for (int64_t b = 0; b < k / kKQuantBlock; ++b) {
      uint8_t* blk = row + b * bytes;
      for (int64_t i = 0; i < bytes; ++i) blk[i] = static_cast<uint8_t>(byte(rng));
      for (int64_t off : q6 ? std::vector<int64_t>{208} : std::vector<int64_t>{0, 2}) {
        const uint16_t h = f32_to_f16(scale(rng));
        blk[off] = static_cast<uint8_t>(h & 0xFF);
        blk[off + 1] = static_cast<uint8_t>(h >> 8);
      }
    }
  }
  return t;
}

std::vector<float> random_x(int64_t n, int64_t ld, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(n * ld));
  for (float& v : x) v = dist(rng);
  return x;
}

// quantize_rows_q8's thread-local buffers, copied so that two can coexist.
struct OwnedRows {
  std::vector<int8_t> qx;
  std::vector<float> dx, xs;
  int64_t kp = 0;
  OwnedRows(const float* x, int64_t ldx, int64_t n, int64_t k) {
    const cpu::QuantizedRows q = cpu::quantize_rows_q8(x, ldx, n, k, true);
    kp = q.kp;
    qx.assign(q.qx, q.qx + n * kp);
    dx.assign(q.dx, q.dx + n * kp / 32);
    xs.assign(q.xs, q.xs + n * kp / 32);
  }
  cpu::QuantizedRows rows(int64_t i = 0) const {
    return {qx.data() + i * kp, dx.data() + i * kp / 32, kp, xs.data() + i * kp / 32};
  }
};

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

constexpr DType kTypes[] = {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

}  // namespace

TEST_CASE("K-quant GEMM: the AVX2 kernel gives the scalar definition's bits", "[kquant][gemm]") {
  if (!cpu::gemm_path_supported(cpu::GemmPath::kAvx2)) {
    WARN("skipped: no AVX2 on this CPU");
    return;
  }
  for (DType dt : kTypes)
    for (int64_t k : {256, 512, 2048})
      for (int64_t m : {13, 37}) {
        const Tensor w = random_kquant(dt, m, k, static_cast<uint32_t>(k + m + int(dt)));
        std::vector<float> bias(static_cast<size_t>(m));
        for (int64_t j = 0; j < m; ++j) bias[j] = 0.1f * static_cast<float>(j) - 1.f;
        for (int64_t n : {1, 2, 3, 5, 8}) {
          const std::vector<float> x = random_x(n, k + 3, static_cast<uint32_t>(7 * n + k));
          const OwnedRows q(x.data(), k + 3, n, k);
          for (const float* b :
               {static_cast<const float*>(nullptr), static_cast<const float*>(bias.data())})
            for (auto [m0, m1, ldy] : {std::tuple<int64_t, int64_t, int64_t>{0, m, m},
                                       {5, m, m + 7},
                                       {3, m - 2, m + 1},
                                       {4, 4, m}}) {
              INFO(dtype_name(dt) << " k " << k << " m " << m << " n " << n << " cols [" << m0
                                  << ", " << m1 << ") ldy " << ldy << (b ? " bias" : ""));
              std::vector<float> want(static_cast<size_t>(n * ldy), -7.f), got = want;
              cpu::gemm_kquant_rows_scalar(q.rows(), w, b, want.data(), ldy, n, m0, m1);
              cpu::gemm_kquant_rows_avx2(q.rows(), w, b, got.data(), ldy, n, m0, m1);
              CHECK(same_bits(got, want));
              for (float v : want) CHECK(std::isfinite(v));
            }
        }
      }
}

TEST_CASE("K-quant GEMM: batch-invariant, near the f32 GEMM on the dequantized weights",
          "[kquant][gemm]") {
  const bool avx2 = cpu::gemm_path_supported(cpu::GemmPath::kAvx2);
  const int64_t n = 8, k = 2048, m = 37;
  for (DType dt : kTypes) {
    INFO(dtype_name(dt));
    const Tensor w = random_kquant(dt, m, k, 11 + static_cast<uint32_t>(dt));
    const std::vector<float> x = random_x(n, k, 5);
    const OwnedRows q(x.data(), k, n, k);
    std::vector<float> all(static_cast<size_t>(n * m));
    cpu::gemm_kquant_rows_scalar(q.rows(), w, nullptr, all.data(), m, n, 0, m);
    if (avx2) {
      std::vector<float> v(all.size());
      cpu::gemm_kquant_rows_avx2(q.rows(), w, nullptr, v.data(), m, n, 0, m);
      CHECK(same_bits(v, all));
    }
    // Each row alone (quantized alone, as a batch of one would be).
    for (int64_t i = 0; i < n; ++i) {
      const OwnedRows qi(x.data() + i * k, k, 1, k);
      std::vector<float> one(static_cast<size_t>(m)),
          want(all.begin() + i * m, all.begin() + (i + 1) * m);
      cpu::gemm_kquant_rows_scalar(qi.rows(), w, nullptr, one.data(), m, 1, 0, m);
      CHECK(same_bits(one, want));
      if (avx2) {
        cpu::gemm_kquant_rows_avx2(q.rows(i), w, nullptr, one.data(), m, 1, 0, m);
        CHECK(same_bits(one, want));
      }
    }
    // Against f32 on the dequantized weights: each element within the
    // worst case of 8-bit activations (half a step, max|x| / 254 per 32-value
    // block, times |w|; plus a little f32 rounding), and the error norm of the
    // whole result about 5e-3 of its norm (the rms rounding of a step).
    std::vector<float> wf(static_cast<size_t>(m * k));
    w.rows_f32(0, m, wf.data());
    double err = 0, norm = 0;
    int64_t outside = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float* xi = x.data() + i * k;
      for (int64_t j = 0; j < m; ++j) {
        const float* wj = wf.data() + j * k;
        double s = 0, bound = 0, mag = 0;
        for (int64_t b = 0; b < k / 32; ++b) {
          double amax = 0, wsum = 0;
          for (int64_t t = 32 * b; t < 32 * b + 32; ++t) {
            s += static_cast<double>(xi[t]) * wj[t];
            mag += std::fabs(static_cast<double>(xi[t]) * wj[t]);
            amax = std::max(amax, std::fabs(static_cast<double>(xi[t])));
            wsum += std::fabs(static_cast<double>(wj[t]));
          }
          bound += amax / 254 * wsum * 1.001;
        }
        const double e = all[i * m + j] - s;
        outside += std::fabs(e) > bound + 1e-4 * mag;
        err += e * e;
        norm += s * s;
      }
    }
    CHECK(outside == 0);
    CHECK(norm > 0);
    CHECK(std::sqrt(err) <= 1e-2 * std::sqrt(norm));
  }
}

TEST_CASE("K-quant GEMM: AVX2 kernel timing (single thread)", "[.bench][kquant]") {
  if (!cpu::gemm_path_supported(cpu::GemmPath::kAvx2)) {
    WARN("skipped: no AVX2 on this CPU");
    return;
  }
  const int64_t m = 2048, k = 2048;
  for (DType dt : kTypes)
    for (int64_t n : {1, 8}) {
      const Tensor w = random_kquant(dt, m, k, 3);
      const std::vector<float> x = random_x(n, k, 4);
      const OwnedRows q(x.data(), k, n, k);
      std::vector<float> y(static_cast<size_t>(n * m));
      auto time = [&](auto kernel, int reps) {
        kernel(q.rows(), w, nullptr, y.data(), m, n, 0, m);  // warm
        const auto t0 = std::chrono::steady_clock::now();
        for (int r = 0; r < reps; ++r) kernel(q.rows(), w, nullptr, y.data(), m, n, 0, m);
        return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                   .count() /
               reps;
      };
      const double avx2 = time(cpu::gemm_kquant_rows_avx2, 300);
      const double scalar = time(cpu::gemm_kquant_rows_scalar, 3);
      WARN(dtype_name(dt) << " n " << n << " m " << m << " k " << k << ": avx2 " << avx2
                          << " us, scalar " << scalar << " us (x" << scalar / avx2 << ")");
    }
}
