// One query row attending over n cached entries of one KV head (cpu::attend),
// on the same dispatch paths as the GEMM (gemm_path()): a portable scalar
// path and an AVX2+FMA path (also used where AVX-512 is the GEMM's path: the
// work per entry is one or a few 8-lane vectors for the head sizes models
// use). Both compute every value with exactly the same IEEE binary32
// operations, so they agree bit for bit:
//
//   score[e] = dot(q, k_e) * scale   dot() as defined in gemm.cpp (16 lanes
//                                    of fma, then the fixed pairwise tree)
//   mx       = max_e score[e]
//   w[e]     = exp_poly(score[e] - mx)          (below; not libm's expf)
//   sum      = 16-lane sum of w: lane l adds w[e] for e = l mod 16 in order
//              (from +0), then the same pairwise tree as dot()
//   p[e]     = w[e] * (1 / sum)
//   a_j[i]   = fma(p[e], v_e[i], a_j[i]) over e = j, j + 4, j + 8, ... < n
//              in order, from +0, for j = 0..3 (four chains: the fma
//              latency does not serialise the entries)
//   out[i]   = (a_0[i] + a_1[i]) + (a_2[i] + a_3[i])
//
// exp_poly(x), for x <= 0 (scores minus their maximum): with
// n = round_to_nearest_even(x * log2(e)) and r = x - n ln2 (two fmas, ln2
// split Cody-Waite style), e^r by a degree-6 polynomial (Cephes' expf
// coefficients, Horner with fma), scaled by 2^n through the exponent bits.
// Below -87 (2^n would leave the normal range) it is 0. Relative error
// about 2 ulp; the scores' softmax never needs more.
//
// Small heads (stories260K: 8) were dominated by a dot() call per score and
// a libm call per exponential; here one score is a handful of instructions
// and the exponentials run 8 at a time.
#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "engine/cpu/gemm_kernels.h"
#include "engine/cpu/ops.h"

#define RADIAL_AVX2 __attribute__((target("avx2,fma")))

namespace radial::cpu {
namespace {

constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kExpMin = -87.0f;  // below: 0 (2^n stays normal above it)
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f,
                kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

// ---- Scalar path: the reference definition. ----

float exp_poly_scalar(float x) {
  if (!(x >= kExpMin)) return 0.0f;
  const float n = std::nearbyint(x * kLog2e);
  float r = std::fma(n, -kLn2Hi, x);
  r = std::fma(n, -kLn2Lo, r);
  float p = kP0;
  p = std::fma(p, r, kP1);
  p = std::fma(p, r, kP2);
  p = std::fma(p, r, kP3);
  p = std::fma(p, r, kP4);
  p = std::fma(p, r, kP5);
  const float z = r * r;
  float y = std::fma(p, z, r);
  y = y + 1.0f;
  const float scale = std::bit_cast<float>(static_cast<int32_t>(n + 127.0f) << 23);
  return y * scale;
}

// The 16-lane pairwise tree of gemm.cpp over acc[16].
float tree16(float* acc) {
  for (int l = 0; l < 8; ++l) acc[l] = acc[l] + acc[l + 8];
  for (int l = 0; l < 4; ++l) acc[l] = acc[l] + acc[l + 4];
  for (int l = 0; l < 2; ++l) acc[l] = acc[l] + acc[l + 2];
  return acc[0] + acc[1];
}

void attend_scalar(const float* q, const float* const* k_rows, const float* const* v_rows, int n,
                   int head_dim, float scale, float* scores, float* out) {
  float mx = -INFINITY;
  for (int e = 0; e < n; ++e) {
    scores[e] = dot_scalar(q, k_rows[e], head_dim) * scale;
    mx = std::max(mx, scores[e]);
  }
  float acc[kGemmLanes] = {};
  for (int e = 0; e < n; ++e) {
    scores[e] = exp_poly_scalar(scores[e] - mx);
    acc[e % kGemmLanes] = acc[e % kGemmLanes] + scores[e];
  }
  const float inv = 1.0f / tree16(acc);
  for (int e = 0; e < n; ++e) scores[e] = scores[e] * inv;  // p[e]
  for (int i = 0; i < head_dim; ++i) {
    float a[4] = {};
    for (int e = 0; e < n; ++e) a[e % 4] = std::fma(scores[e], v_rows[e][i], a[e % 4]);
    out[i] = (a[0] + a[1]) + (a[2] + a[3]);
  }
}

// ---- AVX2+FMA path. ----

// Lanes [0, count) set (count in [0, 8]).
RADIAL_AVX2 inline __m256i lane_mask(int count) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), idx);
}

