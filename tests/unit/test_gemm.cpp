// Tests of the CPU GEMM (engine/cpu/gemm.h) and ThreadPool: accuracy against
// a double-precision reference, bit-exact batch invariance (rows, columns,
// thread counts, dispatch paths), dot() == gemm element, bias, strides, and
// the pool's chunking, exception and reuse behaviour.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "engine/cpu/gemm.h"
#include "engine/cpu/gemm_kernels.h"
#include "engine/cpu/thread_pool.h"
#include "gemm_paths.h"

using radial::cpu::dot;
using radial::cpu::dot_on;
using radial::cpu::gemm_path_supported;
using radial::cpu::gemm_xwt;
using radial::cpu::gemm_xwt_on;
using radial::cpu::GemmPath;
using radial::cpu::ThreadPool;
using radial::test::supported_gemm_paths;

namespace {

std::vector<float> random_vec(size_t size, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(size);
  for (float& f : v) f = dist(rng);
  return v;
}

bool same_bits(const float* a, const float* b, size_t count) {
  return std::memcmp(a, b, count * sizeof(float)) == 0;
}

// y = x * w^T (+ bias) with dense strides, on the process's dispatch path.
std::vector<float> run_gemm(const std::vector<float>& x, const std::vector<float>& w,
                            const float* bias, int64_t n, int64_t m, int64_t k,
                            ThreadPool* pool = nullptr) {
  std::vector<float> y(static_cast<size_t>(n * m));
  gemm_xwt(x.data(), k, w.data(), bias, y.data(), m, n, m, k, pool);
  return y;
}

}  // namespace

TEST_CASE("gemm matches a double-precision reference", "[gemm]") {
  const int64_t sizes[] = {1, 3, 17, 64, 100};
  const int64_t ks[] = {1, 5, 15, 16, 17, 31, 33, 64, 100, 172, 255};
  uint32_t seed = 1;
  for (int64_t n : sizes) {
    for (int64_t m : sizes) {
      for (int64_t k : ks) {
        const auto x = random_vec(static_cast<size_t>(n * k), ++seed);
        const auto w = random_vec(static_cast<size_t>(m * k), ++seed);
        const auto bias = random_vec(static_cast<size_t>(m), ++seed);
        const auto y = run_gemm(x, w, bias.data(), n, m, k);
        // Error bound of the 16-lane order: about (k / 16 + 4) roundings of
        // the magnitude sum; allow twice that.
        const double tol = 2.0 * (static_cast<double>(k) / 16 + 5) * std::ldexp(1.0, -24);
        double worst = 0.0;
        for (int64_t i = 0; i < n; ++i) {
          for (int64_t j = 0; j < m; ++j) {
            double ref = bias[j], mag = std::fabs(bias[j]);
            for (int64_t p = 0; p < k; ++p) {
              const double prod = double(x[i * k + p]) * double(w[j * k + p]);
              ref += prod;
              mag += std::fabs(prod);
            }
            worst = std::max(worst, std::fabs(y[i * m + j] - ref) / mag);
          }
        }
        INFO("n=" << n << " m=" << m << " k=" << k << " worst relative error " << worst);
        REQUIRE(worst <= tol);
      }
    }
  }
}

TEST_CASE("gemm is bit-identical on every dispatch path", "[gemm]") {
  const auto paths = supported_gemm_paths();
  INFO("dispatch path in use: " << radial::cpu::gemm_path_name(radial::cpu::gemm_path()));
  const int64_t shapes[][3] = {{1, 1, 1},   {1, 7, 300},   {3, 17, 17},   {5, 13, 16},
                               {17, 3, 65}, {37, 53, 172}, {64, 64, 768}, {9, 100, 2049}};
  uint32_t seed = 100;
  for (const auto& s : shapes) {
    const int64_t n = s[0], m = s[1], k = s[2];
    const auto x = random_vec(static_cast<size_t>(n * k), ++seed);
    const auto w = random_vec(static_cast<size_t>(m * k), ++seed);
    const auto bias = random_vec(static_cast<size_t>(m), ++seed);
    std::vector<float> ref(static_cast<size_t>(n * m));
    gemm_xwt_on(GemmPath::kScalar, x.data(), k, w.data(), bias.data(), ref.data(), m, n, m, k,
                nullptr);
    for (GemmPath p : paths) {
      std::vector<float> y(ref.size());
      gemm_xwt_on(p, x.data(), k, w.data(), bias.data(), y.data(), m, n, m, k, nullptr);
      INFO("path " << radial::cpu::gemm_path_name(p) << " n=" << n << " m=" << m << " k=" << k);
      REQUIRE(same_bits(y.data(), ref.data(), y.size()));
      for (int64_t j = 0; j < m; ++j) {
        REQUIRE(dot_on(p, x.data(), w.data() + j * k, k) ==
                dot_on(GemmPath::kScalar, x.data(), w.data() + j * k, k));
      }
    }
  }
}

