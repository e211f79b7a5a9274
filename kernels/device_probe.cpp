// Measured ceilings of the device for benchmark floors (METHOD: measure the
// two ceilings once, on random data, timed with events after a warm-up).
#include <algorithm>
#include <vector>

#include "engine/random.h"
#include "kernels/convert.cuh"
#include "kernels/cuda_backend.h"
#include "kernels/cuda_check.h"
#include "kernels/device_buffer.h"
#include "kernels/gemm.h"

namespace radial {
namespace {

using kernels::DeviceBuffer;

// Random values in [-1, 1) converted to `dtype`, `n` elements.
DeviceBuffer random_buffer(int64_t n, DType dtype, uint64_t seed, cudaStream_t stream) {
  std::vector<float> host(static_cast<size_t>(n));
  Rng rng(seed);
  for (float& v : host) v = static_cast<float>(2 * rng.uniform() - 1);
  DeviceBuffer f32(host.size() * sizeof(float));
  CUDA_CHECK(cudaMemcpy(f32.get(), host.data(), f32.bytes(), cudaMemcpyHostToDevice));
  DeviceBuffer out(static_cast<size_t>(n) * dtype_size(dtype));
  kernels::convert(f32.get(), DType::kF32, out.get(), dtype, n, stream);
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return out;
}

// Median of `reps` timings (ms) of `fn` on `stream`, after `warmup` runs.
template <typename F>
float median_ms(cudaStream_t stream, int warmup, int reps, F&& fn) {
  for (int i = 0; i < warmup; ++i) fn();
  cudaEvent_t a, b;
  CUDA_CHECK(cudaEventCreate(&a));
  CUDA_CHECK(cudaEventCreate(&b));
  std::vector<float> t;
  for (int i = 0; i < reps; ++i) {
    CUDA_CHECK(cudaEventRecord(a, stream));
    fn();
    CUDA_CHECK(cudaEventRecord(b, stream));
    CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

double measure_copy_bandwidth(int device) {
  CUDA_CHECK(cudaSetDevice(device));
  cudaStream_t s;
  CUDA_CHECK(cudaStreamCreate(&s));
  const int64_t n = int64_t{1} << 28;  // 1 GiB of fp32, well beyond L2
  DeviceBuffer src = random_buffer(n, DType::kF32, 1, s);
  DeviceBuffer dst(src.bytes());
  const float ms = median_ms(s, 3, 10, [&] {
    CUDA_CHECK(cudaMemcpyAsync(dst.get(), src.get(), src.bytes(), cudaMemcpyDeviceToDevice, s));
  });
  CUDA_CHECK(cudaStreamDestroy(s));
  return 2.0 * static_cast<double>(src.bytes()) / (ms * 1e-3);
}

double measure_gemm_rate(DType dtype, int m, int n, int k, int device) {
  CUDA_CHECK(cudaSetDevice(device));
  cudaStream_t s;
  CUDA_CHECK(cudaStreamCreate(&s));
  cublasHandle_t h;
  CUBLAS_CHECK(cublasCreate(&h));
  CUBLAS_CHECK(cublasSetStream(h, s));
  DeviceBuffer x = random_buffer(int64_t{m} * k, dtype, 2, s);
  DeviceBuffer w = random_buffer(int64_t{n} * k, dtype, 3, s);
  DeviceBuffer y(static_cast<size_t>(m) * n * sizeof(float));
  const float ms = median_ms(s, 3, 10, [&] {
    kernels::gemm_xwt(h, x.get(), k, w.get(), dtype, y.get(), n, DType::kF32, m, n, k, 0.f);
  });
  cublasDestroy(h);
  CUDA_CHECK(cudaStreamDestroy(s));
  return 2.0 * m * n * static_cast<double>(k) / (ms * 1e-3);
}

}  // namespace radial
