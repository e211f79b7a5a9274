// Tests of cpu::attend (engine/cpu/attend.cpp): every dispatch path gives the
// same bits as the scalar definition; the result matches a double-precision
// softmax within a few ulp-scale errors; the polynomial exp against std::exp;
// head sizes from 2 to 128 (partial 8- and 16-lane chunks included) and
// entry counts around the 16-lane chunking; paged (scattered) K/V rows.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "engine/cpu/gemm_kernels.h"
#include "engine/cpu/ops.h"

using radial::cpu::attend_on;
using radial::cpu::exp_poly;
using radial::cpu::gemm_path_supported;
using radial::cpu::GemmPath;

namespace {

struct Case {
  std::vector<float> q, kv;  // kv: n rows of K then n rows of V, rows shuffled
  std::vector<const float*> k_rows, v_rows;
};

Case make_case(int n, int hd, uint32_t seed, float spread) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-spread, spread);
  Case c;
  c.q.resize(hd);
  for (float& x : c.q) x = dist(rng);
  c.kv.resize(static_cast<size_t>(2 * n) * hd);
  for (float& x : c.kv) x = dist(rng);
  std::vector<int> perm(2 * n);
  for (int i = 0; i < 2 * n; ++i) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);  // rows anywhere in the pool, as pages are
  for (int e = 0; e < n; ++e) {
    c.k_rows.push_back(c.kv.data() + static_cast<size_t>(perm[e]) * hd);
    c.v_rows.push_back(c.kv.data() + static_cast<size_t>(perm[n + e]) * hd);
  }
  return c;
}

std::vector<float> run(GemmPath path, const Case& c, int n, int hd, float scale) {
  std::vector<float> scores(n + 1, std::numeric_limits<float>::quiet_NaN()), out(hd, 123.f);
  attend_on(path, c.q.data(), c.k_rows.data(), c.v_rows.data(), n, hd, scale, scores.data(),
            out.data());
  return out;
}

std::vector<double> reference(const Case& c, int n, int hd, double scale) {
  std::vector<double> s(n), out(hd, 0.0);
  double mx = -INFINITY, sum = 0;
  for (int e = 0; e < n; ++e) {
    double d = 0;
    for (int i = 0; i < hd; ++i) d += static_cast<double>(c.q[i]) * c.k_rows[e][i];
    s[e] = d * scale;
    mx = std::max(mx, s[e]);
  }
  for (int e = 0; e < n; ++e) sum += (s[e] = std::exp(s[e] - mx));
  for (int e = 0; e < n; ++e)
    for (int i = 0; i < hd; ++i) out[i] += s[e] / sum * c.v_rows[e][i];
  return out;
}

}  // namespace

TEST_CASE("attend: every path gives the scalar definition's bits, and a softmax's values",
          "[cpu][attend]") {
  for (int hd : {2, 5, 8, 12, 16, 24, 32, 64, 100, 128})
    for (int n : {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 100, 513})
      for (float spread : {0.5f, 4.0f}) {
        INFO("head_dim " << hd << " entries " << n << " spread " << spread);
        const Case c = make_case(n, hd, 1000u * hd + n, spread);
        const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
        const std::vector<float> want = run(GemmPath::kScalar, c, n, hd, scale);
        for (GemmPath p : {GemmPath::kAvx2, GemmPath::kAvx512}) {
          if (!gemm_path_supported(p)) continue;
          const std::vector<float> got = run(p, c, n, hd, scale);
          INFO("path " << radial::cpu::gemm_path_name(p));
          REQUIRE(std::memcmp(got.data(), want.data(), hd * sizeof(float)) == 0);
        }
        const std::vector<double> ref = reference(c, n, hd, scale);
        double worst = 0;
        for (int i = 0; i < hd; ++i) worst = std::max(worst, std::abs(want[i] - ref[i]));
        CHECK(worst < 2e-6 * spread);
      }
}

TEST_CASE("attend: the polynomial exp is within 3 ulp of exp on [-87, 0] and 0 below",
          "[cpu][attend]") {
  double worst_rel = 0;
  for (float x = -87.0f; x <= 0.0f; x += 0.000731f) {
    const double want = std::exp(static_cast<double>(x));
    worst_rel = std::max(worst_rel, std::abs(exp_poly(x) - want) / want);
  }
  CHECK(worst_rel < 3 * std::numeric_limits<float>::epsilon());
  CHECK(exp_poly(0.0f) == 1.0f);
  CHECK(exp_poly(-87.5f) == 0.0f);
  CHECK(exp_poly(-INFINITY) == 0.0f);
  CHECK(exp_poly(std::numeric_limits<float>::quiet_NaN()) == 0.0f);
}

TEST_CASE("attend: one entry returns its value row; equal scores average", "[cpu][attend]") {
  for (GemmPath p : {GemmPath::kScalar, GemmPath::kAvx2, GemmPath::kAvx512}) {
    if (!gemm_path_supported(p)) continue;
    const std::vector<float> q = {1, 2, 3, 4, 5, 6, 7, 8};
    const std::vector<float> k(8, 0.f), v0 = {1, 1, 1, 1, 2, 2, 2, 2},
                                        v1 = {3, 3, 3, 3, 0, 0, 0, 0};
    const float* ks[2] = {k.data(), k.data()};
    const float* vs[2] = {v0.data(), v1.data()};
    float scores[2], out[8];
    attend_on(p, q.data(), ks, vs, 1, 8, 0.5f, scores, out);
    for (int i = 0; i < 8; ++i) CHECK(out[i] == v0[i]);
    attend_on(p, q.data(), ks, vs, 2, 8, 0.5f, scores, out);
    for (int i = 0; i < 8; ++i) CHECK(out[i] == (v0[i] + v1[i]) / 2);
  }
}