TEST_CASE("gemm rows and columns are batch-invariant bit for bit", "[gemm]") {
  const int64_t n = 37, m = 203, k = 515;  // k % 16 == 3, m % 4 == 3
  const auto x = random_vec(static_cast<size_t>(n * k), 7);
  const auto w = random_vec(static_cast<size_t>(m * k), 8);
  const auto bias = random_vec(static_cast<size_t>(m), 9);
  const auto full = run_gemm(x, w, bias.data(), n, m, k);

  SECTION("each row alone (n = 1)") {
    for (int64_t i = 0; i < n; ++i) {
      std::vector<float> row(static_cast<size_t>(m));
      gemm_xwt(x.data() + i * k, k, w.data(), bias.data(), row.data(), m, 1, m, k, nullptr);
      INFO("row " << i);
      REQUIRE(same_bits(row.data(), full.data() + i * m, static_cast<size_t>(m)));
    }
  }
  SECTION("blocks of 17 rows at every offset") {
    for (int64_t i0 = 0; i0 + 17 <= n; i0 += 5) {
      std::vector<float> part(static_cast<size_t>(17 * m));
      gemm_xwt(x.data() + i0 * k, k, w.data(), bias.data(), part.data(), m, 17, m, k, nullptr);
      INFO("rows from " << i0);
      REQUIRE(same_bits(part.data(), full.data() + i0 * m, part.size()));
    }
  }
  SECTION("column subsets (different tile alignment)") {
    for (const auto& [j0, mm] : {std::pair<int64_t, int64_t>{1, 30}, {5, 1}, {6, 197}, {101, 3}}) {
      std::vector<float> part(static_cast<size_t>(n * mm));
      gemm_xwt(x.data(), k, w.data() + j0 * k, bias.data() + j0, part.data(), mm, n, mm, k,
               nullptr);
      for (int64_t i = 0; i < n; ++i) {
        INFO("cols from " << j0 << " count " << mm << " row " << i);
        REQUIRE(same_bits(part.data() + i * mm, full.data() + i * m + j0, static_cast<size_t>(mm)));
      }
    }
  }
  SECTION("thread pools of 1, 2 and 3 threads") {
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      const auto y = run_gemm(x, w, bias.data(), n, m, k, &pool);
      INFO("threads " << threads);
      REQUIRE(same_bits(y.data(), full.data(), y.size()));
    }
  }
  SECTION("long k, split into cache pieces when many rows share the weights") {
    const int64_t ln = 13, lm = 11, lk = 1500;  // lk % 16 == 12
    const auto lx = random_vec(static_cast<size_t>(ln * lk), 12);
    const auto lw = random_vec(static_cast<size_t>(lm * lk), 13);
    const auto ref = run_gemm(lx, lw, bias.data(), ln, lm, lk);
    for (int64_t i = 0; i < ln; ++i) {
      std::vector<float> row(static_cast<size_t>(lm));
      gemm_xwt(lx.data() + i * lk, lk, lw.data(), bias.data(), row.data(), lm, 1, lm, lk, nullptr);
      INFO("row " << i);
      REQUIRE(same_bits(row.data(), ref.data() + i * lm, row.size()));
      for (int64_t j = 0; j < lm; ++j) {
        double exact = bias[j], mag = std::fabs(bias[j]);
        for (int64_t p = 0; p < lk; ++p) {
          exact += double(lx[i * lk + p]) * double(lw[j * lk + p]);
          mag += std::fabs(double(lx[i * lk + p]) * double(lw[j * lk + p]));
        }
        REQUIRE(std::fabs(row[j] - exact) <= 2.0 * (lk / 16.0 + 5) * std::ldexp(mag, -24));
      }
    }
  }
  SECTION("large enough to split across threads") {
    const int64_t bn = 64, bm = 1001, bk = 259;
    const auto bx = random_vec(static_cast<size_t>(bn * bk), 10);
    const auto bw = random_vec(static_cast<size_t>(bm * bk), 11);
    const auto ref = run_gemm(bx, bw, nullptr, bn, bm, bk);
    for (int threads : {2, 3}) {
      ThreadPool pool(threads);
      for (int rep = 0; rep < 3; ++rep) {
        const auto y = run_gemm(bx, bw, nullptr, bn, bm, bk, &pool);
        INFO("threads " << threads);
        REQUIRE(same_bits(y.data(), ref.data(), y.size()));
      }
      std::vector<float> row(static_cast<size_t>(bm));
      gemm_xwt(bx.data() + 40 * bk, bk, bw.data(), nullptr, row.data(), bm, 1, bm, bk, &pool);
      REQUIRE(same_bits(row.data(), ref.data() + 40 * bm, row.size()));
    }
  }
}

