// Every kernel against the CPU backend's ops on random inputs of several
// shapes (odd sizes, one row, many rows), in each dtype. Tolerances are
// relative L2 errors ||gpu - cpu|| / ||cpu||: tolerance(dtype) in
// cuda_test_util.h for elementwise ops (f32 2e-6, f16 2e-3, bf16 1.5e-2);
// attention and GEMMs state theirs below. Outputs are poisoned (NaN bytes)
// before each launch, so an unwritten element fails.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "cuda_test_util.h"
#include "engine/cpu/gemm.h"
#include "engine/cpu/ops.h"
#include "engine/router.h"
#include "kernels/embed.cuh"
#include "kernels/gather_scatter.cuh"
#include "kernels/gemm.h"
#include "kernels/gemv.cuh"
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
        CHECK(mismatch(to_host(copy.get(), want.size()), want_copy) == "");
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
      INFO(dtype_name(t) << " d " << d);
      auto hh = to_host(hidden.get(), static_cast<size_t>(slots) * d);
      std::vector<float> got_rows, want_rows;
      for (int i = 0; i < n; ++i)
        for (int k = 0; k < d; ++k) {
          got_rows.push_back(hh[sl[i] * d + k]);
          want_rows.push_back(round_to(table[tokens[i] * d + k], t));
        }
      CHECK(mismatch(got_rows, want_rows) == "");
      // gather then scatter into a fresh buffer: the same rows again.
      DeviceBuffer batch = poisoned(n * d * 4), back = poisoned(slots * d * 4);
      kernels::gather_rows(hidden.as<float>(), dsl.as<int>(), n, d, batch.as<float>(), nullptr);
      kernels::scatter_rows(batch.as<float>(), dsl.as<int>(), n, d, back.as<float>(), nullptr);
      auto bb = to_host(back.get(), static_cast<size_t>(slots) * d);
      std::vector<float> back_rows;
      for (int i = 0; i < n; ++i)
        for (int k = 0; k < d; ++k) back_rows.push_back(bb[sl[i] * d + k]);
      CHECK(mismatch(back_rows, got_rows) == "");
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

namespace {

// The error bound of an fp32-accumulated product, derived rather than
// guessed. Each output y = sum_j x_j w_j (+ beta y0) is a sum of k products
// (k + 1 terms with beta). The inputs are rounded to the dtype on the host
// first, so the reference sees the same operands; a bf16 or f16 product is
// exact in fp32 (8 x 8 or 11 x 11 significant bits fit in 24), an fp32
// product is rounded once. Any summation order of m terms in fp32 then
// errs by at most gamma_m * sum_j |x_j w_j| with gamma_m = m u / (1 - m u)
// (Higham, Accuracy and Stability, 3.1). u is taken as 2^-23, twice fp32's
// unit roundoff, because tensor cores may truncate instead of round when
// they align and add products. So, as a relative L2 error over the output,
//   ||y - ref|| / ||ref|| <= gamma_{k+2} ||A|| / ||ref||,
// with A = |X| |W|^T (+ |y0|) the elementwise bound of every term; and an
// output stored in the dtype adds one more rounding, unit roundoff u_t
// (2^-8 for bf16, 2^-11 for f16): bound (1 + u_t) gemm_bound + u_t.
double gemm_error_bound(const std::vector<float>& x, const std::vector<float>& w,
                        const std::vector<float>* y0, const std::vector<float>& ref, int rows,
                        int n, int k) {
  double a2 = 0, r2 = 0;
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < n; ++j) {
      double a = 0;
      for (int l = 0; l < k; ++l)
        a += std::abs(double(x[size_t(i) * k + l]) * w[size_t(j) * k + l]);
      if (y0) a += std::abs(double((*y0)[size_t(i) * n + j]));
      a2 += a * a;
      const double r = ref[size_t(i) * n + j];
      r2 += r * r;
    }
  const double u = std::ldexp(1.0, -23), m = k + 2;
  const double gamma = m * u / (1 - m * u);
  return gamma * std::sqrt(a2 / std::max(r2, 1e-300));
}

double storage_roundoff(DType t) {
  switch (t) {
    case DType::kF32:
      return std::ldexp(1.0, -24);
    case DType::kF16:
      return std::ldexp(1.0, -11);
    case DType::kBF16:
      return std::ldexp(1.0, -8);
    case DType::kQ8_0:  // blockwise, not elementwise dtypes
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
      break;
  }
  throw std::invalid_argument("storage_roundoff: not an elementwise dtype");
}

// One projection case: x [rows, k] and W [n, k] rounded to the dtype, y0
// [rows, n], the CPU's result (plus y0 when beta is 1) and the error bound
// against it. The CPU reference itself sums in fp32: the bound covers both
// sides' rounding (twice the one-sided bound).
struct GemmCase {
  std::vector<float> x, w, y0, want;
  double bound = 0;
};

GemmCase gemm_case(std::mt19937& rng, DType t, int rows, int n, int k, float beta) {
  GemmCase c;
  c.x = rounded(random_vec(rng, static_cast<size_t>(rows) * k), t);
  c.w = rounded(random_vec(rng, static_cast<size_t>(n) * k), t);
  c.y0 = random_vec(rng, static_cast<size_t>(rows) * n);
  c.want.resize(c.y0.size());
  cpu::gemm_xwt(c.x.data(), k, c.w.data(), nullptr, c.want.data(), n, rows, n, k, nullptr);
  if (beta == 1.f)
    for (size_t i = 0; i < c.want.size(); ++i) c.want[i] += c.y0[i];
  c.bound = 2 * gemm_error_bound(c.x, c.w, beta == 1.f ? &c.y0 : nullptr, c.want, rows, n, k);
  return c;
}

}  // namespace