// dot() of gemm.cpp: lanes 0..7 in lo, 8..15 in hi, then the tree.
RADIAL_AVX2 inline float dot_avx2_inline(const float* a, const float* b, int k) {
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  int kk = 0;
  for (; kk + 16 <= k; kk += 16) {
    lo = _mm256_fmadd_ps(_mm256_loadu_ps(a + kk), _mm256_loadu_ps(b + kk), lo);
    hi = _mm256_fmadd_ps(_mm256_loadu_ps(a + kk + 8), _mm256_loadu_ps(b + kk + 8), hi);
  }
  if (kk < k) {  // the partial chunk: absent positions are fma(0, 0, acc)
    const __m256i m0 = lane_mask(std::min(8, k - kk)), m1 = lane_mask(std::max(0, k - kk - 8));
    lo = _mm256_fmadd_ps(_mm256_maskload_ps(a + kk, m0), _mm256_maskload_ps(b + kk, m0), lo);
    hi =
        _mm256_fmadd_ps(_mm256_maskload_ps(a + kk + 8, m1), _mm256_maskload_ps(b + kk + 8, m1), hi);
  }
  const __m256 s = _mm256_add_ps(lo, hi);  // s[l], l < 8
  const __m128 t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));  // l < 4
  const __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));                                  // l < 2
  return _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, 1)));
}

// Scores of entries [0, n rounded down to 4) for head_dim <= 16: q loaded
// once, four entries' trees reduced together (a 4x4 transpose), each
// element still through exactly dot()'s operations. Returns the count done.
RADIAL_AVX2 inline int small_head_scores(const float* q, const float* const* k_rows, int n,
                                         int head_dim, float scale, float* scores, float* mx) {
  const __m256i m0 = lane_mask(std::min(8, head_dim)), m1 = lane_mask(std::max(0, head_dim - 8));
  const __m256 q0 = _mm256_maskload_ps(q, m0), q1 = _mm256_maskload_ps(q + 8, m1);
  const __m256 zero = _mm256_setzero_ps();
  const bool two = head_dim > 8;
  __m128 vmx = _mm_set1_ps(-INFINITY);
  int e = 0;
  for (; e + 4 <= n; e += 4) {
    __m128 t[4];
    for (int r = 0; r < 4; ++r) {
      const float* k = k_rows[e + r];
      const __m256 lo = _mm256_fmadd_ps(q0, _mm256_maskload_ps(k, m0), zero);
      const __m256 hi = two ? _mm256_fmadd_ps(q1, _mm256_maskload_ps(k + 8, m1), zero) : zero;
      const __m256 sv = _mm256_add_ps(lo, hi);
      t[r] = _mm_add_ps(_mm256_castps256_ps128(sv), _mm256_extractf128_ps(sv, 1));
    }
    _MM_TRANSPOSE4_PS(t[0], t[1], t[2], t[3]);  // t[l] = lane l of the four entries
    const __m128 u0 = _mm_add_ps(t[0], t[2]), u1 = _mm_add_ps(t[1], t[3]);
    const __m128 sc = _mm_mul_ps(_mm_add_ps(u0, u1), _mm_set1_ps(scale));
    _mm_storeu_ps(scores + e, sc);
    vmx = _mm_max_ps(vmx, sc);
  }
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, vmx);
  for (float v : lanes) *mx = std::max(*mx, v);
  return e;
}

RADIAL_AVX2 inline __m256 exp_poly_avx2(__m256 x) {
  const __m256 keep = _mm256_cmp_ps(x, _mm256_set1_ps(kExpMin), _CMP_GE_OQ);
  x = _mm256_max_ps(x, _mm256_set1_ps(kExpMin));  // (masked to 0 below)
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-kLn2Hi), x);
  r = _mm256_fmadd_ps(n, _mm256_set1_ps(-kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kP0);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP1));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP5));
  const __m256 z = _mm256_mul_ps(r, r);
  __m256 y = _mm256_fmadd_ps(p, z, r);
  y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
  const __m256i bits =
      _mm256_slli_epi32(_mm256_cvtps_epi32(_mm256_add_ps(n, _mm256_set1_ps(127.0f))), 23);
  return _mm256_and_ps(_mm256_mul_ps(y, _mm256_castsi256_ps(bits)), keep);
}