TEST_CASE("dot equals the gemm element bit for bit", "[gemm]") {
  for (int64_t k : {0, 1, 2, 15, 16, 17, 64, 100, 172, 768, 1001, 2048, 3072}) {
    const int64_t n = 3, m = 5;
    const auto x = random_vec(static_cast<size_t>(n * k), 20 + static_cast<uint32_t>(k));
    const auto w = random_vec(static_cast<size_t>(m * k), 40 + static_cast<uint32_t>(k));
    const auto y = run_gemm(x, w, nullptr, n, m, k);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < m; ++j) {
        const float d = dot(x.data() + i * k, w.data() + j * k, k);
        INFO("k=" << k << " i=" << i << " j=" << j);
        REQUIRE(std::memcmp(&d, &y[i * m + j], sizeof d) == 0);
      }
    }
  }
}

TEST_CASE("gemm adds the bias after the reduction", "[gemm]") {
  const int64_t n = 6, m = 19, k = 77;
  const auto x = random_vec(static_cast<size_t>(n * k), 50);
  const auto w = random_vec(static_cast<size_t>(m * k), 51);
  const auto bias = random_vec(static_cast<size_t>(m), 52, -10.0f, 10.0f);
  const auto plain = run_gemm(x, w, nullptr, n, m, k);
  const auto biased = run_gemm(x, w, bias.data(), n, m, k);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < m; ++j) {
      const float expect = plain[i * m + j] + bias[j];
      REQUIRE(std::memcmp(&expect, &biased[i * m + j], sizeof expect) == 0);
      REQUIRE(std::fabs(biased[i * m + j] - plain[i * m + j]) > 0.0f);
    }
  }
  // k = 0: y is the bias (or zero).
  std::vector<float> y0(static_cast<size_t>(n * m), 123.0f);
  gemm_xwt(x.data(), 0, w.data(), bias.data(), y0.data(), m, n, m, 0, nullptr);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) REQUIRE(y0[i * m + j] == bias[j]);
  gemm_xwt(x.data(), 0, w.data(), nullptr, y0.data(), m, n, m, 0, nullptr);
  for (float v : y0) REQUIRE(v == 0.0f);
}

TEST_CASE("gemm respects ldx and ldy and leaves the gaps alone", "[gemm]") {
  const int64_t n = 17, m = 21, k = 45, ldx = 53, ldy = 30;
  const auto dense_x = random_vec(static_cast<size_t>(n * k), 60);
  const auto w = random_vec(static_cast<size_t>(m * k), 61);
  const auto bias = random_vec(static_cast<size_t>(m), 62);
  const auto expect = run_gemm(dense_x, w, bias.data(), n, m, k);

  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x(static_cast<size_t>(n * ldx), nan);  // gaps poisoned: must not be read
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(&x[i * ldx], &dense_x[i * k], static_cast<size_t>(k) * sizeof(float));
  const float poison = -7.25e30f;
  for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), new ThreadPool(2)}) {
    std::vector<float> y(static_cast<size_t>(n * ldy + 5), poison);
    gemm_xwt(x.data(), ldx, w.data(), bias.data(), y.data(), ldy, n, m, k, pool);
    for (int64_t i = 0; i < n; ++i) {
      REQUIRE(same_bits(&y[i * ldy], &expect[i * m], static_cast<size_t>(m)));
      for (int64_t j = m; j < ldy; ++j) REQUIRE(y[i * ldy + j] == poison);
    }
    for (size_t p = static_cast<size_t>(n * ldy); p < y.size(); ++p) REQUIRE(y[p] == poison);
    delete pool;
  }
}

