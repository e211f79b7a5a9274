// Batch-invariant GEMM y[n, m] = x[n, k] * w[m, k]^T (+ bias): dispatch,
// threading and the portable scalar path.
//
// Per-element summation order (every path, every tile shape, every thread
// count: this is what makes y[i][j] depend only on x row i, w row j,
// bias[j] and k). With a = x[i, :], b = w[j, :] and L = 16 lanes:
//   1. acc[l] = +0.0f for l in [0, 16).
//   2. For each chunk c = 0, 1, ..., ceil(k / 16) - 1 in order and every lane
//      l: acc[l] = fma(a[16c + l], b[16c + l], acc[l]), one rounding, where
//      positions >= k of the last (partial) chunk read as 0.0f (so those
//      lanes compute fma(0, 0, acc[l])).
//   3. Fixed pairwise tree: s[l] = acc[l] + acc[l + 8] (l < 8);
//      t[l] = s[l] + s[l + 4] (l < 4); u[l] = t[l] + t[l + 2] (l < 2);
//      r = u[0] + u[1].
//   4. y[i][j] = r + bias[j] if bias is given, else r.
// All arithmetic is IEEE binary32 with round-to-nearest (no -ffast-math; the
// scalar path uses std::fma explicitly so no contraction choice can change
// it). AVX-512 keeps acc in one zmm register, AVX2 in two ymm registers
// (lanes 0..7 and 8..15), the scalar path in a float[16]; the SIMD kernels
// reduce several elements at once with shuffles, but each element still goes
// through exactly the adds of step 3. When a long k is processed in cache
// pieces (multiples of 16), the 16 lane accumulators are stored to memory and
// reloaded between pieces, which is exact. So all paths agree bit for bit,
// and dot() is the same computation for one element.
//
// Dispatch: gemm_path() picks AVX-512F, else AVX2+FMA, else scalar, once per
// process (RADIAL_GEMM_PATH=scalar|avx2|avx512 overrides, for testing).
#include "engine/cpu/gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "engine/cpu/cpu_features.h"
#include "engine/cpu/gemm_kernels.h"
#include "engine/cpu/thread_pool.h"