TEST_CASE("gemv_xwt matches cpu::gemm_xwt for up to 8 rows", "[cuda][kernels]") {
  // The decode projections' kernel, with the bounds of the cuBLAS test
  // below; x with a leading dimension past k; y in fp32 (beta 0 and 1) and
  // in the dtype. Each row alone gives the same bits as within the call.
  std::mt19937 rng(14);
  for (DType t : kDtypes)
    for (int rows : {1, 2, 3, 4, 5, 8})
      for (auto [n, k] : {std::pair{5, 8}, std::pair{64, 128}, std::pair{1000, 96},
                          std::pair{256, 4096}, std::pair{3, 2056}})
        for (float beta : {0.f, 1.f}) {
          INFO(dtype_name(t) << " rows " << rows << " n " << n << " k " << k << " beta " << beta);
          const GemmCase c = gemm_case(rng, t, rows, n, k, beta);
          const std::vector<float>& want = c.want;
          const double bound = c.bound;
          // x with a leading dimension past k, the columns between random.
          const int ldx = k + 8;
          std::vector<float> xs = rounded(random_vec(rng, static_cast<size_t>(rows) * ldx), t);
          for (int i = 0; i < rows; ++i)
            std::copy(c.x.begin() + size_t(i) * k, c.x.begin() + size_t(i + 1) * k,
                      xs.begin() + size_t(i) * ldx);
          DeviceBuffer dx = to_device(xs, t), dw = to_device(c.w, t), dy = to_device(c.y0);
          REQUIRE(kernels::gemv_supported(dx.get(), ldx, dw.get(), t, rows, k));
          kernels::gemv_xwt(dx.get(), ldx, dw.get(), t, dy.get(), n, DType::kF32, rows, n, k, beta,
                            nullptr);
          const std::vector<float> got = to_host(dy.get(), want.size());
          const double err = rel_error(got, want);
          INFO("relative error " << err << ", bound " << bound);
          CHECK(err <= bound);
          if (beta == 0.f) {
            DeviceBuffer dyt = poisoned(want.size() * dtype_size(t));
            kernels::gemv_xwt(dx.get(), ldx, dw.get(), t, dyt.get(), n, t, rows, n, k, 0.f,
                              nullptr);
            const double ut = storage_roundoff(t);
            CHECK(rel_error(to_host(dyt.get(), want.size(), t), want) <= (1 + ut) * bound + ut);
            // The last row alone: the same bits as in the call.
            DeviceBuffer one = poisoned(4LL * n);
            kernels::gemv_xwt(dx.as<std::byte>() + size_t(rows - 1) * ldx * dtype_size(t), ldx,
                              dw.get(), t, one.get(), n, DType::kF32, 1, n, k, 0.f, nullptr);
            const std::vector<float> alone = to_host(one.get(), n);
            CHECK(std::equal(alone.begin(), alone.end(), got.begin() + size_t(rows - 1) * n));
          }
        }
  // What it does not take: no rows, too many, a k that is not whole
  // 16-byte vectors, a misaligned W.
  DeviceBuffer buf(4096);
  CHECK_FALSE(kernels::gemv_supported(buf.get(), 64, buf.get(), DType::kBF16, 0, 64));
  CHECK_FALSE(kernels::gemv_supported(buf.get(), 64, buf.get(), DType::kBF16, 9, 64));
  CHECK_FALSE(kernels::gemv_supported(buf.get(), 64, buf.get(), DType::kBF16, 1, 60));
  CHECK_FALSE(kernels::gemv_supported(buf.get(), 64, buf.as<std::byte>() + 2, DType::kBF16, 1, 64));
  CHECK(kernels::gemv_supported(buf.get(), 64, buf.get(), DType::kF32, 1, 60));
}

TEST_CASE("gemm_xwt through cuBLAS matches cpu::gemm_xwt", "[cuda][kernels]") {
  // fp32 runs without TF32 (CUBLAS_DEFAULT_MATH); bf16/f16 inputs with
  // fp32 accumulation. Bounds: gemm_error_bound above, per case.
  std::mt19937 rng(4);
  for (DType t : kDtypes)
    for (int rows : {1, 3, 17, 130})
      for (auto [n, k] :
           {std::pair{5, 7}, std::pair{64, 128}, std::pair{1000, 96}, std::pair{256, 4096}})
        for (float beta : {0.f, 1.f}) {
          INFO(dtype_name(t) << " rows " << rows << " n " << n << " k " << k << " beta " << beta);
          const GemmCase c = gemm_case(rng, t, rows, n, k, beta);
          const std::vector<float>& want = c.want;
          const double bound = c.bound;
          cublasHandle_t h;
          CUBLAS_CHECK(cublasCreate(&h));
          CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
          DeviceBuffer dx = to_device(c.x, t), dw = to_device(c.w, t), dy = to_device(c.y0);
          kernels::gemm_xwt(h, dx.get(), k, dw.get(), t, dy.get(), n, DType::kF32, rows, n, k,
                            beta);
          const double err = rel_error(to_host(dy.get(), want.size()), want);
          INFO("relative error " << err << ", bound " << bound);
          CHECK(err <= bound);
          if (beta == 0.f) {
            DeviceBuffer dyt = poisoned(want.size() * dtype_size(t));
            kernels::gemm_xwt(h, dx.get(), k, dw.get(), t, dyt.get(), n, t, rows, n, k, 0.f);
            const double ut = storage_roundoff(t);
            const double err_t = rel_error(to_host(dyt.get(), want.size(), t), want);
            INFO("stored in the dtype: relative error " << err_t << ", bound "
                                                        << (1 + ut) * bound + ut);
            CHECK(err_t <= (1 + ut) * bound + ut);
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
