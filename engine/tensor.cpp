#include "engine/tensor.h"

#include <cmath>
#include <cstring>
#include <new>

#include "engine/error.h"

namespace radial {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
  }
  return "?";
}

size_t dtype_size(DType t) { return t == DType::kF32 ? 4 : 2; }

float bf16_to_f32(uint16_t v) {
  uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_bf16(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  if (std::isnan(v)) return static_cast<uint16_t>((bits >> 16) | 0x40);
  uint32_t rounding = 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | (exp + 127 - 15) << 23 | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_f16(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  uint32_t sign = (bits >> 16) & 0x8000u;
  int32_t exp = static_cast<int32_t>((bits >> 23) & 0xff) - 127 + 15;
  uint32_t mant = bits & 0x7fffff;
  if (((bits >> 23) & 0xff) == 0xff) return static_cast<uint16_t>(sign | 0x7c00 | (mant ? 0x200 : 0));
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00);
  if (exp <= 0) {
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000;
    uint32_t shift = static_cast<uint32_t>(14 - exp);
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = sign | static_cast<uint32_t>(exp) << 10 | (mant >> 13);
  uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) ++half;  // may carry into exponent: correct
  return static_cast<uint16_t>(half);
}

Tensor Tensor::zeros(DType dtype, std::vector<int64_t> shape) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.nbytes = static_cast<size_t>(t.numel()) * dtype_size(dtype);
  size_t alloc = (t.nbytes + 63) / 64 * 64;
  if (alloc == 0) alloc = 64;
  auto* p = static_cast<std::byte*>(::operator new[](alloc, std::align_val_t{64}));
  std::memset(p, 0, alloc);
  t.storage = std::shared_ptr<std::byte[]>(
      p, [](std::byte* q) { ::operator delete[](q, std::align_val_t{64}); });
  return t;
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

float* Tensor::f32() {
  require(dtype == DType::kF32, ErrorCode::kInternal, "tensor is not F32");
  return reinterpret_cast<float*>(storage.get());
}

const float* Tensor::f32() const {
  require(dtype == DType::kF32, ErrorCode::kInternal, "tensor is not F32");
  return reinterpret_cast<const float*>(storage.get());
}

Tensor Tensor::to(DType out) const {
  Tensor r = zeros(out, shape);
  const int64_t n = numel();
  if (out == dtype) {
    std::memcpy(r.data(), data(), nbytes);
    return r;
  }
  auto load = [&](int64_t i) -> float {
    const std::byte* p = data();
    uint16_t h;
    switch (dtype) {
      case DType::kF32: return reinterpret_cast<const float*>(p)[i];
      case DType::kF16: std::memcpy(&h, p + 2 * i, 2); return f16_to_f32(h);
      case DType::kBF16: std::memcpy(&h, p + 2 * i, 2); return bf16_to_f32(h);
    }
    return 0.f;
  };
  for (int64_t i = 0; i < n; ++i) {
    float v = load(i);
    uint16_t h;
    switch (out) {
      case DType::kF32: reinterpret_cast<float*>(r.data())[i] = v; break;
      case DType::kF16: h = f32_to_f16(v); std::memcpy(r.data() + 2 * i, &h, 2); break;
      case DType::kBF16: h = f32_to_bf16(v); std::memcpy(r.data() + 2 * i, &h, 2); break;
    }
  }
  return r;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace radial