namespace radial::cpu {

// ---- Scalar path: the reference definition of the order above. ----

float dot_scalar(const float* a, const float* b, int64_t k) {
  float acc[kGemmLanes];
  for (float& v : acc) v = 0.0f;
  int64_t kk = 0;
  for (; kk + kGemmLanes <= k; kk += kGemmLanes) {
    for (int l = 0; l < kGemmLanes; ++l) acc[l] = std::fma(a[kk + l], b[kk + l], acc[l]);
  }
  if (kk < k) {
    for (int l = 0; l < kGemmLanes; ++l) {
      const bool in = kk + l < k;
      acc[l] = std::fma(in ? a[kk + l] : 0.0f, in ? b[kk + l] : 0.0f, acc[l]);
    }
  }
  for (int l = 0; l < 8; ++l) acc[l] = acc[l] + acc[l + 8];
  for (int l = 0; l < 4; ++l) acc[l] = acc[l] + acc[l + 4];
  for (int l = 0; l < 2; ++l) acc[l] = acc[l] + acc[l + 2];
  return acc[0] + acc[1];
}

void gemm_cols_scalar(const GemmArgs& g, int64_t m0, int64_t m1) {
  for (int64_t i = 0; i < g.n; ++i) {
    const float* x = g.x + i * g.ldx;
    float* y = g.y + i * g.ldy;
    for (int64_t j = m0; j < m1; ++j) {
      const float v = dot_scalar(x, g.w + j * g.k, g.k);
      y[j] = g.bias ? v + g.bias[j] : v;
    }
  }
}

// ---- Dispatch. ----

bool gemm_path_supported(GemmPath path) {
  __builtin_cpu_init();
  switch (path) {
    case GemmPath::kScalar:
      return true;
    case GemmPath::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    case GemmPath::kAvx512:
      return __builtin_cpu_supports("avx512f");
  }
  return false;
}

const char* gemm_path_name(GemmPath path) {
  switch (path) {
    case GemmPath::kScalar:
      return "scalar";
    case GemmPath::kAvx2:
      return "avx2";
    case GemmPath::kAvx512:
      return "avx512";
  }
  return "?";
}

namespace {

GemmPath choose_path() {
  if (const char* env = std::getenv("RADIAL_GEMM_PATH")) {
    for (GemmPath p : {GemmPath::kScalar, GemmPath::kAvx2, GemmPath::kAvx512}) {
      if (std::strcmp(env, gemm_path_name(p)) == 0 && gemm_path_supported(p)) return p;
    }
  }
  if (gemm_path_supported(GemmPath::kAvx512)) return GemmPath::kAvx512;
  if (gemm_path_supported(GemmPath::kAvx2)) return GemmPath::kAvx2;
  return GemmPath::kScalar;
}

using ColsFn = void (*)(const GemmArgs&, int64_t, int64_t);

ColsFn cols_fn(GemmPath path) {
  switch (path) {
    case GemmPath::kAvx512:
      return &gemm_cols_avx512;
    case GemmPath::kAvx2:
      return &gemm_cols_avx2;
    case GemmPath::kScalar:
      break;
  }
  return &gemm_cols_scalar;
}

// Threading: the columns (w rows) are split into contiguous ranges of whole
// kColUnit columns, one per thread. A call below kParallelMinFlops
// (2 * n * m * k) stays on the calling thread, and every thread gets at least
// half of that, since handing work to the pool costs a few µs (measured on a
// 2-core Sapphire Rapids VM: 2 threads win from about 2^18 FLOP up).
constexpr int64_t kColUnit = 16;
constexpr double kParallelMinFlops = 1 << 18;

}  // namespace

void split_gemm_columns(ThreadPool* pool, int64_t n, int64_t m, int64_t k,
                        const std::function<void(int64_t, int64_t)>& cols) {
  if (n <= 0 || m <= 0) return;
  const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(m) *
                       static_cast<double>(std::max<int64_t>(k, 1));
  const int64_t units = (m + kColUnit - 1) / kColUnit;
  if (pool == nullptr || pool->size() <= 1 || flops < kParallelMinFlops || units < 2) {
    cols(0, m);
    return;
  }
  const double unit_flops = flops / static_cast<double>(units);
  const auto grain = static_cast<int64_t>(std::ceil(kParallelMinFlops / 2 / unit_flops));
  pool->parallel_for(units, grain, [&](int64_t begin, int64_t end) {
    cols(begin * kColUnit, std::min(end * kColUnit, m));
  });
}

GemmPath gemm_path() {
  static const GemmPath path = choose_path();
  return path;
}

void gemm_xwt_on(GemmPath path, const float* x, int64_t ldx, const float* w, const float* bias,
                 float* y, int64_t ldy, int64_t n, int64_t m, int64_t k, ThreadPool* pool) {
  if (n <= 0 || m <= 0) return;
  if (k < 0) k = 0;
  const GemmArgs g{x, ldx, w, bias, y, ldy, n, k};
  const ColsFn cols = cols_fn(path);
  split_gemm_columns(pool, n, m, k, [&](int64_t m0, int64_t m1) { cols(g, m0, m1); });
}

float dot_on(GemmPath path, const float* a, const float* b, int64_t k) {
  if (k < 0) k = 0;
  switch (path) {
    case GemmPath::kAvx512:
      return dot_avx512(a, b, k);
    case GemmPath::kAvx2:
      return dot_avx2(a, b, k);
    case GemmPath::kScalar:
      break;
  }
  return dot_scalar(a, b, k);
}

void gemm_xwt(const float* x, int64_t ldx, const float* w, const float* bias, float* y, int64_t ldy,
              int64_t n, int64_t m, int64_t k, ThreadPool* pool) {
  gemm_xwt_on(gemm_path(), x, ldx, w, bias, y, ldy, n, m, k, pool);
}

float dot(const float* a, const float* b, int64_t k) { return dot_on(gemm_path(), a, b, k); }

}  // namespace radial::cpu