RADIAL_AVX2 void attend_avx2(const float* q, const float* const* k_rows, const float* const* v_rows,
                             int n, int head_dim, float scale, float* scores, float* out) {
  float mx = -INFINITY;
  int e0 = 0;
  if (head_dim <= 16) e0 = small_head_scores(q, k_rows, n, head_dim, scale, scores, &mx);
  for (int e = e0; e < n; ++e) {
    scores[e] = dot_avx2_inline(q, k_rows[e], head_dim) * scale;
    mx = std::max(mx, scores[e]);
  }
  // Exponentials 8 at a time; the 16-lane sum as lo (lanes 0..7) and hi (8..15).
  const __m256 vmx = _mm256_set1_ps(mx);
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  int e = 0;
  for (; e + 16 <= n; e += 16) {
    const __m256 w0 = exp_poly_avx2(_mm256_sub_ps(_mm256_loadu_ps(scores + e), vmx));
    const __m256 w1 = exp_poly_avx2(_mm256_sub_ps(_mm256_loadu_ps(scores + e + 8), vmx));
    _mm256_storeu_ps(scores + e, w0);
    _mm256_storeu_ps(scores + e + 8, w1);
    lo = _mm256_add_ps(lo, w0);
    hi = _mm256_add_ps(hi, w1);
  }
  for (int half = 0; e < n; e += 8, ++half) {  // the partial chunk (adds of +0 are exact)
    const __m256i m = lane_mask(std::min(8, n - e));
    const __m256 w =
        _mm256_and_ps(exp_poly_avx2(_mm256_sub_ps(_mm256_maskload_ps(scores + e, m), vmx)),
                      _mm256_castsi256_ps(m));
    _mm256_maskstore_ps(scores + e, m, w);
    if (half == 0)
      lo = _mm256_add_ps(lo, w);
    else
      hi = _mm256_add_ps(hi, w);
  }
  const __m256 s = _mm256_add_ps(lo, hi);
  const __m128 t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  const __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
  const float inv = 1.0f / _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, 1)));

  // out: 8 dimensions per vector, four chains over the entries.
  for (int j = 0; j < n; ++j) scores[j] = scores[j] * inv;  // p[e]
  for (int i = 0; i < head_dim; i += 8) {
    const __m256i m = lane_mask(std::min(8, head_dim - i));
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int j = 0;
    for (; j + 4 <= n; j += 4) {
      a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(scores + j), _mm256_maskload_ps(v_rows[j] + i, m),
                           a0);
      a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(scores + j + 1),
                           _mm256_maskload_ps(v_rows[j + 1] + i, m), a1);
      a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(scores + j + 2),
                           _mm256_maskload_ps(v_rows[j + 2] + i, m), a2);
      a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(scores + j + 3),
                           _mm256_maskload_ps(v_rows[j + 3] + i, m), a3);
    }
    if (j < n)
      a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(scores + j), _mm256_maskload_ps(v_rows[j] + i, m),
                           a0);
    if (j + 1 < n)
      a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(scores + j + 1),
                           _mm256_maskload_ps(v_rows[j + 1] + i, m), a1);
    if (j + 2 < n)
      a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(scores + j + 2),
                           _mm256_maskload_ps(v_rows[j + 2] + i, m), a2);
    _mm256_maskstore_ps(out + i, m, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  }
}

bool avx2_usable() {
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return ok;
}

}  // namespace

float exp_poly(float x) { return exp_poly_scalar(x); }

void attend_on(GemmPath path, const float* q, const float* const* k_rows,
               const float* const* v_rows, int n, int head_dim, float scale, float* scores,
               float* out) {
  if (path != GemmPath::kScalar && avx2_usable())
    attend_avx2(q, k_rows, v_rows, n, head_dim, scale, scores, out);
  else
    attend_scalar(q, k_rows, v_rows, n, head_dim, scale, scores, out);
}

void attend(const float* q, const float* const* k_rows, const float* const* v_rows, int n,
            int head_dim, float scale, float* scores, float* out) {
  attend_on(gemm_path(), q, k_rows, v_rows, n, head_dim, scale, scores, out);
}

}  // namespace radial::cpu