TEST_CASE("ThreadPool covers every index exactly once and respects the grain", "[gemm]") {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    REQUIRE(pool.size() == threads);
    for (int64_t n : {1, 2, 3, 7, 10, 64, 1000}) {
      for (int64_t grain : {1, 2, 3, 16, 2000}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::mutex mu;
        std::vector<std::pair<int64_t, int64_t>> chunks;
        pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
          std::lock_guard<std::mutex> lock(mu);
          chunks.emplace_back(b, e);
        });
        INFO("threads=" << threads << " n=" << n << " grain=" << grain);
        for (auto& h : hits) REQUIRE(h.load() == 1);
        REQUIRE(static_cast<int>(chunks.size()) <= threads);
        for (const auto& [b, e] : chunks) {
          REQUIRE(e > b);
          if (n >= grain) REQUIRE(e - b >= grain);
        }
        if (n >= grain * threads) REQUIRE(static_cast<int>(chunks.size()) == threads);
      }
    }
  }
  ThreadPool defaulted(0);
  REQUIRE(defaulted.size() >= 1);
}

TEST_CASE("ThreadPool propagates exceptions and stays usable", "[gemm]") {
  ThreadPool pool(3);
  for (int throwing_chunk = 0; throwing_chunk < 3; ++throwing_chunk) {
    std::atomic<int> ran{0};
    auto body = [&](int64_t b, int64_t e) {
      ran.fetch_add(static_cast<int>(e - b));
      if (b / 10 == throwing_chunk) throw std::runtime_error("chunk failed");
    };
    REQUIRE_THROWS_AS(pool.parallel_for(30, 10, body), std::runtime_error);
    REQUIRE(ran.load() == 30);  // the other chunks still ran to completion
  }
  std::atomic<int> all_throw{0};
  REQUIRE_THROWS(pool.parallel_for(30, 1, [&](int64_t, int64_t) {
    all_throw.fetch_add(1);
    throw 42;
  }));
  REQUIRE(all_throw.load() == 3);
  std::atomic<int64_t> sum{0};
  pool.parallel_for(100, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) sum.fetch_add(i);
  });
  REQUIRE(sum.load() == 4950);
}

TEST_CASE("ThreadPool is reusable, nestable and shareable", "[gemm]") {
  ThreadPool pool(3);
  for (int rep = 0; rep < 2000; ++rep) {
    std::atomic<int64_t> sum{0};
    pool.parallel_for(rep % 50 + 1, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) sum.fetch_add(i + 1);
    });
    const int64_t n = rep % 50 + 1;
    REQUIRE(sum.load() == n * (n + 1) / 2);
  }
  // A parallel_for inside a task runs inline instead of deadlocking.
  std::atomic<int> inner{0};
  pool.parallel_for(3, 1, [&](int64_t, int64_t) {
    pool.parallel_for(10, 1,
                      [&](int64_t b, int64_t e) { inner.fetch_add(static_cast<int>(e - b)); });
  });
  REQUIRE(inner.load() == 30);
  // Two threads sharing one pool are serialised.
  std::atomic<int64_t> total{0};
  auto client = [&] {
    for (int rep = 0; rep < 200; ++rep)
      pool.parallel_for(64, 1, [&](int64_t b, int64_t e) { total.fetch_add(e - b); });
  };
  std::thread t1(client), t2(client);
  t1.join();
  t2.join();
  REQUIRE(total.load() == 2 * 200 * 64);
  // Construct and destroy without ever running anything.
  for (int i = 0; i < 20; ++i) ThreadPool idle(4);
}
