// Host tensors: a dtype, a row-major shape and owned bytes (64-byte aligned).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace radial {

enum class DType { kF32, kF16, kBF16 };

const char* dtype_name(DType t);
size_t dtype_size(DType t);

// Scalar conversions (round to nearest even for float -> half types).
float bf16_to_f32(uint16_t v);
float f16_to_f32(uint16_t v);
uint16_t f32_to_bf16(float v);
uint16_t f32_to_f16(float v);

struct Tensor {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::shared_ptr<std::byte[]> storage;  // aligned to 64 bytes
  size_t nbytes = 0;

  static Tensor zeros(DType dtype, std::vector<int64_t> shape);
  int64_t numel() const;
  bool empty() const { return nbytes == 0; }

  // Typed access; f32() requires dtype == kF32 (throws kInternal otherwise).
  float* f32();
  const float* f32() const;
  std::byte* data() { return storage.get(); }
  const std::byte* data() const { return storage.get(); }

  // A copy converted to `to` (a plain copy when the dtype already matches).
  Tensor to(DType to) const;
};

std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace radial
