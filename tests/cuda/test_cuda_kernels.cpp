// Every kernel against the CPU backend's ops on random inputs of several
// shapes (odd sizes, one row, many rows), in each dtype. Tolerances are
// relative L2 errors ||gpu - cpu|| / ||cpu||: tolerance(dtype) in
// cuda_test_util.h for elementwise ops (f32 2e-6, f16 2e-3, bf16 1.5e-2);
// attention and GEMMs state theirs below. Outputs are poisoned (NaN bytes)
// before each launch, so an unwritten element fails.
#include <catch2/catch.hpp>

#include <algorithm>

#include "cuda_test_util.h"
#include "engine/cpu/gemm.h"
#include "engine/cpu/ops.h"
#include "engine/router.h"
#include "kernels/embed.cuh"
#include "kernels/gather_scatter.cuh"
#include "kernels/gemm.h"
#include "kernels/rmsnorm.cuh"
#include "kernels/router.cuh"
#include "kernels/swiglu.cuh"

using namespace radial;
using namespace radial::test;

namespace {
const DType kDtypes[] = {DType::kF32, DType::kF16, DType::kBF16};
}

TEST_CASE("rmsnorm_rows gathers and normalises like cpu::rmsnorm", "[cuda][kernels]") {
  std::mt19937 rng(1);
  for (DType t : kDtypes)
    for (int d : {1, 7, 64, 1000, 4096})
      for (int n : {1, 5, 33}) {
        INFO("dtype " << dtype_name(t) << " d " << d << " n " << n);
        const int slots = n + 3;
        auto h = random_vec(rng, static_cast<size_t>(slots) * d, 2.f);
        auto w = random_vec(rng, d);
        std::vector<int> rows(n);
        for (int i = 0; i < n; ++i) rows[i] = (i * 7 + 2) % slots;
        DeviceBuffer dh = to_device(h), dw = to_device(w), dr = ints_to_device(rows);
        DeviceBuffer out = poisoned(static_cast<size_t>(n) * d * 4), copy = poisoned(n * d * 4);
        kernels::rmsnorm_rows(dh.as<float>(), dr.as<int>(), n, d, dw.as<float>(), 1e-5f, out.get(),
                              t, copy.as<float>(), nullptr);
        std::vector<float> want(static_cast<size_t>(n) * d), want_copy(want.size());
        for (int i = 0; i < n; ++i) {
          cpu::rmsnorm(h.data() + static_cast<size_t>(rows[i]) * d, w.data(), want.data() + i * d,
                       d, 1e-5f);
          std::copy_n(h.data() + static_cast<size_t>(rows[i]) * d, d, want_copy.data() + i * d);
        }
        CHECK(rel_error(to_host(out.get(), want.size(), t), want) < tolerance(t));
        CHECK(to_host(copy.get(), want.size()) == want_copy);
      }
}

TEST_CASE("embed_rows, gather_rows and scatter_rows move rows exactly", "[cuda][kernels]") {
  std::mt19937 rng(2);
  for (DType t : kDtypes)
    for (int d : {3, 64, 2048}) {
      const int vocab = 50, n = 9, slots = 20;
      auto table = random_vec(rng, static_cast<size_t>(vocab) * d);
      std::vector<int> tokens = {0, 49, 7, 7, 3, 11, 48, 1, 25}, sl = {19, 0, 5, 6, 7, 1, 2, 3, 4};
      DeviceBuffer dt = to_device(table, t), dtok = ints_to_device(tokens),
                   dsl = ints_to_device(sl), hidden = poisoned(slots * d * 4);
      kernels::embed_rows(dt.get(), t, dtok.as<int>(), dsl.as<int>(), n, d, hidden.as<float>(),
                          nullptr);
      auto hh = to_host(hidden.get(), static_cast<size_t>(slots) * d);
      for (int i = 0; i < n; ++i)
        for (int k = 0; k < d; ++k)
          REQUIRE(hh[sl[i] * d + k] == round_to(table[tokens[i] * d + k], t));
      // gather then scatter into a fresh buffer: the same rows again.
      DeviceBuffer batch = poisoned(n * d * 4), back = poisoned(slots * d * 4);
      kernels::gather_rows(hidden.as<float>(), dsl.as<int>(), n, d, batch.as<float>(), nullptr);
      kernels::scatter_rows(batch.as<float>(), dsl.as<int>(), n, d, back.as<float>(), nullptr);
      auto bb = to_host(back.get(), static_cast<size_t>(slots) * d);
      for (int i = 0; i < n; ++i)
        for (int k = 0; k < d; ++k) REQUIRE(bb[sl[i] * d + k] == hh[sl[i] * d + k]);
    }
}

TEST_CASE("gated_activation matches cpu::gated_activation", "[cuda][kernels]") {
  std::mt19937 rng(3);
  for (DType t : kDtypes)
    for (Activation act : {Activation::kSilu, Activation::kGelu, Activation::kRelu})
      for (int ff : {1, 13, 8192}) {
        const int n = 5;
        auto gu = rounded(random_vec(rng, static_cast<size_t>(n) * 2 * ff, 3.f), t);
        std::vector<float> g(n * ff), u(n * ff), want(n * ff);
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < ff; ++j)
            g[i * ff + j] = gu[i * 2 * ff + j], u[i * ff + j] = gu[i * 2 * ff + ff + j];
        cpu::gated_activation(g.data(), u.data(), want.data(), n * ff, act);
        DeviceBuffer dgu = to_device(gu, t), out = poisoned(n * ff * 4);
        kernels::gated_activation(dgu.get(), n, ff, out.get(), t, act, nullptr);
        CHECK(rel_error(to_host(out.get(), want.size(), t), want) < tolerance(t));
      }
}

