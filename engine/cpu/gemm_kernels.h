// Internal to the CPU GEMM (engine/cpu/gemm*.cpp) and its tests/benchmark:
// the per-ISA kernels behind gemm_xwt and the dispatch that picks one.
//
// Every path computes each element y[i][j] with exactly the same sequence of
// IEEE single-precision operations (see gemm.cpp for the definition), so all
// paths are bit-identical to each other, not only batch-invariant.
#pragma once

#include <cstdint>
#include <functional>

namespace radial {
struct Tensor;
}

namespace radial::cpu {

class ThreadPool;

enum class GemmPath { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// The lane count of the per-element accumulation (a property of the
// summation order, identical on every path).
inline constexpr int kGemmLanes = 16;

// How the weights of GemmArgs are stored: f32 rows in `w`, or (AVX-512 path
// only) BF16/F16 rows in `wc` read and widened inside the micro-kernel.
// (Q8_0 matrices go through gemm_q8.h instead.)
enum class WeightFormat { kF32, kBF16, kF16 };

struct GemmArgs {
  const float* x;  // [n, k], row stride ldx
  int64_t ldx;
  const float* w;     // [m, k], row stride k (kF32)
  const float* bias;  // [m] or null
  float* y;           // [n, m], row stride ldy
  int64_t ldy;
  int64_t n, k;
  // Compact weights (format kBF16 or kF16): rows of k 16-bit elements.
  WeightFormat format = WeightFormat::kF32;
  const void* wc = nullptr;
};

// Computes the columns [m0, m1) of y (all n rows). One implementation per
// path; the AVX ones are compiled with function-level target attributes and
// must only be called when gemm_path_supported() says so.
void gemm_cols_scalar(const GemmArgs& a, int64_t m0, int64_t m1);
void gemm_cols_avx2(const GemmArgs& a, int64_t m0, int64_t m1);
void gemm_cols_avx512(const GemmArgs& a, int64_t m0, int64_t m1);
float dot_scalar(const float* a, const float* b, int64_t k);
float dot_avx2(const float* a, const float* b, int64_t k);
float dot_avx512(const float* a, const float* b, int64_t k);

// Runs cols(m0, m1) over column ranges covering [0, m) of an n x m x k GEMM:
// on the calling thread for a small GEMM or without a pool, else split in
// whole 16-column units over the pool (every GEMM of the CPU backend threads
// this way; a column's result never depends on the split).
void split_gemm_columns(ThreadPool* pool, int64_t n, int64_t m, int64_t k,
                        const std::function<void(int64_t, int64_t)>& cols);

// Whether this CPU (and OS) can run `path`.
bool gemm_path_supported(GemmPath path);
// The path every gemm_xwt / dot call in this process uses: chosen on first
// use (the widest supported one, or RADIAL_GEMM_PATH=scalar|avx2|avx512 from
// the environment if that path is supported) and cached.
GemmPath gemm_path();
const char* gemm_path_name(GemmPath path);

// gemm_xwt / dot on an explicit path (tests and benchmarks only; requires
// gemm_path_supported(path)).
void gemm_xwt_on(GemmPath path, const float* x, int64_t ldx, const float* w, const float* bias,
                 float* y, int64_t ldy, int64_t n, int64_t m, int64_t k, ThreadPool* pool);
float dot_on(GemmPath path, const float* a, const float* b, int64_t k);

// The tensor form of gemm_xwt (gemm.h) on an explicit path, and the
// widening of rows [row0, row0 + n) of a weight matrix into out[n][k] that
// it uses for compact dtypes (widen_rows.cpp; every path gives the exact
// values of Tensor::rows_f32).
void gemm_xwt_on(GemmPath path, const float* x, int64_t ldx, const Tensor& w, const float* bias,
                 float* y, int64_t ldy, int64_t n, ThreadPool* pool);
void widen_rows_on(GemmPath path, const Tensor& w, int64_t row0, int64_t n, float* out);

// cpu::attend (ops.h) on an explicit path (attend.cpp; AVX2 code serves the
// AVX-512 path too), and its exponential (tests and benchmarks only).
void attend_on(GemmPath path, const float* q, const float* const* k_rows,
               const float* const* v_rows, int n, int head_dim, float scale, float* scores,
               float* out);
float exp_poly(float x);

}  // namespace radial::cpu
