// Helpers of the cuda tests: device buffers from host vectors and back,
// random data, dtype rounding, and the relative error ||a - b|| / ||b||.
#pragma once

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "kernels/convert.cuh"
#include "kernels/cuda_check.h"
#include "kernels/device_buffer.h"

namespace radial::test {

using kernels::DeviceBuffer;

// Relative error tolerances per dtype for elementwise ops computed in fp32
// from inputs rounded to the dtype (outputs rounded once more).
inline double tolerance(DType t) {
  switch (t) {
    case DType::kF32:
      return 2e-6;
    case DType::kF16:
      return 2e-3;
    case DType::kBF16:
      return 1.5e-2;
    case DType::kQ8_0:  // blockwise, not elementwise dtypes
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
      break;
  }
  throw std::invalid_argument("tolerance: not an elementwise dtype");
}

inline std::vector<float> random_vec(std::mt19937& rng, size_t n, float scale = 1.f) {
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = nd(rng);
  return v;
}

// x rounded to `t` and back.
inline float round_to(float x, DType t) {
  switch (t) {
    case DType::kF32:
      return x;
    case DType::kF16:
      return f16_to_f32(f32_to_f16(x));
    case DType::kBF16:
      return bf16_to_f32(f32_to_bf16(x));
    case DType::kQ8_0:  // blockwise, not elementwise dtypes
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
      break;
  }
  throw std::invalid_argument("round_to: not an elementwise dtype");
}
inline std::vector<float> rounded(std::vector<float> v, DType t) {
  for (float& x : v) x = round_to(x, t);
  return v;
}

// Host floats to a device buffer of dtype `t` (converted on the device).
inline DeviceBuffer to_device(const std::vector<float>& v, DType t = DType::kF32) {
  DeviceBuffer f32(v.size() * 4 + 4);
  CUDA_CHECK(cudaMemcpy(f32.get(), v.data(), v.size() * 4, cudaMemcpyHostToDevice));
  if (t == DType::kF32) return f32;
  DeviceBuffer out(v.size() * dtype_size(t) + 4);
  kernels::convert(f32.get(), DType::kF32, out.get(), t, static_cast<int64_t>(v.size()), nullptr);
  CUDA_CHECK(cudaDeviceSynchronize());
  return out;
}
inline DeviceBuffer ints_to_device(const std::vector<int>& v) {
  DeviceBuffer b(v.size() * 4 + 4);
  CUDA_CHECK(cudaMemcpy(b.get(), v.data(), v.size() * 4, cudaMemcpyHostToDevice));
  return b;
}
// Device elements of dtype `t` to host floats.
inline std::vector<float> to_host(const void* p, size_t n, DType t = DType::kF32) {
  CUDA_CHECK(cudaDeviceSynchronize());
  DeviceBuffer f32(n * 4 + 4);
  kernels::convert(p, t, f32.get(), DType::kF32, static_cast<int64_t>(n), nullptr);
  std::vector<float> v(n);
  CUDA_CHECK(cudaMemcpy(v.data(), f32.get(), n * 4, cudaMemcpyDeviceToHost));
  return v;
}
inline std::vector<int> ints_to_host(const void* p, size_t n) {
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<int> v(n);
  CUDA_CHECK(cudaMemcpy(v.data(), p, n * 4, cudaMemcpyDeviceToHost));
  return v;
}
// A device buffer of `bytes` filled with NaN-patterned bytes (0xff), so
// that an element a kernel leaves unwritten shows.
inline DeviceBuffer poisoned(size_t bytes) {
  DeviceBuffer b(bytes + 4);
  CUDA_CHECK(cudaMemset(b.get(), 0xff, bytes + 4));
  return b;
}

// "" when `got` equals `want` element for element (NaN never equals);
// otherwise one line: the sizes if they differ, else the number of
// mismatches, the first bad index and its two values. Use it as
// CHECK(mismatch(got, want) == "") so a failure prints a line, not the
// whole vectors.
template <class T>
std::string mismatch(const std::vector<T>& got, const std::vector<T>& want) {
  std::ostringstream o;
  if (got.size() != want.size()) {
    o << "size " << got.size() << " != " << want.size();
    return o.str();
  }
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(got[i] == want[i]) && bad++ == 0) first = i;
  if (bad == 0) return "";
  o << bad << " of " << got.size() << " differ; first at " << first << ": got " << got[first]
    << ", want " << want[first];
  return o.str();
}

inline double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i])) return INFINITY;
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

}  // namespace radial::test