TEST_CASE("gemm_xwt through cuBLAS matches cpu::gemm_xwt", "[cuda][kernels]") {
  // fp32: true fp32 (no TF32), 1e-5. bf16/f16 inputs (rounded on the host
  // for the reference) with fp32 accumulation: 1e-5 into fp32 outputs,
  // tolerance(dtype) into dtype outputs (one more rounding).
  std::mt19937 rng(4);
  for (DType t : kDtypes)
    for (int rows : {1, 3, 17, 130})
      for (auto [n, k] : {std::pair{5, 7}, std::pair{64, 128}, std::pair{1000, 96}})
        for (float beta : {0.f, 1.f}) {
          INFO(dtype_name(t) << " rows " << rows << " n " << n << " k " << k << " beta " << beta);
          auto x = rounded(random_vec(rng, static_cast<size_t>(rows) * k), t);
          auto w = rounded(random_vec(rng, static_cast<size_t>(n) * k), t);
          auto y0 = random_vec(rng, static_cast<size_t>(rows) * n);
          std::vector<float> want(y0.size());
          cpu::gemm_xwt(x.data(), k, w.data(), nullptr, want.data(), n, rows, n, k, nullptr);
          if (beta == 1.f)
            for (size_t i = 0; i < want.size(); ++i) want[i] += y0[i];
          cublasHandle_t h;
          CUBLAS_CHECK(cublasCreate(&h));
          CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
          DeviceBuffer dx = to_device(x, t), dw = to_device(w, t), dy = to_device(y0);
          kernels::gemm_xwt(h, dx.get(), k, dw.get(), t, dy.get(), n, DType::kF32, rows, n, k,
                            beta);
          CHECK(rel_error(to_host(dy.get(), want.size()), want) < 1e-5);
          if (beta == 0.f) {
            DeviceBuffer dyt = poisoned(want.size() * dtype_size(t));
            kernels::gemm_xwt(h, dx.get(), k, dw.get(), t, dyt.get(), n, t, rows, n, k, 0.f);
            CHECK(rel_error(to_host(dyt.get(), want.size(), t), want) < tolerance(t) + 1e-5);
          }
          cublasDestroy(h);
        }
}

TEST_CASE("router bias, activation and decisions match the host's", "[cuda][kernels]") {
  std::mt19937 rng(5);
  const int L = 9, n = 64;
  RouterConfig rc;
  rc.num_layers = L;
  rc.pinned_layers = {0, 4};
  auto gates = random_vec(rng, static_cast<size_t>(n) * (L + 1), 2.f);
  auto bias = random_vec(rng, L + 1);
  std::vector<float> biased(gates);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j <= L; ++j) biased[i * (L + 1) + j] += bias[j];
  DeviceBuffer dg = to_device(gates), db = to_device(bias);
  kernels::bias_activation(dg.as<float>(), db.as<float>(), n, L + 1, false, Activation::kSilu,
                           nullptr);
  CHECK(rel_error(to_host(dg.get(), biased.size()), biased) < 1e-7);
  auto act = random_vec(rng, 300);
  auto act_bias = random_vec(rng, 30);
  std::vector<float> want(act);
  for (size_t i = 0; i < want.size(); ++i) want[i] += act_bias[i % 30];
  cpu::activate(want.data(), want.size(), Activation::kSilu);
  DeviceBuffer da = to_device(act), dab = to_device(act_bias);
  kernels::bias_activation(da.as<float>(), dab.as<float>(), 10, 30, true, Activation::kSilu,
                           nullptr);
  CHECK(rel_error(to_host(da.get(), want.size()), want) < 1e-6);

  std::vector<int> pinned(L, 0);
  pinned[0] = pinned[4] = 1;
  DeviceBuffer dp = ints_to_device(pinned);
  for (RouteMode mode : {RouteMode::kForward, RouteMode::kRadial}) {
    std::vector<int> q(2 * n);
    RoutingParams rp;
    rp.mode = mode;
    for (int i = 0; i < n; ++i) {
      q[2 * i] = i % (L + 1) - 1;  // last in [-1, L - 1]
      const float thr = (i % 5) / 4.f;
      std::memcpy(&q[2 * i + 1], &thr, 4);
    }
    DeviceBuffer dq = ints_to_device(q), dt = poisoned(n * 4);
    kernels::route_decide(dg.as<float>(), n, L, mode, dp.as<int>(), dq.as<int>(), dt.as<int>(),
                          nullptr);
    auto got = ints_to_host(dt.get(), n);
    for (int i = 0; i < n; ++i) {
      float thr;
      std::memcpy(&thr, &q[2 * i + 1], 4);
      rp.threshold = thr;
      CHECK(got[i] == route_next(rc, rp, q[2 * i], biased.data() + i * (L + 1)));
    }
  }
}
